//! The layout sweep of the test kit (`mimalloc_testkit::sweep`) through the raw aligned API:
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
use mimalloc_testkit::sweep::{self, SweepApi};

/// The raw aligned API: `mi_malloc_aligned`, the three zeroing calls, `mi_realloc_aligned`,
/// `mi_free` and `mi_usable_size`. Size 0 is valid here.
struct Raw;

impl SweepApi for Raw {
    const NAME: &'static str = "mi_malloc_aligned";
    const MIN_SIZE: usize = 0;
    const ZEROED_CALLS: &'static [&'static str] = &[
        "mi_zalloc_aligned",
        "mi_calloc_aligned(1, n)",
        "mi_calloc_aligned(n, 1)",
    ];

    unsafe fn alloc(&self, size: usize, align: usize) -> *mut u8 {
        // SAFETY: any size; the sweeps pass power-of-two alignments.
        unsafe { mi_malloc_aligned(size, align) as *mut u8 }
    }

    unsafe fn alloc_zeroed(&self, size: usize, align: usize, call: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe {
            match call {
                0 => mi_zalloc_aligned(size, align),
                1 => mi_calloc_aligned(1, size, align),
                _ => mi_calloc_aligned(size, 1, align),
            }
        };
        p as *mut u8
    }

    unsafe fn realloc(&self, p: *mut u8, _old: usize, align: usize, new: usize) -> *mut u8 {
        // SAFETY: the caller passes a live block of ours.
        unsafe { mi_realloc_aligned(p as *mut c_void, new, align) as *mut u8 }
    }

    unsafe fn free(&self, p: *mut u8, _size: usize, _align: usize) {
        // SAFETY: the caller passes a live block of ours, freed once.
        unsafe { mi_free(p as *mut c_void) }
    }

    unsafe fn usable_size(&self, p: *mut u8) -> usize {
        // SAFETY: the caller passes a live block of ours.
        unsafe { mi_usable_size(p as *const c_void) }
    }
}

#[test]
fn small_sizes_at_every_alignment() {
    sweep::small_sizes_at_every_alignment(&Raw);
}

#[test]
fn power_of_two_sizes_and_neighbours_at_every_alignment() {
    sweep::big_sizes_at_every_alignment(&Raw);
}

#[test]
fn zeroed_allocations_are_zero_also_when_reusing_freed_blocks() {
    sweep::zeroed_is_zero_also_when_reusing_freed_blocks(&Raw);
}

#[test]
fn realloc_aligned_keeps_contents_small() {
    sweep::realloc_keeps_contents_small(&Raw);
}

#[test]
fn realloc_aligned_keeps_contents_big() {
    sweep::realloc_keeps_contents_big(&Raw);
}
