//! An empty segment that a thread caches and takes again for the same kind of pages keeps what
//! it knew of its pages' memory: a page that is still resident and last held a size class is
//! taken for that class again before a page that lies earlier in the segment, and a resident
//! page the new use does not take still goes back to the OS after the purge delay. Before,
//! a reused segment's pages all looked never used: the first one was taken whatever it had
//! held, and the resident ones left over were never purged while the segment lived.
//! Blocks come from `mi_malloc` only (Rust's own allocations go to the system allocator). One
//! test: purge_delay is process-wide.

use core::ffi::c_void;
use mimalloc_sys::*;
use std::time::Duration;

const DELAY_MS: i64 = 100;

/// Medium pages are 512 KiB, aligned within their segment; nothing else this thread allocates
/// is of a medium size, so the thread's only medium segment is the one under test.
fn medium_page_of(p: *mut c_void) -> usize {
    p as usize >> 19
}

fn purged() -> i64 {
    mimalloc::stats().purged.total
}

/// Allocates `size` bytes (checked) and writes all of them, so their OS pages are resident.
fn alloc_filled(size: usize) -> *mut c_void {
    // SAFETY: a plain allocation, checked for NULL; the writes stay inside its `size` bytes.
    unsafe {
        let p = mi_malloc(size);
        assert!(!p.is_null(), "mi_malloc({size})");
        core::ptr::write_bytes(p as *mut u8, 0x5a, size);
        p
    }
}

#[test]
fn a_reused_segment_remembers_which_pages_are_resident() {
    // SAFETY: an option setter, before any page is freed.
    unsafe { mi_option_set(mi_option_purge_delay, DELAY_MS as _) };
    // A fresh thread: every thread starts with the plain delay and segments of its own.
    let (pages, found, purged_after) = std::thread::spawn(|| {
        const A: usize = 20_000; // two medium classes
        const B: usize = 40_000;
        let a = alloc_filled(A);
        let b = alloc_filled(B);
        let pages = (medium_page_of(a), medium_page_of(b));
        assert_ne!(pages.0, pages.1, "two classes share no page");
        // SAFETY: both blocks are live and freed once; plain collects free the emptied pages
        // after their retirement heartbeats, and with them the segment, into the thread's
        // cache. All of it takes far less than the purge delay.
        unsafe {
            mi_free(a);
            mi_free(b);
            for _ in 0..32 {
                mi_collect(false);
            }
        }
        // The next medium block takes the cached segment again. The page that held class A
        // comes first in it.
        let b2 = alloc_filled(B);
        let found = medium_page_of(b2);
        // The page of class A, resident, is not taken: after the delay it goes back.
        let before = purged();
        std::thread::sleep(Duration::from_millis(3 * DELAY_MS as u64));
        // SAFETY: no preconditions.
        unsafe { mi_collect(false) };
        let purged_after = purged() - before;
        // SAFETY: live, freed once.
        unsafe { mi_free(b2) };
        (pages, found, purged_after)
    })
    .join()
    .expect("the allocating thread panicked");
    assert_eq!(
        found, pages.1,
        "class B takes the page that held class B in the reused segment (class A's page: {:#x})",
        pages.0
    );
    assert!(
        purged_after >= (A_PAGE_MIN as i64),
        "the resident page left in the reused segment was purged after the delay: {purged_after} bytes purged"
    );
}

/// At least this much of class A's page is purged: its 512 KiB less the segment header (page
/// 0) and a guard page in secure builds.
const A_PAGE_MIN: usize = 256 * 1024;
