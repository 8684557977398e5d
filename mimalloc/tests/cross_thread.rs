//! Blocks allocated in one thread and checked and freed in others leave nothing behind.
//!
//! Threads in a ring allocate blocks of varied sizes and alignments (small to huge) holding a
//! content pattern and send them through std::sync::mpsc channels to the next thread, which
//! checks and frees them; now and then a whole batch of one size goes at once, so the sender's
//! pages are full when the frees arrive (the delayed-free path). Whatever is still in flight
//! when the threads finish is freed by the test thread after they exited (blocks of exited
//! threads, in abandoned segments). The exchange runs several times with fresh threads.
//!
//! Holds: every block arrives once with its contents intact, and after `mi_collect(true)` the
//! statistics are back where they started: pages, segments, normal and huge bytes, threads,
//! and no abandoned segments.
//!
//! Tolerance: this is the only test in the binary, and libtest's main thread sits blocked
//! waiting for it, so the only allocations that may outlive the exchange are lazy one-time
//! ones of std's thread and channel machinery on the test thread. A warm-up exchange runs
//! before the baseline so those happen first; what is left is a margin of 2 pages, 1 segment
//! and 1 MiB of page bytes for anything std might still keep. A leak tied to the work (per
//! thread, per batch, per block kind) exceeds it many times over: the exchange runs 3 × 6
//! threads and touches thousands of pages. With `override`, libc's own allocations (stdio,
//! thread bookkeeping) come from us too and get a wider margin.

use core::alloc::{GlobalAlloc, Layout};
use mimalloc::MiMalloc;
use mimalloc_testkit::{
    pattern::{fill, first_mismatch},
    rng::Rng,
    sys::{redirected, stats},
};
use std::sync::mpsc;
use std::thread;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// A block allocated through `MiMalloc` holding the pattern of `seed` over `layout.size()`.
struct RawBlock {
    p: *mut u8,
    layout: Layout,
    seed: usize,
}

// SAFETY: the block is plain memory owned by whoever holds the RawBlock; any thread may free a
// block of this allocator.
unsafe impl Send for RawBlock {}

impl RawBlock {
    fn new(size: usize, align: usize, seed: usize) -> RawBlock {
        let layout = Layout::from_size_align(size, align).expect("layout");
        // SAFETY: size > 0; freed by `check_and_free`.
        let p = unsafe { MiMalloc.alloc(layout) };
        assert!(!p.is_null(), "alloc({size}, {align})");
        // SAFETY: `size` bytes are writable.
        unsafe { fill(p, size, seed) };
        RawBlock { p, layout, seed }
    }

    fn check_and_free(self) {
        let (size, align) = (self.layout.size(), self.layout.align());
        assert_eq!(self.p as usize % align, 0);
        // SAFETY: a live block of ours, `size` bytes written by its allocating thread (the
        // channel's synchronisation makes them visible here); freed once.
        unsafe {
            assert!(MiMalloc.usable_size(self.p) >= size);
            let bad = first_mismatch(self.p, size, self.seed);
            assert!(
                bad.is_none(),
                "block ({size}, {align}) at {:p} changed at offset {bad:?} on its way",
                self.p
            );
            MiMalloc.dealloc(self.p, self.layout);
        }
    }
}

enum Msg {
    One(RawBlock),
    Batch(Vec<RawBlock>),
}

fn random_block(rng: &mut Rng, seed: usize) -> RawBlock {
    let size = 1 + match rng.below(1000) {
        0..=699 => rng.below(600),
        700..=899 => rng.below(8 * KIB as u64),
        900..=979 => rng.below(100 * KIB as u64),
        980..=996 => rng.below(MIB as u64),
        _ => 2 * MIB as u64 + rng.below(3 * MIB as u64),
    } as usize;
    let align = match rng.below(100) {
        0..=84 => 8,
        85..=94 => 64,
        95..=98 => 4096,
        _ => 64 * KIB,
    };
    RawBlock::new(size, align, seed)
}

/// Runs one exchange among `threads` fresh threads; returns how many blocks were sent and
/// how many arrived.
fn exchange(threads: usize, rounds: usize, seed: u64) -> (usize, usize) {
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..threads).map(|_| mpsc::channel::<Msg>()).unzip();
    let mut handles = Vec::new();
    for (i, rx) in receivers.into_iter().enumerate() {
        let tx = senders[(i + 1) % threads].clone();
        handles.push(thread::spawn(move || {
            let mut rng = Rng::new(seed * 1000 + i as u64 + 1);
            let (mut sent, mut received) = (0usize, 0usize);
            let receive = |msg: Msg| match msg {
                Msg::One(b) => {
                    b.check_and_free();
                    1
                }
                Msg::Batch(v) => {
                    let n = v.len();
                    v.into_iter().for_each(RawBlock::check_and_free);
                    n
                }
            };
            for r in 0..rounds {
                if r % 500 == 250 {
                    // a batch that fills whole pages of one size: the receiver frees into
                    // pages sitting in this thread's full queue
                    let size = [24usize, 200, 3000, 40_000][(r / 500) % 4];
                    let count = (3 * 64 * KIB / size).max(300); // three pages at least
                    let batch: Vec<RawBlock> =
                        (0..count).map(|k| RawBlock::new(size, 8, r + k)).collect();
                    sent += batch.len();
                    tx.send(Msg::Batch(batch)).expect("receiver alive");
                } else {
                    tx.send(Msg::One(random_block(&mut rng, r)))
                        .expect("receiver alive");
                    sent += 1;
                }
                while let Ok(msg) = rx.try_recv() {
                    received += receive(msg);
                }
            }
            drop(tx);
            // leave the rest in flight: the test thread frees it after this thread exited
            (rx, sent, received)
        }));
    }
    drop(senders);
    let (mut sent, mut received) = (0, 0);
    let mut leftovers = Vec::new();
    for h in handles {
        let (rx, s, r) = h.join().expect("worker panicked");
        sent += s;
        received += r;
        leftovers.push(rx);
    }
    for rx in leftovers {
        for msg in rx.try_iter() {
            match msg {
                Msg::One(b) => {
                    b.check_and_free();
                    received += 1;
                }
                Msg::Batch(v) => {
                    received += v.len();
                    v.into_iter().for_each(RawBlock::check_and_free);
                }
            }
        }
    }
    (sent, received)
}

#[test]
fn blocks_freed_by_other_threads_leave_no_leak() {
    // warm-up: std's one-time allocations for threads and channels happen here
    let (s, r) = exchange(2, 300, 99);
    assert_eq!(s, r);
    // SAFETY: no preconditions; a forced collect also adopts exited threads' segments.
    unsafe { mimalloc_sys::mi_collect(true) };
    let before = stats();

    for repeat in 0..3 {
        let (sent, received) = exchange(6, 8000, repeat);
        assert_eq!(received, sent, "every block arrives exactly once");
        assert!(sent > 6 * 8000, "batches were sent");
    }

    // SAFETY: as above.
    unsafe { mimalloc_sys::mi_collect(true) };
    let after = stats();
    eprintln!(
        "pages {} -> {}, segments {} -> {}, normal {} -> {}, huge {} -> {}, threads {} -> {}",
        before.pages.current,
        after.pages.current,
        before.segments.current,
        after.segments.current,
        before.normal.current,
        after.normal.current,
        before.huge.current,
        after.huge.current,
        before.threads.current,
        after.threads.current
    );
    assert!(
        after.pages.peak > before.pages.current + 100,
        "the exchange used pages"
    );
    assert_eq!(
        after.segments_abandoned.current, 0,
        "abandoned segments after a forced collect"
    );
    assert_eq!(after.pages_abandoned.current, 0, "abandoned pages left");
    assert_eq!(
        after.threads.current, before.threads.current,
        "exited threads still counted"
    );
    let (pages, segments, bytes) = if redirected() {
        (8, 2, 4 * MIB as i64)
    } else {
        (2, 1, MIB as i64)
    };
    let off = |a: i64, b: i64| (a - b).abs();
    assert!(
        off(after.pages.current, before.pages.current) <= pages,
        "pages leaked: {} -> {}",
        before.pages.current,
        after.pages.current
    );
    assert!(
        off(after.segments.current, before.segments.current) <= segments,
        "segments leaked: {} -> {}",
        before.segments.current,
        after.segments.current
    );
    assert!(
        off(after.normal.current, before.normal.current) <= bytes,
        "page bytes leaked: {} -> {}",
        before.normal.current,
        after.normal.current
    );
    assert_eq!(after.huge.current, before.huge.current, "huge bytes leaked");
}
