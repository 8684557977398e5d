//! First-class heaps: ownership queries, the block visitor (exactly the live blocks, with
//! their sizes, inside their areas), allocation entry points landing in the heap they name,
//! delete (live blocks move to the backing heap and stay usable), destroy, and the default
//! and backing heap. Nothing here reads process-wide statistics (see api_heaps_stats.rs), so
//! the tests may run concurrently.

use core::ffi::c_void;
use mimalloc_sys::*;
use std::collections::BTreeMap;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

fn redirected() -> bool {
    // SAFETY: no preconditions.
    unsafe { mi_is_redirected() }
}

/// What one walk of mi_heap_visit_blocks saw.
#[derive(Default)]
struct Walk {
    areas: usize,
    /// sum of `used` over the areas
    area_used: usize,
    /// block address -> size the visitor reported
    blocks: BTreeMap<usize, usize>,
    /// (blocks, reserved, block_size, full_block_size) of the area being visited
    current: Option<(usize, usize, usize, usize)>,
    /// visit at most this many blocks, then ask the walk to stop
    stop_after: Option<usize>,
    problems: Vec<String>,
}

unsafe extern "C" fn record(
    _heap: *const mi_heap_t,
    area: *const mi_heap_area_t,
    block: *mut c_void,
    block_size: usize,
    arg: *mut c_void,
) -> bool {
    // SAFETY: arg is the &mut Walk given to mi_heap_visit_blocks by `walk`.
    let w = unsafe { &mut *(arg as *mut Walk) };
    if block.is_null() {
        if area.is_null() {
            w.problems.push("area visit without an area".into());
            return true;
        }
        // SAFETY: non-null areas are valid for the duration of the call.
        let a = unsafe { &*area };
        w.areas += 1;
        w.area_used += a.used;
        if a.block_size != block_size {
            w.problems.push(format!(
                "area block_size {} but visitor got {block_size}",
                a.block_size
            ));
        }
        if a.full_block_size < a.block_size || a.committed > a.reserved {
            w.problems.push(format!(
                "odd area: used {} block {} full {} committed {} reserved {}",
                a.used, a.block_size, a.full_block_size, a.committed, a.reserved
            ));
        }
        w.current = Some((
            a.blocks as usize,
            a.reserved,
            a.block_size,
            a.full_block_size,
        ));
        return true;
    }
    let b = block as usize;
    match w.current {
        None => w
            .problems
            .push(format!("block {b:#x} visited before any area")),
        Some((start, reserved, bsize, full)) => {
            if b < start || b + bsize > start + reserved || (b - start) % full != 0 {
                w.problems.push(format!(
                    "block {b:#x} is not a block of its area {start:#x}+{reserved} (size {full})"
                ));
            }
            if block_size != bsize {
                w.problems.push(format!(
                    "block {b:#x}: size {block_size}, area says {bsize}"
                ));
            }
        }
    }
    if w.blocks.insert(b, block_size).is_some() {
        w.problems.push(format!("block {b:#x} visited twice"));
    }
    match w.stop_after {
        Some(n) => w.blocks.len() < n,
        None => true,
    }
}

/// Walks `heap` (with its blocks when `blocks`); returns what the walk saw and its result.
unsafe fn walk(heap: *mut mi_heap_t, blocks: bool, stop_after: Option<usize>) -> (Walk, bool) {
    let mut w = Walk {
        stop_after,
        ..Walk::default()
    };
    // SAFETY: heap is live and this thread's; `record` only writes into `w`.
    let done = unsafe {
        mi_heap_visit_blocks(
            heap,
            blocks,
            Some(record),
            &mut w as *mut Walk as *mut c_void,
        )
    };
    assert!(w.problems.is_empty(), "visitor problems: {:#?}", w.problems);
    (w, done)
}

/// Sizes of every kind: small, medium, large and (the last) huge. Block i gets kind i % 9; as
/// 9 is a multiple of 3, the "every third block" patterns below free all blocks of a kind the
/// same way (kinds 1, 4, 7 all from another thread, while their pages are full).
fn sizes(count: usize) -> Vec<usize> {
    let kinds = [
        8usize,
        24,
        100,
        1000,
        3000,
        20_000,
        70_000,
        300_000,
        2 * MIB + 1000,
    ];
    (0..count).map(|i| kinds[i % kinds.len()] + i % 5).collect()
}

#[test]
fn heap_blocks_are_owned_and_foreign_pointers_are_not() {
    // SAFETY: every block is allocated in `heap` and used while live; the heap is destroyed
    // once at the end; foreign memory is only passed to ownership queries.
    unsafe {
        let heap = mi_heap_new();
        assert!(!heap.is_null());
        let blocks: Vec<(*mut u8, usize)> = sizes(900)
            .into_iter()
            .map(|n| (mi_heap_malloc(heap, n) as *mut u8, n))
            .collect();
        let default = mi_heap_get_default();
        assert_ne!(default, heap);
        for &(p, n) in &blocks {
            assert!(!p.is_null());
            let v = p as *const c_void;
            assert!(mi_heap_contains_block(heap, v), "contains_block({n})");
            assert!(mi_heap_check_owned(heap, v), "heap_check_owned({n})");
            assert!(mi_check_owned(v), "check_owned({n})");
            // a pointer into the block (word aligned) is part of the heap as well
            assert!(mi_heap_check_owned(
                heap,
                p.add((n - 1) & !7) as *const c_void
            ));
            assert!(
                !mi_heap_contains_block(default, v),
                "a block of a new heap is claimed by the default heap"
            );
            assert!(!mi_heap_check_owned(default, v));
        }

        let on_stack = [0u64; 4];
        let stack = on_stack.as_ptr() as *const c_void;
        assert!(!mi_check_owned(stack), "a stack address is owned");
        assert!(!mi_heap_check_owned(heap, stack));
        assert!(!mi_heap_contains_block(heap, stack));
        static IN_DATA: [u64; 4] = [1, 2, 3, 4];
        assert!(!mi_check_owned(IN_DATA.as_ptr() as *const c_void));
        // memory straight from the OS is foreign in every build
        #[cfg(unix)]
        let foreign = libc::mmap(
            core::ptr::null_mut(),
            8 << 20,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        #[cfg(unix)]
        assert_ne!(foreign, libc::MAP_FAILED);
        #[cfg(windows)]
        let foreign = {
            #[link(name = "kernel32")]
            unsafe extern "system" {
                fn VirtualAlloc(a: *mut c_void, n: usize, t: u32, p: u32) -> *mut c_void;
            }
            // MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE
            let p = VirtualAlloc(core::ptr::null_mut(), 8 << 20, 0x3000, 0x04);
            assert!(!p.is_null());
            p
        };
        for off in [0usize, 8, 4096, 4 << 20] {
            let f = (foreign as *const u8).add(off) as *const c_void;
            assert!(!mi_check_owned(f), "mmap'ed memory owned at +{off}");
            assert!(!mi_heap_check_owned(heap, f));
            assert!(!mi_heap_contains_block(heap, f));
        }
        #[cfg(unix)]
        libc::munmap(foreign, 8 << 20);
        #[cfg(windows)]
        {
            #[link(name = "kernel32")]
            unsafe extern "system" {
                fn VirtualFree(a: *mut c_void, n: usize, t: u32) -> i32;
            }
            VirtualFree(foreign, 0, 0x8000); // MEM_RELEASE
        }
        // libc's malloc is ours only with `override`
        if !redirected() {
            for n in [16usize, 1000, 200_000] {
                let from_libc = libc::malloc(n);
                assert!(!mi_check_owned(from_libc), "libc::malloc({n}) is owned");
                assert!(!mi_heap_check_owned(heap, from_libc));
                assert!(!mi_heap_contains_block(heap, from_libc));
                libc::free(from_libc);
            }
        }
        assert!(!mi_check_owned(core::ptr::null()));
        assert!(!mi_heap_check_owned(heap, core::ptr::null()));
        assert!(!mi_heap_contains_block(heap, core::ptr::null()));

        mi_heap_destroy(heap);
        // Without `override` nothing else allocates from this thread's heaps meanwhile, so
        // the pages that held the destroyed blocks are no longer in use.
        if !redirected() {
            for &(p, n) in &blocks {
                assert!(
                    !mi_check_owned(p as *const c_void),
                    "block of {n} still owned after mi_heap_destroy"
                );
            }
        }
    }
}

#[test]
fn visitor_sees_exactly_the_live_blocks() {
    // SAFETY: blocks are allocated in `heap`, freed once (some from another thread), and the
    // heap deleted at the end when it is empty.
    unsafe {
        let heap = mi_heap_new();
        let sz = sizes(900);
        let blocks: Vec<usize> = sz
            .iter()
            .map(|&n| mi_heap_malloc(heap, n) as usize)
            .collect();
        let expect = |alive: &dyn Fn(usize) -> bool| -> BTreeMap<usize, usize> {
            (0..blocks.len())
                .filter(|&i| alive(i))
                .map(|i| (blocks[i], mi_good_size(sz[i])))
                .collect()
        };

        let (w, done) = walk(heap, true, None);
        assert!(done, "an uninterrupted walk returns true");
        assert_eq!(w.blocks.len(), blocks.len(), "live blocks visited");
        assert_eq!(w.blocks, expect(&|_| true), "visited blocks and sizes");
        assert_eq!(w.area_used, blocks.len(), "sum of area.used");
        // every size class used has at least one area; huge blocks one each
        assert!(w.areas >= 9 + blocks.len() / 9, "{} areas", w.areas);

        // areas only: the same areas, no blocks
        let (wa, done) = walk(heap, false, None);
        assert!(done);
        assert_eq!((wa.areas, wa.area_used), (w.areas, w.area_used));
        assert!(wa.blocks.is_empty());

        // a visitor that says stop ends the walk
        let (ws, done) = walk(heap, true, Some(10));
        assert!(!done, "a stopped walk returns false");
        assert_eq!(
            ws.blocks.len(),
            10,
            "blocks visited after the visitor said stop"
        );

        // free every third block here, every third from another thread: the walk sees the rest
        // (the blocks of 3000 and 300000 bytes are all freed remotely, most of them while
        // their page is full)
        for (i, &p) in blocks.iter().enumerate() {
            if i % 3 == 0 {
                mi_free(p as *mut c_void);
            }
        }
        let remote: Vec<usize> = blocks.iter().copied().skip(1).step_by(3).collect();
        std::thread::spawn(move || {
            for p in remote {
                // live blocks of the heap; any thread may free them
                mi_free(p as *mut c_void);
            }
        })
        .join()
        .expect("remote frees");
        let (w2, _) = walk(heap, true, None);
        let want = expect(&|i| i % 3 == 2);
        // name the differences by block index: which ones the walk got wrong, and how
        let wrong: Vec<String> = (0..blocks.len())
            .filter(|&i| w2.blocks.contains_key(&blocks[i]) != want.contains_key(&blocks[i]))
            .map(|i| {
                let how = ["freed here", "freed by another thread", "live"][i % 3];
                format!("#{i} ({} bytes, {how})", sz[i])
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "after freeing two thirds (half of them remotely), the walk is wrong about {} \
             blocks: {:?}",
            wrong.len(),
            &wrong[..wrong.len().min(20)]
        );
        assert_eq!(w2.blocks, want, "sizes of the visited blocks");
        assert_eq!(w2.area_used, w2.blocks.len());

        for (i, &p) in blocks.iter().enumerate() {
            if i % 3 == 2 {
                mi_free(p as *mut c_void);
            }
        }
        let (w3, _) = walk(heap, true, None);
        assert!(w3.blocks.is_empty(), "{} blocks left", w3.blocks.len());
        assert_eq!(w3.area_used, 0);
        mi_heap_delete(heap);
    }
}

#[test]
fn every_heap_entry_point_allocates_in_its_heap() {
    // SAFETY: blocks are used while live and freed once; the heap is deleted at the end.
    unsafe {
        let heap = mi_heap_new();
        let s = c"heap string";
        let mut blocks: Vec<*mut c_void> = vec![
            mi_heap_malloc(heap, 100),
            mi_heap_zalloc(heap, 100),
            mi_heap_calloc(heap, 10, 10),
            mi_heap_mallocn(heap, 10, 10),
            mi_heap_malloc_small(heap, 64),
            mi_heap_zalloc_small(heap, 64),
            mi_heap_malloc_aligned(heap, 100, 64),
            mi_heap_malloc_aligned(heap, 100, 256 * KIB),
            mi_heap_malloc_aligned_at(heap, 100, 64, 8),
            mi_heap_zalloc_aligned(heap, 5000, 4096),
            mi_heap_calloc_aligned(heap, 3, 100, 128),
            mi_heap_strdup(heap, s.as_ptr()) as *mut c_void,
            mi_heap_strndup(heap, s.as_ptr(), 4) as *mut c_void,
            mi_heap_realloc(heap, core::ptr::null_mut(), 300),
            mi_heap_malloc(heap, 5 * MIB),
        ];
        let grown = mi_heap_realloc(heap, mi_heap_malloc(heap, 10), 50_000);
        blocks.push(grown);
        let grown = mi_heap_reallocn(heap, mi_heap_malloc(heap, 10), 100, 100);
        blocks.push(grown);
        let grown = mi_heap_rezalloc(heap, mi_heap_zalloc(heap, 10), 20_000);
        blocks.push(grown);
        let grown = mi_heap_realloc_aligned(heap, mi_heap_malloc(heap, 10), 3000, 512);
        blocks.push(grown);
        for (i, &p) in blocks.iter().enumerate() {
            assert!(!p.is_null(), "entry point {i} returned NULL");
            assert!(
                mi_heap_check_owned(heap, p),
                "entry point {i}: block not in the heap it was asked for"
            );
            assert!(!mi_heap_check_owned(mi_heap_get_backing(), p));
        }
        assert_eq!(
            core::ffi::CStr::from_ptr(blocks[11] as *const core::ffi::c_char),
            s
        );
        for p in blocks {
            mi_free(p);
        }
        let (w, _) = walk(heap, true, None);
        assert!(w.blocks.is_empty());
        mi_heap_delete(heap);
    }
}

#[test]
fn delete_moves_live_blocks_to_the_backing_heap() {
    // SAFETY: blocks stay live after mi_heap_delete (they move to the backing heap) and are
    // freed once; the heap pointer is not used after the delete.
    unsafe {
        let heap = mi_heap_new();
        let sz = sizes(900);
        let kept: Vec<*mut u8> = sz
            .iter()
            .map(|&n| mi_heap_malloc(heap, n) as *mut u8)
            .collect();
        for (i, (&p, &n)) in kept.iter().zip(&sz).enumerate() {
            core::ptr::write_bytes(p, i as u8, n);
        }
        // the deleted heap is also the default one: the default goes back to the backing heap
        let backing = mi_heap_get_backing();
        assert_eq!(mi_heap_set_default(heap), backing);
        mi_heap_delete(heap);
        assert_eq!(
            mi_heap_get_default(),
            backing,
            "default heap after deleting it"
        );
        for (i, (&p, &n)) in kept.iter().zip(&sz).enumerate() {
            assert!(
                mi_heap_contains_block(backing, p as *const c_void),
                "block {i} not moved to the backing heap"
            );
            assert!(
                (0..n).all(|j| *p.add(j) == i as u8),
                "block {i} ({n} bytes) damaged by mi_heap_delete"
            );
        }
        // still ordinary blocks: write, reallocate, free
        for (i, (&p, &n)) in kept.iter().zip(&sz).enumerate() {
            core::ptr::write_bytes(p, !(i as u8), n);
            if i % 2 == 0 {
                let q = mi_realloc(p as *mut c_void, n + 1000) as *mut u8;
                assert!((0..n).all(|j| *q.add(j) == !(i as u8)));
                mi_free(q as *mut c_void);
            } else {
                assert!((0..n).all(|j| *p.add(j) == !(i as u8)));
                mi_free(p as *mut c_void);
            }
        }
        // and the backing heap keeps working
        let p = mi_malloc(100);
        assert!(mi_heap_contains_block(backing, p));
        mi_free(p);
    }
}

#[test]
fn destroy_frees_the_blocks_at_once() {
    // SAFETY: the destroyed heap's blocks are never touched again.
    unsafe {
        let heap = mi_heap_new();
        for n in sizes(900) {
            let p = mi_heap_malloc(heap, n) as *mut u8;
            assert!(!p.is_null());
            *p = 1;
        }
        let (w, _) = walk(heap, true, None);
        assert_eq!(w.blocks.len(), 900);
        mi_heap_destroy(heap);
        // a new heap starts empty and works
        let heap = mi_heap_new();
        let (w, _) = walk(heap, true, None);
        assert_eq!((w.areas, w.blocks.len()), (0, 0), "a new heap is empty");
        let p = mi_heap_malloc(heap, 64);
        assert!(mi_heap_contains_block(heap, p));
        mi_heap_destroy(heap);
    }
}

#[test]
fn default_and_backing_heaps() {
    // SAFETY: heaps are used on their own thread only and deleted after restoring the default.
    unsafe {
        let backing = mi_heap_get_backing();
        assert!(!backing.is_null());
        assert_eq!(
            mi_heap_get_default(),
            backing,
            "a thread starts on its backing heap"
        );
        let heap = mi_heap_new();
        assert_ne!(heap, backing);
        assert_eq!(
            mi_heap_set_default(heap),
            backing,
            "set_default returns the old default"
        );
        assert_eq!(mi_heap_get_default(), heap);
        assert_eq!(
            mi_heap_get_backing(),
            backing,
            "the backing heap never changes"
        );
        let p = mi_malloc(100);
        let q = mi_zalloc_aligned(100, 4096);
        assert!(
            mi_heap_contains_block(heap, p),
            "mi_malloc must use the default heap"
        );
        assert!(
            mi_heap_contains_block(heap, q),
            "mi_zalloc_aligned must use the default heap"
        );
        assert!(!mi_heap_contains_block(backing, p));
        mi_free(p);
        mi_free(q);
        // NULL is refused: the default stays
        assert_eq!(mi_heap_set_default(core::ptr::null_mut()), heap);
        assert_eq!(mi_heap_get_default(), heap);
        assert_eq!(mi_heap_set_default(backing), heap);
        assert_eq!(mi_heap_get_default(), backing);

        // a thread's heaps are its own: another thread has another backing heap and cannot
        // make this thread's heap its default
        let (h, b) = (heap as usize, backing as usize);
        std::thread::spawn(move || {
            // only queries, and a set_default the allocator must refuse
            let own = mi_heap_get_backing() as usize;
            assert_ne!(own, b, "two threads share a backing heap");
            assert_eq!(mi_heap_set_default(h as *mut mi_heap_t) as usize, own);
            assert_eq!(
                mi_heap_get_default() as usize,
                own,
                "another thread's heap became this thread's default"
            );
            let p = mi_malloc(10);
            assert!(mi_heap_contains_block(own as *mut mi_heap_t, p));
            mi_free(p);
        })
        .join()
        .expect("other thread");
        mi_heap_delete(heap);
        assert_eq!(mi_heap_get_default(), backing);
    }
}
