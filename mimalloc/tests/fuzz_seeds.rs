//! Replays the API fuzzer without the fuzzer: every committed seed in
//! `fuzz/seeds/api_ops/`, then a few thousand pseudo-random inputs from fixed seeds, each run
//! through the same decoder, shadow model and checks as the `cargo fuzz` target `api_ops`
//! (`mimalloc_testkit::api_model`: contents, alignment, usable sizes, zeroing, no overlap, ownership,
//! heap delete/destroy, cross-thread frees, refused requests). Runs in the default, secure
//! and debug builds (`--features secure`, `--features debug`), where the allocator's own
//! checks also report through the error hook the model watches.
//!
//! Each check is a panic inside the model naming the operation and what failed; these tests
//! add that the inputs really exercised the API (operations, allocations, frees on both
//! threads, heaps destroyed, refused requests all counted).

use mimalloc_testkit::api_model as model;
use std::path::PathBuf;

fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/api_ops")
}

#[test]
fn committed_seeds_replay_clean() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(seeds_dir())
        .expect("fuzz/seeds/api_ops exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "expected the committed seed corpus, found {} files",
        files.len()
    );
    let mut total = model::Summary::default();
    for f in &files {
        let data = std::fs::read(f).expect("read seed");
        let s = model::run(&data);
        assert!(s.ops > 0, "{} decoded to no operations", f.display());
        total.add(&s);
    }
    println!("{} seeds: {total:?}", files.len());
    assert!(total.allocs > 5_000 && total.frees > 1_000, "{total:?}");
    assert!(
        total.remote_frees > 500 && total.remote_allocs > 100,
        "{total:?}"
    );
    assert!(total.destroyed > 100 && total.refused > 50, "{total:?}");
}

/// xorshift64*, so the inputs are the same on every machine.
fn random_input(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// Inputs per random test: about 30,000 operations each (a few seconds).
const RANDOM_INPUTS: u64 = 400;

fn replay_random(first: u64, count: u64) -> model::Summary {
    let mut total = model::Summary::default();
    for seed in first..first + count {
        // lengths from a few operations to about 150
        let len = 16 + (seed as usize * 7919) % 800;
        total.add(&model::run(&random_input(seed, len)));
    }
    total
}

// Two tests so libtest runs them on two threads: the model's blocks and heaps are per thread,
// and the one helper thread serves both.
#[test]
fn random_sequences_a() {
    let s = replay_random(0, RANDOM_INPUTS);
    println!("{s:?}");
    assert!(
        s.ops > 15_000 && s.allocs > 30_000 && s.heaps > 300 && s.destroyed > 500,
        "{s:?}"
    );
}

#[test]
fn random_sequences_b() {
    let s = replay_random(1_000_000, RANDOM_INPUTS);
    println!("{s:?}");
    assert!(
        s.ops > 15_000 && s.remote_frees > 5_000 && s.in_place > 50 && s.refused > 300,
        "{s:?}"
    );
}
