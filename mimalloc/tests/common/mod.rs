//! Helpers shared by the test binaries of this crate: resident memory, the allocator's
//! statistics, a deterministic generator, and content patterns that are written and checked at
//! memcpy/memcmp speed (so the sweeps stay fast even in an unoptimised build).
#![allow(dead_code)]

use mimalloc_sys::{mi_stats_get, mi_stats_t};

/// Resident set size of this process in bytes: field 2 of /proc/self/statm times the page size.
#[cfg(target_os = "linux")]
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

/// Resident set size of this process in bytes, as the OS layer reports it (Windows: the
/// working set from K32GetProcessMemoryInfo).
#[cfg(not(target_os = "linux"))]
pub fn rss_bytes() -> usize {
    let mut rss = 0usize;
    // SAFETY: every out-pointer is either null (not wanted) or a valid local.
    unsafe {
        mimalloc_sys::mi_process_info(
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            &mut rss,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            core::ptr::null_mut(),
        )
    };
    rss
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

/// Whether the C side also serves libc's malloc (the `override` feature): then the test
/// harness's and libc's own allocations land in our heaps and statistics too.
pub fn redirected() -> bool {
    // SAFETY: no preconditions.
    unsafe { mimalloc_sys::mi_is_redirected() }
}

/// A cheap deterministic generator for sizes and choices (xorshift64).
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

// ---- Content patterns ---------------------------------------------------------------------
//
// Byte i of a block filled with `seed` is BASE[(i + seed) % PERIOD]. PERIOD is prime, so a
// block shifted by anything but a multiple of 251 bytes, or two blocks with different seeds
// overlapping, read back wrong. Filling copies CHUNK bytes at a time from a pre-built table;
// CHUNK is a multiple of PERIOD, so every chunk starts at the same phase.

const PERIOD: usize = 251;
const CHUNK: usize = PERIOD * 64;
static PATTERN: [u8; CHUNK + PERIOD] = build_pattern();
static ZEROS: [u8; CHUNK] = [0; CHUNK];

const fn build_pattern() -> [u8; CHUNK + PERIOD] {
    let mut a = [0u8; CHUNK + PERIOD];
    let mut i = 0;
    while i < a.len() {
        // 7 is odd, so j * 7 is a bijection on bytes: the 251 values of a period are distinct
        a[i] = ((i % PERIOD) as u8).wrapping_mul(7) ^ 0xa5;
        i += 1;
    }
    a
}

/// The byte at offset `i` of a block filled with `seed`.
pub fn pattern_byte(i: usize, seed: usize) -> u8 {
    PATTERN[(i + seed) % PERIOD]
}

/// Writes the pattern of `seed` over `len` bytes at `p`.
///
/// # Safety
/// `p..p+len` must be writable.
pub unsafe fn fill(p: *mut u8, len: usize, seed: usize) {
    let phase = seed % PERIOD;
    let mut off = 0;
    while off < len {
        let n = (len - off).min(CHUNK);
        // SAFETY: PATTERN has CHUNK bytes after any phase < PERIOD; the caller owns p..p+len.
        unsafe { core::ptr::copy_nonoverlapping(PATTERN.as_ptr().add(phase), p.add(off), n) };
        off += n;
    }
}

/// Writes the pattern of `seed` over `from..to` of the block at `p` (offsets within the
/// block, so the bytes match what `fill(p, to, seed)` would have written there).
///
/// # Safety
/// `p+from..p+to` must be writable.
pub unsafe fn fill_range(p: *mut u8, from: usize, to: usize, seed: usize) {
    // bytes up to the next multiple of PERIOD one by one, then whole chunks from there
    let mut off = from;
    while off < to && off % PERIOD != 0 {
        // SAFETY: off is inside the caller's range.
        unsafe { *p.add(off) = pattern_byte(off, seed) };
        off += 1;
    }
    if off < to {
        // SAFETY: as above; `off` is a multiple of PERIOD, where `fill` starts its phase.
        unsafe { fill(p.add(off), to - off, seed) };
    }
}

/// The first offset in `0..len` at which the block at `p` differs from the pattern of `seed`.
///
/// # Safety
/// `p..p+len` must be readable.
pub unsafe fn first_mismatch(p: *const u8, len: usize, seed: usize) -> Option<usize> {
    let phase = seed % PERIOD;
    let mut off = 0;
    while off < len {
        let n = (len - off).min(CHUNK);
        // SAFETY: the caller's range; PATTERN has CHUNK bytes after `phase`.
        let got = unsafe { core::slice::from_raw_parts(p.add(off), n) };
        let want = &PATTERN[phase..phase + n];
        if got != want {
            let i = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0);
            return Some(off + i);
        }
        off += n;
    }
    None
}

/// The first offset in `0..len` at which the block at `p` is not zero.
///
/// # Safety
/// `p..p+len` must be readable.
pub unsafe fn first_nonzero(p: *const u8, len: usize) -> Option<usize> {
    let mut off = 0;
    while off < len {
        let n = (len - off).min(CHUNK);
        // SAFETY: the caller's range.
        let got = unsafe { core::slice::from_raw_parts(p.add(off), n) };
        if got != &ZEROS[..n] {
            return Some(off + got.iter().position(|b| *b != 0).unwrap_or(0));
        }
        off += n;
    }
    None
}

/// A heap block (through the global allocator) holding the pattern of its seed.
pub struct Block(pub Vec<u8>, pub usize);

impl Block {
    pub fn new(len: usize, seed: usize) -> Block {
        let mut v = Vec::with_capacity(len);
        // SAFETY: the Vec has capacity for `len` bytes, all written before set_len.
        unsafe {
            fill(v.as_mut_ptr(), len, seed);
            v.set_len(len);
        }
        Block(v, seed)
    }
    pub fn check(&self) {
        // SAFETY: the Vec's `len` bytes are initialised.
        let bad = unsafe { first_mismatch(self.0.as_ptr(), self.0.len(), self.1) };
        assert!(
            bad.is_none(),
            "block of {} bytes at {:p} corrupted at offset {:?}",
            self.0.len(),
            self.0.as_ptr(),
            bad
        );
    }
}
