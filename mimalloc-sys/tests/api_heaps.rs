//! First-class heaps: ownership queries, the block visitor, destroy (everything at once) and
//! delete (live blocks move to the backing heap and stay usable). Statistics are checked in
//! one test so no concurrent test moves them.

use core::ffi::c_void;
use mimalloc_sys::*;
use std::sync::Mutex;

/// Tests of this binary that read process-wide statistics take this lock.
static STATS: Mutex<()> = Mutex::new(());

fn stats() -> mi_stats_t {
    // SAFETY: plain data; mi_stats_get writes at most size_of bytes.
    unsafe {
        let mut st: mi_stats_t = core::mem::zeroed();
        mi_stats_get(core::mem::size_of::<mi_stats_t>(), &mut st);
        st
    }
}

#[derive(Default)]
struct Visit {
    areas: usize,
    blocks: usize,
    bytes: usize,
}

unsafe extern "C" fn count_blocks(
    _heap: *const mi_heap_t,
    area: *const mi_heap_area_t,
    block: *mut c_void,
    block_size: usize,
    arg: *mut c_void,
) -> bool {
    // SAFETY: arg is the &mut Visit passed to mi_heap_visit_blocks below.
    let v = unsafe { &mut *(arg as *mut Visit) };
    if block.is_null() {
        assert!(!area.is_null());
        v.areas += 1;
    } else {
        v.blocks += 1;
        v.bytes += block_size;
    }
    true
}

#[test]
fn ownership_and_visiting() {
    // SAFETY: every block is allocated in `heap`, used while live, and the heap destroyed once.
    unsafe {
        let heap = mi_heap_new();
        assert!(!heap.is_null());
        let sizes: Vec<usize> = (0..500)
            .map(|i| [8usize, 100, 3000, 70_000][i % 4])
            .collect();
        let blocks: Vec<*mut c_void> = sizes.iter().map(|&n| mi_heap_malloc(heap, n)).collect();
        for &p in &blocks {
            assert!(!p.is_null());
            assert!(mi_heap_contains_block(heap, p));
            assert!(mi_heap_check_owned(heap, p));
            assert!(mi_check_owned(p));
            assert!(
                !mi_heap_contains_block(mi_heap_get_default(), p),
                "block claimed by the wrong heap"
            );
        }
        let on_stack = 0u64;
        assert!(!mi_check_owned(&on_stack as *const u64 as *const c_void));
        // memory straight from the OS is foreign in every mode (with `override`, even libc's
        // malloc is ours)
        let foreign = libc::mmap(
            core::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(foreign, libc::MAP_FAILED);
        assert!(!mi_check_owned(foreign));
        assert!(!mi_heap_contains_block(heap, foreign));
        libc::munmap(foreign, 4096);
        if !cfg!(feature = "override") {
            let from_libc = libc::malloc(64);
            assert!(
                !mi_check_owned(from_libc),
                "libc's malloc is not ours without `override`"
            );
            libc::free(from_libc);
        }
        assert!(!mi_check_owned(core::ptr::null()));

        let mut v = Visit::default();
        assert!(mi_heap_visit_blocks(
            heap,
            true,
            Some(count_blocks),
            &mut v as *mut Visit as *mut c_void
        ));
        assert_eq!(v.blocks, blocks.len(), "visitor saw {} blocks", v.blocks);
        let expected: usize = sizes.iter().map(|&n| mi_good_size(n)).sum();
        assert_eq!(v.bytes, expected);
        assert!(v.areas >= 4);

        // freeing a few and visiting again sees exactly the rest
        for &p in blocks.iter().take(100) {
            mi_free(p);
        }
        let mut v2 = Visit::default();
        mi_heap_visit_blocks(
            heap,
            true,
            Some(count_blocks),
            &mut v2 as *mut Visit as *mut c_void,
        );
        assert_eq!(v2.blocks, blocks.len() - 100);
        mi_heap_destroy(heap);
    }
}

#[test]
fn destroy_releases_everything_and_delete_keeps_blocks() {
    let _guard = STATS.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: blocks are used only while their heap (or, after delete, the backing heap) owns
    // them; destroyed blocks are never touched again.
    unsafe {
        mi_collect(true);
        let before = stats();
        let heap = mi_heap_new();
        for i in 0..20_000usize {
            let p = mi_heap_malloc(heap, 16 + i % 2000) as *mut u8;
            assert!(!p.is_null());
            *p = 1;
        }
        let big = mi_heap_malloc(heap, 5 << 20);
        assert!(!big.is_null());
        let during = stats();
        assert!(during.pages.current > before.pages.current);
        assert!(during.huge.current > before.huge.current);
        mi_heap_destroy(heap);
        mi_collect(true);
        let after = stats();
        // with `override`, libc's own live allocations also sit in our pages
        let slack = if cfg!(feature = "override") { 2 } else { 0 };
        assert!(
            (after.pages.current - before.pages.current).abs() <= slack,
            "destroy left pages ({} -> {})",
            before.pages.current,
            after.pages.current
        );
        assert_eq!(
            after.huge.current, before.huge.current,
            "destroy left the huge block"
        );

        // delete: blocks survive and are freed normally later
        let heap = mi_heap_new();
        let kept: Vec<*mut u8> = (0..1000usize)
            .map(|i| mi_heap_malloc(heap, 10 + i) as *mut u8)
            .collect();
        for (i, &p) in kept.iter().enumerate() {
            core::ptr::write_bytes(p, i as u8, 10 + i);
        }
        mi_heap_delete(heap);
        let backing = mi_heap_get_backing();
        for (i, &p) in kept.iter().enumerate() {
            assert!(
                mi_heap_contains_block(backing, p as *const c_void),
                "block not moved to the backing heap"
            );
            assert!(
                (0..10 + i).all(|j| *p.add(j) == i as u8),
                "block {i} damaged by delete"
            );
            mi_free(p as *mut c_void);
        }
        // with `override` the Vec itself lives in our heap (System is libc malloc): drop it first
        drop(kept);
        mi_collect(true);
        let end = stats();
        assert!(
            (end.pages.current - before.pages.current).abs() <= slack,
            "delete then free left pages ({} -> {})",
            before.pages.current,
            end.pages.current
        );
    }
}

#[test]
fn default_heap_can_be_switched() {
    // SAFETY: the heap is used only on this thread and deleted after restoring the default.
    unsafe {
        let backing = mi_heap_get_backing();
        assert_eq!(mi_heap_get_default(), backing);
        let heap = mi_heap_new();
        let old = mi_heap_set_default(heap);
        assert_eq!(old, backing);
        assert_eq!(mi_heap_get_default(), heap);
        let p = mi_malloc(100);
        assert!(
            mi_heap_contains_block(heap, p),
            "mi_malloc must use the default heap"
        );
        mi_free(p);
        mi_heap_set_default(old);
        assert_eq!(mi_heap_get_default(), backing);
        mi_heap_delete(heap);
        // a thread's heaps are its own: another thread has another backing heap
        let other = std::thread::spawn(|| mi_heap_get_backing() as usize)
            .join()
            .expect("thread");
        assert_ne!(other, backing as usize);
    }
}
