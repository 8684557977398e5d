//! First-class heaps: allocate many objects in one heap and free them all at once.

use core::alloc::Layout;
use core::ffi::c_void;
use core::marker::PhantomData;
use core::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};
use mimalloc_sys as sys;

/// A heap of its own, owned by the thread that created it.
///
/// `&Heap` is an [`Allocator`](allocator_api2::alloc::Allocator), so collections can live in
/// it; the borrow checker then proves that nothing allocated in the heap outlives it. Dropping
/// the heap frees everything in it at once (`mi_heap_destroy`), which is much faster than
/// freeing objects one by one: the pattern of a per-request arena. `allocate` and
/// `allocate_zeroed` return the whole block (its usable size, at least the layout's size), so a
/// collection that reads the slice's length can use the size class's slack.
///
/// ```
/// use mimalloc::Heap;
/// use mimalloc::allocator_api2::vec::Vec;
///
/// let heap = Heap::new();
/// let mut v = Vec::new_in(&heap);
/// v.extend(0..1000u32);
/// assert_eq!(v.iter().sum::<u32>(), 499_500);
/// assert!(heap.contains(v.as_ptr().cast()));
/// drop(v);
/// drop(heap); // frees whatever is still in it
/// ```
///
/// A heap belongs to its thread: it is neither `Send` nor `Sync`.
///
/// ```compile_fail
/// let heap = mimalloc::Heap::new();
/// std::thread::spawn(move || drop(heap));
/// ```
///
/// A collection cannot outlive its heap:
///
/// ```compile_fail
/// use mimalloc::allocator_api2::vec::Vec;
/// let v = {
///     let heap = mimalloc::Heap::new();
///     let mut v = Vec::new_in(&heap);
///     v.push(1u8);
///     v
/// };
/// ```
#[derive(Debug)]
pub struct Heap {
    raw: NonNull<sys::mi_heap_t>,
    /// Heaps belong to one thread: `*mut` makes the type `!Send` and `!Sync`.
    _owned_by_thread: PhantomData<*mut ()>,
}

/// One live block, as [`Heap::visit_blocks`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// Address of the block.
    pub addr: *const u8,
    /// Bytes of the block the program may use.
    pub size: usize,
}

impl Heap {
    /// A new, empty heap owned by the calling thread.
    ///
    /// # Panics
    /// When the heap's bookkeeping cannot be allocated (out of memory); see [`Heap::try_new`].
    pub fn new() -> Heap {
        match Heap::try_new() {
            Some(heap) => heap,
            None => panic!("mimalloc: out of memory while creating a heap"),
        }
    }

    /// A new heap, or `None` when memory is exhausted.
    pub fn try_new() -> Option<Heap> {
        // SAFETY: mi_heap_new has no preconditions; the result is owned by this thread.
        let raw = unsafe { sys::mi_heap_new() };
        NonNull::new(raw).map(|raw| Heap {
            raw,
            _owned_by_thread: PhantomData,
        })
    }

    /// A new heap that may hold at most `bytes` of pages (counted as
    /// [`set_memory_limit`](crate::set_memory_limit) counts them: a small page is 64 KiB
    /// (blocks up to 8 KiB), a medium one 512 KiB (up to 128 KiB), a large or huge block its
    /// whole segment). Past the limit the heap's allocations fail
    /// (`Vec::try_reserve_in`-style calls return an error, `allocate_raw` null) while other
    /// heaps and threads go on; freeing brings the headroom back once a page is empty.
    ///
    /// ```
    /// use mimalloc::Heap;
    /// use mimalloc::allocator_api2::vec::Vec;
    ///
    /// let heap = Heap::with_limit(8 << 20);
    /// let mut v: Vec<u8, &Heap> = Vec::new_in(&heap);
    /// assert!(v.try_reserve(1 << 20).is_ok()); // a 4 MiB large page: fits in 8 MiB
    /// assert!(v.try_reserve(16 << 20).is_err()); // does not fit: refused, v is untouched
    /// assert!(v.capacity() >= 1 << 20);
    /// assert!(heap.memory_in_use() <= 8 << 20);
    /// ```
    ///
    /// # Panics
    /// When the heap's bookkeeping cannot be allocated, like [`Heap::new`].
    pub fn with_limit(bytes: usize) -> Heap {
        let heap = Heap::new();
        heap.set_limit(Some(bytes));
        heap
    }

    /// Sets this heap's limit, or removes it with `None`. A limit below what the heap holds
    /// only stops further growth.
    pub fn set_limit(&self, bytes: Option<usize>) {
        // SAFETY: the heap is live and on its own thread (Heap is !Send), as the C side requires.
        let ok = unsafe { sys::mi_heap_set_memory_limit(self.raw.as_ptr(), bytes.unwrap_or(0)) };
        debug_assert!(ok, "a live Heap on its own thread always takes a limit");
    }

    /// Sampled guard pages: 1 in `rate` of this heap's allocations (within the size bound of
    /// [`Heap::set_guarded_size_bound`]) gets memory of its own that ends right before a
    /// no-access page, so a write past the block faults (SIGSEGV) where it happens instead of
    /// corrupting a neighbour, as GWP-ASan does. `rate` 0 turns sampling off; `seed` picks which
    /// of the first `rate` allocations is sampled first (0: random). Each sampled block costs a
    /// mapping and an `mprotect` of its own, and while sampling is on, every allocation of the
    /// heap is counted in the allocator's slow path (slower by up to 2x at rate 1000); at rate 0
    /// (the default) nothing changes. A heap starts with the `MIMALLOC_GUARDED_SAMPLE_RATE` /
    /// `_SEED` options' values.
    ///
    /// ```
    /// use mimalloc::Heap;
    /// use mimalloc::allocator_api2::vec::Vec;
    ///
    /// let heap = Heap::new();
    /// heap.set_guarded_sampling(1, 0); // every allocation: for tests
    /// let mut v: Vec<u8, &Heap> = Vec::with_capacity_in(100, &heap);
    /// v.extend_from_slice(&[7; 100]);
    /// assert_eq!(v.iter().map(|&b| b as usize).sum::<usize>(), 700);
    /// ```
    pub fn set_guarded_sampling(&self, rate: usize, seed: usize) {
        // SAFETY: the heap is live and on its own thread (Heap is !Send), as the C side requires.
        unsafe { sys::mi_heap_guarded_set_sample_rate(self.raw.as_ptr(), rate, seed) }
    }

    /// Only allocations of `min` to `max` bytes (`max` 0: no upper bound) are sampled by
    /// [`Heap::set_guarded_sampling`]. Starts as the `MIMALLOC_GUARDED_MIN` / `_MAX` options say.
    pub fn set_guarded_size_bound(&self, min: usize, max: usize) {
        // SAFETY: the heap is live and on its own thread (Heap is !Send), as the C side requires.
        unsafe { sys::mi_heap_guarded_set_size_bound(self.raw.as_ptr(), min, max) }
    }

    /// This heap's limit, `None` when it has none.
    pub fn limit(&self) -> Option<usize> {
        // SAFETY: the heap is live; the call only reads it.
        match unsafe { sys::mi_heap_get_memory_limit(self.raw.as_ptr()) } {
            0 => None,
            bytes => Some(bytes),
        }
    }

    /// Bytes of pages this heap holds, as its limit counts them.
    pub fn memory_in_use(&self) -> usize {
        // SAFETY: the heap is live; the call only reads it.
        unsafe { sys::mi_heap_memory_in_use(self.raw.as_ptr()) }
    }

    /// Wraps a heap just created on this thread (NULL: `None`).
    ///
    /// # Safety
    /// `raw` is null or a heap created by the calling thread that nothing else owns.
    pub(crate) unsafe fn from_new_raw(raw: *mut sys::mi_heap_t) -> Option<Heap> {
        NonNull::new(raw).map(|raw| Heap {
            raw,
            _owned_by_thread: PhantomData,
        })
    }

    /// The underlying C heap, for the raw `mi_heap_*` functions.
    pub fn as_raw(&self) -> *mut sys::mi_heap_t {
        self.raw.as_ptr()
    }

    /// Whether `ptr` points into a live block of this heap. Any pointer may be asked about:
    /// the answer never reads the memory it points to.
    pub fn contains(&self, ptr: *const u8) -> bool {
        // SAFETY: the heap is live; mi_heap_contains_block accepts any pointer (it consults the
        // segment map before touching allocator metadata).
        unsafe { sys::mi_heap_contains_block(self.raw.as_ptr(), ptr as *const c_void) }
    }

    /// Usable bytes of the block at `ptr`, or `None` when `ptr` is not a block of this heap.
    pub fn usable_size(&self, ptr: *const u8) -> Option<usize> {
        if !self.contains(ptr) {
            return None;
        }
        // SAFETY: `ptr` lies in a live block of this heap (checked above).
        Some(unsafe { sys::mi_usable_size(ptr as *const c_void) })
    }

    /// Gives empty pages back; with `force`, also returns memory to the OS at once.
    pub fn collect(&self, force: bool) {
        // SAFETY: the heap is live and used on its own thread (Heap is !Send).
        unsafe { sys::mi_heap_collect(self.raw.as_ptr(), force) }
    }

    /// Calls `visit` with every live block of the heap; stops early when it returns `false`.
    /// Returns `false` when stopped early.
    ///
    /// ```
    /// let heap = mimalloc::Heap::new();
    /// let blocks: Vec<*mut u8> = (1..=10).map(|n| heap.allocate_raw(n * 8)).collect();
    /// let mut count = 0;
    /// heap.visit_blocks(|block| {
    ///     assert!(block.size >= 8);
    ///     count += 1;
    ///     true
    /// });
    /// assert_eq!(count, blocks.len());
    /// ```
    pub fn visit_blocks<F: FnMut(BlockInfo) -> bool>(&self, mut visit: F) -> bool {
        unsafe extern "C" fn trampoline<F: FnMut(BlockInfo) -> bool>(
            _heap: *const sys::mi_heap_t,
            _area: *const sys::mi_heap_area_t,
            block: *mut c_void,
            block_size: usize,
            arg: *mut c_void,
        ) -> bool {
            if block.is_null() {
                return true; // an area header; only blocks are reported
            }
            // SAFETY: `arg` is the `&mut F` passed to mi_heap_visit_blocks below, alive for the call.
            let visit = unsafe { &mut *(arg as *mut F) };
            visit(BlockInfo {
                addr: block as *const u8,
                size: block_size,
            })
        }
        // SAFETY: the heap is live and on its thread; the callback matches mi_block_visit_fun and
        // `arg` points to `visit` for the duration of the call.
        unsafe {
            sys::mi_heap_visit_blocks(
                self.raw.as_ptr(),
                true,
                Some(trampoline::<F>),
                &mut visit as *mut F as *mut c_void,
            )
        }
    }

    /// Deletes the heap but keeps its live blocks: they move to the thread's default heap and
    /// must then be freed like any other (with `mi_free`, or by the global allocator when it is
    /// [`MiMalloc`](crate::MiMalloc)).
    pub fn delete_keep_blocks(self) {
        let raw = self.raw.as_ptr();
        core::mem::forget(self);
        // SAFETY: the heap is live, on its thread, and not used again (self was consumed).
        unsafe { sys::mi_heap_delete(raw) }
    }

    /// Allocates `size` bytes in this heap (a raw block, freed with the heap or `mi_free`).
    /// Returns null when memory is exhausted.
    pub fn allocate_raw(&self, size: usize) -> *mut u8 {
        // SAFETY: the heap is live and on its thread.
        unsafe { sys::mi_heap_malloc(self.raw.as_ptr(), size) as *mut u8 }
    }

    fn alloc_layout(&self, layout: Layout, zero: bool) -> Result<NonNull<[u8]>, AllocError> {
        let (size, align) = (layout.size(), layout.align());
        if size == 0 {
            return Ok(dangling(layout));
        }
        let heap = self.raw.as_ptr();
        // The whole block is the caller's (zeroed too, when asked for), not just the request: a
        // collection that reads the slice's length can use the size class's slack.
        let mut usable = 0usize;
        // SAFETY: the heap is live and on its thread; `align` is a power of two (Layout);
        // `usable` is a valid out-parameter; a non-null block is live.
        let p = unsafe {
            match (align <= sys::MI_MAX_ALIGN_SIZE && align <= size, zero) {
                (true, false) => sys::mi_heap_umalloc(heap, size, &mut usable),
                (true, true) => sys::mi_heap_uzalloc(heap, size, &mut usable),
                (false, zero) => {
                    let p = if zero {
                        sys::mi_heap_zalloc_aligned(heap, size, align)
                    } else {
                        sys::mi_heap_malloc_aligned(heap, size, align)
                    };
                    if !p.is_null() {
                        usable = sys::mi_usable_size(p);
                    }
                    p
                }
            }
        };
        if p.is_null() {
            return Err(AllocError);
        }
        debug_assert!(usable >= size);
        block_slice(p as *mut u8, usable)
    }
}

impl Default for Heap {
    fn default() -> Self {
        Heap::new()
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        // SAFETY: the heap is live and on its thread (Heap is !Send); every block allocated
        // through `&Heap` borrowed the heap, so none is reachable any more.
        unsafe { sys::mi_heap_destroy(self.raw.as_ptr()) }
    }
}

/// A well-aligned, non-null pointer for zero-size allocations, which never reach C.
fn dangling(layout: Layout) -> NonNull<[u8]> {
    // SAFETY: an alignment is never zero.
    let p = unsafe { NonNull::new_unchecked(layout.align() as *mut u8) };
    NonNull::slice_from_raw_parts(p, 0)
}

fn block_slice(p: *mut u8, size: usize) -> Result<NonNull<[u8]>, AllocError> {
    let p = NonNull::new(p).ok_or(AllocError)?;
    Ok(NonNull::slice_from_raw_parts(p, size))
}

// SAFETY: blocks come from this heap with at least the layout's size and alignment; they stay
// valid until deallocated or the heap is dropped, which the `&Heap` borrow prevents while any
// collection using it is alive. Zero-size layouts get dangling, aligned pointers.
unsafe impl Allocator for &Heap {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.alloc_layout(layout, false)
    }

    fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.alloc_layout(layout, true)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() != 0 {
            // SAFETY: the Allocator contract: `ptr` is a live block of this heap.
            unsafe { sys::mi_free(ptr.as_ptr() as *mut c_void) }
        }
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        if old.size() == 0 {
            return self.allocate(new);
        }
        // SAFETY: `ptr` is a live block of this heap (Allocator contract); the new alignment is
        // a power of two; realloc keeps the first old.size() bytes.
        let p = unsafe {
            sys::mi_heap_realloc_aligned(
                self.raw.as_ptr(),
                ptr.as_ptr() as *mut c_void,
                new.size(),
                new.align(),
            )
        };
        block_slice(p as *mut u8, new.size())
    }

    unsafe fn grow_zeroed(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: forwarded Allocator contract.
        let block = unsafe { self.grow(ptr, old, new)? };
        // SAFETY: the new block has new.size() bytes; the bytes past old.size() must be zero.
        unsafe {
            core::ptr::write_bytes(
                (block.as_ptr() as *mut u8).add(old.size()),
                0,
                new.size() - old.size(),
            )
        };
        Ok(block)
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        if new.size() == 0 {
            // SAFETY: forwarded Allocator contract.
            unsafe { self.deallocate(ptr, old) };
            return Ok(dangling(new));
        }
        // SAFETY: as in grow.
        let p = unsafe {
            sys::mi_heap_realloc_aligned(
                self.raw.as_ptr(),
                ptr.as_ptr() as *mut c_void,
                new.size(),
                new.align(),
            )
        };
        block_slice(p as *mut u8, new.size())
    }
}

#[cfg(feature = "nightly")]
// SAFETY: the same contract as the allocator-api2 implementation above, which this forwards to.
unsafe impl core::alloc::Allocator for &Heap {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, core::alloc::AllocError> {
        Allocator::allocate(self, layout).map_err(|_| core::alloc::AllocError)
    }
    fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, core::alloc::AllocError> {
        Allocator::allocate_zeroed(self, layout).map_err(|_| core::alloc::AllocError)
    }
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { Allocator::deallocate(self, ptr, layout) }
    }
    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, core::alloc::AllocError> {
        // SAFETY: forwarded contract.
        unsafe { Allocator::grow(self, ptr, old, new) }.map_err(|_| core::alloc::AllocError)
    }
    unsafe fn grow_zeroed(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, core::alloc::AllocError> {
        // SAFETY: forwarded contract.
        unsafe { Allocator::grow_zeroed(self, ptr, old, new) }.map_err(|_| core::alloc::AllocError)
    }
    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, core::alloc::AllocError> {
        // SAFETY: forwarded contract.
        unsafe { Allocator::shrink(self, ptr, old, new) }.map_err(|_| core::alloc::AllocError)
    }
}
