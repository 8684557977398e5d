//! Position-dependent block contents, written and checked at memcpy/memcmp speed, so sweeps
//! over huge blocks stay cheap even in an unoptimised build.
//!
//! Byte `i` of a block filled with `seed` is `TABLE[(i + seed) % PERIOD]`. `PERIOD` is prime,
//! so a block read back shifted by anything but a multiple of it, or mixed up with a block
//! whose seed differs modulo `PERIOD`, fails the check. Filling and checking copy and compare
//! `CHUNK` bytes at a time from a pre-built table; `CHUNK` is a multiple of `PERIOD`, so every
//! chunk starts at the phase of its offset.
//!
//! Every function takes offsets within the block, so a range written or checked on its own
//! holds the same bytes as the whole block filled at once.

/// The pattern's period in bytes (prime).
pub const PERIOD: usize = 4093;
const CHUNK: usize = PERIOD * 16;
static TABLE: [u8; CHUNK + PERIOD] = build_table();
static ZEROS: [u8; CHUNK] = [0; CHUNK];

const fn build_table() -> [u8; CHUNK + PERIOD] {
    let mut t = [0u8; CHUNK + PERIOD];
    let mut i = 0;
    while i < t.len() {
        // bytes of a multiplicative hash of the phase, so neighbouring phases differ
        let k = (i % PERIOD) as u32;
        t[i] = (k.wrapping_mul(0x9e37_79b1) >> 24) as u8 ^ (k as u8);
        i += 1;
    }
    t
}

/// The byte at offset `i` of a block filled with `seed`.
pub fn pattern_byte(i: usize, seed: usize) -> u8 {
    TABLE[(i % PERIOD + seed % PERIOD) % PERIOD]
}

/// The expected bytes for offsets `from..from + len` (`len <= CHUNK`) of a block with `seed`.
fn expected(seed: usize, from: usize, len: usize) -> &'static [u8] {
    let phase = (from % PERIOD + seed % PERIOD) % PERIOD;
    &TABLE[phase..phase + len]
}

/// Writes the pattern of `seed` over the first `len` bytes at `p`.
///
/// # Safety
/// `p..p+len` must be writable.
pub unsafe fn fill(p: *mut u8, len: usize, seed: usize) {
    // SAFETY: the caller's guarantee.
    unsafe { fill_range(p, 0, len, seed) }
}

/// Writes the pattern of `seed` over offsets `from..to` of the block at `p`.
///
/// # Safety
/// `p+from..p+to` must be writable.
pub unsafe fn fill_range(p: *mut u8, from: usize, to: usize, seed: usize) {
    let mut at = from;
    while at < to {
        let n = (to - at).min(CHUNK);
        // SAFETY: the caller guarantees the range is writable; the table is static memory,
        // never inside a block.
        unsafe { core::ptr::copy_nonoverlapping(expected(seed, at, n).as_ptr(), p.add(at), n) };
        at += n;
    }
}

/// The first offset in `0..len` at which the block at `p` differs from the pattern of `seed`.
///
/// # Safety
/// `p..p+len` must be readable.
pub unsafe fn first_mismatch(p: *const u8, len: usize, seed: usize) -> Option<usize> {
    // SAFETY: the caller's guarantee.
    unsafe { first_mismatch_in(p, 0, len, seed) }
}

/// The first offset in `from..to` at which the block at `p` differs from the pattern of `seed`.
///
/// # Safety
/// `p+from..p+to` must be readable.
pub unsafe fn first_mismatch_in(
    p: *const u8,
    from: usize,
    to: usize,
    seed: usize,
) -> Option<usize> {
    let mut at = from;
    while at < to {
        let n = (to - at).min(CHUNK);
        // SAFETY: the caller guarantees the range is readable.
        let got = unsafe { core::slice::from_raw_parts(p.add(at), n) };
        let want = expected(seed, at, n);
        if got != want {
            return got
                .iter()
                .zip(want)
                .position(|(a, b)| a != b)
                .map(|k| at + k);
        }
        at += n;
    }
    None
}

/// The first offset in `0..len` at which the block at `p` is not zero.
///
/// # Safety
/// `p..p+len` must be readable.
pub unsafe fn first_nonzero(p: *const u8, len: usize) -> Option<usize> {
    // SAFETY: the caller's guarantee.
    unsafe { first_nonzero_in(p, 0, len) }
}

/// The first offset in `from..to` at which the block at `p` is not zero.
///
/// # Safety
/// `p+from..p+to` must be readable.
pub unsafe fn first_nonzero_in(p: *const u8, from: usize, to: usize) -> Option<usize> {
    let mut at = from;
    while at < to {
        let n = (to - at).min(CHUNK);
        // SAFETY: the caller guarantees the range is readable.
        let got = unsafe { core::slice::from_raw_parts(p.add(at), n) };
        if got != &ZEROS[..n] {
            return got.iter().position(|&b| b != 0).map(|k| at + k);
        }
        at += n;
    }
    None
}

/// A block from the global allocator (a `Vec`) holding the pattern of its seed.
pub struct Block(pub Vec<u8>, pub usize);

impl Block {
    /// `len` bytes filled with the pattern of `seed`.
    pub fn new(len: usize, seed: usize) -> Block {
        let mut v = Vec::with_capacity(len);
        // SAFETY: the Vec has capacity for `len` bytes, all written before set_len.
        unsafe {
            fill(v.as_mut_ptr(), len, seed);
            v.set_len(len);
        }
        Block(v, seed)
    }

    /// Panics, naming the offset, if the block no longer holds its pattern.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_match_the_whole_block_and_mismatches_are_found() {
        let len = 3 * CHUNK + 1234;
        for seed in [0, 1, PERIOD - 1, PERIOD, 123_456_789] {
            let mut whole = vec![0u8; len];
            let mut pieces = vec![0u8; len];
            // SAFETY: both vectors hold `len` bytes.
            unsafe {
                fill(whole.as_mut_ptr(), len, seed);
                for (from, to) in [
                    (0, 7),
                    (7, CHUNK + 3),
                    (CHUNK + 3, 2 * CHUNK),
                    (2 * CHUNK, len),
                ] {
                    fill_range(pieces.as_mut_ptr(), from, to, seed);
                }
            }
            assert_eq!(whole, pieces, "seed {seed}");
            assert!(whole
                .iter()
                .enumerate()
                .all(|(i, &b)| b == pattern_byte(i, seed)));
            // SAFETY: as above.
            unsafe {
                assert_eq!(first_mismatch(whole.as_ptr(), len, seed), None);
                assert_eq!(first_mismatch(whole.as_ptr(), len, seed + 1), Some(0));
                assert_eq!(first_mismatch_in(whole.as_ptr(), 100, len, seed), None);
            }
            whole[CHUNK + 17] ^= 1;
            // SAFETY: as above.
            unsafe {
                assert_eq!(first_mismatch(whole.as_ptr(), len, seed), Some(CHUNK + 17));
                assert_eq!(
                    first_mismatch_in(whole.as_ptr(), CHUNK + 18, len, seed),
                    None
                );
            }
        }
        let mut z = vec![0u8; len];
        // SAFETY: `len` bytes.
        unsafe {
            assert_eq!(first_nonzero(z.as_ptr(), len), None);
            z[2 * CHUNK + 5] = 1;
            assert_eq!(first_nonzero(z.as_ptr(), len), Some(2 * CHUNK + 5));
            assert_eq!(first_nonzero_in(z.as_ptr(), 2 * CHUNK + 6, len), None);
        }
        // a shift by anything but a multiple of the period reads back wrong
        let b = Block::new(2 * PERIOD, 5);
        b.check();
        for shift in 1..PERIOD {
            // SAFETY: reads stay inside the block.
            let bad = unsafe { first_mismatch(b.0.as_ptr().add(shift), PERIOD, 5) };
            assert!(bad.is_some(), "shift {shift} went unnoticed");
        }
    }
}
