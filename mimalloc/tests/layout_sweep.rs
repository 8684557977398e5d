//! Every Layout the issue names, through `MiMalloc`'s GlobalAlloc methods: alignment,
//! usable size, writability of the whole usable size, zeroing (also of reused blocks) and
//! realloc keeping contents, with and without over-alignment.

use core::alloc::{GlobalAlloc, Layout};
use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

fn alignments() -> Vec<usize> {
    let mut a: Vec<usize> = (0..=12).map(|k| 1usize << k).collect();
    a.push(64 * KIB);
    a.push(2 * MIB);
    a
}

fn sizes() -> Vec<usize> {
    let mut s: Vec<usize> = (1..=4096).collect();
    let mut p = 8192usize;
    while p <= 64 * MIB {
        s.extend([p - 1, p, p + 1]);
        p *= 2;
    }
    s
}

fn pattern(i: usize) -> u8 {
    (i % 251) as u8 ^ 0x5a
}

/// Allocates, checks alignment and usable size, writes the whole usable size and reads it back.
unsafe fn check_block(size: usize, align: usize) {
    let layout = Layout::from_size_align(size, align).unwrap();
    // SAFETY: layout has a non-zero size; the block is freed below with the same layout.
    let p = unsafe { MiMalloc.alloc(layout) };
    assert!(!p.is_null(), "alloc({size}, {align}) failed");
    assert_eq!(
        p as usize % align,
        0,
        "alloc({size}, {align}) misaligned: {p:p}"
    );
    // SAFETY: p is a live block of ours.
    let usable = unsafe { MiMalloc.usable_size(p) };
    assert!(usable >= size, "usable {usable} < {size}");
    // SAFETY: the whole usable size belongs to the block.
    let block = unsafe { core::slice::from_raw_parts_mut(p, usable) };
    for (i, b) in block.iter_mut().enumerate() {
        *b = pattern(i);
    }
    assert!(block.iter().enumerate().all(|(i, b)| *b == pattern(i)));
    // SAFETY: allocated above with this layout.
    unsafe { MiMalloc.dealloc(p, layout) };
}

#[test]
fn every_size_and_alignment() {
    for &align in &alignments() {
        for &size in &sizes() {
            // big sizes with every small alignment take long and add nothing: sample them
            if size > 64 * KIB && align > 16 && align < 64 * KIB && size.count_ones() != 1 {
                continue;
            }
            // SAFETY: check_block only needs a valid (size, align) pair.
            unsafe { check_block(size, align) };
        }
    }
}

#[test]
fn zeroed_memory_is_zero_also_when_reused() {
    for &align in &[1usize, 8, 16, 64, 4096, 64 * KIB] {
        for size in (1..=4096).step_by(7).chain([64 * KIB, MIB, 3 * MIB]) {
            let layout = Layout::from_size_align(size, align).unwrap();
            // dirty a few blocks of this class, free them, then ask for zeroed ones
            let mut dirty = Vec::new();
            for _ in 0..4 {
                // SAFETY: non-zero layout, freed below.
                let p = unsafe { MiMalloc.alloc(layout) };
                assert!(!p.is_null());
                // SAFETY: p has at least `size` writable bytes.
                unsafe { core::ptr::write_bytes(p, 0xAA, size) };
                dirty.push(p);
            }
            for p in dirty {
                // SAFETY: allocated above with `layout`.
                unsafe { MiMalloc.dealloc(p, layout) };
            }
            for _ in 0..4 {
                // SAFETY: non-zero layout, freed below.
                let z = unsafe { MiMalloc.alloc_zeroed(layout) };
                assert!(!z.is_null());
                assert_eq!(z as usize % align, 0);
                // SAFETY: z has `size` readable bytes.
                let bytes = unsafe { core::slice::from_raw_parts(z, size) };
                assert!(
                    bytes.iter().all(|b| *b == 0),
                    "alloc_zeroed({size}, {align}) not zero"
                );
                // SAFETY: allocated above.
                unsafe { MiMalloc.dealloc(z, layout) };
            }
        }
    }
}

#[test]
fn realloc_keeps_contents_growing_and_shrinking() {
    let steps = [
        1usize,
        7,
        16,
        100,
        1000,
        4096,
        20_000,
        200_000,
        3 * MIB,
        9 * MIB,
        100,
        3,
    ];
    for &align in &[1usize, 8, 16, 32, 256, 4096, 64 * KIB] {
        let mut layout = Layout::from_size_align(steps[0], align).unwrap();
        // SAFETY: non-zero layout; every realloc below passes the current layout.
        let mut p = unsafe { MiMalloc.alloc(layout) };
        assert!(!p.is_null());
        // SAFETY: `steps[0]` bytes are writable.
        unsafe { *p = pattern(0) };
        let mut filled = 1;
        for &new_size in &steps[1..] {
            // SAFETY: p is live with `layout`; new_size is non-zero.
            let q = unsafe { MiMalloc.realloc(p, layout, new_size) };
            assert!(!q.is_null(), "realloc to {new_size} failed");
            assert_eq!(
                q as usize % align,
                0,
                "realloc({new_size}, align {align}) misaligned"
            );
            let keep = filled.min(new_size);
            // SAFETY: q has at least new_size >= keep bytes.
            let bytes = unsafe { core::slice::from_raw_parts_mut(q, new_size) };
            assert!(
                bytes[..keep]
                    .iter()
                    .enumerate()
                    .all(|(i, b)| *b == pattern(i)),
                "contents lost at {new_size}"
            );
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = pattern(i);
            }
            filled = new_size;
            p = q;
            layout = Layout::from_size_align(new_size, align).unwrap();
        }
        // SAFETY: p is live with `layout`.
        unsafe { MiMalloc.dealloc(p, layout) };
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
}
