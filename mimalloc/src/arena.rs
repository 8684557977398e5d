//! Arenas: large regions the allocator carves its segments from.

use crate::Heap;
use core::ffi::c_void;
use mimalloc_sys as sys;

/// An arena: a region of memory, reserved from the OS or handed over by the program, that the
/// allocator carves its 4 MiB segments from. Arenas are never released while the process
/// runs, so an `Arena` is a plain handle (`Copy`, `Send`, `Sync`).
///
/// An *exclusive* arena serves only heaps created in it ([`Heap::new_in`]), and such a heap
/// takes memory from nowhere else: when its arena is full, its allocations fail.
///
/// ```
/// use mimalloc::{Arena, Heap};
/// use mimalloc::allocator_api2::vec::Vec;
///
/// let arena = Arena::reserve(64 << 20, true, false).expect("64 MiB of address space");
/// let heap = Heap::new_in(&arena);
/// let mut v = Vec::new_in(&heap);
/// v.extend(0..1000u32);
/// assert!(arena.contains(v.as_ptr().cast()));
/// // the global allocator never uses an exclusive arena
/// let b = Box::new([0u8; 100]);
/// assert!(!arena.contains(b.as_ptr()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arena {
    id: sys::mi_arena_id_t,
}

impl Arena {
    /// Reserves `bytes` of address space from the OS as a new arena (at least one 4 MiB
    /// segment; whole segments). `commit` commits it all at once (where the OS separates
    /// reserving from committing, as Windows does); otherwise segments are committed as they
    /// are used. `None` when the OS refuses (or `disallow_os_alloc` is set).
    pub fn reserve(bytes: usize, exclusive: bool, commit: bool) -> Option<Arena> {
        let mut id: sys::mi_arena_id_t = 0;
        // SAFETY: `id` is a valid out-pointer; the call has no other precondition.
        let rc = unsafe { sys::mi_reserve_os_memory_ex(bytes, commit, false, exclusive, &mut id) };
        (rc == 0 && id > 0).then_some(Arena { id })
    }

    /// Hands the program's own memory to the allocator as an arena: the whole 4 MiB-aligned
    /// segments inside `[start, start + size)` are used. `None` when the region holds no such
    /// segment, `start` is not aligned to an OS page, or `start` is null.
    ///
    /// ```
    /// use mimalloc::{Arena, Heap};
    /// use std::alloc::{alloc_zeroed, Layout};
    ///
    /// // 16 MiB, aligned to a segment, from the system allocator, and never freed
    /// let layout = Layout::from_size_align(16 << 20, 4 << 20).unwrap();
    /// // SAFETY: a non-zero size.
    /// let region = unsafe { alloc_zeroed(layout) };
    /// assert!(!region.is_null());
    /// // SAFETY: the region is valid, zeroed and committed, and nothing else uses or frees it.
    /// let arena = unsafe { Arena::manage(region, layout.size(), true, true, true) }.unwrap();
    /// assert_eq!(arena.area(), (region, 16 << 20));
    /// let heap = Heap::new_in(&arena);
    /// let p = heap.allocate_raw(1000);
    /// assert!(arena.contains(p));
    /// ```
    ///
    /// # Safety
    /// The region must be valid for reads and writes for `size` bytes, and must not be used
    /// by anything else, nor freed or unmapped, for the rest of the process: the allocator
    /// owns it from now on. `is_committed` and `is_zero` must tell the truth (memory said to
    /// be zero must read as zero, or `calloc` would hand out garbage).
    pub unsafe fn manage(
        start: *mut u8,
        size: usize,
        is_committed: bool,
        is_zero: bool,
        exclusive: bool,
    ) -> Option<Arena> {
        let mut id: sys::mi_arena_id_t = 0;
        // SAFETY: the caller guarantees the region; `id` is a valid out-pointer.
        let ok = unsafe {
            sys::mi_manage_os_memory_ex(
                start as *mut c_void,
                size,
                is_committed,
                false,
                is_zero,
                -1,
                exclusive,
                &mut id,
            )
        };
        (ok && id > 0).then_some(Arena { id })
    }

    /// The C arena id, for the raw `mi_*` arena functions.
    pub fn id(&self) -> sys::mi_arena_id_t {
        self.id
    }

    /// Start and length of the memory the arena carves segments from.
    pub fn area(&self) -> (*mut u8, usize) {
        let mut size = 0usize;
        // SAFETY: `size` is a valid out-pointer; arenas are never released.
        let start = unsafe { sys::mi_arena_area(self.id, &mut size) };
        (start as *mut u8, size)
    }

    /// Whether `ptr` points into this arena's memory.
    pub fn contains(&self, ptr: *const u8) -> bool {
        let (start, size) = self.area();
        let (p, s) = (ptr as usize, start as usize);
        p >= s && p < s + size
    }
}

impl Heap {
    /// A new heap of the calling thread that allocates only from `arena`.
    ///
    /// # Panics
    /// When the heap's bookkeeping cannot be allocated; see [`Heap::try_new_in`].
    pub fn new_in(arena: &Arena) -> Heap {
        match Heap::try_new_in(arena) {
            Some(heap) => heap,
            None => panic!(
                "mimalloc: out of memory while creating a heap in arena {}",
                arena.id
            ),
        }
    }

    /// A new heap that allocates only from `arena`, or `None` when memory is exhausted.
    pub fn try_new_in(arena: &Arena) -> Option<Heap> {
        // SAFETY: the id names a live arena (arenas are never released).
        let raw = unsafe { sys::mi_heap_new_in_arena(arena.id) };
        // SAFETY: a fresh heap of this thread.
        unsafe { Heap::from_new_raw(raw) }
    }
}
