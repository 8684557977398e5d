//! The parts of upstream's v2.4 API that are not about arenas: sized allocation (`mi_u*`), the
//! `mi_new` family's out-of-memory contract, wide and multibyte strings, the Windows-style
//! helpers (`mi_dupenv_s`, `mi_wdupenv_s`, `mi_aligned_recalloc`, `mi__expand`), process and
//! collection entry points and the page-utilisation query. Each function is checked on good
//! input and on the bad input its documentation names (overflowing counts, bad alignments, NULL
//! arguments, buffer sizes). Outcomes that end or reconfigure the process run in a child (this
//! binary re-executed with a scenario name).

use core::ffi::{c_char, c_void, CStr};
use mimalloc_sys::*;
use mimalloc_testkit::child::{aborted, rerun, SCENARIO_TEST};
use mimalloc_testkit::errno::{clear_errno, errno};
use std::process::Output;
use std::sync::Mutex;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// Reads and writes of the process environment in this binary take turns (C's getenv is not
/// safe against a concurrent setenv).
static ENV: Mutex<()> = Mutex::new(());

/// Sets (or, with `None`, removes) a variable where the C library's getenv looks: on Windows
/// that is the C runtime's own copy, which `std::env::set_var` does not update.
fn set_c_env(name: &str, value: Option<&str>) {
    #[cfg(not(windows))]
    match value {
        Some(v) => std::env::set_var(name, v),
        None => std::env::remove_var(name),
    }
    #[cfg(windows)]
    {
        unsafe extern "C" {
            fn _putenv_s(name: *const c_char, value: *const c_char) -> i32;
        }
        let name = std::ffi::CString::new(name).unwrap();
        let value = std::ffi::CString::new(value.unwrap_or("")).unwrap();
        // SAFETY: two NUL-terminated strings; an empty value removes the variable.
        assert_eq!(unsafe { _putenv_s(name.as_ptr(), value.as_ptr()) }, 0);
    }
}

/// Sizes across the small, medium, large and huge classes.
const SIZES: &[usize] = &[
    0,
    1,
    7,
    8,
    100,
    1000,
    MI_SMALL_SIZE_MAX,
    5000,
    100 * KIB,
    600 * KIB,
    5 * MIB,
];

/// Every usable byte is writable and, when `zero`, reads as zero first.
///
/// # Safety
/// `p` is a live block of at least `usable` bytes.
unsafe fn check_block(p: *mut c_void, usable: usize, zero: bool) {
    let b = p as *mut u8;
    for i in 0..usable {
        // SAFETY: within the block (caller).
        unsafe {
            if zero {
                assert_eq!(*b.add(i), 0, "byte {i} of {usable} not zeroed");
            }
            *b.add(i) = 0xA5;
        }
    }
}

#[test]
fn sized_allocation_reports_the_usable_size() {
    // SAFETY: every block is used within the size reported for it and freed once.
    unsafe {
        for &size in SIZES {
            let mut bs = usize::MAX;
            let p = mi_umalloc(size, &mut bs);
            assert!(!p.is_null());
            assert_eq!(bs, mi_usable_size(p), "mi_umalloc({size})");
            assert!(bs >= size);
            check_block(p, bs, false);
            let mut freed = 0;
            mi_ufree(p, &mut freed);
            assert_eq!(freed, bs, "mi_ufree reports the size it frees");

            let mut bs = usize::MAX;
            let p = mi_ucalloc(size, 1, &mut bs);
            assert!(!p.is_null() && bs >= size && bs == mi_usable_size(p));
            check_block(p, bs, true);
            mi_free(p);

            // a NULL out parameter is allowed everywhere
            let p = mi_umalloc(size, core::ptr::null_mut());
            assert!(!p.is_null());
            mi_ufree(p, core::ptr::null_mut());

            for align in [8, 16, 64, 4096, 64 * KIB, MIB] {
                let mut bs = usize::MAX;
                let p = mi_umalloc_aligned(size, align, &mut bs);
                assert!(
                    !p.is_null() && p as usize % align == 0,
                    "{size} aligned {align}"
                );
                assert_eq!(bs, mi_usable_size(p));
                assert!(bs >= size);
                check_block(p, bs, false);
                mi_free(p);
                let mut bs = usize::MAX;
                let p = mi_uzalloc_aligned(size, align, &mut bs);
                assert!(!p.is_null() && p as usize % align == 0);
                assert_eq!(bs, mi_usable_size(p));
                check_block(p, bs, true);
                mi_free(p);
            }
        }
        for size in [0, 1, 8, 100, MI_SMALL_SIZE_MAX] {
            let mut bs = 0;
            let p = mi_umalloc_small(size, &mut bs);
            assert!(!p.is_null() && bs >= size && bs == mi_usable_size(p));
            check_block(p, bs, false);
            mi_free(p);
            let p = mi_uzalloc_small(size, &mut bs);
            assert!(!p.is_null() && bs >= size && bs == mi_usable_size(p));
            check_block(p, bs, true);
            mi_free(p);
        }
    }
}

#[test]
fn heap_sized_allocation_reports_the_usable_size() {
    // SAFETY: the heap is live on this thread; blocks are used within their reported sizes and
    // go with the heap.
    unsafe {
        let heap = mi_heap_new();
        for &size in SIZES {
            // several per size: the first may come from the slow path, later ones from a free list
            for _ in 0..3 {
                let mut bs = usize::MAX;
                let p = mi_heap_umalloc(heap, size, &mut bs);
                assert!(!p.is_null() && mi_heap_contains_block(heap, p));
                assert_eq!(bs, mi_usable_size(p), "mi_heap_umalloc({size})");
                assert!(bs >= size);
                check_block(p, bs, false);
                let mut bs = usize::MAX;
                let z = mi_heap_uzalloc(heap, size, &mut bs);
                assert!(!z.is_null() && bs == mi_usable_size(z) && bs >= size);
                check_block(z, bs, true);
            }
        }
        let mut bs = 5;
        assert!(mi_heap_umalloc(heap, usize::MAX, &mut bs).is_null());
        assert_eq!(bs, 0);
        assert!(!mi_heap_uzalloc(heap, 10, core::ptr::null_mut()).is_null());
        mi_heap_destroy(heap);
    }
}

#[test]
fn sized_reallocation_reports_both_sizes() {
    // SAFETY: blocks are used within their reported sizes and freed once.
    unsafe {
        let (mut pre, mut post) = (usize::MAX, usize::MAX);
        let p = mi_urealloc(core::ptr::null_mut(), 40, &mut pre, &mut post);
        assert!(!p.is_null());
        assert_eq!(pre, 0, "a NULL block has no size");
        assert_eq!(post, mi_usable_size(p));
        core::ptr::write_bytes(p as *mut u8, 0x3C, 40);
        let old = post;
        let q = mi_urealloc(p, 10_000, &mut pre, &mut post);
        assert!(!q.is_null());
        assert_eq!(pre, old);
        assert_eq!(post, mi_usable_size(q));
        assert!(post >= 10_000);
        assert!(
            (0..40).all(|i| *(q as *mut u8).add(i) == 0x3C),
            "contents kept"
        );
        let mut freed = 0;
        mi_ufree(q, &mut freed);
        assert_eq!(freed, post);
        mi_ufree(core::ptr::null_mut(), &mut freed);
        assert_eq!(freed, 0, "mi_ufree(NULL) reports 0");
    }
}

#[test]
fn sized_allocation_bad_input_fails_with_size_zero() {
    // SAFETY: failed calls return NULL and leave `keep` alone, which is freed once at the end.
    unsafe {
        mi_free(mi_malloc(16)); // a recycled small block must never come back for these
        for size in [usize::MAX, isize::MAX as usize + 1, usize::MAX - 4096] {
            let mut bs = 77;
            clear_errno();
            assert!(mi_umalloc(size, &mut bs).is_null());
            assert_eq!((bs, errno()), (0, libc::ENOMEM), "mi_umalloc({size})");
            bs = 77;
            assert!(mi_umalloc_aligned(size, 64, &mut bs).is_null());
            assert_eq!(bs, 0);
            bs = 77;
            assert!(mi_uzalloc_aligned(size, 4096, &mut bs).is_null());
            assert_eq!(bs, 0);
        }
        // count * size overflows, both ways round
        let half = 1usize << (usize::BITS / 2 + 1);
        for (count, size) in [(usize::MAX / 2, 3), (3, usize::MAX / 2), (half, half)] {
            let mut bs = 77;
            assert!(mi_ucalloc(count, size, &mut bs).is_null());
            assert_eq!(bs, 0);
        }
        // alignment that is not a power of two
        for align in [0, 3, 24, 100, 4097] {
            let mut bs = 77;
            clear_errno();
            assert!(mi_umalloc_aligned(16, align, &mut bs).is_null());
            assert_eq!((bs, errno()), (0, libc::EINVAL), "alignment {align}");
        }
        // a failed realloc keeps the block and still reports its size
        let keep = mi_malloc(100) as *mut u8;
        core::ptr::write_bytes(keep, 0x11, 100);
        let (mut pre, mut post) = (0, 77);
        let q = mi_urealloc(keep as *mut c_void, usize::MAX - 8, &mut pre, &mut post);
        assert!(q.is_null());
        assert_eq!(pre, mi_usable_size(keep as *const c_void));
        assert_eq!(post, 0);
        assert!((0..100).all(|i| *keep.add(i) == 0x11), "block untouched");
        mi_free(keep as *mut c_void);
    }
}

/// A NUL-terminated wide string of ASCII text.
fn wide(s: &str) -> Vec<wchar_t> {
    s.bytes().map(|b| b as wchar_t).chain([0]).collect()
}

#[test]
fn wide_and_multibyte_strings_are_duplicated() {
    // SAFETY: the strings are NUL-terminated; copies are read within their length and freed once.
    unsafe {
        let w = wide("wide text, more than a word long");
        let copy = mi_wcsdup(w.as_ptr());
        assert!(!copy.is_null() && !std::ptr::eq(copy, w.as_ptr()));
        assert!(mi_is_in_heap_region(copy as *const c_void));
        assert_eq!(core::slice::from_raw_parts(copy, w.len()), &w[..]);
        assert!(mi_usable_size(copy as *const c_void) >= w.len() * core::mem::size_of::<wchar_t>());
        mi_free(copy as *mut c_void);
        let empty = mi_wcsdup(wide("").as_ptr());
        assert!(!empty.is_null() && *empty == 0);
        mi_free(empty as *mut c_void);
        assert!(mi_wcsdup(core::ptr::null()).is_null());

        let text = b"multi\xC3\xA9byte\0";
        let copy = mi_mbsdup(text.as_ptr());
        assert!(!copy.is_null());
        assert_eq!(
            CStr::from_ptr(copy as *const c_char).to_bytes_with_nul(),
            text
        );
        mi_free(copy as *mut c_void);
        assert!(mi_mbsdup(core::ptr::null()).is_null());
    }
}

#[test]
fn dupenv_s_copies_the_variable_with_its_buffer_size() {
    let _env = ENV.lock().unwrap();
    set_c_env("MI_API_V24_DUPENV", Some("some value"));
    set_c_env("MI_API_V24_UNSET", None);
    // SAFETY: out parameters point to locals; copies are freed once.
    unsafe {
        let mut buf: *mut c_char = 1 as *mut c_char;
        let mut size = 99;
        assert_eq!(
            mi_dupenv_s(&mut buf, &mut size, c"MI_API_V24_DUPENV".as_ptr()),
            0
        );
        assert!(!buf.is_null() && mi_is_in_heap_region(buf as *const c_void));
        assert_eq!(CStr::from_ptr(buf), c"some value");
        assert_eq!(
            size,
            "some value".len() + 1,
            "the size counts the terminator"
        );
        mi_free(buf as *mut c_void);

        // the size pointer may be NULL
        let mut buf: *mut c_char = core::ptr::null_mut();
        assert_eq!(
            mi_dupenv_s(
                &mut buf,
                core::ptr::null_mut(),
                c"MI_API_V24_DUPENV".as_ptr()
            ),
            0
        );
        assert_eq!(CStr::from_ptr(buf), c"some value");
        mi_free(buf as *mut c_void);

        // a variable that is not set: success with nothing
        let mut buf: *mut c_char = 1 as *mut c_char;
        let mut size = 99;
        assert_eq!(
            mi_dupenv_s(&mut buf, &mut size, c"MI_API_V24_UNSET".as_ptr()),
            0
        );
        assert!(buf.is_null());
        assert_eq!(size, 0);

        // names are matched exactly, not case-insensitively
        #[cfg(unix)]
        {
            let mut buf: *mut c_char = 1 as *mut c_char;
            assert_eq!(
                mi_dupenv_s(&mut buf, &mut size, c"mi_api_v24_dupenv".as_ptr()),
                0
            );
            assert!(buf.is_null());
        }

        // NULL arguments
        let mut size = 99;
        assert_eq!(
            mi_dupenv_s(
                core::ptr::null_mut(),
                &mut size,
                c"MI_API_V24_DUPENV".as_ptr()
            ),
            libc::EINVAL
        );
        let mut buf: *mut c_char = core::ptr::null_mut();
        assert_eq!(
            mi_dupenv_s(&mut buf, &mut size, core::ptr::null()),
            libc::EINVAL
        );
        assert!(buf.is_null());
    }
}

#[test]
fn wdupenv_s_copies_the_variable_as_wide_text() {
    let _env = ENV.lock().unwrap();
    set_c_env("MI_API_V24_WDUPENV", Some("wide value"));
    set_c_env("MI_API_V24_WUNSET", None);
    // SAFETY: out parameters point to locals; copies are freed once.
    unsafe {
        let mut buf: *mut wchar_t = core::ptr::null_mut();
        let mut size = 0;
        let name = wide("MI_API_V24_WDUPENV");
        assert_eq!(mi_wdupenv_s(&mut buf, &mut size, name.as_ptr()), 0);
        let expect = wide("wide value");
        assert_eq!(
            size,
            expect.len(),
            "the size counts wide characters, terminator included"
        );
        assert!(!buf.is_null());
        assert_eq!(core::slice::from_raw_parts(buf, size), &expect[..]);
        mi_free(buf as *mut c_void);

        let mut buf: *mut wchar_t = 1 as *mut wchar_t;
        let mut size = 5;
        assert_eq!(
            mi_wdupenv_s(&mut buf, &mut size, wide("MI_API_V24_WUNSET").as_ptr()),
            0
        );
        assert!(buf.is_null());
        assert_eq!(size, 0);

        assert_eq!(
            mi_wdupenv_s(core::ptr::null_mut(), &mut size, name.as_ptr()),
            libc::EINVAL
        );
        let mut buf: *mut wchar_t = core::ptr::null_mut();
        assert_eq!(
            mi_wdupenv_s(&mut buf, &mut size, core::ptr::null()),
            libc::EINVAL
        );
    }
}

#[test]
fn aligned_recalloc_grows_zeroed_and_aligned() {
    // SAFETY: blocks are used within their sizes and freed once; failed calls keep theirs.
    unsafe {
        let p = mi_aligned_recalloc(core::ptr::null_mut(), 10, 8, 256) as *mut u8;
        assert!(!p.is_null() && p as usize % 256 == 0);
        assert!((0..80).all(|i| *p.add(i) == 0));
        core::ptr::write_bytes(p, 0x42, 80);
        let q = mi_aligned_recalloc(p as *mut c_void, 1000, 8, 256) as *mut u8;
        assert!(!q.is_null() && q as usize % 256 == 0);
        assert!((0..80).all(|i| *q.add(i) == 0x42), "old contents kept");
        assert!((80..8000).all(|i| *q.add(i) == 0), "growth zeroed");
        // overflowing count: NULL, the block stays valid
        assert!(mi_aligned_recalloc(q as *mut c_void, usize::MAX / 4, 8, 256).is_null());
        assert_eq!(*q, 0x42);
        // not a power of two
        clear_errno();
        assert!(mi_aligned_recalloc(q as *mut c_void, 2, 8, 48).is_null());
        assert_eq!(errno(), libc::EINVAL);
        assert_eq!(*q, 0x42);
        mi_free(q as *mut c_void);

        let off = 16;
        let p = mi_aligned_offset_recalloc(core::ptr::null_mut(), 4, 32, 128, off) as *mut u8;
        assert!(!p.is_null() && (p as usize + off) % 128 == 0);
        assert!((0..128).all(|i| *p.add(i) == 0));
        core::ptr::write_bytes(p, 0x24, 128);
        let q = mi_aligned_offset_recalloc(p as *mut c_void, 100, 32, 128, off) as *mut u8;
        assert!(!q.is_null() && (q as usize + off) % 128 == 0);
        assert!((0..128).all(|i| *q.add(i) == 0x24));
        assert!((128..3200).all(|i| *q.add(i) == 0));
        mi_free(q as *mut c_void);
    }
}

#[test]
fn expand_resizes_in_place_or_fails_with_enomem() {
    // SAFETY: the block is used within its usable size and freed once.
    unsafe {
        let p = mi_malloc(100);
        let usable = mi_usable_size(p);
        assert_eq!(mi__expand(p, 50), p, "shrinking stays in place");
        assert_eq!(
            mi__expand(p, usable),
            p,
            "up to the usable size stays in place"
        );
        clear_errno();
        assert!(mi__expand(p, usable + 1).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        clear_errno();
        assert!(mi__expand(p, usize::MAX).is_null());
        assert_eq!(errno(), libc::ENOMEM);
        core::ptr::write_bytes(p as *mut u8, 1, usable); // still the caller's
        mi_free(p);
        assert!(mi__expand(core::ptr::null_mut(), 10).is_null());
    }
}

#[test]
fn new_family_allocates_and_nothrow_forms_return_null() {
    // SAFETY: blocks are used within their sizes and freed once. No C++ runtime is linked into
    // this test, so there is no new handler and the nothrow forms fail with NULL.
    unsafe {
        for &size in SIZES {
            let p = mi_new(size);
            assert!(!p.is_null() && mi_usable_size(p) >= size);
            mi_free(p);
            let p = mi_new_nothrow(size);
            assert!(!p.is_null());
            mi_free(p);
            let p = mi_new_aligned(size, 4096);
            assert!(!p.is_null() && p as usize % 4096 == 0);
            mi_free(p);
            let p = mi_new_aligned_nothrow(size, 128);
            assert!(!p.is_null() && p as usize % 128 == 0);
            mi_free(p);
        }
        let p = mi_new_n(100, 24) as *mut u8;
        assert!(mi_usable_size(p as *const c_void) >= 2400);
        core::ptr::write_bytes(p, 7, 2400);
        let p = mi_new_realloc(p as *mut c_void, 10_000) as *mut u8;
        assert!((0..2400).all(|i| *p.add(i) == 7));
        let p = mi_new_reallocn(p as *mut c_void, 1000, 24) as *mut u8;
        assert!(mi_usable_size(p as *const c_void) >= 24_000);
        assert!((0..2400).all(|i| *p.add(i) == 7));
        mi_free(p as *mut c_void);

        let heap = mi_heap_new();
        let a = mi_heap_alloc_new(heap, 300);
        let b = mi_heap_alloc_new_n(heap, 30, 10);
        assert!(mi_heap_contains_block(heap, a) && mi_heap_contains_block(heap, b));
        assert!(mi_usable_size(b) >= 300);
        mi_heap_destroy(heap);

        // out of memory and bad requests: NULL from the nothrow forms
        assert!(mi_new_nothrow(usize::MAX).is_null());
        assert!(mi_new_nothrow(isize::MAX as usize + 1).is_null());
        assert!(mi_new_aligned_nothrow(usize::MAX - 64, 64).is_null());
        assert!(
            mi_new_aligned_nothrow(64, 3).is_null(),
            "alignment not a power of two"
        );
        assert!(mi_new_aligned_nothrow(64, 0).is_null());
    }
}

#[test]
fn page_utilization_is_reported_for_the_heaps_own_pages() {
    // SAFETY: the heaps are live on this thread; blocks are freed with their heaps.
    unsafe {
        let heap = mi_heap_new();
        let other = mi_heap_new();
        let p = mi_heap_malloc(heap, 64);
        // one block in a fresh page
        assert!(mi_unsafe_heap_page_is_under_utilized(heap, p, 50));
        assert!(
            !mi_unsafe_heap_page_is_under_utilized(heap, p, 0),
            "nothing is under 0 %"
        );
        assert!(
            !mi_unsafe_heap_page_is_under_utilized(other, p, 100),
            "not that heap's page"
        );
        assert!(!mi_unsafe_heap_page_is_under_utilized(
            heap,
            core::ptr::null_mut(),
            100
        ));
        let mut local = 0u64;
        assert!(!mi_unsafe_heap_page_is_under_utilized(
            heap,
            &mut local as *mut u64 as *mut c_void,
            100
        ));
        // fill the page: many more 64-byte blocks than one page holds
        let blocks: Vec<*mut c_void> = (0..4096).map(|_| mi_heap_malloc(heap, 64)).collect();
        assert!(
            !mi_unsafe_heap_page_is_under_utilized(heap, p, 50),
            "the page is full"
        );
        assert!(
            mi_unsafe_heap_page_is_under_utilized(heap, p, 101),
            "but under 101 %"
        );
        // free all but the first block of its page: under-utilised again
        for &b in &blocks {
            mi_free(b);
        }
        assert!(mi_unsafe_heap_page_is_under_utilized(heap, p, 10));
        mi_heap_destroy(heap);
        mi_heap_delete(other);
    }
}

#[test]
fn threadpool_marking_leaves_allocation_working() {
    std::thread::spawn(|| {
        // SAFETY: no preconditions; the block is freed once.
        unsafe {
            mi_thread_set_in_threadpool();
            mi_thread_set_in_threadpool(); // idempotent
            let p = mi_malloc(1000);
            assert!(!p.is_null() && mi_usable_size(p) >= 1000);
            mi_free(p);
        }
    })
    .join()
    .unwrap();
}

// ---- child-process scenarios --------------------------------------------------------------

const SCENARIO_VAR: &str = "MI_API_V24_SCENARIO";

unsafe extern "C" fn collect_text(msg: *const c_char, arg: *mut c_void) {
    // SAFETY: `arg` is the String the scenario registered; `msg` is a C string.
    unsafe { (*(arg as *mut String)).push_str(&CStr::from_ptr(msg).to_string_lossy()) };
}

/// Bytes committed now, process-wide.
/// Bytes purged so far (given back to the OS, or marked reusable by it). Not the committed
/// total: where arenas are committed whole at reservation (Linux overcommits), that does not
/// move when memory is purged with MADV_FREE.
fn stats_purged() -> i64 {
    // SAFETY: fills the struct it is given, up to the size passed.
    unsafe {
        let mut s: mi_stats_t = core::mem::zeroed();
        mi_stats_get(core::mem::size_of::<mi_stats_t>(), &mut s);
        s.purged.total
    }
}

fn run_scenario(name: &str) {
    // SAFETY: each scenario runs alone in its child process; blocks are freed once.
    unsafe {
        match name {
            "new_oom" => {
                let _ = mi_new(usize::MAX);
                println!("mi_new returned");
            }
            "new_n_overflow" => {
                let _ = mi_new_n(usize::MAX / 2, 3);
                println!("mi_new_n returned");
            }
            "new_aligned_bad" => {
                let _ = mi_new_aligned(64, 3);
                println!("mi_new_aligned returned");
            }
            "process_done" => {
                mi_option_set(mi_option_show_stats, 1);
                mi_free(mi_malloc(100));
                mi_process_done();
                eprintln!("<after process_done>");
                mi_process_done(); // a second call does nothing; neither does the exit
            }
            "options_print" => {
                let mut text = String::new();
                mi_register_output(Some(collect_text), &mut text as *mut String as *mut c_void);
                mi_options_print();
                mi_register_output(None, core::ptr::null_mut());
                print!("{text}");
            }
            "collect_reduce" => {
                // an hour's purge delay keeps freed memory cached until a forced collect
                mi_option_set(mi_option_purge_delay, 3_600_000);
                let blocks: Vec<*mut c_void> = (0..200).map(|_| mi_malloc(100 * KIB)).collect();
                for b in blocks {
                    mi_free(b);
                }
                let before = stats_purged();
                mi_collect_reduce(usize::MAX); // owns fewer: only a normal collect
                let kept = stats_purged() - before;
                mi_collect_reduce(0);
                let given_back = stats_purged() - before - kept;
                println!("purged by the normal collect {kept}, by the forced one {given_back}");
                assert!(
                    kept < MIB as i64,
                    "the normal collect keeps the freed memory"
                );
                assert!(
                    given_back >= 8 * MIB as i64,
                    "a reduce to 0 gives the freed 20 MB back"
                );
            }
            other => panic!("unknown scenario {other}"),
        }
    }
}

#[test]
fn scenario_child() {
    if let Ok(name) = std::env::var(SCENARIO_VAR) {
        run_scenario(&name);
    }
}

fn run_child(name: &str, envs: &[(&str, &str)]) -> Output {
    rerun(SCENARIO_TEST)
        .env(SCENARIO_VAR, name)
        .envs(envs.iter().copied())
        .output()
        .expect("run the child")
}

#[test]
fn throwing_new_without_a_cxx_runtime_reports_and_aborts() {
    for (name, message) in [
        ("new_oom", "out of memory in a 'new' allocation"),
        ("new_n_overflow", "impossible 'new' allocation request"),
        ("new_aligned_bad", "impossible 'new' allocation request"),
    ] {
        let out = run_child(name, &[("MIMALLOC_SHOW_ERRORS", "1")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(aborted(&out.status), "{name}: {:?}\n{stderr}", out.status);
        assert!(stderr.contains(message), "{name}: {stderr}");
        assert!(!stdout.contains("returned"), "{name} never returns NULL");
    }
}

#[test]
fn process_done_reports_once_when_called_early() {
    let out = run_child("process_done", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let marker = stderr.find("<after process_done>").expect("marker printed");
    let reports = stderr.matches("process: elapsed").count();
    assert_eq!(reports, 1, "one statistics report:\n{stderr}");
    assert!(
        stderr.find("process: elapsed").unwrap() < marker,
        "the report came from the explicit call:\n{stderr}"
    );
}

#[test]
fn options_print_lists_every_option_with_its_source() {
    let out = run_child("options_print", &[("MIMALLOC_MAX_WARNINGS", "11")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains("option '")).collect();
    assert_eq!(lines.len(), _mi_option_last as usize, "{stdout}");
    assert!(stdout.contains("option 'show_errors': "), "{stdout}");
    assert!(stdout.contains("option 'purge_delay': "), "{stdout}");
    assert!(
        stdout.contains("option 'max_warnings': 11 (environment)"),
        "{stdout}"
    );
}

#[test]
fn collect_reduce_forces_only_above_the_target() {
    let out = run_child("collect_reduce", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("purged by the normal collect"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
