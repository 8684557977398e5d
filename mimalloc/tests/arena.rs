//! The safe arena API: a reserved exclusive arena serves the heaps made in it and nothing
//! else (not the global allocator, not other heaps); a managed region is refused when it holds
//! no whole segment; a heap in a shared arena allocates inside it.

use allocator_api2::vec::Vec as AVec;
use mimalloc::{Arena, Heap, MiMalloc};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const MIB: usize = 1 << 20;

#[test]
fn exclusive_arena_serves_only_its_heaps() {
    let arena = Arena::reserve(32 * MIB, true, false).expect("reserve 32 MiB");
    let (start, len) = arena.area();
    assert!(!start.is_null() && len >= 32 * MIB);
    let heap = Heap::new_in(&arena);
    let mut v: AVec<u64, &Heap> = AVec::new_in(&heap);
    v.extend(0..100_000u64);
    assert!(arena.contains(v.as_ptr().cast()));
    let big = heap.allocate_raw(3 * MIB);
    assert!(
        arena.contains(big),
        "a huge block of the arena's heap is outside it"
    );
    // the global allocator and an ordinary heap never use the exclusive arena
    let boxes: Vec<Box<[u8]>> = (0..200)
        .map(|i| vec![1u8; 100 + i * 997].into_boxed_slice())
        .collect();
    assert!(boxes.iter().all(|b| !arena.contains(b.as_ptr())));
    let other = Heap::new();
    let p = other.allocate_raw(5000);
    assert!(!arena.contains(p));
    assert_eq!(v.iter().sum::<u64>(), 99_999 * 100_000 / 2);
}

#[test]
fn shared_arena_heap_allocates_inside() {
    let arena = Arena::reserve(8 * MIB, false, true).expect("reserve 8 MiB");
    let heap = Heap::new_in(&arena);
    let p = heap.allocate_raw(123);
    assert!(arena.contains(p));
    assert!(arena.id() > 0);
}

#[test]
fn managed_region_without_a_whole_segment_is_refused() {
    let mut buf = vec![0u8; 2 * MIB];
    // SAFETY: refused before the allocator could use it (too small to hold a segment).
    let a = unsafe { Arena::manage(buf.as_mut_ptr(), buf.len(), true, true, true) };
    assert!(a.is_none());
    // SAFETY: refused: a null region.
    assert!(unsafe { Arena::manage(core::ptr::null_mut(), 64 * MIB, true, true, false) }.is_none());
}
