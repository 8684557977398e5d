//! Reuse of freed segments, seen through the statistics: a huge block takes a larger cached
//! mapping and the written tail past it is purged once it has lingered; a thread started just
//! after another exited takes that thread's empty segments instead of mapping fresh memory.
//! One test, in order: the options it sets are process-wide.

use core::ffi::c_void;
use mimalloc::MiMalloc;
use mimalloc_sys::*;
use std::time::Duration;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const MIB: usize = 1 << 20;

/// Allocates small and medium blocks (a few segments' worth), checks and frees them all.
fn churn() {
    let mut blocks = Vec::with_capacity(20_050);
    for i in 0..20_000usize {
        let size = 16 + i % 500;
        // SAFETY: a plain allocation; checked for NULL, written within its size.
        let p = unsafe { mi_malloc(size) } as *mut u8;
        assert!(!p.is_null(), "mi_malloc({size})");
        // SAFETY: `size` bytes are writable.
        unsafe { core::ptr::write_bytes(p, (i % 251) as u8, size) };
        blocks.push((p, size, (i % 251) as u8));
    }
    for i in 0..50usize {
        let size = 20 * 1024;
        // SAFETY: as above.
        let p = unsafe { mi_malloc(size) } as *mut u8;
        assert!(!p.is_null(), "mi_malloc({size})");
        // SAFETY: as above.
        unsafe { core::ptr::write_bytes(p, i as u8, size) };
        blocks.push((p, size, i as u8));
    }
    for (p, size, v) in blocks {
        // SAFETY: a live block of `size` bytes filled with `v`, freed once.
        unsafe {
            assert_eq!(*p, v);
            assert_eq!(*p.add(size - 1), v);
            mi_free(p as *mut c_void);
        }
    }
}

/// The 4 MiB-aligned segment a block's header is in (a block never starts at its segment's
/// first byte).
fn segment_of(p: *mut u8) -> usize {
    (p as usize - 1) & !(4 * MIB - 1)
}

fn huge_block_takes_a_larger_mapping_and_its_tail_is_purged_later() {
    // SAFETY: option setters and plain allocations; every block is freed once.
    unsafe {
        mi_option_set(mi_option_purge_delay, 2); // lingering takes ten delays: 20 ms
        let big = mi_malloc(24 * MIB) as *mut u8;
        assert!(!big.is_null());
        core::ptr::write_bytes(big, 0x5a, 24 * MIB);
        mi_free(big as *mut c_void);
        let small = mi_malloc(5 * MIB) as *mut u8;
        // the same segment, not always the same address: secure builds place a huge block so
        // that it ends on a 2 MiB boundary
        assert_eq!(
            segment_of(small),
            segment_of(big),
            "a 5 MiB block did not reuse the cached 24 MiB mapping"
        );
        core::ptr::write_bytes(small, 0x33, 5 * MIB);
        let before = mimalloc_testkit::sys::stats().purged.total;
        std::thread::sleep(Duration::from_millis(80));
        mi_collect(false);
        let purged = mimalloc_testkit::sys::stats().purged.total - before;
        assert!(
            purged >= 18 * MIB as i64,
            "only {purged} bytes of the 19 MiB written tail were purged after it lingered"
        );
        assert_eq!(*small, 0x33);
        assert_eq!(*small.add(5 * MIB - 1), 0x33);
        mi_free(small as *mut c_void);
        mi_option_set(mi_option_purge_delay, 10);
    }
}

fn a_thread_after_an_exited_one_maps_nothing() {
    // SAFETY: an option setter; long enough that no shared segment expires during the test.
    unsafe { mi_option_set(mi_option_purge_delay, 1000) };
    std::thread::spawn(churn).join().expect("first thread");
    let before = mimalloc_testkit::sys::stats().mmap_calls.total;
    std::thread::spawn(churn).join().expect("second thread");
    let after = mimalloc_testkit::sys::stats().mmap_calls.total;
    assert_eq!(
        after - before,
        0,
        "the second thread mapped fresh memory instead of the first thread's empty segments"
    );
    // a forced collect gives the shared segments back: to their arena, which purges them
    // (or, for segments mapped on their own, to the OS)
    let given_back = || {
        let st = mimalloc_testkit::sys::stats();
        st.munmap_calls.total + st.purge_calls.total
    };
    let before = given_back();
    // SAFETY: no preconditions.
    unsafe { mi_collect(true) };
    assert!(
        given_back() > before,
        "mi_collect(true) kept the exited thread's segments"
    );
    // SAFETY: as above.
    unsafe { mi_option_set(mi_option_purge_delay, 10) };
}

#[test]
fn freed_segments_are_reused() {
    huge_block_takes_a_larger_mapping_and_its_tail_is_purged_later();
    a_thread_after_an_exited_one_maps_nothing();
}
