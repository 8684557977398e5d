//! The safe `Heap`: collections (allocator-api2 Vec and Box, hashbrown's HashMap) inside a heap,
//! zero-size layouts, the visitor, delete_keep_blocks, and memory returned when a heap drops.

use allocator_api2::boxed::Box as ABox;
use allocator_api2::vec::Vec as AVec;
use core::alloc::Layout;
use mimalloc::allocator_api2::alloc::Allocator;
use mimalloc::{Heap, MiMalloc};
use std::sync::Mutex;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// Tests that read process-wide statistics hold this.
static STATS: Mutex<()> = Mutex::new(());

#[test]
fn collections_live_in_the_heap() {
    let heap = Heap::new();
    let mut v = AVec::new_in(&heap);
    for i in 0..10_000u64 {
        v.push(i * 3);
    }
    assert!(heap.contains(v.as_ptr().cast()));
    assert_eq!(v.iter().sum::<u64>(), 3 * (9_999 * 10_000 / 2));
    let b = ABox::new_in([7u8; 300], &heap);
    assert!(heap.contains(b.as_ptr()));
    let mut map = hashbrown::HashMap::new_in(&heap);
    for i in 0..5_000u32 {
        map.insert(i, i.to_string());
    }
    assert_eq!(map.len(), 5_000);
    assert_eq!(map[&4_321], "4321");
    // a block of the global heap is not in this one
    let global = std::hint::black_box(vec![1u8; 64]); // a block of the global heap
    assert!(!heap.contains(global.as_ptr()));
    assert_eq!(heap.usable_size(global.as_ptr()), None);
    assert!(heap.usable_size(v.as_ptr().cast()).expect("in the heap") >= v.capacity() * 8);
}

#[test]
fn zero_sizes_and_alignment_through_the_allocator_trait() {
    let heap = Heap::new();
    let a = &heap;
    for align in [1usize, 8, 16, 64, 4096, 1 << 16] {
        let zero = Layout::from_size_align(0, align).unwrap();
        let p = a.allocate(zero).expect("zero-size allocation");
        assert_eq!(p.as_ptr() as *mut u8 as usize % align, 0);
        assert!(
            !heap.contains(p.as_ptr() as *const u8),
            "a zero-size allocation reached C"
        );
        // SAFETY: allocated above with this layout.
        unsafe { a.deallocate(p.cast(), zero) };
        for size in [1usize, 24, 1000, 100_000] {
            let layout = Layout::from_size_align(size, align).unwrap();
            let z = a.allocate_zeroed(layout).expect("zeroed");
            let zp = z.as_ptr() as *mut u8;
            assert_eq!(zp as usize % align, 0);
            // SAFETY: `size` bytes are readable in the new block.
            assert!(unsafe { core::slice::from_raw_parts(zp, size) }
                .iter()
                .all(|b| *b == 0));
            // SAFETY: `size` bytes are writable.
            unsafe { core::ptr::write_bytes(zp, 0xAB, size) };
            let bigger = Layout::from_size_align(size * 3, align).unwrap();
            // SAFETY: z came from `a` with `layout`; bigger is at least as large.
            let g = unsafe { a.grow_zeroed(z.cast(), layout, bigger) }.expect("grow");
            let gp = g.as_ptr() as *mut u8;
            assert_eq!(gp as usize % align, 0);
            // SAFETY: bigger.size() bytes are readable.
            let bytes = unsafe { core::slice::from_raw_parts(gp, size * 3) };
            assert!(
                bytes[..size].iter().all(|b| *b == 0xAB),
                "grow lost contents"
            );
            assert!(
                bytes[size..].iter().all(|b| *b == 0),
                "grow_zeroed left garbage"
            );
            // SAFETY: g came from `a` with `bigger`; shrinking to zero frees it.
            let s =
                unsafe { a.shrink(g.cast(), bigger, Layout::from_size_align(0, align).unwrap()) }
                    .expect("shrink");
            assert_eq!(s.len(), 0);
        }
    }
}

#[test]
fn visit_blocks_sees_exactly_the_live_blocks() {
    let heap = Heap::new();
    let blocks: Vec<*mut u8> = (1..=500usize).map(|n| heap.allocate_raw(n)).collect();
    let mut seen = 0usize;
    let mut bytes = 0usize;
    assert!(heap.visit_blocks(|b| {
        assert!(heap.contains(b.addr));
        seen += 1;
        bytes += b.size;
        true
    }));
    assert_eq!(seen, blocks.len());
    assert!(bytes >= (1..=500usize).sum::<usize>());
    // stopping early
    let mut n = 0;
    assert!(!heap.visit_blocks(|_| {
        n += 1;
        n < 10
    }));
    assert_eq!(n, 10);
}

#[test]
fn delete_keep_blocks_hands_blocks_to_the_default_heap() {
    let heap = Heap::new();
    let p = heap.allocate_raw(1000);
    // SAFETY: 1000 writable bytes.
    unsafe { core::ptr::write_bytes(p, 5, 1000) };
    heap.delete_keep_blocks();
    // SAFETY: the block survived the heap; it is read and then freed once.
    unsafe {
        assert!((0..1000).all(|i| *p.add(i) == 5));
        assert!(mimalloc_sys::mi_check_owned(p.cast()));
        mimalloc_sys::mi_free(p.cast());
    }
}

#[test]
fn dropping_a_heap_returns_its_memory() {
    let _guard = STATS.lock().unwrap_or_else(|e| e.into_inner());
    mimalloc::collect(true);
    let before = mimalloc::stats();
    {
        let heap = Heap::new();
        let mut keep = AVec::new_in(&heap);
        for i in 0..50_000usize {
            let mut s = AVec::with_capacity_in(16 + i % 200, &heap);
            s.push(i as u8);
            keep.push(s);
        }
        let during = mimalloc::stats();
        assert!(
            during.pages.current > before.pages.current + 10,
            "the heap's pages show in the statistics"
        );
        // `keep` borrows the heap, so it must go first: the borrow checker insists
        drop(keep);
    }
    mimalloc::collect(true);
    let after = mimalloc::stats();
    assert!(
        after.pages.current <= before.pages.current + 1,
        "pages after dropping the heap: {} (before {})",
        after.pages.current,
        before.pages.current
    );
}
