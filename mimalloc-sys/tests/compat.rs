//! Code written for crates.io `libmimalloc-sys` 0.1.x (with its `extended` feature) compiles and
//! runs against this crate once only the dependency line is changed:
//!
//! ```toml
//! libmimalloc-sys = { package = "mimalloc-sys", path = "…/mimalloc-sys", features = ["extended"] }
//! ```
//!
//! The crate is imported here under that name (the one line below), and everything after it uses
//! items exactly as `libmimalloc-sys` 0.1.49 declares them. The function table holds every
//! function it declares for the v2 API line (its `v2` feature, the line we follow) and every one
//! common to both lines, each coerced to the exact function-pointer type it has there, so a
//! changed parameter type fails to compile. This file also builds and passes unchanged (minus
//! the import line) against crates.io `libmimalloc-sys` with `features = ["extended", "v2"]`.
//!
//! Its `arena` feature (`mi_arena_id_t`, `mi_heap_new_in_arena`, `mi_reserve_os_memory_ex`,
//! `mi_manage_os_memory_ex`) is covered too: against crates.io it needs
//! `features = ["extended", "v2", "arena"]`.
//!
//! Known differences, kept out of this file because they cannot compile here:
//! - Not declared here because the C header has no such function: in its v3 line (no `v2`
//!   feature) `mi_theap_t`, `mi_theap_zalloc_small`, `mi_arena_min_size`.
//! - `mi_heap_area_t` has upstream v2.4's fields (with `heap_tag`), not v3's `reserved1`.

extern crate mimalloc_sys as libmimalloc_sys;

use core::ffi::{c_char, c_int, c_long, c_ulonglong, c_void, CStr};
use libmimalloc_sys::*;

/// Coerces each function to the function-pointer type `libmimalloc-sys` gives it: a parameter
/// or return type that differs, even by signedness or constness, does not compile.
macro_rules! same_signatures {
    ($($name:ident: fn($($arg:ty),*) $(-> $ret:ty)?;)*) => {{
        let table: &[(&str, usize)] = &[$(
            (stringify!($name), {
                let f: unsafe extern "C" fn($($arg),*) $(-> $ret)? = $name;
                f as usize
            }),
        )*];
        table.to_vec()
    }};
}

#[test]
fn every_function_has_the_libmimalloc_sys_type() {
    let table = same_signatures! {
        // the basic API (no `extended` feature)
        mi_zalloc: fn(usize) -> *mut c_void;
        mi_malloc: fn(usize) -> *mut c_void;
        mi_realloc: fn(*mut c_void, usize) -> *mut c_void;
        mi_zalloc_aligned: fn(usize, usize) -> *mut c_void;
        mi_malloc_aligned: fn(usize, usize) -> *mut c_void;
        mi_realloc_aligned: fn(*mut c_void, usize, usize) -> *mut c_void;
        mi_free: fn(*mut c_void);
        // `extended`
        mi_calloc: fn(usize, usize) -> *mut c_void;
        mi_mallocn: fn(usize, usize) -> *mut c_void;
        mi_reallocn: fn(*mut c_void, usize, usize) -> *mut c_void;
        mi_expand: fn(*mut c_void, usize) -> *mut c_void;
        mi_reallocf: fn(*mut c_void, usize) -> *mut c_void;
        mi_strdup: fn(*const c_char) -> *mut c_char;
        mi_strndup: fn(*const c_char, usize) -> *mut c_char;
        mi_realpath: fn(*const c_char, *mut c_char) -> *mut c_char;
        mi_calloc_aligned: fn(usize, usize, usize) -> *mut c_void;
        mi_malloc_aligned_at: fn(usize, usize, usize) -> *mut c_void;
        mi_zalloc_aligned_at: fn(usize, usize, usize) -> *mut c_void;
        mi_posix_memalign: fn(*mut *mut c_void, usize, usize) -> c_int;
        mi_aligned_alloc: fn(usize, usize) -> *mut c_void;
        mi_calloc_aligned_at: fn(usize, usize, usize, usize) -> *mut c_void;
        mi_realloc_aligned_at: fn(*mut c_void, usize, usize, usize) -> *mut c_void;
        mi_rezalloc: fn(*mut c_void, usize) -> *mut c_void;
        mi_recalloc: fn(*mut c_void, usize, usize) -> *mut c_void;
        mi_rezalloc_aligned: fn(*mut c_void, usize, usize) -> *mut c_void;
        mi_rezalloc_aligned_at: fn(*mut c_void, usize, usize, usize) -> *mut c_void;
        mi_recalloc_aligned: fn(*mut c_void, usize, usize, usize) -> *mut c_void;
        mi_recalloc_aligned_at: fn(*mut c_void, usize, usize, usize, usize) -> *mut c_void;
        mi_malloc_small: fn(usize) -> *mut c_void;
        mi_zalloc_small: fn(usize) -> *mut c_void;
        mi_free_small: fn(*mut c_void);
        mi_usable_size: fn(*const c_void) -> usize;
        mi_good_size: fn(usize) -> usize;
        mi_collect: fn(bool);
        mi_cfree: fn(*mut c_void);
        mi_is_in_heap_region: fn(*const c_void) -> bool;
        mi_free_size_aligned: fn(*mut c_void, usize, usize);
        mi_free_size: fn(*mut c_void, usize);
        mi_free_aligned: fn(*mut c_void, usize);
        mi_stats_print: fn(*mut c_void);
        mi_stats_print_out: fn(mi_output_fun, *mut c_void);
        mi_stats_reset: fn();
        mi_stats_merge: fn();
        mi_version: fn() -> c_int;
        mi_thread_init: fn();
        mi_process_init: fn();
        mi_process_info: fn(
            *mut usize, *mut usize, *mut usize, *mut usize,
            *mut usize, *mut usize, *mut usize, *mut usize
        );
        mi_thread_done: fn();
        mi_thread_stats_print_out: fn(mi_output_fun, *mut c_void);
        mi_register_output: fn(mi_output_fun, *mut c_void);
        mi_register_deferred_free: fn(mi_deferred_free_fun, *mut c_void);
        mi_register_error: fn(mi_error_fun, *mut c_void);
        mi_option_is_enabled: fn(mi_option_t) -> bool;
        mi_option_set_enabled: fn(mi_option_t, bool);
        mi_option_set_enabled_default: fn(mi_option_t, bool);
        mi_option_get: fn(mi_option_t) -> c_long;
        mi_option_set: fn(mi_option_t, c_long);
        mi_option_set_default: fn(mi_option_t, c_long);
        mi_heap_new: fn() -> *mut mi_heap_t;
        mi_heap_delete: fn(*mut mi_heap_t);
        mi_heap_destroy: fn(*mut mi_heap_t);
        mi_heap_set_default: fn(*mut mi_heap_t) -> *mut mi_heap_t;
        mi_heap_get_default: fn() -> *mut mi_heap_t;
        mi_heap_get_backing: fn() -> *mut mi_heap_t;
        mi_heap_collect: fn(*mut mi_heap_t, bool);
        mi_heap_malloc: fn(*mut mi_heap_t, usize) -> *mut c_void;
        mi_heap_zalloc: fn(*mut mi_heap_t, usize) -> *mut c_void;
        mi_heap_calloc: fn(*mut mi_heap_t, usize, usize) -> *mut c_void;
        mi_heap_mallocn: fn(*mut mi_heap_t, usize, usize) -> *mut c_void;
        mi_heap_malloc_small: fn(*mut mi_heap_t, usize) -> *mut c_void;
        mi_heap_zalloc_small: fn(*mut mi_heap_t, usize) -> *mut c_void;
        mi_heap_realloc: fn(*mut mi_heap_t, *mut c_void, usize) -> *mut c_void;
        mi_heap_reallocn: fn(*mut mi_heap_t, *mut c_void, usize, usize) -> *mut c_void;
        mi_heap_reallocf: fn(*mut mi_heap_t, *mut c_void, usize) -> *mut c_void;
        mi_heap_strdup: fn(*mut mi_heap_t, *const c_char) -> *mut c_char;
        mi_heap_strndup: fn(*mut mi_heap_t, *const c_char, usize) -> *mut c_char;
        mi_heap_realpath: fn(*mut mi_heap_t, *const c_char, *mut c_char) -> *mut c_char;
        mi_heap_malloc_aligned: fn(*mut mi_heap_t, usize, usize) -> *mut c_void;
        mi_heap_malloc_aligned_at: fn(*mut mi_heap_t, usize, usize, usize) -> *mut c_void;
        mi_heap_zalloc_aligned: fn(*mut mi_heap_t, usize, usize) -> *mut c_void;
        mi_heap_zalloc_aligned_at: fn(*mut mi_heap_t, usize, usize, usize) -> *mut c_void;
        mi_heap_calloc_aligned: fn(*mut mi_heap_t, usize, usize, usize) -> *mut c_void;
        mi_heap_calloc_aligned_at: fn(*mut mi_heap_t, usize, usize, usize, usize) -> *mut c_void;
        mi_heap_realloc_aligned: fn(*mut mi_heap_t, *mut c_void, usize, usize) -> *mut c_void;
        mi_heap_realloc_aligned_at:
            fn(*mut mi_heap_t, *mut c_void, usize, usize, usize) -> *mut c_void;
        mi_heap_rezalloc: fn(*mut mi_heap_t, *mut c_void, usize) -> *mut c_void;
        mi_heap_recalloc: fn(*mut mi_heap_t, *mut c_void, usize, usize) -> *mut c_void;
        mi_heap_rezalloc_aligned: fn(*mut mi_heap_t, *mut c_void, usize, usize) -> *mut c_void;
        mi_heap_rezalloc_aligned_at:
            fn(*mut mi_heap_t, *mut c_void, usize, usize, usize) -> *mut c_void;
        mi_heap_recalloc_aligned:
            fn(*mut mi_heap_t, *mut c_void, usize, usize, usize) -> *mut c_void;
        mi_heap_recalloc_aligned_at:
            fn(*mut mi_heap_t, *mut c_void, usize, usize, usize, usize) -> *mut c_void;
        mi_heap_contains_block: fn(*mut mi_heap_t, *const c_void) -> bool;
        mi_heap_check_owned: fn(*mut mi_heap_t, *const c_void) -> bool;
        mi_check_owned: fn(*const c_void) -> bool;
        mi_heap_visit_blocks: fn(*const mi_heap_t, bool, mi_block_visit_fun, *mut c_void) -> bool;
        mi_unsafe_heap_page_is_under_utilized: fn(*mut mi_heap_t, *mut c_void, usize) -> bool;
        // `arena`
        mi_heap_new_in_arena: fn(mi_arena_id_t) -> *mut mi_heap_t;
        mi_reserve_os_memory_ex: fn(usize, bool, bool, bool, *mut mi_arena_id_t) -> c_int;
        mi_manage_os_memory_ex:
            fn(*const c_void, usize, bool, bool, bool, c_int, bool, *mut mi_arena_id_t) -> bool;
    };
    assert_eq!(table.len(), 99);
    for (name, addr) in table {
        assert_ne!(addr, 0, "{name} resolves to a symbol");
    }
}

/// What the block visitor saw.
#[derive(Default)]
struct Visited {
    areas: usize,
    blocks: usize,
    /// Blocks reported with a null `area` or a size that disagrees with their area.
    bad_area: usize,
}

unsafe extern "C" fn count_blocks(
    _heap: *const mi_heap_t,
    area: *const mi_heap_area_t,
    block: *mut c_void,
    block_size: usize,
    arg: *mut c_void,
) -> bool {
    // SAFETY: `arg` is the `Visited` handed to mi_heap_visit_blocks below.
    let seen = unsafe { &mut *(arg as *mut Visited) };
    // SAFETY: a non-null area is valid for the duration of the call.
    let area = unsafe { area.as_ref() };
    if block.is_null() {
        seen.areas += 1;
    } else {
        seen.blocks += 1;
        // Upstream passes each block's area along with it; users read it there.
        match area {
            Some(a)
                if a.block_size == block_size
                    && block_size <= a.full_block_size
                    && a.heap_tag == 0 => {}
            _ => seen.bad_area += 1,
        }
    }
    true
}

unsafe extern "C" fn count_lines(_msg: *const c_char, arg: *mut c_void) {
    // SAFETY: `arg` is the `usize` counter handed to mi_stats_print_out below.
    unsafe { *(arg as *mut usize) += 1 };
}

unsafe extern "C" fn on_error(_code: c_int, _arg: *mut c_void) {}

unsafe extern "C" fn deferred(_force: bool, _heartbeat: c_ulonglong, _arg: *mut c_void) {}

/// Reads every field of an area with the type `libmimalloc-sys` gives it.
#[allow(clippy::type_complexity)]
fn area_fields(area: &mi_heap_area_t) -> (*mut c_void, usize, usize, usize, usize, usize, c_int) {
    let blocks: *mut c_void = area.blocks;
    let reserved: usize = area.reserved;
    let committed: usize = area.committed;
    let used: usize = area.used;
    let block_size: usize = area.block_size;
    let full_block_size: usize = area.full_block_size;
    let heap_tag: c_int = area.heap_tag;
    (
        blocks,
        reserved,
        committed,
        used,
        block_size,
        full_block_size,
        heap_tag,
    )
}

/// Built as a struct literal, the way code that fakes an area for its own visitor does: a
/// missing or extra field would not compile.
fn area_literal() -> mi_heap_area_t {
    mi_heap_area_t {
        blocks: core::ptr::null_mut(),
        reserved: 0,
        committed: 0,
        used: 0,
        block_size: 8,
        full_block_size: 8,
        heap_tag: 0,
    }
}

#[test]
fn callback_types_constants_and_structs_match() {
    // Callback types are `Option<unsafe extern "C" fn …>` with exactly these parameter types.
    let out: mi_output_fun = Some(count_lines as unsafe extern "C" fn(*const c_char, *mut c_void));
    let err: mi_error_fun = Some(on_error as unsafe extern "C" fn(c_int, *mut c_void));
    let def: mi_deferred_free_fun =
        Some(deferred as unsafe extern "C" fn(bool, c_ulonglong, *mut c_void));
    let visit: mi_block_visit_fun = Some(
        count_blocks
            as unsafe extern "C" fn(
                *const mi_heap_t,
                *const mi_heap_area_t,
                *mut c_void,
                usize,
                *mut c_void,
            ) -> bool,
    );
    assert!(out.is_some() && err.is_some() && def.is_some() && visit.is_some());

    // Constants, by name and type.
    let small: usize = MI_SMALL_SIZE_MAX;
    assert_eq!(small, 128 * core::mem::size_of::<*mut c_void>());
    let options: [c_int; 15] = [
        mi_option_show_errors,
        mi_option_show_stats,
        mi_option_verbose,
        mi_option_large_os_pages,
        mi_option_reserve_huge_os_pages,
        mi_option_reserve_huge_os_pages_at,
        mi_option_reserve_os_memory,
        mi_option_eager_commit_delay,
        mi_option_use_numa_nodes,
        mi_option_limit_os_alloc,
        mi_option_os_tag,
        mi_option_max_errors,
        mi_option_max_warnings,
        mi_option_max_segment_reclaim,
        _mi_option_last,
    ];
    assert_eq!(
        options[..14],
        [0, 1, 2, 6, 7, 8, 9, 14, 16, 17, 18, 19, 20, 21]
    );
    assert!(options[14] > mi_option_max_segment_reclaim);

    // The area is a plain `Copy + Debug` struct with these fields.
    // SAFETY: every field is an integer or a raw pointer, for which all zeroes is valid.
    let area: mi_heap_area_t = unsafe { core::mem::zeroed() };
    let copy = area;
    assert_eq!(area_fields(&copy).1, 0);
    assert_eq!(area_fields(&area_literal()).4, 8);
    assert!(!format!("{area:?}").is_empty());
}

#[test]
fn libmimalloc_sys_style_program() {
    // SAFETY: every block is used only while live and within its size, and freed exactly once;
    // callbacks receive the argument types they expect.
    unsafe {
        // the basic API, as crates.io `mimalloc`'s GlobalAlloc uses it
        let p = mi_malloc(32) as *mut u8;
        assert!(!p.is_null());
        p.write_bytes(0xAB, 32);
        let z = mi_zalloc(64) as *mut u8;
        assert!((0..64).all(|i| *z.add(i) == 0));
        let a = mi_malloc_aligned(100, 128);
        assert_eq!(a as usize % 128, 0);
        let a = mi_realloc_aligned(a, 1000, 128);
        assert_eq!(a as usize % 128, 0);
        let za = mi_zalloc_aligned(10, 64) as *mut u8;
        assert_eq!(za as usize % 64, 0);
        assert!((0..10).all(|i| *za.add(i) == 0));
        let p = mi_realloc(p as *mut c_void, 4096) as *mut u8;
        assert!(mi_usable_size(p as *const c_void) >= 4096);
        assert!(
            (0..32).all(|i| *p.add(i) == 0xAB),
            "realloc keeps the contents"
        );
        for q in [p as *mut c_void, z as *mut c_void, a, za as *mut c_void] {
            mi_free(q);
        }

        // extended allocation calls
        let c = mi_calloc(10, 10) as *mut u8;
        assert!((0..100).all(|i| *c.add(i) == 0));
        mi_free(c as *mut c_void);
        assert!(
            mi_mallocn(usize::MAX / 2, 4).is_null(),
            "count * size overflows"
        );
        let s = mi_strdup(c"hello".as_ptr());
        assert_eq!(CStr::from_ptr(s), c"hello");
        let t = mi_strndup(s, 3);
        assert_eq!(CStr::from_ptr(t), c"hel");
        mi_free(s as *mut c_void);
        mi_free(t as *mut c_void);
        let mut m: *mut c_void = core::ptr::null_mut();
        assert_eq!(mi_posix_memalign(&mut m, 256, 10), 0);
        assert!(!m.is_null() && m as usize % 256 == 0);
        assert!(mi_is_in_heap_region(m) && mi_check_owned(m));
        mi_free_aligned(m, 256);
        assert!(mi_good_size(100) >= 100);
        let r = mi_rezalloc(mi_zalloc(8), 200) as *mut u8;
        assert!(
            (0..200).all(|i| *r.add(i) == 0),
            "grown part of a rezalloc is zero"
        );
        mi_free_size(r as *mut c_void, 200);

        // options by their constants, as in C
        mi_option_set(mi_option_show_stats, 0);
        mi_option_set_enabled(mi_option_verbose, false);
        assert!(!mi_option_is_enabled(mi_option_verbose));
        mi_option_set(mi_option_max_warnings, 7);
        assert_eq!(mi_option_get(mi_option_max_warnings), 7);
        let _: c_long = mi_option_get(mi_option_show_errors);
        // options as plain `i32`s, as `libmimalloc-sys` users write them (its type is `c_int`)
        let verbose: i32 = 2;
        mi_option_set(verbose, 0);
        assert_eq!(mi_option_get(verbose), 0);
        let by_number: [i32; 2] = [mi_option_max_errors, 20];
        for option in by_number {
            mi_option_set_default(option, 16);
            assert!(mi_option_get(option) >= 0);
        }

        // heaps and the block visitor
        let heap: *mut mi_heap_t = mi_heap_new();
        assert!(!heap.is_null());
        for n in 0..100 {
            assert!(!mi_heap_malloc(heap, n + 1).is_null());
        }
        let s = mi_heap_zalloc_small(heap, 16);
        let s = mi_heap_rezalloc_aligned(heap, s, 64, 32);
        assert!(!s.is_null() && s as usize % 32 == 0);
        assert!(mi_heap_contains_block(heap, s) && mi_heap_check_owned(heap, s));
        assert!(!mi_heap_contains_block(mi_heap_get_backing(), s));
        assert!(!mi_unsafe_heap_page_is_under_utilized(heap, s, 0));
        assert!(!mi_unsafe_heap_page_is_under_utilized(
            mi_heap_get_backing(),
            s,
            100
        ));
        let mut seen = Visited::default();
        assert!(mi_heap_visit_blocks(
            heap,
            true,
            Some(count_blocks),
            &mut seen as *mut Visited as *mut c_void,
        ));
        assert_eq!(seen.blocks, 101);
        assert!(seen.areas >= 1);
        assert_eq!(
            seen.bad_area, 0,
            "each block comes with its own area, as upstream"
        );
        let old = mi_heap_set_default(heap);
        assert_eq!(mi_heap_get_default(), heap);
        let in_heap = mi_malloc(24);
        assert!(mi_heap_contains_block(heap, in_heap));
        assert_eq!(mi_heap_set_default(old), heap);
        mi_heap_destroy(heap);

        // small-size entry points
        let s = mi_malloc_small(MI_SMALL_SIZE_MAX);
        assert!(mi_usable_size(s) >= MI_SMALL_SIZE_MAX);
        mi_free_small(s);

        // statistics through an output callback, and process information
        let mut lines = 0usize;
        mi_stats_print_out(Some(count_lines), &mut lines as *mut usize as *mut c_void);
        assert!(lines > 5, "the statistics take several lines, got {lines}");
        let (mut elapsed, mut user, mut system, mut rss, mut peak_rss) = (0, 0, 0, 0, 0);
        let (mut commit, mut peak_commit, mut faults) = (0, 0, 0);
        mi_process_info(
            &mut elapsed,
            &mut user,
            &mut system,
            &mut rss,
            &mut peak_rss,
            &mut commit,
            &mut peak_commit,
            &mut faults,
        );
        assert!(rss > 0 && peak_rss > 0 && peak_commit >= commit);

        assert!(mi_version() > 0);
        mi_collect(false);
    }
}

/// `mi_stats_get_json` is upstream v2.4's (and `libmimalloc-sys`'s v3 line); the document has
/// upstream's schema (checked key by key in the `mimalloc` crate's tests/stats_json.rs).
#[test]
fn stats_json_as_upstream() {
    // SAFETY: with a null buffer the text is allocated with mi_malloc and freed once here.
    unsafe {
        let f: unsafe extern "C" fn(usize, *mut c_char) -> *mut c_char = mi_stats_get_json;
        let json = f(0, core::ptr::null_mut());
        assert!(!json.is_null());
        let text = CStr::from_ptr(json).to_str().expect("UTF-8 JSON");
        assert!(text.starts_with('{') && text.trim_end().ends_with('}'));
        assert!(text.contains("\"stat_version\": 4") && text.contains("\"rss_current\""));
        mi_free(json as *mut c_void);
    }
}

#[test]
fn libmimalloc_sys_arena_program() {
    // SAFETY: the arena's heap is used on this thread only; the managed region is leaked, so it
    // outlives the arena made of it; blocks are used within their size and freed once.
    unsafe {
        let mut id: mi_arena_id_t = 0;
        let err = mi_reserve_os_memory_ex(64 << 20, false, false, true, &mut id);
        assert_eq!(err, 0);
        let heap = mi_heap_new_in_arena(id);
        assert!(!heap.is_null());
        let p = mi_heap_malloc(heap, 1000) as *mut u8;
        assert!(!p.is_null());
        p.write_bytes(7, 1000);
        mi_free(p as *mut c_void);
        mi_heap_delete(heap);

        let layout = std::alloc::Layout::from_size_align(32 << 20, 4 << 20).unwrap();
        let region = std::alloc::alloc(layout);
        assert!(!region.is_null());
        let mut managed: mi_arena_id_t = 0;
        let start: *const c_void = region as *const c_void;
        assert!(mi_manage_os_memory_ex(
            start,
            32 << 20,
            true,
            false,
            false,
            -1,
            true,
            &mut managed
        ));
        assert_ne!(managed, id);
        let heap = mi_heap_new_in_arena(managed);
        let q = mi_heap_malloc(heap, 5000) as *mut u8;
        assert!(
            q >= region && q < region.add(32 << 20),
            "the block lies in the managed region"
        );
        mi_free(q as *mut c_void);
        mi_heap_delete(heap);
    }
}
