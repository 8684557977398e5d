//! Thread churn must not cost OS calls per segment (issue 15): rounds of 16 threads that each
//! live for one round, allocate mixed sizes (small, medium and large pages), hand a third of
//! their blocks to the threads of the next round (which free them) and exit. Segments come
//! from arenas and go back to them, so after a warm-up the allocator's own mmap and munmap
//! calls (its statistics count every one) stay at a small constant per round, with rounds
//! spaced further apart than the segment caches keep segments, where mapping
//! each segment would make dozens per round (about 130 segments pass through each round here, more than the per-thread and
//! process-wide segment caches hold: without arenas (MIMALLOC_DISALLOW_ARENA_ALLOC=1) this
//! test sees dozens of calls per round).

use mimalloc::MiMalloc;
use mimalloc_testkit::{pattern::Block, sys::stats};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::Duration;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const THREADS: usize = 16;
const WARMUP: usize = 3;
const ROUNDS: usize = 20;

fn sizes(t: usize, round: usize) -> impl Iterator<Item = usize> {
    (0..300).map(move |i| match (i + t + round) % 50 {
        0 | 25 | 12 | 37 => 600_000 + i, // large page: a segment of its own
        1..=3 => 40_000 + 97 * i,        // medium pages
        k => 16 + k * 131 + i % 7,       // small pages
    })
}

fn os_calls() -> i64 {
    let st = stats();
    st.mmap_calls.total + st.munmap_calls.total
}

#[test]
fn os_calls_per_round_stay_bounded() {
    let handed: Mutex<Vec<Block>> = Mutex::new(Vec::new());
    let mut per_round = Vec::with_capacity(ROUNDS);
    let mut before = 0;
    for round in 0..WARMUP + ROUNDS {
        if round == WARMUP {
            before = os_calls();
        }
        let at_start = os_calls();
        // every thread of a round holds its thread state at once: the allocator keeps freed
        // thread states for the next threads, so only a round with more of them alive than
        // any before maps new ones, and without the barrier how many overlap is up to the
        // scheduler (a later round could outgrow the warm-up's and map a few: 1 run in 40)
        let all_started = Barrier::new(THREADS);
        thread::scope(|s| {
            let threads: Vec<_> = (0..THREADS)
                .map(|t| {
                    let handed = &handed;
                    let all_started = &all_started;
                    s.spawn(move || {
                        drop(std::hint::black_box(Box::new(t)));
                        all_started.wait();
                        // free what the previous round handed over: cross-thread frees into
                        // segments whose threads have exited
                        let inherited: Vec<Block> = {
                            let mut h = handed.lock().unwrap();
                            let n = h.len() / THREADS + 1;
                            let at = h.len().saturating_sub(n);
                            h.split_off(at)
                        };
                        for b in inherited {
                            b.check();
                        }
                        let mut mine: Vec<Block> = sizes(t, round)
                            .enumerate()
                            .map(|(i, n)| Block::new(n, round * 100_000 + t * 1000 + i))
                            .collect();
                        let keep: Vec<Block> = mine
                            .drain(..)
                            .enumerate()
                            .filter_map(|(i, b)| (i % 3 == 0).then_some(b))
                            .collect();
                        handed.lock().unwrap().extend(keep);
                    })
                })
                .collect();
            // joined one by one: the end of the scope waits only for the closures, and a
            // thread whose exit (its TLS destructors, where its thread data goes back to the
            // allocator's cache) ran on into the next round would make that round map thread
            // data of its own, an artifact of the test's timing, not a cost per round
            for t in threads {
                t.join().unwrap();
            }
        });
        if round >= WARMUP {
            per_round.push(os_calls() - at_start);
        }
        // rounds spaced like a server's bursts: the segment caches' linger (10 purge delays)
        // runs out, so what is kept between rounds is the arenas' doing, not the caches'
        thread::sleep(Duration::from_millis(60));
    }
    let total = os_calls() - before;
    eprintln!("allocator mmap+munmap calls per round after warm-up: {per_round:?} (total {total})");
    for b in handed.into_inner().unwrap() {
        b.check();
    }
    // An arena added as the process grows costs two calls (its reservation and its bitmaps);
    // arenas double in size, so a handful over all rounds, never one per segment.
    assert!(
        total <= 12,
        "{total} mmap/munmap calls in {ROUNDS} rounds of thread churn: segments are mapped one by one ({per_round:?})"
    );
    assert!(
        per_round.iter().all(|&c| c <= 4),
        "a round made more than 4 mmap/munmap calls: {per_round:?}"
    );
}
