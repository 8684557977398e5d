//! The layout sweep of `mimalloc/tests/layout_sweep.rs` through the raw aligned API:
//! `mi_malloc_aligned`, `mi_zalloc_aligned` (and `mi_calloc_aligned`), `mi_realloc_aligned`
//! and `mi_usable_size`, for every size 0..=4096 and every power of two with its neighbours
//! (2^k-1, 2^k, 2^k+1) up to 64 MiB, at every power-of-two alignment 1..=4096 plus 64 KiB and
//! 2 MiB.
//!
//! Holds: aligned, `mi_usable_size >= size` (and > 0 for size 0), the whole usable size
//! writable and intact while other blocks are live (no overlap), zeroed allocations zero also
//! when they reuse freed dirty blocks, and reallocation keeps contents growing and shrinking.

use core::ffi::c_void;
use mimalloc_sys::*;
use std::collections::VecDeque;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// Position-dependent content written and checked at memcpy/memcmp speed: byte i of a block
/// filled with `seed` is BASE[(i + seed) % 251] (a prime period, so shifted or overlapping
/// blocks read back wrong).
mod pattern {
    const PERIOD: usize = 251;
    const CHUNK: usize = PERIOD * 64;
    static PATTERN: [u8; CHUNK + PERIOD] = build();
    static ZEROS: [u8; CHUNK] = [0; CHUNK];

    const fn build() -> [u8; CHUNK + PERIOD] {
        let mut a = [0u8; CHUNK + PERIOD];
        let mut i = 0;
        while i < a.len() {
            a[i] = ((i % PERIOD) as u8).wrapping_mul(7) ^ 0xa5;
            i += 1;
        }
        a
    }

    /// # Safety
    /// `p..p+len` must be writable.
    pub unsafe fn fill(p: *mut u8, len: usize, seed: usize) {
        let mut off = 0;
        while off < len {
            let n = (len - off).min(CHUNK);
            // SAFETY: PATTERN has CHUNK bytes after any phase; the caller owns the range.
            unsafe {
                core::ptr::copy_nonoverlapping(PATTERN.as_ptr().add(seed % PERIOD), p.add(off), n)
            };
            off += n;
        }
    }

    /// `fill` restricted to offsets `from..to` of the block at `p`.
    ///
    /// # Safety
    /// `p+from..p+to` must be writable.
    pub unsafe fn fill_range(p: *mut u8, from: usize, to: usize, seed: usize) {
        let mut off = from;
        while off < to && off % PERIOD != 0 {
            // SAFETY: inside the caller's range.
            unsafe { *p.add(off) = PATTERN[(off + seed) % PERIOD] };
            off += 1;
        }
        if off < to {
            // SAFETY: as above; `off` is a multiple of PERIOD, where `fill` starts its phase.
            unsafe { fill(p.add(off), to - off, seed) };
        }
    }

    /// # Safety
    /// `p..p+len` must be readable.
    pub unsafe fn first_mismatch(p: *const u8, len: usize, seed: usize) -> Option<usize> {
        let phase = seed % PERIOD;
        let mut off = 0;
        while off < len {
            let n = (len - off).min(CHUNK);
            // SAFETY: the caller's range.
            let got = unsafe { core::slice::from_raw_parts(p.add(off), n) };
            let want = &PATTERN[phase..phase + n];
            if got != want {
                return Some(off + got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0));
            }
            off += n;
        }
        None
    }

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
}

use pattern::{fill, fill_range, first_mismatch, first_nonzero};

fn alignments() -> Vec<usize> {
    let mut a: Vec<usize> = (0..=12).map(|k| 1usize << k).collect();
    a.extend([64 * KIB, 2 * MIB]);
    a
}

/// 4097 and 2^k-1, 2^k, 2^k+1 for 2^13..=2^26 (64 MiB), ascending.
fn big_sizes() -> Vec<usize> {
    (12..=26)
        .flat_map(|k| [(1usize << k) - 1, 1 << k, (1 << k) + 1])
        .filter(|&s| s > 4096)
        .collect()
}

fn usable(p: *mut u8) -> usize {
    // SAFETY: only called on live blocks of ours.
    unsafe { mi_usable_size(p as *const c_void) }
}

struct Live {
    p: *mut u8,
    size: usize,
    align: usize,
    usable: usize,
    seed: usize,
}

/// Recently allocated blocks kept live (bounded count and bytes); each one's whole usable size
/// holds its own pattern, checked just before it is freed.
struct LiveSet {
    q: VecDeque<Live>,
    bytes: usize,
}

impl LiveSet {
    const MAX_BLOCKS: usize = 32;
    const MAX_BYTES: usize = 128 * MIB;

    fn push(&mut self, b: Live) {
        while !self.q.is_empty()
            && (self.q.len() >= Self::MAX_BLOCKS || self.bytes + b.usable > Self::MAX_BYTES)
        {
            self.evict();
        }
        self.bytes += b.usable;
        self.q.push_back(b);
    }

    fn evict(&mut self) {
        let b = self.q.pop_front().expect("non-empty");
        self.bytes -= b.usable;
        assert_eq!(usable(b.p), b.usable, "usable size of a live block changed");
        // SAFETY: b.p is live and its usable bytes were written.
        let bad = unsafe { first_mismatch(b.p, b.usable, b.seed) };
        assert!(
            bad.is_none(),
            "mi_malloc_aligned({}, {}) at {:p}: contents changed at offset {:?} of {} \
             (overlapping blocks?)",
            b.size,
            b.align,
            b.p,
            bad,
            b.usable
        );
        // SAFETY: live block of ours, freed once.
        unsafe { mi_free(b.p as *mut c_void) };
    }
}

fn sweep(sizes: impl IntoIterator<Item = usize>, align: usize) {
    let mut live = LiveSet {
        q: VecDeque::new(),
        bytes: 0,
    };
    for (i, size) in sizes.into_iter().enumerate() {
        // SAFETY: align is a power of two; the block is freed by the LiveSet.
        let p = unsafe { mi_malloc_aligned(size, align) } as *mut u8;
        assert!(!p.is_null(), "mi_malloc_aligned({size}, {align}) = NULL");
        assert_eq!(
            p as usize % align,
            0,
            "mi_malloc_aligned({size}, {align}) = {p:p}"
        );
        let u = usable(p);
        assert!(
            u >= size.max(1),
            "mi_malloc_aligned({size}, {align}): usable size {u}"
        );
        let seed = i + align;
        // SAFETY: the usable size belongs to the block.
        unsafe { fill(p, u, seed) };
        live.push(Live {
            p,
            size,
            align,
            usable: u,
            seed,
        });
    }
    while !live.q.is_empty() {
        live.evict();
    }
}

#[test]
fn small_sizes_at_every_alignment() {
    for align in alignments() {
        sweep(0..=4096, align);
    }
}

#[test]
fn power_of_two_sizes_and_neighbours_at_every_alignment() {
    for align in alignments() {
        sweep(big_sizes(), align);
    }
}

/// Dirties `dirty` blocks of (size, align) over their whole usable size and frees them; then
/// takes at least as many zeroed blocks (alternating mi_zalloc_aligned and
/// mi_calloc_aligned), more up to `extra` until a dirtied block comes back, checks each is zero
/// over `size`, and dirties them before freeing. Returns how many overlapped dirtied memory.
fn zeroed_after_dirty(size: usize, align: usize, dirty: usize, extra: usize) -> usize {
    let mut ranges = Vec::with_capacity(dirty);
    for _ in 0..dirty {
        // SAFETY: power-of-two alignment; freed below.
        let p = unsafe { mi_malloc_aligned(size, align) } as *mut u8;
        assert!(!p.is_null());
        let u = usable(p);
        // SAFETY: the usable size belongs to the block.
        unsafe { core::ptr::write_bytes(p, 0xee, u) };
        ranges.push((p as usize, p as usize + u));
    }
    for &(p, _) in &ranges {
        // SAFETY: allocated above, freed once.
        unsafe { mi_free(p as *mut c_void) };
    }
    ranges.sort_unstable();
    let at_least = dirty + 4096 / size.max(1) + 1;
    let mut reused = 0;
    let mut zeroed = Vec::new();
    let mut n = 0;
    while n < at_least || (reused == 0 && n < at_least + extra) {
        // SAFETY: power-of-two alignment; freed below.
        let z = unsafe {
            match n % 3 {
                0 => mi_zalloc_aligned(size, align),
                1 => mi_calloc_aligned(1, size, align),
                _ => mi_calloc_aligned(size, 1, align),
            }
        } as *mut u8;
        n += 1;
        assert!(!z.is_null(), "zeroed ({size}, {align}) = NULL");
        assert_eq!(z as usize % align, 0, "zeroed ({size}, {align}) misaligned");
        // SAFETY: z has at least `size` readable bytes.
        let bad = unsafe { first_nonzero(z, size) };
        assert!(
            bad.is_none(),
            "zeroed ({size}, {align}) at {z:p}: byte {bad:?} is not zero (call {})",
            [
                "mi_zalloc_aligned",
                "mi_calloc_aligned(1, n)",
                "mi_calloc_aligned(n, 1)"
            ][(n - 1) % 3]
        );
        let (lo, hi) = (z as usize, z as usize + size.max(1));
        let i = ranges.partition_point(|r| r.1 <= lo);
        if i < ranges.len() && ranges[i].0 < hi {
            reused += 1;
        }
        zeroed.push(z);
    }
    for z in zeroed {
        // SAFETY: live block; its usable size belongs to it; freed once.
        unsafe {
            core::ptr::write_bytes(z, 0xee, usable(z));
            mi_free(z as *mut c_void);
        }
    }
    reused
}

#[test]
fn zeroed_allocations_are_zero_also_when_reusing_freed_blocks() {
    for align in alignments() {
        // Not with 32-bit pointers: at 2 MiB every block is a segment of its own, and the call
        // for size 1 keeps 4099 of them live, 16 GiB of address space (a 32-bit process has
        // 4). The big sizes below still cover that alignment there.
        if cfg!(target_pointer_width = "32") && align > 64 * KIB {
            continue;
        }
        for size in 0..=4096usize {
            let dirty = match align {
                a if a <= 16 => (128 * KIB / size.max(1)).clamp(4, 2048),
                a if a <= 4096 => 8,
                a if a <= 64 * KIB => 4,
                _ => 2,
            };
            let extra = if align <= 16 { 32 * 1024 } else { 0 };
            let reused = zeroed_after_dirty(size, align, dirty, extra);
            if align <= 16 {
                assert!(
                    reused > 0,
                    "zeroed ({size}, {align}) never reused a freed block: the test did not \
                     exercise reuse"
                );
            }
        }
    }
    // Above 2 MiB every block is a (huge) segment of its own, unmapped when freed; past 4 MiB
    // two alignments and a single dirty block are enough (those sizes cost page faults, not
    // checks).
    let mut reused = 0;
    for size in big_sizes() {
        let (aligns, dirty) = if size <= 4 * MIB + 1 {
            (alignments(), 2)
        } else {
            (vec![1, 2 * MIB], 1)
        };
        for align in aligns {
            reused += zeroed_after_dirty(size, align, dirty, 0);
        }
    }
    assert!(reused > 0, "big zeroed allocations never reused memory");
}

/// One block through `sizes` with mi_realloc_aligned: aligned, usable >= size, and the first
/// min(old, new) bytes intact at every step.
fn realloc_chain(align: usize, sizes: &[usize]) {
    let seed = align % 251 + 3;
    let mut old = sizes[0];
    // SAFETY: power-of-two alignment; every step reallocates the live block.
    let mut p = unsafe { mi_malloc_aligned(old, align) } as *mut u8;
    assert!(!p.is_null());
    // SAFETY: `old` bytes are writable.
    unsafe { fill(p, old, seed) };
    for &new in &sizes[1..] {
        // SAFETY: p is live; align is a power of two.
        let q = unsafe { mi_realloc_aligned(p as *mut c_void, new, align) } as *mut u8;
        assert!(
            !q.is_null(),
            "mi_realloc_aligned {old} -> {new} (align {align})"
        );
        assert_eq!(
            q as usize % align,
            0,
            "mi_realloc_aligned {old} -> {new} misaligned for {align}: {q:p}"
        );
        let u = usable(q);
        assert!(u >= new.max(1), "realloc {old} -> {new}: usable {u}");
        let keep = old.min(new);
        // SAFETY: the first `keep` bytes carried over.
        let bad = unsafe { first_mismatch(q, keep, seed) };
        assert!(
            bad.is_none(),
            "mi_realloc_aligned {old} -> {new} (align {align}) lost contents at {bad:?}"
        );
        if new > old {
            // SAFETY: q has `new` writable bytes.
            unsafe { fill_range(q, old, new, seed) };
        }
        p = q;
        old = new;
    }
    // SAFETY: live block, freed once.
    unsafe { mi_free(p as *mut c_void) };
}

#[test]
fn realloc_aligned_keeps_contents_small() {
    let up: Vec<usize> = (0..=4096).collect();
    let down: Vec<usize> = (0..=4096).rev().collect();
    let jumps = [0usize, 4096, 1, 3000, 0, 17, 4095, 8, 0];
    for align in alignments() {
        realloc_chain(align, &up);
        realloc_chain(align, &down);
        realloc_chain(align, &jumps);
    }
}

#[test]
fn realloc_aligned_keeps_contents_big() {
    let mut chain = vec![1usize, 100, 4096];
    chain.extend(big_sizes());
    chain.extend(big_sizes().into_iter().rev());
    chain.extend([4000, 100, 0, 3]);
    let jumps = [
        8usize,
        64 * MIB,
        16,
        3 * MIB,
        200 * KIB,
        20 * KIB,
        9 * MIB,
        0,
    ];
    for align in alignments() {
        realloc_chain(align, &chain);
        realloc_chain(align, &jumps);
    }
}
