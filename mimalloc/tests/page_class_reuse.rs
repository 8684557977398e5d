//! A page allocation takes a free, still resident page that last held blocks of the same size
//! class before one of another class: blocks of a class start at the same offsets, so the OS
//! pages they touch are in memory already. One test: it sets purge_delay, which is
//! process-wide.

use core::ffi::c_void;
use mimalloc::MiMalloc;
use mimalloc_sys::*;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// Small pages are 64 KiB, aligned within their segment.
fn small_page_of(p: *mut c_void) -> usize {
    p as usize >> 16
}

/// Allocates `size` bytes (checked) and writes its first and last byte.
fn alloc(size: usize) -> *mut c_void {
    // SAFETY: a plain allocation, checked for NULL; both writes are inside its `size` bytes.
    unsafe {
        let p = mi_malloc(size);
        assert!(!p.is_null(), "mi_malloc({size})");
        *(p as *mut u8) = 1;
        *(p as *mut u8).add(size - 1) = 2;
        p
    }
}

#[test]
fn a_free_page_goes_back_to_its_size_class_first() {
    // SAFETY: an option setter; the long delay keeps the emptied pages resident (pending).
    unsafe { mi_option_set(mi_option_purge_delay, 60_000) };
    // A fresh thread, so its heap holds no pages of these classes, and its segments are its own.
    let pages = std::thread::spawn(|| {
        const A: usize = 1000; // two classes no thread start-up allocates
        const B: usize = 3000;
        let keeper = alloc(100); // keeps the segment in use (an empty one goes to the cache)
        let a = alloc(A);
        let b = alloc(B);
        let (page_a, page_b) = (small_page_of(a), small_page_of(b));
        assert_ne!(page_a, page_b, "two classes share no page");
        // SAFETY: both blocks are live and freed once; the collects are plain (not forced),
        // so they free the emptied pages (after their retirement heartbeats) without purging.
        unsafe {
            mi_free(a);
            mi_free(b);
            for _ in 0..32 {
                mi_collect(false);
            }
        }
        // Both pages are free and resident now; the one of class A comes first in the segment,
        // and used to be taken for any class.
        let b2 = alloc(B);
        let a2 = alloc(A);
        let found = (small_page_of(a2), small_page_of(b2));
        // SAFETY: live blocks, freed once.
        unsafe {
            mi_free(a2);
            mi_free(b2);
            mi_free(keeper);
        }
        ((page_a, page_b), found)
    })
    .join()
    .expect("the allocating thread panicked");
    let ((page_a, page_b), (found_a, found_b)) = pages;
    assert_eq!(found_b, page_b, "class B reuses the page that held class B");
    assert_eq!(found_a, page_a, "class A reuses the page that held class A");
}
