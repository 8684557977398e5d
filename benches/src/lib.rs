//! Shared pieces of the benchmarks and the demonstration: a deterministic generator and the
//! demonstration's workload.

#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::thread;

/// The workload suite's xorshift generator: deterministic, so every allocator sees the same
/// requests (one generator for the demo, the criterion benches and the workloads).
pub use mimalloc_workloads::Rng;

/// The demonstration's workload: `threads` threads each build and drop `maps` ordered maps of
/// strings to byte vectors of varied sizes, and pass every tenth value to the next thread,
/// which checks and drops it (so blocks are freed by a thread other than their allocator).
/// Returns a checksum that does not depend on the allocator.
pub fn workload(threads: usize, maps: usize) -> u64 {
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..threads).map(|_| mpsc::channel::<Vec<u8>>()).unzip();
    let handles: Vec<_> = receivers
        .into_iter()
        .enumerate()
        .map(|(t, rx)| {
            let tx = senders[(t + 1) % threads].clone();
            thread::spawn(move || {
                let mut rng = Rng::new(t as u64 + 1);
                let mut sum = 0u64;
                for _ in 0..maps {
                    let mut map: BTreeMap<String, Vec<u8>> = BTreeMap::new();
                    for i in 0..2000u64 {
                        let key = format!("key-{}-{}", rng.below(1 << 20), i);
                        let len = match rng.below(100) {
                            0 => 4096 + rng.below(60_000) as usize,
                            1..=20 => 256 + rng.below(2048) as usize,
                            _ => rng.below(128) as usize,
                        };
                        map.insert(key, vec![(i % 251) as u8; len]);
                    }
                    for (k, v) in &map {
                        sum = sum
                            .wrapping_add(k.len() as u64)
                            .wrapping_add(v.len() as u64);
                    }
                    for (i, (_, v)) in map.into_iter().enumerate() {
                        if i % 10 == 0 {
                            // the receiver may already be gone at the very end
                            let _ = tx.send(v);
                        }
                    }
                    for v in rx.try_iter() {
                        assert!(
                            v.iter().all(|b| *b == v[0]),
                            "a block was corrupted in transit"
                        );
                    }
                }
                drop(tx);
                for v in rx.iter() {
                    assert!(
                        v.iter().all(|b| *b == v[0]),
                        "a block was corrupted in transit"
                    );
                }
                sum
            })
        })
        .collect();
    drop(senders);
    handles
        .into_iter()
        .map(|h| h.join().expect("worker panicked"))
        .fold(0, u64::wrapping_add)
}
