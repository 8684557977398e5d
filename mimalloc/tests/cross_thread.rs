//! Blocks allocated in one thread and freed in others, with content checks, leave nothing
//! behind: after the threads are joined and memory collected, the pages, segments and bytes in
//! use are back to what they were before. The only test in this binary, so no other test's
//! allocations move the process-wide statistics.

mod common;

use common::{stats, Block, Rng};
use mimalloc::MiMalloc;
use std::sync::mpsc;
use std::thread;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const THREADS: usize = 4;
const ROUNDS: usize = 20_000;

#[test]
fn blocks_freed_by_other_threads_leave_no_leak() {
    // SAFETY: mi_collect has no preconditions.
    unsafe { mimalloc_sys::mi_collect(true) };
    let before = stats();

    // a ring: thread i sends to thread i+1, which checks and frees
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..THREADS).map(|_| mpsc::channel::<(Block, u8)>()).unzip();
    let mut handles = Vec::new();
    for (i, rx) in receivers.into_iter().enumerate() {
        let tx = senders[(i + 1) % THREADS].clone();
        handles.push(thread::spawn(move || {
            let mut rng = Rng::new(i as u64 + 1);
            let mut received = 0usize;
            for r in 0..ROUNDS {
                let len = match rng.below(100) {
                    0 => rng.below(300_000) as usize,
                    1..=9 => rng.below(8_000) as usize,
                    _ => rng.below(600) as usize,
                };
                let seed = (r % 251) as u8;
                tx.send((Block::new(len, seed), seed))
                    .expect("receiver alive");
                while let Ok((block, seed)) = rx.try_recv() {
                    block.check(seed);
                    received += 1;
                }
            }
            drop(tx);
            (rx, received)
        }));
    }
    drop(senders);
    let mut total = 0;
    let mut leftovers = Vec::new();
    for h in handles {
        let (rx, received) = h.join().expect("worker panicked");
        total += received;
        leftovers.push(rx);
    }
    for rx in leftovers {
        for (block, seed) in rx.try_iter() {
            block.check(seed);
            total += 1;
        }
    }
    assert_eq!(total, THREADS * ROUNDS, "every block arrives exactly once");

    // SAFETY: no preconditions; a forced collect also adopts exited threads' segments.
    unsafe { mimalloc_sys::mi_collect(true) };
    let after = stats();
    assert_eq!(
        after.segments_abandoned.current, 0,
        "abandoned segments left"
    );
    assert_eq!(after.huge.current, before.huge.current, "huge bytes leaked");
    // With `override`, libc's own allocations (stdio buffers, thread bookkeeping) come from us
    // too and may stay live across the test: allow them a couple of pages (and so a segment).
    let (page_slack, segment_slack, byte_slack) = if cfg!(feature = "override") {
        (2, 1, 2 << 20)
    } else {
        (0, 0, 0)
    };
    let grew = |a: i64, b: i64| (a - b).abs();
    assert!(
        grew(after.pages.current, before.pages.current) <= page_slack,
        "pages leaked ({} -> {})",
        before.pages.current,
        after.pages.current
    );
    assert!(
        grew(after.segments.current, before.segments.current) <= segment_slack,
        "segments leaked ({} -> {})",
        before.segments.current,
        after.segments.current
    );
    assert!(
        grew(after.normal.current, before.normal.current) <= byte_slack,
        "page bytes leaked ({} -> {})",
        before.normal.current,
        after.normal.current
    );
    assert!(
        after.threads.current <= before.threads.current,
        "exited threads still counted"
    );
}
