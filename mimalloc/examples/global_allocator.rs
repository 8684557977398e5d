//! `MiMalloc` as the global allocator: the crate's quick start as a program you can run.
//!
//! `cargo run --release -p mimalloc --example global_allocator`
//! (add `MIMALLOC_SHOW_STATS=1` in front to see the allocator's statistics at exit).

use mimalloc::MiMalloc;
use std::collections::HashMap;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {
    // Every String, the Vec and the HashMap below are allocated by MiMalloc.
    let words: Vec<String> = (0..100_000).map(|i| format!("word-{}", i % 1000)).collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for w in &words {
        *counts.entry(w.as_str()).or_insert(0) += 1;
    }
    assert_eq!(counts.len(), 1000);
    assert!(counts.values().all(|&n| n == 100));
    println!(
        "counted {} words ({} distinct) with mimalloc-rs version {}",
        words.len(),
        counts.len(),
        MiMalloc.version()
    );
}
