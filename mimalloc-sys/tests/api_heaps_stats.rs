//! `mi_heap_destroy` frees a heap's pages at once and `mi_heap_delete` keeps them, as the
//! process-wide statistics show. The only test in this binary: no other test's thread starts,
//! allocates or exits (merging its statistics) while the numbers are compared.
//!
//! Exactness: without `override` nothing but this test calls into the allocator (Rust's own
//! allocations go to libc), so after `mi_collect(true)` the counts must return exactly to
//! their starting values. With `override` libc and the test harness allocate through us
//! too; a little slack is allowed there.

use core::ffi::c_void;
use mimalloc_sys::*;

const MIB: usize = 1024 * 1024;

fn stats() -> mi_stats_t {
    // SAFETY: plain data; mi_stats_get writes at most size_of bytes.
    unsafe {
        let mut st: mi_stats_t = core::mem::zeroed();
        mi_stats_get(core::mem::size_of::<mi_stats_t>(), &mut st);
        st
    }
}

/// Pages, and bytes of normal (small to large) and huge pages, as the visitor reports areas.
#[derive(Default, Debug, PartialEq)]
struct Areas {
    pages: i64,
    normal: i64,
    huge: i64,
}

unsafe extern "C" fn count_area(
    _heap: *const mi_heap_t,
    area: *const mi_heap_area_t,
    block: *mut c_void,
    _size: usize,
    arg: *mut c_void,
) -> bool {
    if block.is_null() {
        // SAFETY: arg is the &mut Areas passed below; area is valid during the call.
        let (acc, a) = unsafe { (&mut *(arg as *mut Areas), &*area) };
        acc.pages += 1;
        // huge blocks are the only ones above MI_LARGE_OBJ_SIZE_MAX (2 MiB), one per page
        if a.full_block_size > 2 * MIB {
            acc.huge += a.reserved as i64;
        } else {
            acc.normal += a.reserved as i64;
        }
    }
    true
}

unsafe fn areas(heap: *mut mi_heap_t) -> Areas {
    let mut acc = Areas::default();
    // SAFETY: heap is live and this thread's.
    unsafe {
        mi_heap_visit_blocks(
            heap,
            false,
            Some(count_area),
            &mut acc as *mut Areas as *mut c_void,
        )
    };
    acc
}

/// Fills `heap` with blocks of every kind; returns them with their sizes.
unsafe fn fill_heap(heap: *mut mi_heap_t) -> Vec<(*mut u8, usize)> {
    let mut blocks = Vec::new();
    for i in 0..20_000usize {
        let n = match i % 100 {
            0 => 300_000 + i,    // large pages
            1..=5 => 20_000 + i, // medium pages
            _ => 16 + i % 2000,  // small pages
        };
        // SAFETY: the heap is live and this thread's.
        let p = unsafe { mi_heap_malloc(heap, n) } as *mut u8;
        assert!(!p.is_null());
        // SAFETY: n writable bytes.
        unsafe { core::ptr::write_bytes(p, (i % 251) as u8, n) };
        blocks.push((p, n));
    }
    for n in [3 * MIB, 5 * MIB + 1] {
        // SAFETY: as above.
        let p = unsafe { mi_heap_malloc(heap, n) } as *mut u8;
        assert!(!p.is_null());
        blocks.push((p, n));
    }
    blocks
}

#[test]
fn destroy_releases_pages_at_once_and_delete_keeps_them() {
    let slack = if unsafe { mi_is_redirected() } { 4 } else { 0 };
    let near = |a: i64, b: i64, tol: i64| (a - b).abs() <= tol;
    // SAFETY: destroyed blocks are never touched again; deleted-heap blocks are used while
    // live (they moved to the backing heap) and freed once.
    unsafe {
        mi_collect(true);
        let base = stats();

        // ---- destroy
        let heap = mi_heap_new();
        mi_collect(true); // the heap struct's own page (in the backing heap) is now counted
        let before = stats();
        let blocks = fill_heap(heap);
        let during = stats();
        let seen = areas(heap);
        let grew = Areas {
            pages: during.pages.current - before.pages.current,
            normal: during.normal.current - before.normal.current,
            huge: during.huge.current - before.huge.current,
        };
        if slack == 0 {
            assert_eq!(grew, seen, "statistics growth vs the heap's areas");
        }
        assert!(seen.pages > 20 && seen.huge > 8 * MIB as i64, "{seen:?}");
        assert!(during.segments.current > before.segments.current);
        mi_heap_destroy(heap);
        drop(blocks);
        mi_collect(true);
        let after = stats();
        for (what, b, a) in [
            ("pages", base.pages.current, after.pages.current),
            ("normal", base.normal.current, after.normal.current),
            ("huge", base.huge.current, after.huge.current),
            ("segments", base.segments.current, after.segments.current),
        ] {
            let tol = if what == "normal" || what == "huge" {
                slack * 65536
            } else {
                slack
            };
            assert!(near(a, b, tol), "after mi_heap_destroy: {what} {b} -> {a}");
        }

        // ---- delete: the pages stay (now the backing heap's) until their blocks are freed
        let heap = mi_heap_new();
        let blocks = fill_heap(heap);
        let seen = areas(heap);
        let during = stats();
        mi_heap_delete(heap);
        let deleted = stats();
        assert!(
            near(deleted.pages.current, during.pages.current, slack),
            "mi_heap_delete changed the page count: {} -> {}",
            during.pages.current,
            deleted.pages.current
        );
        assert_eq!(deleted.huge.current, during.huge.current);
        assert!(seen.pages > 20);
        for (i, &(p, n)) in blocks.iter().enumerate() {
            if n <= 2 * MIB {
                assert!(
                    (0..n).all(|j| *p.add(j) == (i % 251) as u8),
                    "block {i} damaged by mi_heap_delete"
                );
            }
            mi_free(p as *mut c_void);
        }
        drop(blocks);
        mi_collect(true);
        let end = stats();
        for (what, b, a) in [
            ("pages", base.pages.current, end.pages.current),
            ("normal", base.normal.current, end.normal.current),
            ("huge", base.huge.current, end.huge.current),
            ("segments", base.segments.current, end.segments.current),
        ] {
            let tol = if what == "normal" || what == "huge" {
                slack * 65536
            } else {
                slack
            };
            assert!(near(a, b, tol), "after delete and free: {what} {b} -> {a}");
        }
    }
}
