//! Helpers shared by the test binaries of this crate.
#![allow(dead_code)]

use mimalloc_sys::{mi_stats_get, mi_stats_t};

/// Resident set size of this process in bytes, from /proc/self/statm.
pub fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .expect("statm field 2")
        .parse()
        .expect("number");
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize
}

/// The allocator's process-wide statistics (the calling thread's are merged first).
pub fn stats() -> mi_stats_t {
    // SAFETY: mi_stats_t is plain data; mi_stats_get fills at most `size` bytes of it.
    unsafe {
        let mut st: mi_stats_t = std::mem::zeroed();
        mi_stats_get(std::mem::size_of::<mi_stats_t>(), &mut st);
        st
    }
}

/// A cheap deterministic generator for sizes and choices.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A heap block with a content pattern derived from its address and length.
pub struct Block(pub Vec<u8>);

impl Block {
    pub fn new(len: usize, seed: u8) -> Block {
        let mut v = Vec::with_capacity(len);
        v.extend((0..len).map(|i| (i as u8).wrapping_mul(31) ^ seed));
        Block(v)
    }
    pub fn check(&self, seed: u8) {
        assert!(
            self.0
                .iter()
                .enumerate()
                .all(|(i, b)| *b == (i as u8).wrapping_mul(31) ^ seed),
            "block of {} bytes corrupted",
            self.0.len()
        );
    }
}
