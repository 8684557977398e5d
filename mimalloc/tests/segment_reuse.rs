//! Reuse of freed segments, seen through the statistics: a huge block takes a larger cached
//! mapping and the written tail past it is purged once it has lingered; a thread started just
//! after another exited takes that thread's empty segments instead of mapping fresh memory;
//! with purging off, a new segment takes a resident arena slot before an untouched one.
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

/// With purging off, a freed arena slot stays resident for good, so a new segment must take
/// it before a slot whose memory was purged or never touched: otherwise a process that keeps
/// freeing and making segments spreads them over its whole arena and keeps all of it resident.
fn with_purging_off_a_new_segment_takes_a_resident_slot() {
    // a huge block: a segment of its own, one 4 MiB slot (two in secure builds, whose huge
    // blocks end on a 2 MiB boundary before a guard page)
    const BLOCK: usize = 3 * MIB;
    // SAFETY: option setters, an exclusive arena used by one heap on this thread only; every
    // block is written within its size and freed once, before the heap is deleted.
    unsafe {
        let mut id: mi_arena_id_t = 0;
        assert_eq!(
            mi_reserve_os_memory_ex(128 * MIB, false, false, true, &mut id),
            0,
            "mi_reserve_os_memory_ex(128 MiB, exclusive)"
        );
        let heap = mi_heap_new_in_arena(id);
        assert!(!heap.is_null(), "mi_heap_new_in_arena");
        let blocks: Vec<*mut u8> = (0..10)
            .map(|i| {
                let p = mi_heap_malloc(heap, BLOCK) as *mut u8;
                assert!(!p.is_null(), "huge block {i}");
                core::ptr::write_bytes(p, 0x77, BLOCK);
                p
            })
            .collect();
        // a fresh arena hands out its slots in order: each block's segment spans `span` bytes
        let span = segment_of(blocks[1]) - segment_of(blocks[0]);
        for w in blocks.windows(2) {
            assert_eq!(
                segment_of(w[1]) - segment_of(w[0]),
                span,
                "huge segments not in slot order"
            );
        }
        let holds = |i: usize, seg: usize| {
            (segment_of(blocks[i])..segment_of(blocks[i]) + span).contains(&seg)
        };
        // block 1's slot is purged as it is freed (no delay, so no caching either) ...
        mi_option_set(mi_option_purge_delay, 0);
        mi_free(blocks[1] as *mut c_void);
        // ... while these slots keep their bytes: the thread's segment cache takes up to four
        // of them, the arena the rest
        mi_option_set(mi_option_purge_delay, -1);
        let resident = [2usize, 3, 4, 5, 6, 8];
        for &i in &resident {
            mi_free(blocks[i] as *mut c_void);
        }
        // the heap's first small block needs a new segment, which no cached huge one can be
        let p = mi_heap_malloc(heap, 64) as *mut u8;
        assert!(!p.is_null(), "a small block of the pinned heap");
        let seg = segment_of(p);
        assert!(
            !holds(1, seg),
            "with purging off, a new segment took a purged slot while resident ones were free"
        );
        assert!(
            resident.iter().any(|&i| holds(i, seg)),
            "with purging off, a new segment took a slot never used ({seg:#x}) while resident ones were free"
        );
        mi_free(p as *mut c_void);
        for i in [0usize, 7, 9] {
            assert_eq!(*blocks[i].add(BLOCK - 1), 0x77);
            mi_free(blocks[i] as *mut c_void);
        }
        mi_heap_delete(heap);
        mi_option_set(mi_option_purge_delay, 10);
    }
}

#[test]
fn freed_segments_are_reused() {
    huge_block_takes_a_larger_mapping_and_its_tail_is_purged_later();
    a_thread_after_an_exited_one_maps_nothing();
    with_purging_off_a_new_segment_takes_a_resident_slot();
}
