//! A large block (128 KiB to 2 MiB) is served from an exited thread's large page of its size
//! class that has room, before a fresh segment is made for it: a large page is a whole segment
//! for one class, and a program whose threads come and go would otherwise make (and fault in)
//! a segment per large request while the adopted ones wait half empty. Blocks come from
//! `mi_malloc` only (Rust's own allocations go to the system allocator). One test, so no other
//! thread abandons or adopts meanwhile.

use core::ffi::c_void;
use mimalloc_sys::*;

const LARGE: usize = 300 * 1024;
/// Segments are 4 MiB and aligned to it; a large page spans its segment.
const SEGMENT_SHIFT: u32 = 22;

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

#[test]
fn a_large_block_goes_to_an_exited_threads_page_of_its_class() {
    // Exits with one live block on a large page that has room for more.
    let kept = std::thread::spawn(|| {
        let kept = alloc(LARGE);
        let freed = alloc(LARGE);
        assert_eq!(
            kept >> SEGMENT_SHIFT,
            freed >> SEGMENT_SHIFT,
            "one large page holds both blocks"
        );
        // SAFETY: live, freed once.
        unsafe { mi_free(freed as *mut c_void) };
        kept
    })
    .join()
    .expect("the first thread panicked");
    let (next, owned) = std::thread::spawn(move || {
        let next = alloc(LARGE);
        // SAFETY: the calling thread's own heap; `kept` is a live block of ours.
        let owned = unsafe { mi_heap_check_owned(mi_heap_get_default(), kept as *const c_void) };
        (next, owned)
    })
    .join()
    .expect("the second thread panicked");
    // SAFETY: live blocks, each freed once.
    unsafe {
        mi_free(kept as *mut c_void);
        mi_free(next as *mut c_void);
    }
    assert!(owned, "the exited thread's large segment was adopted");
    assert_eq!(
        next >> SEGMENT_SHIFT,
        kept >> SEGMENT_SHIFT,
        "the next block of the class went to the adopted page, not to a fresh segment"
    );
}
