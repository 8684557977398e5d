//! Per-heap memory limits (`Heap::with_limit`, `mi_heap_set_memory_limit`): allocation past the
//! limit fails cleanly, nothing allocated is disturbed, other heaps go on, freeing brings the
//! headroom back, and pages that move between heaps carry their accounting with them.

use allocator_api2::vec::Vec as AVec;
use mimalloc::{Heap, MiMalloc};
use mimalloc_sys as sys;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const SMALL_PAGE: usize = 64 << 10;

/// Fills `heap` with `size`-byte blocks until it refuses one; each block is stamped and checked.
fn fill(heap: &Heap, size: usize) -> Vec<*mut u8> {
    let mut blocks = Vec::new();
    loop {
        let p = heap.allocate_raw(size);
        if p.is_null() {
            #[cfg(unix)]
            assert_eq!(
                std::io::Error::last_os_error().raw_os_error(),
                Some(libc::ENOMEM),
                "a refusal by the limit reads as out of memory"
            );
            return blocks;
        }
        // SAFETY: `p` is a fresh block of at least `size` bytes.
        unsafe { p.write_bytes((blocks.len() % 251) as u8, size) };
        blocks.push(p);
        assert!(blocks.len() < 1 << 24, "the limit never stopped the heap");
    }
}

fn check(blocks: &[*mut u8], size: usize) {
    for (i, &p) in blocks.iter().enumerate() {
        // SAFETY: every block is live and `size` bytes long.
        let bytes = unsafe { std::slice::from_raw_parts(p, size) };
        assert!(
            bytes.iter().all(|&b| b == (i % 251) as u8),
            "block {i} was disturbed"
        );
    }
}

fn free_all(blocks: Vec<*mut u8>) {
    for p in blocks {
        // SAFETY: each block is live and freed once.
        unsafe { sys::mi_free(p.cast()) };
    }
}

#[test]
fn refuses_past_the_limit_and_recovers_after_frees() {
    let limit = 16 * SMALL_PAGE;
    let heap = Heap::with_limit(limit);
    assert_eq!(heap.limit(), Some(limit));
    let blocks = fill(&heap, 1000);
    // 16 pages of 1 KiB-class blocks: about 16 * 64 blocks, never more than the pages hold.
    // Fewer where a page is a segment's first (its header takes 20 KiB in secure builds) and
    // where guard pages end the pages (4 KiB each): 15 * 60 + 40 in secure builds.
    assert!(
        blocks.len() >= 14 * SMALL_PAGE / 1024,
        "only {} blocks fit",
        blocks.len()
    );
    assert!(blocks.len() <= 16 * SMALL_PAGE / 1000);
    assert!(heap.memory_in_use() <= limit);
    assert!(heap.memory_in_use() >= limit - SMALL_PAGE);
    check(&blocks, 1000);

    // another heap, and the thread's own, are not limited by this one
    let other = Heap::new();
    let big = other.allocate_raw(4 * limit);
    assert!(!big.is_null());
    // a bigger size class needs a fresh page too: refused while the heap is full
    assert!(heap.allocate_raw(5000).is_null());

    free_all(blocks);
    // the empty pages are retired, then given back by the out-of-memory retry: room again
    let again = fill(&heap, 5000);
    assert!(
        again.len() >= 14 * SMALL_PAGE / 5120,
        "only {} blocks after the frees",
        again.len()
    );
    check(&again, 5000);
    free_all(again);
    // SAFETY: `big` is live and freed once.
    unsafe { sys::mi_free(big.cast()) };
}

#[test]
fn collections_see_an_error_not_an_abort() {
    let heap = Heap::with_limit(8 << 20);
    let mut v: AVec<u8, &Heap> = AVec::new_in(&heap);
    v.try_reserve(1 << 20).expect("1 MiB fits in 8 MiB");
    v.extend(std::iter::repeat(7u8).take(1 << 20));
    let cap = v.capacity();
    assert!(v.try_reserve(16 << 20).is_err(), "16 MiB does not fit");
    assert_eq!(
        v.capacity(),
        cap,
        "a refused reserve leaves the vector as it was"
    );
    assert!(v.iter().all(|&b| b == 7));
    drop(v);
    // the whole limit is usable again once the vector is gone
    let mut w: AVec<u8, &Heap> = AVec::new_in(&heap);
    w.try_reserve(3 << 20)
        .expect("3 MiB fits once the first vector is freed");
}

#[test]
fn huge_blocks_count_their_segment() {
    let heap = Heap::with_limit(64 << 20);
    let p = heap.allocate_raw(40 << 20);
    assert!(!p.is_null());
    let used = heap.memory_in_use();
    assert!(
        (40 << 20..=44 << 20).contains(&used),
        "a 40 MiB block counts {used} bytes"
    );
    assert!(
        heap.allocate_raw(30 << 20).is_null(),
        "a second huge block would pass 64 MiB"
    );
    // SAFETY: `p` is live and freed once.
    unsafe { sys::mi_free(p.cast()) };
    heap.collect(true);
    assert_eq!(heap.memory_in_use(), 0);
    let q = heap.allocate_raw(30 << 20);
    assert!(!q.is_null(), "freeing the first brought the room back");
    // SAFETY: `q` is live and freed once.
    unsafe { sys::mi_free(q.cast()) };
}

#[test]
fn a_limit_below_use_only_stops_growth() {
    let heap = Heap::new();
    let blocks: Vec<*mut u8> = (0..4000).map(|_| heap.allocate_raw(100)).collect();
    assert!(blocks.iter().all(|p| !p.is_null()));
    let used = heap.memory_in_use();
    assert!(used >= 6 * SMALL_PAGE);
    heap.set_limit(Some(SMALL_PAGE));
    // the partly filled last page may still hand out blocks; no new page comes
    let mut extra = Vec::new();
    loop {
        let p = heap.allocate_raw(100);
        if p.is_null() {
            break;
        }
        extra.push(p);
        assert!(
            extra.len() < SMALL_PAGE / 100,
            "a new page was taken past the limit"
        );
    }
    assert_eq!(heap.memory_in_use(), used);
    heap.set_limit(None);
    assert_eq!(heap.limit(), None);
    assert!(!heap.allocate_raw(100).is_null(), "no limit: growth again");
    free_all(blocks);
    free_all(extra);
}

#[test]
fn deleted_heaps_hand_their_pages_and_accounting_to_the_backing_heap() {
    // SAFETY: the backing heap of this thread is valid for the thread's life.
    let backing = unsafe { sys::mi_heap_get_backing() };
    // SAFETY: reads the backing heap's counter.
    let before = unsafe { sys::mi_heap_memory_in_use(backing) };
    let heap = Heap::new();
    let blocks: Vec<*mut u8> = (0..2000).map(|_| heap.allocate_raw(300)).collect();
    let moved = heap.memory_in_use();
    assert!(moved >= 9 * SMALL_PAGE);
    heap.delete_keep_blocks();
    // SAFETY: as above.
    let after = unsafe { sys::mi_heap_memory_in_use(backing) };
    assert!(
        after >= before + moved,
        "backing heap: {before} -> {after}, moved {moved}"
    );
    free_all(blocks);
}

#[test]
fn only_the_owning_thread_sets_a_limit() {
    let heap = Heap::new();
    let raw = heap.as_raw() as usize;
    let ok = std::thread::spawn(move || {
        // SAFETY: the call checks the owner and refuses; it does not touch the heap's pages.
        unsafe { sys::mi_heap_set_memory_limit(raw as *mut sys::mi_heap_t, 1) }
    })
    .join()
    .unwrap();
    assert!(!ok);
    assert_eq!(heap.limit(), None);
    // SAFETY: null is refused.
    assert!(!unsafe { sys::mi_heap_set_memory_limit(std::ptr::null_mut(), 1) });
}

/// A request server: each request runs in a heap of its own with a budget; a runaway request
/// hits its limit and fails alone while the others on the same threads complete.
#[test]
fn one_request_over_budget_fails_and_the_others_go_on() {
    const BUDGET: usize = 4 << 20;
    let workers: Vec<_> = (0..4)
        .map(|w| {
            std::thread::spawn(move || {
                let mut done = 0;
                let mut refused = 0;
                for r in 0..50 {
                    let heap = Heap::with_limit(BUDGET);
                    let runaway = w == 1 && r == 17;
                    let want: usize = if runaway { 64 << 20 } else { 200 << 10 };
                    let mut parts: AVec<AVec<u8, &Heap>, &Heap> = AVec::new_in(&heap);
                    let mut got = 0;
                    let mut failed = false;
                    while got < want {
                        let mut part = AVec::new_in(&heap);
                        if part.try_reserve(1000).is_err() || parts.try_reserve(1).is_err() {
                            failed = true;
                            break;
                        }
                        part.extend(std::iter::repeat((r % 256) as u8).take(1000));
                        parts.push(part);
                        got += 1000;
                    }
                    assert!(heap.memory_in_use() <= BUDGET);
                    assert!(parts
                        .iter()
                        .all(|p| p.iter().all(|&b| b == (r % 256) as u8)));
                    if failed {
                        refused += 1;
                    } else {
                        done += 1;
                    }
                }
                (done, refused)
            })
        })
        .collect();
    let results: Vec<(usize, usize)> = workers.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        results.iter().map(|r| r.1).sum::<usize>(),
        1,
        "exactly the runaway request fails"
    );
    assert_eq!(results.iter().map(|r| r.0).sum::<usize>(), 199);
}
