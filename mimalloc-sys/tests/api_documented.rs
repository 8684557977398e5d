//! Failure contracts that `mimalloc.h` documents and no other test pins down: what errno says
//! and what the error hook hears (they differ for a too-large request or product), calls on a heap from a
//! thread that does not own it, `mi_reallocarr` and `mi_posix_memalign` leaving the caller's
//! pointer alone on failure, `mi_stats_get` writing only the bytes it is given, and option
//! numbers outside the table.

use core::ffi::{c_int, c_void};
use std::cell::RefCell;
use std::sync::Once;

use mimalloc_sys::*;

/// This thread's C `errno`, wherever the C library keeps it.
fn errno_slot() -> *mut i32 {
    // SAFETY: each returns this thread's errno slot; no preconditions.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return unsafe { libc::__errno_location() };
    // SAFETY: as above.
    #[cfg(any(target_vendor = "apple", target_os = "freebsd"))]
    return unsafe { libc::__error() };
    // The C runtime's (msvcrt or UCRT: both export `_errno`), which the C code sets.
    #[cfg(windows)]
    {
        unsafe extern "C" {
            fn _errno() -> *mut i32;
        }
        // SAFETY: as above.
        unsafe { _errno() }
    }
}

fn errno() -> i32 {
    // SAFETY: a valid slot of this thread.
    unsafe { *errno_slot() }
}

fn clear_errno() {
    // SAFETY: as above.
    unsafe { *errno_slot() = 0 };
}

thread_local! {
    /// The codes the error hook heard on this thread (the hook runs where the error happened,
    /// so tests running in parallel do not see each other's).
    static HEARD: RefCell<Vec<c_int>> = const { RefCell::new(Vec::new()) };
}

unsafe extern "C" fn record_error(err: c_int, _arg: *mut c_void) {
    HEARD.with(|h| h.borrow_mut().push(err));
}

/// Registers the recording hook (process-wide, once) and forgets what this thread heard so far.
fn listen() {
    static HOOK: Once = Once::new();
    // SAFETY: the hook only records the code in a thread-local vector.
    HOOK.call_once(|| unsafe { mi_register_error(Some(record_error), core::ptr::null_mut()) });
    HEARD.with(|h| h.borrow_mut().clear());
}

/// What the hook heard on this thread since `listen`, emptied.
fn heard() -> Vec<c_int> {
    HEARD.with(|h| core::mem::take(&mut *h.borrow_mut()))
}

#[test]
fn errno_and_the_error_hook_tell_failures_apart() {
    listen();
    // SAFETY: every call is refused without allocating, or frees what it allocates.
    unsafe {
        // above PTRDIFF_MAX: errno ENOMEM, the hook EOVERFLOW
        clear_errno();
        assert!(mi_malloc(isize::MAX as usize + 1).is_null());
        assert_eq!(errno(), libc::ENOMEM, "mi_malloc above PTRDIFF_MAX");
        assert_eq!(
            heard(),
            [libc::EOVERFLOW],
            "hook for mi_malloc above PTRDIFF_MAX"
        );

        // an alignment that is not a power of two: EINVAL to both
        clear_errno();
        assert!(mi_malloc_aligned(64, 24).is_null());
        assert_eq!(errno(), libc::EINVAL, "mi_malloc_aligned(64, 24)");
        assert_eq!(
            heard(),
            [libc::EINVAL],
            "hook for mi_malloc_aligned(64, 24)"
        );

        // size + alignment past PTRDIFF_MAX: errno ENOMEM, the hook EOVERFLOW
        clear_errno();
        assert!(mi_malloc_aligned(isize::MAX as usize - 100, 4096).is_null());
        assert_eq!(errno(), libc::ENOMEM, "mi_malloc_aligned near PTRDIFF_MAX");
        assert_eq!(
            heard(),
            [libc::EOVERFLOW],
            "hook for mi_malloc_aligned near PTRDIFF_MAX"
        );

        // an offset with an alignment above 64 KiB: errno ENOMEM, the hook EOVERFLOW
        clear_errno();
        assert!(mi_malloc_aligned_at(100, 128 << 10, 8).is_null());
        assert_eq!(errno(), libc::ENOMEM, "mi_malloc_aligned_at above 64 KiB");
        assert_eq!(
            heard(),
            [libc::EOVERFLOW],
            "hook for mi_malloc_aligned_at above 64 KiB"
        );

        // an overflowing count * size: errno ENOMEM, the hook EOVERFLOW
        clear_errno();
        assert!(mi_calloc(usize::MAX / 2, 3).is_null());
        assert_eq!(errno(), libc::ENOMEM, "mi_calloc overflow");
        assert_eq!(heard(), [libc::EOVERFLOW], "hook for mi_calloc overflow");

        // mi_expand fails quietly, mi__expand with ENOMEM; neither touches the block
        let p = mi_malloc(100) as *mut u8;
        assert!(!p.is_null());
        core::ptr::write_bytes(p, 0x5a, 100);
        let grow = mi_usable_size(p as *const c_void) + 1;
        clear_errno();
        assert!(mi_expand(p as *mut c_void, grow).is_null());
        assert_eq!(errno(), 0, "mi_expand sets no errno");
        assert!(mi__expand(p as *mut c_void, grow).is_null());
        assert_eq!(errno(), libc::ENOMEM, "mi__expand");
        assert!(heard().is_empty(), "hook for a failed expand");
        assert!(
            (0..100).all(|i| *p.add(i) == 0x5a),
            "expand changed the block"
        );
        mi_free(p as *mut c_void);
    }
}

/// A heap pointer that may cross to another thread (the test keeps the owner alive).
#[derive(Clone, Copy)]
struct HeapPtr(*mut mi_heap_t);
// SAFETY: only passed to functions documented to refuse other threads.
unsafe impl Send for HeapPtr {}

#[test]
fn heaps_refuse_other_threads() {
    // SAFETY: `heap` is this thread's; the other thread only makes calls the header documents
    // as refused (or harmless) for a heap it does not own.
    unsafe {
        let heap = HeapPtr(mi_heap_new());
        assert!(!heap.0.is_null());
        let block = mi_heap_malloc(heap.0, 200) as *mut u8;
        assert!(!block.is_null());
        core::ptr::write_bytes(block, 0x3c, 200);
        assert!(mi_heap_set_memory_limit(heap.0, 64 << 20));

        std::thread::spawn(move || {
            listen();
            let heap = heap;
            assert!(
                !mi_heap_set_memory_limit(heap.0, 1 << 20),
                "limit set from another thread"
            );
            mi_heap_guarded_set_sample_rate(heap.0, 1, 0);
            mi_heap_guarded_set_size_bound(heap.0, 0, 0);
            mi_heap_delete(heap.0);
            mi_heap_destroy(heap.0);
            let mine = mi_heap_get_default();
            assert_eq!(
                mi_heap_set_default(heap.0),
                mine,
                "set_default returns the current default"
            );
            assert_eq!(
                mi_heap_get_default(),
                mine,
                "another thread's heap became the default"
            );
            assert_eq!(heard(), [libc::EINVAL; 5], "one EINVAL per refused call");
        })
        .join()
        .expect("the other thread");

        // the heap is intact and still this thread's
        assert_eq!(mi_heap_get_memory_limit(heap.0), 64 << 20);
        assert!(mi_heap_contains_block(heap.0, block as *const c_void));
        assert!((0..200).all(|i| *block.add(i) == 0x3c), "the block changed");
        let more = mi_heap_malloc(heap.0, 5000);
        assert!(!more.is_null() && mi_heap_contains_block(heap.0, more));
        mi_free(more);
        mi_free(block as *mut c_void);
        mi_heap_delete(heap.0);
    }
}

#[test]
fn reallocarr_replaces_the_pointer_only_on_success() {
    // SAFETY: `p` is a live block until the final free; mi_reallocarr gets its address.
    unsafe {
        assert_eq!(mi_reallocarr(core::ptr::null_mut(), 4, 4), libc::EINVAL);
        let mut p = mi_malloc(16);
        assert!(!p.is_null());
        core::ptr::write_bytes(p as *mut u8, 0x21, 16);
        let before = p;
        let pp = &mut p as *mut *mut c_void as *mut c_void;
        assert_eq!(
            mi_reallocarr(pp, usize::MAX / 2, 3),
            libc::ENOMEM,
            "overflow"
        );
        assert_eq!(p, before, "the pointer changed on failure");
        assert_eq!(
            mi_reallocarr(pp, isize::MAX as usize, 2),
            libc::ENOMEM,
            "too large"
        );
        assert_eq!(p, before, "the pointer changed on failure");
        assert!(
            (0..16).all(|i| *(p as *const u8).add(i) == 0x21),
            "the block changed"
        );
        assert_eq!(mi_reallocarr(pp, 1000, 8), 0);
        assert!(mi_usable_size(p) >= 8000);
        assert!(
            (0..16).all(|i| *(p as *const u8).add(i) == 0x21),
            "contents not kept"
        );
        mi_free(p);
    }
}

#[test]
fn posix_memalign_leaves_the_out_pointer_alone_on_failure() {
    let sentinel = 0x1234usize as *mut c_void;
    let word = core::mem::size_of::<*mut c_void>();
    // SAFETY: the out pointer is a local; on success the block is freed.
    unsafe {
        assert_eq!(
            mi_posix_memalign(core::ptr::null_mut(), 64, 8),
            libc::EINVAL
        );
        // not a power of two, or a power of two below a pointer's size
        for align in [0, 3, 24, word / 2] {
            let mut out = sentinel;
            assert_eq!(
                mi_posix_memalign(&mut out, align, 8),
                libc::EINVAL,
                "alignment {align}"
            );
            assert_eq!(out, sentinel, "alignment {align}");
        }
        let mut out = sentinel;
        assert_eq!(
            mi_posix_memalign(&mut out, 64, isize::MAX as usize),
            libc::ENOMEM
        );
        assert_eq!(out, sentinel, "too large");
        assert_eq!(mi_posix_memalign(&mut out, 4096, 100), 0);
        assert!(!out.is_null() && out as usize % 4096 == 0);
        mi_free(out);
    }
}

#[test]
fn stats_get_writes_only_the_bytes_it_is_given() {
    const FILL: u8 = 0xa5;
    let full = core::mem::size_of::<mi_stats_t>();
    let head = 2 * core::mem::size_of::<usize>(); // `size` and `version`
    let mut buf = vec![FILL; full + 64];
    // SAFETY: every call writes at most the size it is given, inside `buf`.
    unsafe {
        mi_stats_get(0, buf.as_mut_ptr() as *mut mi_stats_t);
        mi_stats_get(full, core::ptr::null_mut());
        assert!(
            buf.iter().all(|&b| b == FILL),
            "a size of 0 wrote something"
        );

        mi_stats_get(head, buf.as_mut_ptr() as *mut mi_stats_t);
        let size = (buf.as_ptr() as *const usize).read_unaligned();
        let version = (buf.as_ptr() as *const usize).add(1).read_unaligned();
        assert_eq!((size, version), (full, MI_STAT_VERSION as usize));
        assert!(
            buf[head..].iter().all(|&b| b == FILL),
            "wrote past the prefix asked for"
        );

        // a caller that knows a larger struct gets the unknown tail zeroed
        mi_stats_get(full + 64, buf.as_mut_ptr() as *mut mi_stats_t);
        assert!(
            buf[full..].iter().all(|&b| b == 0),
            "the tail is not zeroed"
        );
        let stats = (buf.as_ptr() as *const mi_stats_t).read_unaligned();
        assert!(stats.threads.current >= 1);
    }
}

#[test]
fn option_numbers_outside_the_table_read_zero_and_set_nothing() {
    // SAFETY: the option calls take any integer; no real option is changed.
    unsafe {
        for bad in [_mi_option_last, _mi_option_last + 5, -1, c_int::MIN] {
            mi_option_set(bad, 77);
            mi_option_set_default(bad, 78);
            assert_eq!(mi_option_get(bad), 0, "option {bad}");
            assert!(!mi_option_is_enabled(bad), "option {bad}");
            assert_eq!(mi_option_get_size(bad), 0, "option {bad}");
            assert_eq!(mi_option_get_clamp(bad, 5, 9), 5, "option {bad} clamped");
        }
        // a size option reads in KiB, its size in bytes
        let kib = mi_option_get(mi_option_arena_reserve);
        assert!(kib > 0);
        assert_eq!(
            mi_option_get_size(mi_option_arena_reserve),
            kib as usize * 1024
        );
    }
}
