//! Code written for crates.io `libmimalloc-sys` (with its `extended` feature) compiles and runs
//! against this crate once the dependency is renamed: the crate is imported under that name and
//! the body below uses only items and types as that crate declares them.

extern crate mimalloc_sys as libmimalloc_sys;

use core::ffi::{c_char, c_void};
use libmimalloc_sys::*;

unsafe extern "C" fn visitor(
    _heap: *const mi_heap_t,
    _area: *const mi_heap_area_t,
    block: *mut c_void,
    _size: usize,
    arg: *mut c_void,
) -> bool {
    if !block.is_null() {
        // SAFETY: arg is the counter passed below.
        unsafe { *(arg as *mut usize) += 1 };
    }
    true
}

unsafe extern "C" fn output(_msg: *const c_char, arg: *mut c_void) {
    // SAFETY: arg is the counter passed below.
    unsafe { *(arg as *mut usize) += 1 };
}

#[test]
fn libmimalloc_sys_style_program() {
    // SAFETY: every block is used while live and freed once; callbacks get the args they expect.
    unsafe {
        // the basic (non-extended) API
        let p = mi_malloc(32) as *mut u8;
        assert!(!p.is_null());
        let z = mi_zalloc(64) as *mut u8;
        assert_eq!(*z, 0);
        let a = mi_malloc_aligned(100, 128);
        assert_eq!(a as usize % 128, 0);
        let a = mi_realloc_aligned(a, 1000, 128);
        assert_eq!(a as usize % 128, 0);
        let za = mi_zalloc_aligned(10, 64);
        let p = mi_realloc(p as *mut c_void, 4096);
        assert!(mi_usable_size(p) >= 4096);
        for q in [p, z as *mut c_void, a, za] {
            mi_free(q);
        }

        // options by their constants, as in C
        mi_option_set(mi_option_show_stats, 0);
        mi_option_set_enabled(mi_option_verbose, false);
        assert!(!mi_option_is_enabled(mi_option_verbose));
        mi_option_set(mi_option_purge_delay, 10);
        assert_eq!(mi_option_get(mi_option_purge_delay), 10);
        let _: mi_option_t = mi_option_eager_commit;

        // heaps and the visitor
        let heap: *mut mi_heap_t = mi_heap_new();
        for n in 0..100 {
            let _ = mi_heap_malloc(heap, n + 1);
        }
        let s = mi_heap_zalloc_small(heap, 16);
        let s = mi_heap_rezalloc_aligned(heap, s, 64, 32);
        assert!(!s.is_null());
        let mut count = 0usize;
        mi_heap_visit_blocks(
            heap,
            true,
            Some(visitor),
            &mut count as *mut usize as *mut c_void,
        );
        assert_eq!(count, 101);
        mi_heap_destroy(heap);

        // small-size entry points
        let s = mi_malloc_small(MI_SMALL_SIZE_MAX);
        assert!(mi_usable_size(s) >= 1024);
        mi_free_small(s);

        // statistics through an output callback, and as JSON
        let mut lines = 0usize;
        mi_stats_print_out(Some(output), &mut lines as *mut usize as *mut c_void);
        assert!(lines > 5);
        let json = mi_stats_get_json(0, core::ptr::null_mut());
        let text = core::ffi::CStr::from_ptr(json)
            .to_str()
            .expect("utf-8 json");
        assert!(text.starts_with('{') && text.contains("\"reserved\""));
        mi_free(json as *mut c_void);

        assert!(mi_version() > 0);
        mi_collect(false);
    }
}
