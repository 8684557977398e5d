//! Frees by a thread that does not own the page, which the default build chains per page
//! and pushes to the owner together (free.c): every block still reaches its page, whether the
//! freeing thread collects, lives on, or ends; and a heap that `mi_heap_destroy` frees is never
//! written to by another thread's pending frees.
//!
//! Rust's own allocations go to libc in this binary (unless the `override` feature is on),
//! so a spawned thread that only calls `mi_free` really has no heap of its own until its first
//! remote free. With `override`, a heap made here may also adopt pages that exiting test
//! threads abandoned, so the tests count only blocks they allocated themselves.

use core::ffi::c_void;
use mimalloc_sys::*;
use std::sync::mpsc;
use std::thread;

/// At most this many blocks wait in one thread's chains (up to 64 pages, fewer than 32 blocks each).
const MAX_PENDING: usize = 64 * 32;

/// A block address that may cross threads.
#[derive(Clone, Copy)]
struct Addr(usize);

fn sizes(i: usize) -> usize {
    [16, 24, 48, 80, 128, 200, 512, 1000, 2048, 4000][i % 10]
}

/// Blocks and bytes among `mine` (sorted addresses) that a heap still holds as live.
struct Live<'a> {
    mine: &'a [usize],
    blocks: usize,
    bytes: usize,
}

unsafe extern "C" fn add_block(
    _heap: *const mi_heap_t,
    _area: *const mi_heap_area_t,
    block: *mut c_void,
    size: usize,
    arg: *mut c_void,
) -> bool {
    if !block.is_null() {
        // SAFETY: arg is the &mut Live given by `live`, used on this thread only.
        let live = unsafe { &mut *(arg as *mut Live) };
        if live.mine.binary_search(&(block as usize)).is_ok() {
            live.blocks += 1;
            live.bytes += size;
        }
    }
    true
}

/// What of the blocks at `mine` is still in use in `heap` after its owner (this thread)
/// collected.
fn live(heap: *mut mi_heap_t, mine: &[usize]) -> (usize, usize) {
    let mut sorted = mine.to_vec();
    sorted.sort_unstable();
    let mut live = Live {
        mine: &sorted,
        blocks: 0,
        bytes: 0,
    };
    // SAFETY: `heap` belongs to this thread; the visitor only adds up.
    unsafe {
        mi_heap_collect(heap, false);
        assert!(mi_heap_visit_blocks(
            heap,
            true,
            Some(add_block),
            &mut live as *mut Live as *mut c_void
        ));
    }
    (live.blocks, live.bytes)
}

fn live_blocks(heap: *mut mi_heap_t, mine: &[usize]) -> usize {
    live(heap, mine).0
}

fn live_bytes(heap: *mut mi_heap_t, mine: &[usize]) -> usize {
    live(heap, mine).1
}

fn addrs(blocks: &[(Addr, usize)]) -> Vec<usize> {
    blocks.iter().map(|(a, _)| a.0).collect()
}

/// `n` blocks of mixed small sizes from `heap`, each filled with its index.
fn alloc_blocks(heap: *mut mi_heap_t, n: usize) -> Vec<(Addr, usize)> {
    (0..n)
        .map(|i| {
            let size = sizes(i);
            // SAFETY: `heap` belongs to this thread; `size` bytes are writable when not null.
            unsafe {
                let p = mi_heap_malloc(heap, size) as *mut u8;
                assert!(!p.is_null());
                p.write_bytes(i as u8, size);
                (Addr(p as usize), size)
            }
        })
        .collect()
}

/// A thread that frees every block while it lives on: the blocks reach their pages when it
/// collects, and before that at most its chains' worth are held back.
#[test]
fn frees_of_a_live_thread_reach_the_owner_when_it_collects() {
    // a heap that cannot be destroyed: the kind whose pages other threads chain into
    // SAFETY: a null arena id is "any arena".
    let heap = unsafe { mi_heap_new_ex(0, false, 0) };
    assert!(!heap.is_null());
    let blocks = alloc_blocks(heap, 4000);
    let mine = addrs(&blocks);
    assert_eq!(live_blocks(heap, &mine), 4000);
    let (to_freer, freer_rx) = mpsc::channel::<()>();
    let (to_main, main_rx) = mpsc::channel::<()>();
    let freer = thread::spawn(move || {
        for (a, _) in blocks {
            // SAFETY: a live block of ours, freed once.
            unsafe { mi_free(a.0 as *mut c_void) };
        }
        to_main.send(()).unwrap();
        freer_rx.recv().unwrap();
        // SAFETY: plain call.
        unsafe { mi_collect(false) };
        to_main.send(()).unwrap();
        freer_rx.recv().unwrap();
    });
    main_rx.recv().unwrap();
    let held = live_blocks(heap, &mine);
    assert!(
        held <= MAX_PENDING,
        "{held} blocks freed by a live thread never reached their pages"
    );
    to_freer.send(()).unwrap();
    main_rx.recv().unwrap();
    assert_eq!(
        live_blocks(heap, &mine),
        0,
        "blocks still held after the freeing thread collected"
    );
    to_freer.send(()).unwrap();
    freer.join().unwrap();
    // SAFETY: the heap is empty and belongs to this thread.
    unsafe { mi_heap_delete(heap) };
}

/// Larger blocks: a chain holds at most 64 KiB, so a freeing thread that waits holds back at
/// most 64 chains of that (4 MiB), and blocks over 32 KiB are not held back at all.
#[test]
fn a_waiting_thread_holds_back_a_bounded_number_of_bytes() {
    // SAFETY: a null arena id is "any arena".
    let heap = unsafe { mi_heap_new_ex(0, false, 0) };
    assert!(!heap.is_null());
    let sizes = [8 << 10, 12 << 10, 16 << 10, 24 << 10, 32 << 10, 100 << 10];
    let blocks: Vec<Addr> = (0..1200)
        .map(|i| {
            // SAFETY: `heap` belongs to this thread; the block is written within its size.
            unsafe {
                let p = mi_heap_malloc(heap, sizes[i % sizes.len()]) as *mut u8;
                assert!(!p.is_null());
                p.write(1);
                Addr(p as usize)
            }
        })
        .collect();
    let mine: Vec<usize> = blocks.iter().map(|a| a.0).collect();
    let (to_freer, freer_rx) = mpsc::channel::<()>();
    let (to_main, main_rx) = mpsc::channel::<()>();
    let freer = thread::spawn(move || {
        for a in blocks {
            // SAFETY: a live block of ours, freed once.
            unsafe { mi_free(a.0 as *mut c_void) };
        }
        to_main.send(()).unwrap();
        freer_rx.recv().unwrap();
    });
    main_rx.recv().unwrap();
    let held = live_bytes(heap, &mine);
    let bound = 8 * core::mem::size_of::<usize>() * (64 << 10);
    assert!(
        held <= bound,
        "{held} bytes freed by a waiting thread are held back (at most {bound})"
    );
    to_freer.send(()).unwrap();
    freer.join().unwrap();
    assert_eq!(
        live_bytes(heap, &mine),
        0,
        "bytes still held after the freeing thread ended"
    );
    // SAFETY: the heap is empty and belongs to this thread.
    unsafe { mi_heap_delete(heap) };
}

/// A thread whose only allocator calls are frees into another thread's pages: its exit
/// hands every block over.
#[test]
fn a_thread_that_only_frees_hands_everything_over_at_exit() {
    // SAFETY: a null arena id is "any arena".
    let heap = unsafe { mi_heap_new_ex(0, false, 0) };
    assert!(!heap.is_null());
    let blocks = alloc_blocks(heap, 3000);
    let mine = addrs(&blocks);
    thread::spawn(move || {
        for (a, _) in blocks {
            // SAFETY: a live block of ours, freed once.
            unsafe { mi_free(a.0 as *mut c_void) };
        }
    })
    .join()
    .unwrap();
    assert_eq!(
        live_blocks(heap, &mine),
        0,
        "blocks freed by an exited thread never reached their pages"
    );
    // SAFETY: the heap is empty and belongs to this thread.
    unsafe { mi_heap_delete(heap) };
}

/// Another thread frees blocks of a destroyable heap and lives on while the owner destroys
/// the heap and reuses its memory: nothing of the freeing thread may land in that memory
/// later (its chains would point into pages that now hold other blocks).
#[test]
fn frees_into_a_destroyed_heap_are_never_pushed_later() {
    for round in 0..4 {
        // SAFETY: plain call; the heap is destroyed below by this thread.
        let heap = unsafe { mi_heap_new() };
        assert!(!heap.is_null());
        let blocks = alloc_blocks(heap, 2000);
        let (to_freer, freer_rx) = mpsc::channel::<()>();
        let (to_main, main_rx) = mpsc::channel::<()>();
        let freer = thread::spawn(move || {
            for (a, _) in blocks.iter().step_by(2) {
                // SAFETY: a live block of ours, freed once (the heap is destroyed only after).
                unsafe { mi_free(a.0 as *mut c_void) };
            }
            to_main.send(()).unwrap();
            freer_rx.recv().unwrap();
            // whatever this thread still held is pushed now, into memory reused meanwhile
            // SAFETY: plain calls.
            unsafe {
                mi_collect(false);
                mi_free(mi_malloc(64));
            }
        });
        main_rx.recv().unwrap();
        // SAFETY: the heap belongs to this thread; its remaining blocks go with it.
        unsafe { mi_heap_destroy(heap) };
        // SAFETY: the default heap of this thread.
        let reused = alloc_blocks(unsafe { mi_heap_get_default() }, 4000);
        to_freer.send(()).unwrap();
        freer.join().unwrap();
        for (i, (a, size)) in reused.into_iter().enumerate() {
            let p = a.0 as *mut u8;
            // SAFETY: a live block of `size` bytes filled by `alloc_blocks`.
            let bytes = unsafe { core::slice::from_raw_parts(p, size) };
            if let Some(off) = bytes.iter().position(|&b| b != i as u8) {
                panic!("round {round}: block {i} of {size} bytes changed at offset {off} after the heap was destroyed");
            }
            // SAFETY: freed once.
            unsafe { mi_free(p as *mut c_void) };
        }
    }
}

/// Per area of a heap: the page's count of blocks in use, the live blocks the visitor was
/// shown in it, and whether any of them is one of `mine`.
struct Areas<'a> {
    mine: &'a [usize],
    areas: Vec<(usize, usize, bool)>,
}

unsafe extern "C" fn tally_area(
    _heap: *const mi_heap_t,
    area: *const mi_heap_area_t,
    block: *mut c_void,
    _size: usize,
    arg: *mut c_void,
) -> bool {
    // SAFETY: arg is the &mut Areas given below, used on this thread only; `area` is valid
    // for the call.
    let (tally, area) = unsafe { (&mut *(arg as *mut Areas), &*area) };
    if block.is_null() {
        tally.areas.push((area.used, 0, false));
    } else if let Some(last) = tally.areas.last_mut() {
        last.1 += 1;
        last.2 |= tally.mine.binary_search(&(block as usize)).is_ok();
    }
    true
}

/// Each push on a page's thread_free list says how many blocks it brings, and the owner adds
/// these up instead of walking every link (internal.h, `mi_tf_chain_describe`). After chains of
/// every length from one block to past a full chain, each page's count of blocks in use equals
/// the live blocks on it, and exactly the blocks not freed are live.
#[test]
fn the_owner_counts_chains_of_every_length_exactly() {
    // SAFETY: a null arena id is "any arena".
    let heap = unsafe { mi_heap_new_ex(0, false, 0) };
    assert!(!heap.is_null());
    let blocks: Vec<usize> = (0..4096)
        .map(|_| {
            // SAFETY: `heap` belongs to this thread.
            let p = unsafe { mi_heap_malloc(heap, 64) };
            assert!(!p.is_null());
            p as usize
        })
        .collect();
    // runs of 1 to 70 blocks, each pushed on its own (the freeing thread collects after each)
    let (mut runs, mut kept) = (Vec::new(), Vec::new());
    let mut at = 0;
    for len in 1..=70 {
        runs.push(blocks[at..at + len].to_vec());
        kept.push(blocks[at + len]);
        at += len + 1;
    }
    kept.extend_from_slice(&blocks[at..]);
    thread::spawn(move || {
        for run in runs {
            for a in run {
                // SAFETY: a live block of ours, freed once.
                unsafe { mi_free(a as *mut c_void) };
            }
            // SAFETY: plain call.
            unsafe { mi_collect(false) };
        }
    })
    .join()
    .unwrap();
    let mut mine = blocks.clone();
    mine.sort_unstable();
    let mut tally = Areas {
        mine: &mine,
        areas: Vec::new(),
    };
    // SAFETY: `heap` belongs to this thread; the visitor only counts.
    unsafe {
        mi_heap_collect(heap, false);
        assert!(mi_heap_visit_blocks(
            heap,
            true,
            Some(tally_area),
            &mut tally as *mut Areas as *mut c_void
        ));
    }
    for &(used, live, _) in tally.areas.iter().filter(|a| a.2) {
        assert_eq!(
            used, live,
            "a page counts {used} blocks in use but holds {live} live ones"
        );
    }
    assert_eq!(live_blocks(heap, &blocks), kept.len());
    for a in kept {
        // SAFETY: a live block of ours, freed once.
        unsafe { mi_free(a as *mut c_void) };
    }
    // SAFETY: the heap is empty and belongs to this thread.
    unsafe { mi_heap_delete(heap) };
}
