//! `&Heap`'s allocator-api2 `allocate` returns the whole block, not just the request: the
//! slice's length is the block's usable size, every byte of it is the caller's (zeroed by
//! `allocate_zeroed`), and any size between the request and that length may be passed back
//! to `deallocate`, `grow` and `shrink` (the allocator-api2 "fits" rule).

use core::alloc::Layout;
use mimalloc::allocator_api2::alloc::Allocator;
use mimalloc::{Heap, MiMalloc};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// Requests across the size classes, with and without extra alignment.
fn layouts() -> Vec<Layout> {
    let mut v = Vec::new();
    for size in [1, 7, 9, 24, 100, 129, 1000, 5000, 70_000, 600_000, 3 << 20] {
        for align in [1, 8, 16, 64, 4096] {
            v.push(Layout::from_size_align(size, align).unwrap());
        }
    }
    v
}

#[test]
fn allocate_returns_the_usable_size() {
    let heap = Heap::new();
    let mut slack_seen = false;
    for layout in layouts() {
        for zeroed in [false, true] {
            let block = if zeroed {
                (&heap).allocate_zeroed(layout)
            } else {
                (&heap).allocate(layout)
            }
            .expect("allocation");
            let p = block.as_ptr() as *mut u8;
            let len = block.len();
            assert_eq!(p as usize % layout.align(), 0, "{layout:?}");
            assert!(len >= layout.size(), "{layout:?}: {len}");
            assert_eq!(heap.usable_size(p), Some(len), "{layout:?}");
            slack_seen |= len > layout.size();
            // SAFETY: the slice is the caller's, all `len` bytes of it.
            unsafe {
                if zeroed {
                    assert!(
                        (0..len).all(|i| *p.add(i) == 0),
                        "{layout:?}: zeroed over the whole usable size ({len})"
                    );
                }
                core::ptr::write_bytes(p, 0x5A, len);
                // freeing with the slice's length as the size "fits" the block
                let full = Layout::from_size_align(len, layout.align()).unwrap();
                (&heap).deallocate(block.cast(), full);
            }
        }
    }
    // debug builds make the usable size the request (padding checks the rest)
    if !cfg!(any(feature = "debug", feature = "debug_full")) {
        assert!(
            slack_seen,
            "some request is rounded up to a larger size class"
        );
    }
}

#[test]
fn grow_and_shrink_accept_the_returned_length() {
    let heap = Heap::new();
    let layout = Layout::from_size_align(100, 8).unwrap();
    let block = (&heap).allocate(layout).unwrap();
    let len = block.len();
    let p = block.as_ptr() as *mut u8;
    // SAFETY: the caller owns `len` bytes; grow/shrink get a layout of a size the block fits.
    unsafe {
        for i in 0..len {
            *p.add(i) = i as u8;
        }
        let old = Layout::from_size_align(len, 8).unwrap();
        let new = Layout::from_size_align(len * 10, 8).unwrap();
        let grown = (&heap).grow(block.cast(), old, new).unwrap();
        let q = grown.as_ptr() as *mut u8;
        assert!(grown.len() >= len * 10);
        assert!(
            (0..len).all(|i| *q.add(i) == i as u8),
            "the whole old block is kept"
        );
        let small = Layout::from_size_align(10, 8).unwrap();
        let shrunk = (&heap)
            .shrink(
                grown.cast(),
                Layout::from_size_align(grown.len(), 8).unwrap(),
                small,
            )
            .unwrap();
        let r = shrunk.as_ptr() as *mut u8;
        assert!((0..10).all(|i| *r.add(i) == i as u8));
        (&heap).deallocate(shrunk.cast(), small);
    }
}

/// A growable buffer that takes the capacity the allocator hands it: with the slack it needs
/// fewer reallocations than a request-sized one.
#[test]
fn a_collection_can_use_the_slack() {
    let heap = Heap::new();
    let mut cap_requested = 0usize;
    let mut cap_got = 0usize;
    for n in 1..200usize {
        let layout = Layout::array::<u32>(n).unwrap();
        let block = (&heap).allocate(layout).unwrap();
        let capacity = block.len() / core::mem::size_of::<u32>();
        assert!(capacity >= n);
        let p = block.as_ptr() as *mut u32;
        // SAFETY: `capacity` u32s fit in the slice, which is 4-aligned (the layout's alignment).
        unsafe {
            for i in 0..capacity {
                p.add(i).write(i as u32);
            }
            assert_eq!(p.add(capacity - 1).read(), capacity as u32 - 1);
            (&heap).deallocate(block.cast(), layout);
        }
        cap_requested += n;
        cap_got += capacity;
    }
    if !cfg!(any(feature = "debug", feature = "debug_full")) {
        assert!(cap_got > cap_requested, "{cap_got} vs {cap_requested}");
    }
}
