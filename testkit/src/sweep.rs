//! The layout sweep, written once for every allocation interface that takes a size and an
//! alignment: the raw aligned C API (`mimalloc-sys/tests/api_sweep.rs`) and `MiMalloc`'s
//! `GlobalAlloc` methods (`mimalloc/tests/layout_sweep.rs`) implement [`SweepApi`] and run the
//! same sizes, alignments and checks.
//!
//! Sizes: every size up to 4096 and every power of two with its neighbours (2^k-1, 2^k, 2^k+1)
//! up to 64 MiB; alignments: every power of two 1..=4096 plus 64 KiB and 2 MiB. What holds:
//! aligned as asked, usable size at least the size and stable while the block lives, the whole
//! usable size writable and intact while other blocks are live (no overlap), zeroed
//! allocations zero also when they reuse freed dirty blocks, and reallocation keeps the
//! contents growing and shrinking.

use crate::pattern::{fill, fill_range, first_mismatch, first_nonzero};
use std::collections::VecDeque;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// An allocation interface the sweeps run through.
pub trait SweepApi {
    /// Names the interface in failure messages.
    const NAME: &'static str;
    /// The smallest size it takes (`GlobalAlloc`: zero-size layouts are undefined behaviour).
    const MIN_SIZE: usize;
    /// Names of its zeroing calls; [`SweepApi::alloc_zeroed`] takes an index into them.
    const ZEROED_CALLS: &'static [&'static str];

    /// A block of `size` bytes aligned to `align` (a power of two); null on failure.
    ///
    /// # Safety
    /// `size >= MIN_SIZE`.
    unsafe fn alloc(&self, size: usize, align: usize) -> *mut u8;
    /// A zeroed block through the zeroing call `ZEROED_CALLS[call]`.
    ///
    /// # Safety
    /// As for `alloc`; `call < ZEROED_CALLS.len()`.
    unsafe fn alloc_zeroed(&self, size: usize, align: usize, call: usize) -> *mut u8;
    /// The block `p` of `old` bytes at `align`, reallocated to `new` bytes.
    ///
    /// # Safety
    /// `p` is live, allocated by this interface with `old` and `align`; `new >= MIN_SIZE`.
    unsafe fn realloc(&self, p: *mut u8, old: usize, align: usize, new: usize) -> *mut u8;
    /// Frees the block `p` of `size` bytes at `align`.
    ///
    /// # Safety
    /// `p` is live, allocated by this interface with `size` and `align`.
    unsafe fn free(&self, p: *mut u8, size: usize, align: usize);
    /// The usable size of the live block `p`.
    ///
    /// # Safety
    /// `p` is live, allocated by this interface.
    unsafe fn usable_size(&self, p: *mut u8) -> usize;
}

/// 1, 2, 4, …, 4096, then 64 KiB and 2 MiB.
pub fn alignments() -> Vec<usize> {
    let mut a: Vec<usize> = (0..=12).map(|k| 1usize << k).collect();
    a.extend([64 * KIB, 2 * MIB]);
    a
}

/// 4097 and 2^k-1, 2^k, 2^k+1 for 2^13..=2^26 (64 MiB), ascending.
pub fn big_sizes() -> Vec<usize> {
    (12..=26)
        .flat_map(|k| [(1usize << k) - 1, 1 << k, (1 << k) + 1])
        .filter(|&s| s > 4096)
        .collect()
}

/// A live block whose whole usable size holds the pattern of `seed`.
struct Live {
    p: *mut u8,
    size: usize,
    align: usize,
    usable: usize,
    seed: usize,
}

/// Recently allocated blocks kept live (a bounded count and bytes), so each new block is
/// handed out while others are live: a block that overlaps another one ends up with the wrong
/// pattern, caught when it is checked just before it is freed.
struct LiveSet<'a, A: SweepApi> {
    api: &'a A,
    q: VecDeque<Live>,
    bytes: usize,
}

impl<A: SweepApi> LiveSet<'_, A> {
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
        // SAFETY: b.p is live, allocated with b.size and b.align, its usable bytes written.
        unsafe {
            assert_eq!(
                self.api.usable_size(b.p),
                b.usable,
                "{}({}, {}): usable size of a live block changed",
                A::NAME,
                b.size,
                b.align
            );
            let bad = first_mismatch(b.p, b.usable, b.seed);
            assert!(
                bad.is_none(),
                "{}({}, {}) at {:p}: contents changed at offset {:?} of {} usable bytes \
                 (overlapping blocks?)",
                A::NAME,
                b.size,
                b.align,
                b.p,
                bad,
                b.usable
            );
            self.api.free(b.p, b.size, b.align);
        }
    }
}

impl<A: SweepApi> Drop for LiveSet<'_, A> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return; // the blocks leak; a second panic would hide the first
        }
        while !self.q.is_empty() {
            self.evict();
        }
    }
}

/// Allocates every size at `align`: checks alignment and usable size, writes the pattern over
/// the whole usable size; the live set checks it later, with other blocks allocated meanwhile.
pub fn sweep<A: SweepApi>(api: &A, sizes: impl IntoIterator<Item = usize>, align: usize) {
    let mut live = LiveSet {
        api,
        q: VecDeque::new(),
        bytes: 0,
    };
    for (i, size) in sizes.into_iter().enumerate() {
        // SAFETY: the callers' sizes are at least MIN_SIZE; the live set frees the block.
        let p = unsafe { api.alloc(size, align) };
        let name = A::NAME;
        assert!(!p.is_null(), "{name}({size}, {align}) = NULL");
        assert_eq!(p as usize % align, 0, "{name}({size}, {align}) = {p:p}");
        // SAFETY: p is live.
        let usable = unsafe { api.usable_size(p) };
        assert!(
            usable >= size.max(1),
            "{name}({size}, {align}): usable size {usable}"
        );
        let seed = i + align;
        // SAFETY: the whole usable size belongs to the block.
        unsafe { fill(p, usable, seed) };
        live.push(Live {
            p,
            size,
            align,
            usable,
            seed,
        });
    }
}

/// [`sweep`] over every size up to 4096 at every alignment.
pub fn small_sizes_at_every_alignment<A: SweepApi>(api: &A) {
    for align in alignments() {
        sweep(api, A::MIN_SIZE..=4096, align);
    }
}

/// [`sweep`] over the powers of two and their neighbours at every alignment.
pub fn big_sizes_at_every_alignment<A: SweepApi>(api: &A) {
    for align in alignments() {
        sweep(api, big_sizes(), align);
    }
}

/// Dirties `dirty` blocks of (size, align) over their whole usable size and frees them; then
/// takes at least as many zeroed blocks (taking turns through the zeroing calls), more up to
/// `extra` until a dirtied block comes back, checks each is zero over `size`, and dirties them
/// before freeing, so every block a later call gets back from a free list is dirty. Returns
/// how many zeroed blocks overlapped the memory dirtied here.
pub fn zeroed_after_dirty<A: SweepApi>(
    api: &A,
    size: usize,
    align: usize,
    dirty: usize,
    extra: usize,
) -> usize {
    let name = A::NAME;
    let mut ranges = Vec::with_capacity(dirty);
    let mut blocks = Vec::with_capacity(dirty);
    for _ in 0..dirty {
        // SAFETY: the callers' sizes are at least MIN_SIZE; freed below.
        let p = unsafe { api.alloc(size, align) };
        assert!(!p.is_null(), "{name}({size}, {align}) = NULL");
        // SAFETY: the usable size belongs to the live block.
        let usable = unsafe { api.usable_size(p) };
        // SAFETY: as above.
        unsafe { core::ptr::write_bytes(p, 0xee, usable) };
        ranges.push((p as usize, p as usize + usable));
        blocks.push(p);
    }
    for p in blocks.drain(..) {
        // SAFETY: allocated above with (size, align), freed once.
        unsafe { api.free(p, size, align) };
    }
    ranges.sort_unstable();
    let at_least = dirty + 4096 / size.max(1) + 1;
    let mut reused = 0;
    let mut n = 0;
    while n < at_least || (reused == 0 && n < at_least + extra) {
        let call = n % A::ZEROED_CALLS.len();
        let what = A::ZEROED_CALLS[call];
        n += 1;
        // SAFETY: as above; `call` is in range.
        let z = unsafe { api.alloc_zeroed(size, align, call) };
        assert!(!z.is_null(), "{what}({size}, {align}) = NULL");
        assert_eq!(z as usize % align, 0, "{what}({size}, {align}) misaligned");
        // SAFETY: z has at least `size` readable bytes.
        let bad = unsafe { first_nonzero(z, size) };
        assert!(
            bad.is_none(),
            "{what}({size}, {align}) at {z:p}: byte {bad:?} is not zero"
        );
        let (lo, hi) = (z as usize, z as usize + size.max(1));
        let i = ranges.partition_point(|r| r.1 <= lo);
        if i < ranges.len() && ranges[i].0 < hi {
            reused += 1;
        }
        blocks.push(z);
    }
    for z in blocks {
        // SAFETY: live blocks of (size, align); the usable size belongs to each; freed once.
        unsafe {
            core::ptr::write_bytes(z, 0xee, api.usable_size(z));
            api.free(z, size, align);
        }
    }
    reused
}

/// [`zeroed_after_dirty`] for every small size at every alignment (a freed dirty block must
/// come back at natural alignments, or the test did not exercise reuse), then for the big
/// sizes.
pub fn zeroed_is_zero_also_when_reusing_freed_blocks<A: SweepApi>(api: &A) {
    for align in alignments() {
        // Not with 32-bit pointers: at 2 MiB every block is a segment of its own, and the call
        // for size 1 keeps 4099 of them live, 16 GiB of address space (a 32-bit process has
        // 4). The big sizes below still cover that alignment there.
        if cfg!(target_pointer_width = "32") && align > 64 * KIB {
            continue;
        }
        for size in A::MIN_SIZE..=4096usize {
            // enough blocks to cover two small pages at natural alignment; fewer where each
            // block is over-allocated or placed in a segment of its own
            let dirty = match align {
                a if a <= 16 => (128 * KIB / size.max(1)).clamp(4, 2048),
                a if a <= 4096 => 8,
                a if a <= 64 * KIB => 4,
                _ => 2,
            };
            let extra = if align <= 16 { 32 * 1024 } else { 0 };
            let reused = zeroed_after_dirty(api, size, align, dirty, extra);
            if align <= 16 {
                // once a page's free list runs dry, its freed blocks come back: if none of
                // the dirtied ones did, this test did not exercise reuse at all
                assert!(
                    reused > 0,
                    "{}: zeroed ({size}, {align}) never reused a freed block",
                    A::NAME
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
            reused += zeroed_after_dirty(api, size, align, dirty, 0);
        }
    }
    assert!(
        reused > 0,
        "{}: big zeroed blocks never reused memory",
        A::NAME
    );
}

/// Reallocates one block through `sizes` at `align`, checking alignment, usable size and that
/// the first min(old, new) bytes survive every step.
pub fn realloc_chain<A: SweepApi>(api: &A, align: usize, sizes: &[usize]) {
    let name = A::NAME;
    let seed = align % 251 + 7;
    let mut old = sizes[0];
    // SAFETY: the callers' sizes are at least MIN_SIZE; every step reallocates the live block.
    let mut p = unsafe { api.alloc(old, align) };
    assert!(!p.is_null(), "{name}({old}, {align}) = NULL");
    // SAFETY: `old` bytes are writable.
    unsafe { fill(p, old, seed) };
    for &new in &sizes[1..] {
        // SAFETY: p is live with (old, align).
        let q = unsafe { api.realloc(p, old, align, new) };
        assert!(
            !q.is_null(),
            "{name}: realloc {old} -> {new} (align {align}) = NULL"
        );
        assert_eq!(
            q as usize % align,
            0,
            "{name}: realloc {old} -> {new} misaligned for {align}: {q:p}"
        );
        // SAFETY: q is live.
        let usable = unsafe { api.usable_size(q) };
        assert!(
            usable >= new.max(1),
            "{name}: realloc {old} -> {new}: usable {usable}"
        );
        let keep = old.min(new);
        // SAFETY: q has at least `new >= keep` bytes, the first `keep` carried over.
        let bad = unsafe { first_mismatch(q, keep, seed) };
        assert!(
            bad.is_none(),
            "{name}: realloc {old} -> {new} (align {align}) lost contents at offset {bad:?}"
        );
        if new > old {
            // SAFETY: q has `new` writable bytes.
            unsafe { fill_range(q, old, new, seed) };
        }
        p = q;
        old = new;
    }
    // SAFETY: p is live with (old, align), freed once.
    unsafe { api.free(p, old, align) };
}

/// [`realloc_chain`] up and down through every small size, and in jumps, at every alignment.
pub fn realloc_keeps_contents_small<A: SweepApi>(api: &A) {
    let up: Vec<usize> = (A::MIN_SIZE..=4096).collect();
    let down: Vec<usize> = (A::MIN_SIZE..=4096).rev().collect();
    let jumps = [0usize, 4096, 1, 3000, 0, 17, 4095, 8, 0].map(|s| s.max(A::MIN_SIZE));
    for align in alignments() {
        realloc_chain(api, align, &up);
        realloc_chain(api, align, &down);
        realloc_chain(api, align, &jumps);
    }
}

/// [`realloc_chain`] through the big sizes and in jumps across the small, medium, large and
/// huge kinds, at every alignment.
pub fn realloc_keeps_contents_big<A: SweepApi>(api: &A) {
    let mut chain = vec![1usize, 100, 4096];
    chain.extend(big_sizes());
    chain.extend(big_sizes().into_iter().rev());
    chain.extend([4000, 100, 0, 3].map(|s| s.max(A::MIN_SIZE)));
    let jumps = [
        8usize,
        64 * MIB,
        16,
        3 * MIB,
        200 * KIB,
        20 * KIB,
        9 * MIB,
        0,
    ]
    .map(|s| s.max(A::MIN_SIZE));
    for align in alignments() {
        realloc_chain(api, align, &chain);
        realloc_chain(api, align, &jumps);
    }
}
