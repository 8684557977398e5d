//! Every size 1..=4096 and every power of two with its neighbours (2^k-1, 2^k, 2^k+1) up to
//! 64 MiB, at every power-of-two alignment 1..=4096 plus 64 KiB and 2 MiB, through `MiMalloc`'s
//! GlobalAlloc methods called directly (size 0 is skipped: zero-size layouts are UB there).
//!
//! Holds: every block is aligned as its layout asks, `usable_size >= size`, the whole usable
//! size is writable and keeps what was written while other blocks are live (no two blocks
//! overlap), `alloc_zeroed` returns zeroed memory also when it reuses freed dirty blocks, and
//! `realloc` keeps the contents when growing and shrinking, also with alignments above 16.

mod common;

use common::{fill, fill_range, first_mismatch, first_nonzero};
use core::alloc::{GlobalAlloc, Layout};
use mimalloc::MiMalloc;
use std::collections::VecDeque;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// 1, 2, 4, …, 4096, then 64 KiB and 2 MiB.
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

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).expect("valid layout")
}

/// A live block whose whole usable size holds the pattern of `seed`.
struct Live {
    p: *mut u8,
    layout: Layout,
    usable: usize,
    seed: usize,
}

/// Recently allocated blocks kept live (at most `max_blocks` and about `max_bytes`), so each
/// new block is handed out while others are live: a block that overlaps another one ends up
/// with the wrong pattern, caught when it is checked before being freed.
struct LiveSet {
    q: VecDeque<Live>,
    bytes: usize,
    max_blocks: usize,
    max_bytes: usize,
}

impl LiveSet {
    fn new(max_blocks: usize, max_bytes: usize) -> Self {
        LiveSet {
            q: VecDeque::new(),
            bytes: 0,
            max_blocks,
            max_bytes,
        }
    }

    fn push(&mut self, b: Live) {
        while !self.q.is_empty()
            && (self.q.len() >= self.max_blocks || self.bytes + b.usable > self.max_bytes)
        {
            self.evict();
        }
        self.bytes += b.usable;
        self.q.push_back(b);
    }

    fn evict(&mut self) {
        let b = self.q.pop_front().expect("non-empty");
        self.bytes -= b.usable;
        // SAFETY: b.p is live, allocated with b.layout, and its usable bytes were written.
        unsafe {
            assert_eq!(
                MiMalloc.usable_size(b.p),
                b.usable,
                "usable size of a live block changed ({:?})",
                b.layout
            );
            let bad = first_mismatch(b.p, b.usable, b.seed);
            assert!(
                bad.is_none(),
                "{:?} at {:p}: contents changed at offset {:?} of {} usable bytes \
                 (overlapping blocks?)",
                b.layout,
                b.p,
                bad,
                b.usable
            );
            MiMalloc.dealloc(b.p, b.layout);
        }
    }

    fn clear(&mut self) {
        while !self.q.is_empty() {
            self.evict();
        }
    }
}

/// Allocates every size at `align`: checks alignment and usable size, writes the pattern over
/// the whole usable size; the LiveSet checks it later, with other blocks allocated meanwhile.
fn sweep(sizes: impl IntoIterator<Item = usize>, align: usize) {
    let mut live = LiveSet::new(32, 128 * MIB);
    for (i, size) in sizes.into_iter().enumerate() {
        let layout = layout(size, align);
        // SAFETY: non-zero size; the block is freed by the LiveSet with this layout.
        let p = unsafe { MiMalloc.alloc(layout) };
        assert!(!p.is_null(), "alloc({size}, {align}) returned null");
        assert_eq!(
            p as usize % align,
            0,
            "alloc({size}, {align}) misaligned: {p:p}"
        );
        // SAFETY: p is a live block of ours.
        let usable = unsafe { MiMalloc.usable_size(p) };
        assert!(
            usable >= size,
            "alloc({size}, {align}): usable {usable} < size"
        );
        let seed = i + align;
        // SAFETY: the whole usable size belongs to the block.
        unsafe { fill(p, usable, seed) };
        live.push(Live {
            p,
            layout,
            usable,
            seed,
        });
    }
    live.clear();
}

#[test]
fn small_sizes_at_every_alignment() {
    for align in alignments() {
        sweep(1..=4096, align);
    }
}

#[test]
fn power_of_two_sizes_and_neighbours_at_every_alignment() {
    for align in alignments() {
        sweep(big_sizes(), align);
    }
}

/// Allocates `dirty` blocks, writes a non-zero byte over their whole usable size and frees
/// them; then `alloc_zeroed`s at least as many blocks of the same layout (more, up to `extra`
/// beyond that, until one of the dirtied blocks comes back) and checks each is zero over the
/// layout's size. The zeroed blocks are dirtied too before they are freed, so every block a
/// later call gets back from a free list is dirty. Returns how many zeroed blocks overlap the
/// memory dirtied by this call.
fn zeroed_after_dirty(size: usize, align: usize, dirty: usize, extra: usize) -> usize {
    let layout = layout(size, align);
    let mut ranges = Vec::with_capacity(dirty);
    let mut blocks = Vec::with_capacity(dirty);
    for _ in 0..dirty {
        // SAFETY: non-zero layout; freed below with it.
        let p = unsafe { MiMalloc.alloc(layout) };
        assert!(!p.is_null(), "alloc({size}, {align})");
        // SAFETY: the usable size belongs to the block.
        let usable = unsafe { MiMalloc.usable_size(p) };
        // SAFETY: as above.
        unsafe { core::ptr::write_bytes(p, 0xee, usable) };
        ranges.push((p as usize, p as usize + usable));
        blocks.push(p);
    }
    for p in blocks.drain(..) {
        // SAFETY: allocated above with `layout`.
        unsafe { MiMalloc.dealloc(p, layout) };
    }
    ranges.sort_unstable();
    let at_least = dirty + 4096 / size + 1;
    let mut reused = 0;
    let mut n = 0;
    while n < at_least || (reused == 0 && n < at_least + extra) {
        n += 1;
        // SAFETY: non-zero layout; freed below.
        let z = unsafe { MiMalloc.alloc_zeroed(layout) };
        assert!(!z.is_null(), "alloc_zeroed({size}, {align})");
        assert_eq!(
            z as usize % align,
            0,
            "alloc_zeroed({size}, {align}) misaligned"
        );
        // SAFETY: z has at least `size` readable bytes.
        let bad = unsafe { first_nonzero(z, size) };
        assert!(
            bad.is_none(),
            "alloc_zeroed({size}, {align}) at {z:p}: byte {bad:?} is not zero"
        );
        let (lo, hi) = (z as usize, z as usize + size);
        let i = ranges.partition_point(|r| r.1 <= lo);
        if i < ranges.len() && ranges[i].0 < hi {
            reused += 1;
        }
        blocks.push(z);
    }
    for z in blocks {
        // SAFETY: allocated above with `layout`; its usable size belongs to it.
        unsafe {
            core::ptr::write_bytes(z, 0xee, MiMalloc.usable_size(z));
            MiMalloc.dealloc(z, layout);
        }
    }
    reused
}

#[test]
fn alloc_zeroed_is_zero_also_when_reusing_freed_blocks() {
    for align in alignments() {
        // Not with 32-bit pointers: at 2 MiB every block is a segment of its own, and the call
        // for size 1 keeps 4099 of them live, 16 GiB of address space (a 32-bit process has
        // 4). The big sizes below still cover that alignment there.
        if cfg!(target_pointer_width = "32") && align > 64 * KIB {
            continue;
        }
        for size in 1..=4096usize {
            // enough blocks to cover two small pages at natural alignment; fewer where each
            // block is over-allocated or placed in a segment of its own
            let dirty = match align {
                a if a <= 16 => (128 * KIB / size).clamp(4, 2048),
                a if a <= 4096 => 8,
                a if a <= 64 * KIB => 4,
                _ => 2,
            };
            let extra = if align <= 16 { 32 * 1024 } else { 0 };
            let reused = zeroed_after_dirty(size, align, dirty, extra);
            if align <= 16 {
                // once a page's free list runs dry, its freed blocks come back: if none of
                // the dirtied ones did, this test did not exercise reuse at all
                assert!(
                    reused > 0,
                    "alloc_zeroed({size}, {align}) never reused a freed block"
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

/// Reallocates one block through `sizes` at `align`, checking alignment, usable size and that
/// the first min(old, new) bytes survive every step.
fn realloc_chain(align: usize, sizes: &[usize]) {
    let seed = align % 251 + 7;
    let mut old = sizes[0];
    let mut lay = layout(old, align);
    // SAFETY: non-zero layout; every realloc below passes the current layout.
    let mut p = unsafe { MiMalloc.alloc(lay) };
    assert!(!p.is_null());
    // SAFETY: `old` bytes are writable.
    unsafe { fill(p, old, seed) };
    for &new in &sizes[1..] {
        // SAFETY: p is live with `lay`; new is non-zero and the new layout is valid.
        let q = unsafe { MiMalloc.realloc(p, lay, new) };
        assert!(
            !q.is_null(),
            "realloc {old} -> {new} (align {align}) failed"
        );
        assert_eq!(
            q as usize % align,
            0,
            "realloc {old} -> {new} misaligned for {align}: {q:p}"
        );
        // SAFETY: q is live.
        let usable = unsafe { MiMalloc.usable_size(q) };
        assert!(usable >= new, "realloc {old} -> {new}: usable {usable}");
        let keep = old.min(new);
        // SAFETY: q has at least `new >= keep` bytes, the first `keep` carried over.
        let bad = unsafe { first_mismatch(q, keep, seed) };
        assert!(
            bad.is_none(),
            "realloc {old} -> {new} (align {align}) lost contents at offset {bad:?}"
        );
        if new > old {
            // SAFETY: q has `new` writable bytes.
            unsafe { fill_range(q, old, new, seed) };
        }
        p = q;
        old = new;
        lay = layout(new, align);
    }
    // SAFETY: p is live with `lay`.
    unsafe { MiMalloc.dealloc(p, lay) };
}

#[test]
fn realloc_keeps_contents_growing_and_shrinking_small() {
    let up: Vec<usize> = (1..=4096).collect();
    let down: Vec<usize> = (1..=4096).rev().collect();
    let jumps = [1usize, 4096, 2, 3000, 17, 4095, 8, 1];
    for align in alignments() {
        realloc_chain(align, &up);
        realloc_chain(align, &down);
        realloc_chain(align, &jumps);
    }
}

#[test]
fn realloc_keeps_contents_growing_and_shrinking_big() {
    let mut chain = vec![1usize, 100, 4096];
    chain.extend(big_sizes());
    chain.extend(big_sizes().into_iter().rev());
    chain.extend([4000, 100, 3]);
    // big jumps across the small/medium/large/huge kinds
    let jumps = [
        8usize,
        64 * MIB,
        16,
        3 * MIB,
        200 * KIB,
        20 * KIB,
        9 * MIB,
        1,
    ];
    for align in alignments() {
        realloc_chain(align, &chain);
        realloc_chain(align, &jumps);
    }
}

#[test]
fn over_aligned_types_in_collections() {
    #[repr(align(256))]
    #[derive(Clone, Copy)]
    struct A256(u8);
    #[repr(align(4096))]
    #[derive(Clone, Copy)]
    struct A4096(u8);
    let mut v = Vec::new();
    let mut w = Vec::new();
    for i in 0..300u32 {
        v.push(A256(i as u8));
        w.push(A4096(i as u8));
        assert_eq!(v.as_ptr() as usize % 256, 0);
        assert_eq!(w.as_ptr() as usize % 4096, 0);
    }
    assert!(v.iter().enumerate().all(|(i, a)| a.0 == i as u8));
    assert!(w.iter().enumerate().all(|(i, a)| a.0 == i as u8));
    v.truncate(3);
    v.shrink_to_fit();
    assert_eq!(v.as_ptr() as usize % 256, 0);
    assert!(v.iter().enumerate().all(|(i, a)| a.0 == i as u8));
}
