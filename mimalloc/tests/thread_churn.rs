//! More than a thousand short-lived threads whose blocks the main thread frees after they
//! exited: abandoned segments are reclaimed and resident memory stays bounded instead of
//! growing with the number of threads.

mod common;

use common::{rss_bytes, stats, Block};
use mimalloc::MiMalloc;
use std::thread;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const WAVES: usize = 50;
const THREADS_PER_WAVE: usize = 24; // 1,200 threads in all
const MIB: usize = 1024 * 1024;

#[test]
fn blocks_of_exited_threads_are_reclaimed() {
    let mut rss_after_wave = Vec::new();
    for wave in 0..WAVES {
        let handles: Vec<_> = (0..THREADS_PER_WAVE)
            .map(|t| {
                thread::spawn(move || {
                    // a few hundred KB in mixed sizes, handed back to the spawner
                    let mut blocks = Vec::new();
                    for i in 0..200usize {
                        let len = [24, 200, 1500, 9000][(i + t) % 4];
                        blocks.push(Block::new(len, (i % 200) as u8));
                    }
                    blocks
                })
            })
            .collect();
        let results: Vec<Vec<Block>> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        // every thread has exited: free its blocks from here
        for blocks in results {
            for (i, b) in blocks.into_iter().enumerate() {
                b.check((i % 200) as u8);
            }
        }
        rss_after_wave.push(rss_bytes());
        if wave == 0 {
            continue;
        }
    }
    let first = rss_after_wave[1];
    let max = *rss_after_wave.iter().max().expect("waves ran");
    // 1,200 threads x ~2.1 MB would be 2.5 GB if nothing were reclaimed
    assert!(
        max < first + 64 * MIB,
        "resident memory grew with the threads: first wave {} MiB, max {} MiB",
        first / MIB,
        max / MIB
    );
    // SAFETY: no preconditions.
    unsafe { mimalloc_sys::mi_collect(true) };
    let st = stats();
    assert_eq!(
        st.segments_abandoned.current, 0,
        "abandoned segments remain after a forced collect"
    );
    eprintln!(
        "rss after each wave (MiB): {:?}",
        rss_after_wave.iter().map(|r| r / MIB).collect::<Vec<_>>()
    );
}
