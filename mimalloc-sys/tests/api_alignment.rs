//! Natural alignment of the plain (unaligned) API: `mi_malloc(n)` is aligned to 16 bytes for
//! every n >= 16 and to the largest power of two <= n below that (the guarantee `MiMalloc`
//! relies on to skip the aligned API), for n in 1..=8192 and bigger sizes, with several blocks
//! of each size live at once; the same for the other plain entry points; and `*_aligned_at`
//! placing `p + offset` on the alignment.

use core::ffi::c_void;
use mimalloc_sys::*;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// Blocks of each size kept live together (so they come from different places of a page).
const LIVE: usize = 8;

/// What the plain API promises for a block of `n` bytes (n >= 1).
fn natural_alignment(n: usize) -> usize {
    assert_eq!(MI_MAX_ALIGN_SIZE, 16);
    if n >= MI_MAX_ALIGN_SIZE {
        MI_MAX_ALIGN_SIZE
    } else {
        1 << (usize::BITS - 1 - n.leading_zeros())
    }
}

fn sizes() -> Vec<usize> {
    let mut s: Vec<usize> = (1..=8192).collect();
    s.extend([
        8193,
        12_345,
        16 * KIB + 1,
        65_535,
        65_536,
        65_537,
        100_000,
        128 * KIB + 3,
        MIB - 3,
        MIB + 5,
        2 * MIB - 1,
        2 * MIB,
        2 * MIB + 1,
        3 * MIB + 5,
        10 * MIB + 7,
    ]);
    s
}

/// Allocates LIVE blocks of every size with `alloc`, checks natural alignment and that each
/// block's first and last byte are usable, then frees them.
fn check_entry_point(name: &str, alloc: impl Fn(usize) -> *mut c_void) {
    for n in sizes() {
        let live: Vec<*mut u8> = (0..LIVE).map(|_| alloc(n) as *mut u8).collect();
        for (i, &p) in live.iter().enumerate() {
            assert!(!p.is_null(), "{name}({n}) = NULL");
            assert_eq!(
                p as usize % natural_alignment(n),
                0,
                "{name}({n}) = {p:p}: not aligned to {}",
                natural_alignment(n)
            );
            // SAFETY: a live block of at least n bytes.
            unsafe {
                assert!(mi_usable_size(p as *const c_void) >= n);
                *p = i as u8;
                *p.add(n - 1) = i as u8;
            }
        }
        for (i, p) in live.into_iter().enumerate() {
            // SAFETY: written above; freed once.
            unsafe {
                assert_eq!(*p, i as u8, "{name}({n}): blocks overlap");
                assert_eq!(*p.add(n - 1), i as u8, "{name}({n}): blocks overlap");
                mi_free(p as *mut c_void);
            }
        }
    }
}

#[test]
fn mi_malloc_is_naturally_aligned() {
    // SAFETY: mi_malloc has no preconditions.
    check_entry_point("mi_malloc", |n| unsafe { mi_malloc(n) });
}

#[test]
fn mi_zalloc_and_mi_calloc_are_naturally_aligned() {
    // SAFETY: no preconditions.
    check_entry_point("mi_zalloc", |n| unsafe { mi_zalloc(n) });
    // SAFETY: no preconditions.
    check_entry_point("mi_calloc(1, n)", |n| unsafe { mi_calloc(1, n) });
    // SAFETY: no preconditions.
    check_entry_point("mi_mallocn(n, 1)", |n| unsafe { mi_mallocn(n, 1) });
}

#[test]
fn mi_realloc_is_naturally_aligned() {
    // SAFETY: realloc(NULL, n) is malloc(n).
    check_entry_point("mi_realloc(NULL, n)", |n| unsafe {
        mi_realloc(core::ptr::null_mut(), n)
    });
    // grown from a one-byte block, and shrunk from a big one
    // SAFETY: the small block is live and reallocated once.
    check_entry_point("mi_realloc(mi_malloc(1), n)", |n| unsafe {
        mi_realloc(mi_malloc(1), n)
    });
    // SAFETY: as above.
    check_entry_point("mi_realloc(mi_malloc(2n+100), n)", |n| unsafe {
        mi_realloc(mi_malloc(2 * n + 100), n)
    });
}

#[test]
fn heap_and_small_entry_points_are_naturally_aligned() {
    // SAFETY: the heap is used on this thread only and deleted after its blocks are freed.
    unsafe {
        let heap = mi_heap_new();
        assert!(!heap.is_null());
        let h = heap as usize;
        check_entry_point("mi_heap_malloc", |n| mi_heap_malloc(h as *mut mi_heap_t, n));
        check_entry_point("mi_heap_zalloc", |n| mi_heap_zalloc(h as *mut mi_heap_t, n));
        mi_heap_delete(heap);
    }
    for n in 1..=MI_SMALL_SIZE_MAX {
        // SAFETY: n is within the small-size limit; freed once.
        unsafe {
            for p in [mi_malloc_small(n), mi_zalloc_small(n)] {
                assert!(!p.is_null());
                assert_eq!(p as usize % natural_alignment(n), 0, "small({n}) = {p:p}");
                mi_free(p);
            }
        }
    }
}

#[test]
fn aligned_at_offset_places_the_offset_on_the_alignment() {
    for &a in &[8usize, 16, 32, 64, 256, 4096, 64 * KIB] {
        for &off in &[0usize, 1, 8, 16, 24, 100, 5000] {
            for &n in &[1usize, 50, 1000, 10_000, 200_000, 3 * MIB] {
                // SAFETY: power-of-two alignment; every block freed once.
                unsafe {
                    let p = mi_malloc_aligned_at(n, a, off) as *mut u8;
                    assert!(!p.is_null(), "mi_malloc_aligned_at({n}, {a}, {off})");
                    assert_eq!((p as usize + off) % a, 0, "aligned_at({n}, {a}, {off})");
                    assert!(mi_usable_size(p as *const c_void) >= n);
                    core::ptr::write_bytes(p, 1, n);

                    let z = mi_zalloc_aligned_at(n, a, off) as *mut u8;
                    assert!(!z.is_null());
                    assert_eq!(
                        (z as usize + off) % a,
                        0,
                        "zalloc_aligned_at({n}, {a}, {off})"
                    );
                    assert!((0..n).all(|i| *z.add(i) == 0));

                    let c = mi_calloc_aligned_at(2, n, a, off) as *mut u8;
                    assert!(!c.is_null());
                    assert_eq!(
                        (c as usize + off) % a,
                        0,
                        "calloc_aligned_at(2, {n}, {a}, {off})"
                    );
                    assert!((0..2 * n).all(|i| *c.add(i) == 0));

                    // grow and shrink with the same offset: contents kept, offset aligned
                    let g = mi_realloc_aligned_at(p as *mut c_void, 3 * n + 7, a, off) as *mut u8;
                    assert!(!g.is_null());
                    assert_eq!((g as usize + off) % a, 0, "realloc_aligned_at grow");
                    assert!(
                        (0..n).all(|i| *g.add(i) == 1),
                        "realloc_aligned_at lost data"
                    );
                    let s = mi_realloc_aligned_at(g as *mut c_void, n / 2 + 1, a, off) as *mut u8;
                    assert!(!s.is_null());
                    assert_eq!((s as usize + off) % a, 0, "realloc_aligned_at shrink");
                    assert!((0..n / 2 + 1).all(|i| *s.add(i) == 1));

                    mi_free(s as *mut c_void);
                    mi_free(z as *mut c_void);
                    mi_free(c as *mut c_void);
                }
            }
        }
    }
}
