//! After a peak of 1 GiB in small blocks is freed and collected, resident memory falls below
//! 10 % of the peak: empty pages and segments go back to the OS.

mod common;

use common::rss_bytes;
use mimalloc_sys::{mi_collect, mi_free, mi_malloc};

const GIB: usize = 1 << 30;
const BLOCK: usize = 1024;

#[test]
fn one_gib_of_small_blocks_is_returned() {
    let count = GIB / BLOCK;
    // the pointer array comes from the system allocator (8 MiB): it is not what we measure
    let mut ptrs: Vec<*mut u8> = Vec::with_capacity(count);
    for i in 0..count {
        // SAFETY: freed once below.
        let p = unsafe { mi_malloc(BLOCK) } as *mut u8;
        assert!(!p.is_null());
        // SAFETY: BLOCK bytes are writable; touch every page of the block.
        unsafe { core::ptr::write_bytes(p, i as u8, BLOCK) };
        ptrs.push(p);
    }
    let peak = rss_bytes();
    assert!(peak >= GIB, "peak RSS {peak} below the live size");
    for p in ptrs.drain(..) {
        // SAFETY: from mi_malloc above, freed once.
        unsafe { mi_free(p.cast()) };
    }
    // SAFETY: no preconditions.
    unsafe { mi_collect(true) };
    let after = rss_bytes();
    assert!(
        after < peak / 10,
        "RSS after collect {} MiB, peak {} MiB",
        after >> 20,
        peak >> 20
    );
}
