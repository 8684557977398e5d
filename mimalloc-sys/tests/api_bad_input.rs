//! The contract edges of the C API: impossible sizes, overflowing products, bad alignments,
//! NULL arguments and the documented realloc/expand semantics.

use core::ffi::c_void;
use mimalloc_sys::*;

fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

fn clear_errno() {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = 0 };
}

/// A small malloc/free first, so a recycled small block is at hand: it must never be returned
/// for an impossible size.
fn prime() {
    // SAFETY: allocated and freed once.
    unsafe { mi_free(mi_malloc(16)) };
}

#[test]
fn impossible_sizes_fail_with_enomem() {
    let max = isize::MAX as usize;
    let mut sizes = vec![usize::MAX, usize::MAX - 1, max + 1, max + 2];
    sizes.extend((0..64).map(|i| usize::MAX - i));
    sizes.extend((1..64).map(|i| max + i));
    sizes.extend(
        (1..16)
            .map(|k| (k << 50) | ((1 << 50) - 1))
            .filter(|&s| s > max),
    );
    for n in sizes {
        prime();
        clear_errno();
        // SAFETY: the calls are made with impossible sizes and must return NULL.
        unsafe {
            assert!(mi_malloc(n).is_null(), "mi_malloc({n:#x}) returned a block");
            assert_eq!(errno(), libc::ENOMEM, "errno after mi_malloc({n:#x})");
            assert!(mi_zalloc(n).is_null());
            assert!(mi_malloc_aligned(n, 64).is_null());
            let live = mi_malloc(16) as *mut u8;
            *live = 7;
            assert!(
                mi_realloc(live as *mut c_void, n).is_null(),
                "realloc to {n:#x}"
            );
            assert_eq!(*live, 7, "failed realloc damaged the block");
            mi_free(live as *mut c_void);
        }
    }
}

#[test]
fn overflowing_products_fail() {
    let cases = [
        (usize::MAX, 2usize),
        (2, usize::MAX),
        (1 << 33, 1 << 31),
        (usize::MAX / 3 + 1, 3),
    ];
    for (a, b) in cases {
        prime();
        clear_errno();
        // SAFETY: every call must fail and leave `live` intact.
        unsafe {
            assert!(mi_calloc(a, b).is_null(), "calloc({a}, {b})");
            assert_eq!(errno(), libc::ENOMEM);
            assert!(mi_mallocn(a, b).is_null(), "mallocn({a}, {b})");
            assert!(mi_calloc_aligned(a, b, 32).is_null());
            let live = mi_malloc(32) as *mut u8;
            core::ptr::write_bytes(live, 9, 32);
            assert!(
                mi_reallocn(live as *mut c_void, a, b).is_null(),
                "reallocn({a}, {b})"
            );
            assert!((0..32).all(|i| *live.add(i) == 9));
            mi_free(live as *mut c_void);
        }
    }
}

#[test]
fn non_power_of_two_alignments_are_refused() {
    for align in [0usize, 3, 5, 6, 7, 12, 24, 48, 100, 65, 4097, (1 << 20) + 1] {
        // SAFETY: must return NULL without allocating.
        unsafe {
            assert!(mi_malloc_aligned(64, align).is_null(), "align {align}");
            assert!(mi_zalloc_aligned(64, align).is_null(), "align {align}");
            assert!(
                mi_malloc_aligned_at(64, align, 8).is_null(),
                "align {align}"
            );
        }
    }
    for k in 1..20 {
        let align = (1usize << k) + 1;
        // SAFETY: as above.
        assert!(unsafe { mi_malloc_aligned(10, align) }.is_null());
    }
}

#[test]
fn null_and_zero_arguments() {
    // SAFETY: documented NULL/zero behaviour of each call.
    unsafe {
        clear_errno();
        mi_free(core::ptr::null_mut());
        assert_eq!(errno(), 0, "mi_free(NULL) touched errno");
        assert_eq!(mi_usable_size(core::ptr::null()), 0);
        assert!(mi_expand(core::ptr::null_mut(), 10).is_null());

        // zero-size allocations: non-NULL, distinct, freeable, small
        let a = mi_malloc(0);
        let b = mi_malloc(0);
        let c = mi_calloc(0, 10);
        let d = mi_calloc(10, 0);
        let e = mi_malloc_aligned(0, 64);
        for &p in &[a, b, c, d, e] {
            assert!(!p.is_null());
            let u = mi_usable_size(p);
            assert!(u > 0 && u <= 64, "usable size of a zero-size block: {u}");
        }
        assert_ne!(a, b);
        for p in [a, b, c, d, e] {
            mi_free(p);
        }

        // realloc(NULL, n) is malloc(n)
        let p = mi_realloc(core::ptr::null_mut(), 100) as *mut u8;
        assert!(!p.is_null() && mi_usable_size(p as *const c_void) >= 100);
        core::ptr::write_bytes(p, 3, 100);

        // realloc(p, 0): a non-NULL minimal block, p freed (upstream's documented behaviour)
        let q = mi_realloc(p as *mut c_void, 0);
        assert!(!q.is_null());
        assert!(mi_usable_size(q) > 0);
        mi_free(q);

        // mi_expand never moves: it succeeds within the usable size and fails beyond
        let p = mi_malloc(100) as *mut u8;
        *p = 42;
        let usable = mi_usable_size(p as *const c_void);
        assert_eq!(mi_expand(p as *mut c_void, usable), p as *mut c_void);
        assert!(mi_expand(p as *mut c_void, usable + 1).is_null());
        assert!(mi_expand(p as *mut c_void, 1 << 40).is_null());
        assert_eq!(*p, 42, "failed expand damaged the block");
        mi_free(p as *mut c_void);
    }
}

#[test]
fn string_helpers_copy() {
    // SAFETY: the strings are NUL-terminated and the copies freed once.
    unsafe {
        let s = c"hello, allocator";
        let d = mi_strdup(s.as_ptr());
        assert_eq!(core::ffi::CStr::from_ptr(d), s);
        let n = mi_strndup(s.as_ptr(), 5);
        assert_eq!(core::ffi::CStr::from_ptr(n).to_bytes(), b"hello");
        let long = mi_strndup(s.as_ptr(), 1000);
        assert_eq!(core::ffi::CStr::from_ptr(long), s);
        mi_free(d as *mut c_void);
        mi_free(n as *mut c_void);
        mi_free(long as *mut c_void);
        assert!(mi_strdup(core::ptr::null()).is_null());
        let rp = mi_realpath(c"/".as_ptr(), core::ptr::null_mut());
        assert_eq!(core::ffi::CStr::from_ptr(rp).to_bytes(), b"/");
        mi_free(rp as *mut c_void);
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
        assert!((5000..10_000).all(|i| *r.add(i) == 0));
        mi_free(r as *mut c_void);
    }
}
