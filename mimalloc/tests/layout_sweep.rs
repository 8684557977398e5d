//! The layout sweep of the test kit (`mimalloc_testkit::sweep`): every size 1..=4096 and every
//! power of two with its neighbours (2^k-1, 2^k, 2^k+1) up to 64 MiB, at every power-of-two
//! alignment 1..=4096 plus 64 KiB and 2 MiB, through `MiMalloc`'s GlobalAlloc methods called
//! directly (size 0 is skipped: zero-size layouts are UB there).
//!
//! Holds: every block is aligned as its layout asks, `usable_size >= size`, the whole usable
//! size is writable and keeps what was written while other blocks are live (no two blocks
//! overlap), `alloc_zeroed` returns zeroed memory also when it reuses freed dirty blocks, and
//! `realloc` keeps the contents when growing and shrinking, also with alignments above 16.

use core::alloc::{GlobalAlloc, Layout};
use mimalloc::MiMalloc;
use mimalloc_testkit::sweep::{self, SweepApi};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).expect("valid layout")
}

/// `MiMalloc`'s `GlobalAlloc` methods, called directly, and its `usable_size`.
struct Global;

impl SweepApi for Global {
    const NAME: &'static str = "GlobalAlloc::alloc";
    const MIN_SIZE: usize = 1;
    const ZEROED_CALLS: &'static [&'static str] = &["GlobalAlloc::alloc_zeroed"];

    unsafe fn alloc(&self, size: usize, align: usize) -> *mut u8 {
        // SAFETY: the sweeps pass sizes of at least MIN_SIZE, so the layout is not zero-sized.
        unsafe { MiMalloc.alloc(layout(size, align)) }
    }

    unsafe fn alloc_zeroed(&self, size: usize, align: usize, _call: usize) -> *mut u8 {
        // SAFETY: as above.
        unsafe { MiMalloc.alloc_zeroed(layout(size, align)) }
    }

    unsafe fn realloc(&self, p: *mut u8, old: usize, align: usize, new: usize) -> *mut u8 {
        // SAFETY: the caller passes a live block of this layout and a non-zero new size that
        // makes a valid layout with `align`.
        unsafe { MiMalloc.realloc(p, layout(old, align), new) }
    }

    unsafe fn free(&self, p: *mut u8, size: usize, align: usize) {
        // SAFETY: the caller passes a live block of this layout, freed once.
        unsafe { MiMalloc.dealloc(p, layout(size, align)) }
    }

    unsafe fn usable_size(&self, p: *mut u8) -> usize {
        // SAFETY: the caller passes a live block of ours.
        unsafe { MiMalloc.usable_size(p) }
    }
}

#[test]
fn small_sizes_at_every_alignment() {
    sweep::small_sizes_at_every_alignment(&Global);
}

#[test]
fn power_of_two_sizes_and_neighbours_at_every_alignment() {
    sweep::big_sizes_at_every_alignment(&Global);
}

#[test]
fn alloc_zeroed_is_zero_also_when_reusing_freed_blocks() {
    sweep::zeroed_is_zero_also_when_reusing_freed_blocks(&Global);
}

#[test]
fn realloc_keeps_contents_growing_and_shrinking_small() {
    sweep::realloc_keeps_contents_small(&Global);
}

#[test]
fn realloc_keeps_contents_growing_and_shrinking_big() {
    sweep::realloc_keeps_contents_big(&Global);
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
