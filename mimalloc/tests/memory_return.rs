//! After a peak of 1 GiB in 1 KiB blocks is freed and `mi_collect(true)` runs, resident memory
//! (field 2 of /proc/self/statm × page size) and committed memory fall below 10 % of the
//! peak: empty pages and segments go back to their arenas, which purge them. The arenas added
//! for the peak go back to the OS; the first one stays reserved (address space only). The only test in this binary, so nothing else allocates
//! meanwhile; the pointer array (8 MiB, under 1 % of the peak) comes from the system
//! allocator, not from the allocator under test.

use mimalloc_sys::{mi_collect, mi_free, mi_malloc};
use mimalloc_testkit::sys::{rss_bytes, stats};

const GIB: usize = 1 << 30;
const BLOCK: usize = 1024;

#[test]
fn one_gib_of_small_blocks_is_returned() {
    let count = GIB / BLOCK;
    let start = rss_bytes();
    let mut ptrs: Vec<*mut u8> = Vec::with_capacity(count);
    for i in 0..count {
        // SAFETY: freed once below.
        let p = unsafe { mi_malloc(BLOCK) } as *mut u8;
        assert!(!p.is_null(), "mi_malloc({BLOCK}) #{i}");
        // SAFETY: BLOCK bytes are writable; every byte is touched.
        unsafe { core::ptr::write_bytes(p, (i % 255) as u8 + 1, BLOCK) };
        ptrs.push(p);
    }
    let peak = rss_bytes();
    let reserved_peak = stats().reserved.current;
    let committed_peak = stats().committed.current;
    assert!(
        peak >= start + GIB,
        "peak RSS {} MiB is below the live size",
        peak >> 20
    );
    // free every other block first: for a while each page is half empty, then all of them
    for pass in 0..2 {
        for (i, p) in ptrs.iter().enumerate() {
            if i % 2 == pass {
                // SAFETY: from mi_malloc above; each index is freed in exactly one pass.
                unsafe {
                    assert_eq!(*p.add(BLOCK - 1), (i % 255) as u8 + 1, "block {i} changed");
                    mi_free(p.cast());
                }
            }
        }
    }
    drop(ptrs);
    // SAFETY: no preconditions.
    unsafe { mi_collect(true) };
    let after = rss_bytes();
    let reserved_after = stats().reserved.current;
    let committed_after = stats().committed.current;
    eprintln!(
        "RSS: start {} MiB, peak {} MiB, after {} MiB; reserved: peak {} MiB, after {} MiB",
        start >> 20,
        peak >> 20,
        after >> 20,
        reserved_peak >> 20,
        reserved_after >> 20
    );
    assert!(
        after < peak / 10,
        "RSS after free and collect is {} MiB, peak was {} MiB",
        after >> 20,
        peak >> 20
    );
    // SAFETY: an option getter.
    let decommits =
        unsafe { mimalloc_sys::mi_option_is_enabled(mimalloc_sys::mi_option_purge_decommits) };
    // without decommits (MADV_FREE, DiscardVirtualMemory) purged memory stays committed
    assert!(
        !decommits || committed_after < committed_peak / 10,
        "memory still committed: {} MiB of {} MiB",
        committed_after >> 20,
        committed_peak >> 20
    );
    // SAFETY: an option getter.
    let arena_reserve =
        unsafe { mimalloc_sys::mi_option_get_size(mimalloc_sys::mi_option_arena_reserve) } as i64;
    assert!(
        reserved_after <= arena_reserve + (16 << 20) && reserved_after < reserved_peak,
        "address space still reserved: {} MiB of {} MiB (one arena of {} MiB may stay)",
        reserved_after >> 20,
        reserved_peak >> 20,
        arena_reserve >> 20
    );
}
