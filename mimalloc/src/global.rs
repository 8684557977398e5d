//! [`MiMalloc`]: the allocator as a [`GlobalAlloc`], plus the calls crates.io `mimalloc` offers
//! on it (`version`, `usable_size`, `stats_json`).

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

use mimalloc_sys as sys;

/// The statistics as JSON text, freed when dropped; dereferences to a [`CStr`](core::ffi::CStr).
#[derive(Debug)]
pub struct StatsJson {
    text: core::ptr::NonNull<core::ffi::c_char>,
}

impl core::ops::Deref for StatsJson {
    type Target = core::ffi::CStr;

    fn deref(&self) -> &core::ffi::CStr {
        // SAFETY: `text` is the NUL-terminated string mi_stats_get_json returned, alive until drop.
        unsafe { core::ffi::CStr::from_ptr(self.text.as_ptr()) }
    }
}

impl Drop for StatsJson {
    fn drop(&mut self) {
        // SAFETY: the text was allocated with mi_malloc and is freed once.
        unsafe { sys::mi_free(self.text.as_ptr() as *mut c_void) }
    }
}

/// The allocator, for use as the global allocator or through [`GlobalAlloc`] directly.
///
/// ```
/// use core::alloc::{GlobalAlloc, Layout};
/// use mimalloc::MiMalloc;
///
/// let layout = Layout::from_size_align(64, 64).unwrap();
/// // SAFETY: the layout has a non-zero size; the block is freed with the same layout.
/// unsafe {
///     let p = MiMalloc.alloc(layout);
///     assert!(!p.is_null());
///     assert_eq!(p as usize % 64, 0);
///     MiMalloc.dealloc(p, layout);
/// }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct MiMalloc;

/// Whether the plain (unaligned) C API already guarantees `align` for a block of `size` bytes:
/// `mi_malloc(n)` is aligned to 16 for `n >= 16` and to the largest power of two not above
/// `n` below that, in every build mode (the C tests check this invariant). Written as one
/// compare against a minimum: a compare, a conditional move and a branch, where the two tests
/// joined by `&&` take two compares, two flag materialisations and a test.
#[inline(always)]
fn plain_api_aligns(size: usize, align: usize) -> bool {
    align <= size.min(sys::MI_MAX_ALIGN_SIZE)
}

// SAFETY: every method forwards to the C allocator, which returns null or a block of at least
// the requested size. The plain calls are used only where `plain_api_aligns` shows that their
// alignment guarantee covers the layout; otherwise the aligned calls get the layout's alignment.
// `dealloc` and `realloc` only see pointers this allocator handed out (GlobalAlloc contract),
// and mi_free/mi_realloc accept a block from either family.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let (size, align) = (layout.size(), layout.align());
        if plain_api_aligns(size, align) {
            // SAFETY: mi_malloc has no preconditions; `align <= MI_MAX_ALIGN_SIZE` and
            // `align <= size` (checked just above) are within what it aligns every block to.
            unsafe { sys::mi_malloc(size) as *mut u8 }
        } else {
            // SAFETY: mi_malloc_aligned needs a power-of-two alignment, which `Layout`
            // guarantees for `align`.
            unsafe { sys::mi_malloc_aligned(size, align) as *mut u8 }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let (size, align) = (layout.size(), layout.align());
        if plain_api_aligns(size, align) {
            // SAFETY: mi_zalloc has no preconditions and aligns like mi_malloc, which covers
            // `align` (checked just above). It skips clearing memory fresh from the OS.
            unsafe { sys::mi_zalloc(size) as *mut u8 }
        } else {
            // SAFETY: mi_zalloc_aligned needs a power-of-two alignment, which `Layout`
            // guarantees for `align`.
            unsafe { sys::mi_zalloc_aligned(size, align) as *mut u8 }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: mi_free needs a live block of ours (or null): the GlobalAlloc contract says
        // `ptr` came from this allocator's `alloc`/`realloc` and was not freed since.
        unsafe { sys::mi_free(ptr as *mut c_void) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        // The rule is applied to the new size: the block the call returns must be aligned for
        // `Layout::from_size_align(new_size, align)`.
        if plain_api_aligns(new_size, align) {
            // SAFETY: mi_realloc needs a live block of ours: `ptr` is one (GlobalAlloc
            // contract). The block it returns, in place or moved, is aligned like mi_malloc's,
            // which covers `align` for `new_size` (checked just above).
            unsafe { sys::mi_realloc(ptr as *mut c_void, new_size) as *mut u8 }
        } else {
            // SAFETY: `ptr` is a live block of ours (GlobalAlloc contract) and `align`, the
            // alignment mi_realloc_aligned keeps, is a power of two (`Layout` guarantees it).
            unsafe { sys::mi_realloc_aligned(ptr as *mut c_void, new_size, align) as *mut u8 }
        }
    }
}

impl MiMalloc {
    /// The process's statistics as a JSON document (as crates.io `mimalloc` offers it).
    ///
    /// ```
    /// let json = mimalloc::MiMalloc::stats_json().expect("memory for the text");
    /// let text = json.to_str().expect("ASCII");
    /// assert!(text.starts_with('{') && text.contains("\"pages\""));
    /// ```
    pub fn stats_json() -> Result<StatsJson, &'static str> {
        // SAFETY: mi_stats_get_json with a null buffer (and size 0) writes nothing of ours and
        // returns a new mi_malloc'ed NUL-terminated text, or null; StatsJson frees it once.
        let text = unsafe { sys::mi_stats_get_json(0, core::ptr::null_mut()) };
        core::ptr::NonNull::new(text)
            .map(|text| StatsJson { text })
            .ok_or("out of memory for the statistics text")
    }

    /// The allocator's version as `major * 100 + minor` (our own version, not upstream's).
    ///
    /// ```
    /// assert!(mimalloc::MiMalloc.version() >= 10);
    /// ```
    pub fn version(&self) -> u32 {
        // SAFETY: mi_version has no preconditions.
        unsafe { sys::mi_version() as u32 }
    }

    /// Usable bytes of the block at `ptr` (at least what was asked for), or 0 for null: the
    /// block may be used, and `realloc`ed in place, up to that size.
    ///
    /// # Safety
    /// `ptr` must be null or a live block allocated by this allocator (a pointer its `alloc`,
    /// `alloc_zeroed` or `realloc` returned and that was not freed since).
    ///
    /// ```
    /// use core::alloc::{GlobalAlloc, Layout};
    /// use mimalloc::MiMalloc;
    /// let layout = Layout::from_size_align(100, 8).unwrap();
    /// // SAFETY: the block is live while asked about and freed once.
    /// unsafe {
    ///     let p = MiMalloc.alloc(layout);
    ///     assert!(MiMalloc.usable_size(p) >= 100);
    ///     MiMalloc.dealloc(p, layout);
    /// }
    /// ```
    #[inline]
    pub unsafe fn usable_size(&self, ptr: *const u8) -> usize {
        // SAFETY: mi_usable_size needs null or a live block of ours, which is this function's
        // own safety contract.
        unsafe { sys::mi_usable_size(ptr as *const c_void) }
    }
}
