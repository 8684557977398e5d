//! The contract edges of the C API: impossible sizes (NULL and ENOMEM, never a recycled small
//! block), overflowing products, invalid alignments, NULL arguments, zero sizes, and the
//! documented realloc/expand/strdup semantics.
//!
//! `mi_realloc(p, 0)` follows upstream mimalloc: it returns a minimal non-NULL block and frees
//! `p` (glibc frees and returns NULL instead; POSIX allows both).

use core::ffi::{c_void, CStr};
use mimalloc_sys::*;
use mimalloc_testkit::errno::{clear_errno, errno};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// A small malloc/free first, so a recycled small block sits at the head of a free list: it
/// must never be handed back for an impossible size.
fn prime() {
    // SAFETY: allocated and freed once.
    unsafe { mi_free(mi_malloc(16)) };
}

/// Sizes no allocation can satisfy: above PTRDIFF_MAX (the documented limit), and just below
/// it (more than any 64-bit address space; with 32-bit pointers, within a MiB of the limit,
/// which the allocator refuses before asking the OS: a huge block's segment needs its header
/// and alignment room on top).
fn impossible_sizes() -> Vec<usize> {
    let max = isize::MAX as usize;
    let mut sizes = vec![usize::MAX, usize::MAX - 1, max + 1, max + 2];
    sizes.extend((0..64).map(|i| usize::MAX - i));
    sizes.extend((1..64).map(|i| max + i));
    sizes.extend([max, max - 1, max - 4096, max - MIB]);
    #[cfg(target_pointer_width = "64")]
    {
        sizes.extend([1 << 62, 1 << 60]);
        sizes.extend((1..16).map(|k| (k << 59) | ((1 << 59) - 1)));
    }
    sizes
}

/// Runs `call` after a small malloc/free with errno cleared: it must return NULL and set
/// errno to ENOMEM.
fn expect_enomem(what: &str, call: impl FnOnce() -> *mut c_void) {
    prime();
    clear_errno();
    let p = call();
    assert!(p.is_null(), "{what} returned {p:p}");
    assert_eq!(errno(), libc::ENOMEM, "errno after {what}");
}

#[test]
fn impossible_sizes_fail_with_enomem() {
    for n in impossible_sizes() {
        // SAFETY (all closures): each call only asks for memory and must fail.
        expect_enomem(&format!("mi_malloc({n:#x})"), || unsafe { mi_malloc(n) });
        expect_enomem(&format!("mi_zalloc({n:#x})"), || unsafe { mi_zalloc(n) });
        expect_enomem(&format!("mi_calloc(1, {n:#x})"), || unsafe {
            mi_calloc(1, n)
        });
        expect_enomem(&format!("mi_mallocn({n:#x}, 1)"), || unsafe {
            mi_mallocn(n, 1)
        });
        expect_enomem(&format!("mi_realloc(NULL, {n:#x})"), || unsafe {
            mi_realloc(core::ptr::null_mut(), n)
        });
        for align in [8usize, 16, 64, 4096, 64 * KIB, 2 * MIB] {
            expect_enomem(&format!("mi_malloc_aligned({n:#x}, {align})"), || unsafe {
                mi_malloc_aligned(n, align)
            });
            expect_enomem(&format!("mi_zalloc_aligned({n:#x}, {align})"), || unsafe {
                mi_zalloc_aligned(n, align)
            });
        }
        // SAFETY: the heap is used on this thread only and deleted once.
        unsafe {
            let heap = mi_heap_new();
            assert!(!heap.is_null());
            expect_enomem(&format!("mi_heap_malloc({n:#x})"), || {
                mi_heap_malloc(heap, n)
            });
            mi_heap_delete(heap);
        }
    }
}

#[test]
fn failed_reallocation_leaves_the_block_untouched() {
    for n in impossible_sizes().into_iter().step_by(7) {
        for old in [16usize, 1000, 100 * KIB, 3 * MIB] {
            // SAFETY: `live` is a live block of `old` bytes until freed at the end.
            unsafe {
                let live = mi_malloc(old) as *mut u8;
                assert!(!live.is_null());
                core::ptr::write_bytes(live, 0x5c, old);
                expect_enomem(&format!("mi_realloc({old} bytes, {n:#x})"), || {
                    mi_realloc(live as *mut c_void, n)
                });
                expect_enomem(
                    &format!("mi_realloc_aligned({old} bytes, {n:#x}, 64)"),
                    || mi_realloc_aligned(live as *mut c_void, n, 64),
                );
                expect_enomem(&format!("mi_rezalloc({old} bytes, {n:#x})"), || {
                    mi_rezalloc(live as *mut c_void, n)
                });
                assert!(
                    mi_expand(live as *mut c_void, n).is_null(),
                    "mi_expand to {n:#x}"
                );
                assert!(
                    (0..old).all(|i| *live.add(i) == 0x5c),
                    "a failed reallocation to {n:#x} changed the {old}-byte block"
                );
                assert!(mi_usable_size(live as *const c_void) >= old);
                mi_free(live as *mut c_void);
            }
        }
    }
}

#[test]
fn overflowing_products_fail() {
    // products of two powers of two just past the word: 2^64, or 2^32 with 32-bit pointers
    let half = usize::BITS / 2;
    let cases = [
        (usize::MAX, 2usize),
        (1 << (half + 1), 1 << (half - 1)),
        (usize::MAX / 3 + 1, 3),
        (1 << half, 1 << half),
        (usize::MAX, usize::MAX),
        ((isize::MAX as usize) / 2 + 1, 4),
    ];
    for (a, b) in cases {
        for (x, y) in [(a, b), (b, a)] {
            // SAFETY (closures): each call must fail without allocating.
            expect_enomem(&format!("mi_calloc({x:#x}, {y:#x})"), || unsafe {
                mi_calloc(x, y)
            });
            expect_enomem(&format!("mi_mallocn({x:#x}, {y:#x})"), || unsafe {
                mi_mallocn(x, y)
            });
            expect_enomem(
                &format!("mi_calloc_aligned({x:#x}, {y:#x}, 32)"),
                || unsafe { mi_calloc_aligned(x, y, 32) },
            );
            // SAFETY: `live` stays a live 32-byte block until freed at the end.
            unsafe {
                let live = mi_malloc(32) as *mut u8;
                core::ptr::write_bytes(live, 9, 32);
                expect_enomem(&format!("mi_reallocn(p, {x:#x}, {y:#x})"), || {
                    mi_reallocn(live as *mut c_void, x, y)
                });
                expect_enomem(&format!("mi_recalloc(p, {x:#x}, {y:#x})"), || {
                    mi_recalloc(live as *mut c_void, x, y)
                });
                assert!(
                    (0..32).all(|i| *live.add(i) == 9),
                    "overflowing reallocn({x:#x}, {y:#x}) changed the block"
                );
                mi_free(live as *mut c_void);
            }
        }
    }
    // products that fit are fine, including a zero count or size
    // SAFETY: freed once.
    unsafe {
        let p = mi_calloc(1 << 10, 1 << 10) as *mut u8;
        assert!(!p.is_null() && (0..MIB).all(|i| *p.add(i) == 0));
        mi_free(p as *mut c_void);
    }
}

#[test]
fn invalid_alignments_are_refused() {
    let mut bad = vec![0usize, 3, 5, 6, 7, 12, 24, 48, 100, 65, 4097, 3 << 20];
    let bits = usize::BITS.min(40); // every shift the word has, up to 2^39
    bad.extend((1..bits).map(|k| (1usize << k) + 1));
    bad.extend((2..bits).map(|k| (1usize << k) - 1));
    bad.push(usize::MAX);
    for align in bad {
        // SAFETY: every call must return NULL without allocating; `live` stays valid.
        unsafe {
            assert!(
                mi_malloc_aligned(64, align).is_null(),
                "mi_malloc_aligned(64, {align})"
            );
            assert!(
                mi_zalloc_aligned(64, align).is_null(),
                "mi_zalloc_aligned(64, {align})"
            );
            assert!(
                mi_calloc_aligned(4, 16, align).is_null(),
                "mi_calloc_aligned(4, 16, {align})"
            );
            assert!(
                mi_malloc_aligned_at(64, align, 8).is_null(),
                "mi_malloc_aligned_at(64, {align}, 8)"
            );
            assert!(
                mi_malloc_aligned(0, align).is_null(),
                "mi_malloc_aligned(0, {align})"
            );
            let live = mi_malloc(40) as *mut u8;
            core::ptr::write_bytes(live, 0x77, 40);
            assert!(
                mi_realloc_aligned(live as *mut c_void, 80, align).is_null(),
                "mi_realloc_aligned(p, 80, {align})"
            );
            assert!((0..40).all(|i| *live.add(i) == 0x77));
            mi_free(live as *mut c_void);
        }
    }
}

#[test]
fn null_arguments() {
    // SAFETY: the documented NULL behaviour of each call.
    unsafe {
        clear_errno();
        mi_free(core::ptr::null_mut());
        mi_free_small(core::ptr::null_mut());
        mi_cfree(core::ptr::null_mut());
        assert_eq!(errno(), 0, "freeing NULL touched errno");
        assert_eq!(mi_usable_size(core::ptr::null()), 0);
        assert!(mi_expand(core::ptr::null_mut(), 10).is_null());
        assert!(mi_strdup(core::ptr::null()).is_null());
        assert!(mi_strndup(core::ptr::null(), 5).is_null());

        // realloc(NULL, n) is malloc(n), for every kind of size
        for n in [1usize, 100, 5000, 100 * KIB, 3 * MIB] {
            let p = mi_realloc(core::ptr::null_mut(), n) as *mut u8;
            assert!(!p.is_null(), "mi_realloc(NULL, {n})");
            assert!(mi_usable_size(p as *const c_void) >= n);
            assert_eq!(
                p as usize % n.min(16),
                0,
                "natural alignment of mi_realloc(NULL, {n})"
            );
            core::ptr::write_bytes(p, 3, n);
            mi_free(p as *mut c_void);
        }
        let z = mi_rezalloc(core::ptr::null_mut(), 300) as *mut u8;
        assert!(!z.is_null() && (0..300).all(|i| *z.add(i) == 0));
        mi_free(z as *mut c_void);
        let a = mi_realloc_aligned(core::ptr::null_mut(), 100, 256);
        assert!(!a.is_null() && a as usize % 256 == 0);
        mi_free(a);
    }
}

/// Live blocks of `heap`, as the visitor counts them.
unsafe fn live_blocks(heap: *mut mi_heap_t) -> Vec<usize> {
    unsafe extern "C" fn visit(
        _: *const mi_heap_t,
        _: *const mi_heap_area_t,
        block: *mut c_void,
        _: usize,
        arg: *mut c_void,
    ) -> bool {
        if !block.is_null() {
            // SAFETY: arg is the Vec passed below.
            unsafe { (*(arg as *mut Vec<usize>)).push(block as usize) };
        }
        true
    }
    let mut v: Vec<usize> = Vec::new();
    // SAFETY: the heap is live and belongs to this thread; the visitor only records addresses.
    unsafe {
        mi_heap_visit_blocks(
            heap,
            true,
            Some(visit),
            &mut v as *mut Vec<usize> as *mut c_void,
        )
    };
    v.sort_unstable();
    v
}

#[test]
fn realloc_to_zero_returns_a_minimal_block_and_frees_the_old_one() {
    // SAFETY: blocks are used only while live; the heap is this thread's and destroyed once.
    unsafe {
        for old in [1usize, 100, 5000, 100 * KIB, 3 * MIB] {
            let p = mi_malloc(old) as *mut u8;
            core::ptr::write_bytes(p, 1, old);
            let q = mi_realloc(p as *mut c_void, 0);
            assert!(!q.is_null(), "mi_realloc(p of {old}, 0) returned NULL");
            let u = mi_usable_size(q);
            assert!(u > 0 && u <= 64, "mi_realloc(p, 0): usable size {u}");
            core::ptr::write_bytes(q as *mut u8, 2, u);
            mi_free(q);
        }
        // in a heap of its own the visitor shows the old block gone and exactly one new one
        let heap = mi_heap_new();
        for old in [24usize, 3000, 300 * KIB, 5 * MIB] {
            let p = mi_heap_malloc(heap, old);
            assert_eq!(live_blocks(heap), vec![p as usize]);
            let q = mi_heap_realloc(heap, p, 0);
            assert!(!q.is_null());
            assert_eq!(
                live_blocks(heap),
                vec![q as usize],
                "mi_heap_realloc(p of {old}, 0) did not free p"
            );
            mi_free(q);
            assert!(live_blocks(heap).is_empty());
        }
        mi_heap_destroy(heap);
    }
}

#[test]
fn expand_never_moves() {
    // SAFETY: blocks are live while used and freed once.
    unsafe {
        for n in [1usize, 100, 5000, 100 * KIB, 3 * MIB] {
            let p = mi_malloc(n) as *mut u8;
            core::ptr::write_bytes(p, 42, n);
            let usable = mi_usable_size(p as *const c_void);
            assert_eq!(mi_expand(p as *mut c_void, n), p as *mut c_void);
            assert_eq!(mi_expand(p as *mut c_void, usable), p as *mut c_void);
            assert!(
                mi_expand(p as *mut c_void, usable + 1).is_null(),
                "expand({n}) grew"
            );
            assert!(mi_expand(p as *mut c_void, isize::MAX as usize / 2 + 1).is_null());
            assert!(mi_expand(p as *mut c_void, usize::MAX).is_null());
            assert!(
                (0..n).all(|i| *p.add(i) == 42),
                "a failed mi_expand damaged the block"
            );
            assert_eq!(mi_usable_size(p as *const c_void), usable);
            // still an ordinary block: it reallocates and frees normally
            let q = mi_realloc(p as *mut c_void, 2 * usable) as *mut u8;
            assert!((0..n).all(|i| *q.add(i) == 42));
            mi_free(q as *mut c_void);
        }
    }
}

#[test]
fn string_helpers_copy() {
    // SAFETY: the strings are NUL-terminated and the copies freed once.
    unsafe {
        let s = c"hello, allocator";
        let d = mi_strdup(s.as_ptr());
        assert_ne!(d as *const core::ffi::c_char, s.as_ptr());
        assert_eq!(CStr::from_ptr(d), s);
        assert!(mi_usable_size(d as *const c_void) > s.to_bytes().len());
        let n = mi_strndup(s.as_ptr(), 5);
        assert_eq!(CStr::from_ptr(n).to_bytes(), b"hello");
        let exact = mi_strndup(s.as_ptr(), s.to_bytes().len());
        assert_eq!(CStr::from_ptr(exact), s);
        let long = mi_strndup(s.as_ptr(), 1000);
        assert_eq!(CStr::from_ptr(long), s);
        let none = mi_strndup(s.as_ptr(), 0);
        assert_eq!(CStr::from_ptr(none).to_bytes(), b"");
        let empty = mi_strdup(c"".as_ptr());
        assert_eq!(CStr::from_ptr(empty).to_bytes(), b"");
        for p in [d, n, exact, long, none, empty] {
            mi_free(p as *mut c_void);
        }
        // a long string (beyond the small sizes)
        let big: Vec<u8> = (0..100_000)
            .map(|i| b'a' + (i % 26) as u8)
            .chain([0])
            .collect();
        let b = mi_strdup(big.as_ptr() as *const core::ffi::c_char);
        assert_eq!(CStr::from_ptr(b).to_bytes(), &big[..100_000]);
        mi_free(b as *mut c_void);
        let rp = mi_realpath(c"/".as_ptr(), core::ptr::null_mut());
        #[cfg(unix)]
        assert_eq!(CStr::from_ptr(rp).to_bytes(), b"/");
        // "/" is the root of the current drive there: C:\ (Z:\ under Wine)
        #[cfg(windows)]
        assert!(
            matches!(CStr::from_ptr(rp).to_bytes(), [_, b':', b'\\']),
            "{:?}",
            CStr::from_ptr(rp)
        );
        mi_free(rp as *mut c_void);
    }
}

#[test]
fn zero_size_allocations_are_distinct_and_freeable() {
    // SAFETY: every block is live until freed once below.
    unsafe {
        let heap = mi_heap_new();
        let mut blocks: Vec<*mut c_void> = Vec::new();
        for i in 0..200 {
            let p = match i % 9 {
                0 => mi_malloc(0),
                1 => mi_zalloc(0),
                2 => mi_calloc(0, 10),
                3 => mi_calloc(10, 0),
                4 => mi_calloc(0, 0),
                5 => mi_malloc_aligned(0, 64),
                6 => mi_realloc(core::ptr::null_mut(), 0),
                7 => mi_heap_malloc(heap, 0),
                _ => mi_mallocn(0, 0),
            };
            assert!(!p.is_null(), "zero-size allocation {} returned NULL", i % 9);
            let u = mi_usable_size(p);
            assert!(u > 0 && u <= 64, "usable size of a zero-size block: {u}");
            // the usable byte really is usable
            *(p as *mut u8) = i as u8;
            blocks.push(p);
        }
        let mut addrs: Vec<usize> = blocks.iter().map(|&p| p as usize).collect();
        addrs.sort_unstable();
        addrs.dedup();
        assert_eq!(
            addrs.len(),
            blocks.len(),
            "zero-size blocks are not distinct"
        );
        for (i, &p) in blocks.iter().enumerate() {
            assert_eq!(*(p as *mut u8), i as u8, "zero-size blocks overlap");
        }
        for p in blocks {
            mi_free(p);
        }
        mi_heap_delete(heap);
    }
}

#[test]
fn zero_reallocation_grows_with_zeros() {
    // SAFETY: rezalloc/recalloc on zero-initialised blocks, freed once.
    unsafe {
        let p = mi_zalloc(10) as *mut u8;
        core::ptr::write_bytes(p, 1, 10);
        let q = mi_rezalloc(p as *mut c_void, 5000) as *mut u8;
        assert!((0..10).all(|i| *q.add(i) == 1));
        // zalloc cleared the whole block, so everything past the 10 written bytes is zero
        assert!(
            (10..5000).all(|i| *q.add(i) == 0),
            "rezalloc grew with garbage"
        );
        let r = mi_recalloc(q as *mut c_void, 100, 100) as *mut u8;
        assert!((0..10).all(|i| *r.add(i) == 1));
        assert!((10..10_000).all(|i| *r.add(i) == 0));
        let s = mi_rezalloc_aligned(r as *mut c_void, 3 * MIB, 4096) as *mut u8;
        assert_eq!(s as usize % 4096, 0);
        assert!((0..10).all(|i| *s.add(i) == 1));
        assert!((10..3 * MIB).all(|i| *s.add(i) == 0));
        mi_free(s as *mut c_void);
    }
}
