//! 1,200 short-lived threads in 50 waves of 24. Each allocates ~400 KB in mixed sizes (small,
//! medium and large pages) and hands its blocks to the test thread, which frees them only
//! after the thread has exited (join first, then free): the blocks sit in abandoned segments
//! when they are freed, and later threads must adopt those segments instead of mapping new
//! memory.
//!
//! Holds: contents intact; resident memory (field 2 of /proc/self/statm × page size) after
//! every wave stays within 48 MiB of what it was after the first wave; the segment count and
//! the address space reserved from the OS stay within two waves' worth of segments; after
//! `mi_collect(true)` no segment is abandoned, every exited thread's state is gone, and the
//! page and segment counts are back where they started.
//!
//! Segments given back go to their arena, which purges them only after purge_delay ×
//! arena_purge_mult (10 ms by default); meanwhile a later thread reuses them
//! with whatever they still hold resident. Waves here are 5-8 ms apart, so that lag alone
//! swings RSS by tens of MiB (secure builds reached 80): the test runs with
//! arena_purge_mult = 0 (a segment given back is purged at once), since its bound is about
//! adoption and reuse, not about the arena's delay (the churn benchmark measures peak RSS
//! with the defaults).
//!
//! Why 48 MiB: a thread leaves ~400 KB of touched memory in its abandoned segments, and
//! 1,176 threads after the first wave would leave ~460 MB if none of it were adopted and
//! reused; a leak of as little as 42 KB per thread crosses the bound. The bound itself covers
//! glibc's cache of thread stacks and the per-wave working set (24 threads × 400 KB).

use mimalloc::MiMalloc;
use mimalloc_testkit::{
    pattern::Block,
    sys::{redirected, rss_bytes, stats},
};
use std::thread;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const WAVES: usize = 50;
const THREADS_PER_WAVE: usize = 24;
const MIB: usize = 1024 * 1024;
const RSS_BOUND: usize = 48 * MIB;
const _: () = assert!(WAVES * THREADS_PER_WAVE >= 1000);

/// The sizes one thread allocates: ~400 KB over small, medium and large pages.
fn thread_sizes(t: usize) -> Vec<usize> {
    let mut sizes: Vec<usize> = (0..60)
        .map(|i| [16usize, 48, 200, 1500, 9000][(i + t) % 5] + i)
        .collect();
    sizes.extend([40_000 + t, 60_000, 90_000]); // medium pages
    sizes.push(150_000 + t); // a large page
    sizes
}

#[test]
fn exited_threads_memory_is_reused_not_accumulated() {
    // SAFETY: option setter and collect: no preconditions.
    unsafe {
        mimalloc_sys::mi_option_set(mimalloc_sys::mi_option_arena_purge_mult, 0);
        mimalloc_sys::mi_collect(true)
    };
    let start = stats();
    let mut rss_after_wave = Vec::with_capacity(WAVES);
    let mut reserved_after_wave = Vec::with_capacity(WAVES);
    let mut segments_after_wave = Vec::with_capacity(WAVES);
    for wave in 0..WAVES {
        let handles: Vec<_> = (0..THREADS_PER_WAVE)
            .map(|t| {
                thread::spawn(move || {
                    thread_sizes(t)
                        .into_iter()
                        .enumerate()
                        .map(|(i, n)| Block::new(n, wave * 1000 + t * 100 + i))
                        .collect::<Vec<Block>>()
                })
            })
            .collect();
        // join every thread of the wave first: then every block belongs to an exited thread
        let results: Vec<Vec<Block>> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        for blocks in results {
            for b in blocks {
                b.check();
            }
        }
        rss_after_wave.push(rss_bytes());
        let st = stats();
        reserved_after_wave.push(st.reserved.current);
        segments_after_wave.push(st.segments.current);
    }
    let mib = |v: &[usize]| v.iter().map(|r| r / MIB).collect::<Vec<_>>();
    eprintln!("RSS after each wave (MiB): {:?}", mib(&rss_after_wave));
    eprintln!(
        "reserved after each wave (MiB): {:?}",
        reserved_after_wave
            .iter()
            .map(|r| *r as usize / MIB)
            .collect::<Vec<_>>()
    );
    eprintln!("segments after each wave: {segments_after_wave:?}");

    let first = rss_after_wave[0];
    for (wave, &rss) in rss_after_wave.iter().enumerate() {
        assert!(
            rss <= first + RSS_BOUND,
            "resident memory grows with the threads: {} MiB after wave 1, {} MiB after wave {}",
            first / MIB,
            rss / MIB,
            wave + 1
        );
    }
    // Segments (and the address space they reserve) may wait, abandoned but empty, until a
    // later thread adopts them, so their count swings from wave to wave; bounded by two
    // waves' worth of threads each leaving one segment of each kind (small, medium, large).
    // Not adopting them at all would add 72 per wave: 3,500 by the end.
    let segment_bound = (2 * THREADS_PER_WAVE * 3) as i64;
    let first = segments_after_wave[0];
    for (wave, &s) in segments_after_wave.iter().enumerate() {
        assert!(
            s <= first + segment_bound,
            "segments grow with the threads: {first} after wave 1, {s} after wave {}",
            wave + 1
        );
    }
    let first = reserved_after_wave[0];
    for (wave, &r) in reserved_after_wave.iter().enumerate() {
        assert!(
            r <= first + segment_bound * 4 * MIB as i64,
            "reserved address space grows with the threads: {} MiB after wave 1, {} MiB \
             after wave {}",
            first as usize / MIB,
            r as usize / MIB,
            wave + 1
        );
    }

    // SAFETY: no preconditions; adopts whatever exited threads abandoned.
    unsafe { mimalloc_sys::mi_collect(true) };
    let end = stats();
    assert_eq!(
        end.segments_abandoned.current, 0,
        "abandoned segments remain after a forced collect"
    );
    assert_eq!(end.pages_abandoned.current, 0, "abandoned pages remain");
    assert_eq!(
        end.threads.current, start.threads.current,
        "exited threads still counted"
    );
    // everything was freed: back to the start (see cross_thread.rs for the margins)
    let (pages, segments) = if redirected() { (8, 2) } else { (2, 1) };
    assert!(
        (end.pages.current - start.pages.current).abs() <= pages,
        "pages: {} at the start, {} at the end",
        start.pages.current,
        end.pages.current
    );
    assert!(
        (end.segments.current - start.segments.current).abs() <= segments,
        "segments: {} at the start, {} at the end",
        start.segments.current,
        end.segments.current
    );
}
