//! A thread short of small pages adopts an exited thread's segment of small pages, not the
//! large-page segment that thread abandoned after it: abandoned segments wait on a stack per
//! kind of page. Adopting whatever lay on top made each thread of a churning program take over
//! dozens of segments it had no use for and abandon them again at its exit. Blocks come from
//! `mi_malloc` only (Rust's own allocations go to the system allocator). One test, so no other
//! thread abandons or adopts meanwhile.

use core::ffi::c_void;
use mimalloc_sys::*;

const SMALL: usize = 100;
/// A large-page block (128 KiB to 2 MiB): a segment of its own, abandoned with it.
const LARGE: usize = 300 * 1024;

/// Allocates `size` bytes (checked) and writes the first and last of them.
fn alloc(size: usize) -> usize {
    // SAFETY: a plain allocation, checked for NULL; both writes are inside its `size` bytes.
    unsafe {
        let p = mi_malloc(size) as *mut u8;
        assert!(!p.is_null(), "mi_malloc({size})");
        *p = 1;
        *p.add(size - 1) = 2;
        p as usize
    }
}

fn owned_here(p: usize) -> bool {
    // SAFETY: the calling thread's own heap; `p` is a live block of ours.
    unsafe { mi_heap_check_owned(mi_heap_get_default(), p as *const c_void) }
}

#[test]
fn a_thread_short_of_small_pages_adopts_a_small_page_segment() {
    // Leaves one segment of each kind abandoned: the small one first (its size class comes
    // first when the heap is abandoned), so the large one lies on top.
    let (small, large) = std::thread::spawn(|| (alloc(SMALL), alloc(LARGE)))
        .join()
        .expect("the first thread panicked");
    let (adopted_small, adopted_large, fresh) = std::thread::spawn(move || {
        let fresh = alloc(SMALL); // no small page yet: adopts before it maps anything
        (owned_here(small), owned_here(large), fresh)
    })
    .join()
    .expect("the second thread panicked");
    // SAFETY: live blocks, each freed once (from another thread than their owner's).
    unsafe {
        mi_free(small as *mut c_void);
        mi_free(large as *mut c_void);
        mi_free(fresh as *mut c_void);
    }
    assert!(
        adopted_small,
        "the exited thread's small-page segment was adopted"
    );
    assert!(
        !adopted_large,
        "the large-page segment above it on the stack stayed abandoned"
    );
}
