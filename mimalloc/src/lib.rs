//! A fast, hardened general-purpose allocator for Rust programs: our own C implementation of
//! the mimalloc design (free-list sharding, per-thread heaps, lock-free cross-thread frees),
//! compiled from source by [`mimalloc-sys`](mimalloc_sys).
//!
//! # Quick start
//!
//! ```no_run
//! use mimalloc::MiMalloc;
//!
//! #[global_allocator]
//! static GLOBAL: MiMalloc = MiMalloc;
//!
//! fn main() {
//!     let v: Vec<u64> = (0..1000).collect();
//!     assert_eq!(v.len(), 1000);
//! }
//! ```
//!
//! # Heaps, options and statistics
//!
//! - [`Heap`]: a heap of its own, usable as an allocator for collections (`&Heap` implements
//!   [`allocator_api2`]'s `Allocator`, the trait `hashbrown` uses); dropping it frees everything
//!   in it at once.
//! - [`MiOption`]: every option the allocator implements, typed, with its environment variable.
//!   Defaults can be compiled in with `MIMALLOC_DEFAULT_<NAME>` in the build environment.
//! - [`stats`], [`process_info`], [`stats_print`], [`stats_reset`], [`collect`]: the
//!   allocator's numbers as data, and the text report.
//! - [`set_output`], [`set_error_handler`]: where messages go, and who hears of errors.
//!
//! ```
//! use mimalloc::{Heap, MiOption};
//! use mimalloc::allocator_api2::vec::Vec;
//!
//! MiOption::PurgeDelay.set(0); // return empty pages to the OS at once
//! let heap = Heap::new();
//! let mut names = Vec::new_in(&heap);
//! names.push("ada");
//! assert_eq!(names.len(), 1);
//! drop(names);
//! drop(heap);
//! assert!(mimalloc::stats().threads.current >= 1);
//! ```
//!
//! # Cargo features
//!
//! | feature | effect |
//! |---|---|
//! | `secure` | guard pages, encoded free lists, double-free detection (`MI_SECURE=4`) |
//! | `debug` / `debug_full` | invariant checks and padding canaries (`MI_DEBUG=2` / `3`) |
//! | `debug_in_debug` | `debug` only when the build profile is `debug` |
//! | `override` | the C side also exports `malloc`/`free`, so C dependencies use it too |
//! | `local_dynamic_tls` | thread-local model that works when loaded with `dlopen` |
//! | `extended` | re-exports the raw C API as `mimalloc::ffi` (always available as `mimalloc_sys`) |
//! | `nightly` | `&Heap` also implements the standard library's unstable `Allocator` trait |
//!
//! Switching from crates.io `mimalloc` is a one-line change of the dependency: `MiMalloc`,
//! [`MiMalloc::version`] and [`MiMalloc::usable_size`] have the same names and meaning.

#![no_std]
#![cfg_attr(feature = "nightly", feature(allocator_api))]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

use mimalloc_sys as sys;

mod heap;
mod hooks;
mod options;
mod stats;

pub use heap::{BlockInfo, Heap};
pub use hooks::{set_error_handler, set_output};
pub use options::MiOption;
pub use stats::{
    collect, process_info, stats, stats_print, stats_reset, Count, ProcessInfo, SizeClass, Stats,
    SIZE_CLASS_SLOTS,
};

/// The `allocator-api2` crate whose `Allocator` trait `&Heap` implements: the version current
/// `hashbrown` uses, so `hashbrown::HashMap::new_in(&heap)` works on stable Rust.
pub use allocator_api2;

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

/// The raw C API (`mi_malloc`, `mi_heap_new`, `mi_option_set`, …), as crates.io `mimalloc`
/// re-exports it with its `extended` feature.
#[cfg(feature = "extended")]
pub use mimalloc_sys as ffi;

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
/// `n` below that, in every build mode (the C tests check this invariant).
#[inline(always)]
fn plain_api_aligns(size: usize, align: usize) -> bool {
    align <= sys::MI_MAX_ALIGN_SIZE && align <= size
}

// SAFETY: every method forwards to the C allocator, which returns either null or a block of at
// least the requested size aligned as the layout asks (plain API only where its guarantee
// covers the alignment, see `plain_api_aligns`), and frees blocks it handed out.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let (size, align) = (layout.size(), layout.align());
        if plain_api_aligns(size, align) {
            // SAFETY: mi_malloc has no preconditions; its alignment covers `align` (see above).
            unsafe { sys::mi_malloc(size) as *mut u8 }
        } else {
            // SAFETY: `align` is a power of two, as every Layout's is.
            unsafe { sys::mi_malloc_aligned(size, align) as *mut u8 }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let (size, align) = (layout.size(), layout.align());
        if plain_api_aligns(size, align) {
            // SAFETY: as in `alloc`; fresh OS memory is known zero and not cleared twice.
            unsafe { sys::mi_zalloc(size) as *mut u8 }
        } else {
            // SAFETY: `align` is a power of two, as every Layout's is.
            unsafe { sys::mi_zalloc_aligned(size, align) as *mut u8 }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the GlobalAlloc contract says `ptr` came from this allocator and is live.
        unsafe { sys::mi_free(ptr as *mut c_void) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        if plain_api_aligns(new_size, align) {
            // SAFETY: `ptr` is live and ours (GlobalAlloc contract); mi_realloc keeps the
            // block in place while its size class allows, else copies.
            unsafe { sys::mi_realloc(ptr as *mut c_void, new_size) as *mut u8 }
        } else {
            // SAFETY: as above, and `align` is a power of two.
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
        // SAFETY: with a NULL buffer, mi_stats_get_json allocates the text with mi_malloc.
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

    /// Usable bytes of the block at `ptr` (at least what was asked for), or 0 for null.
    ///
    /// # Safety
    /// `ptr` must be null or point into a live block allocated by this allocator.
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
        // SAFETY: forwarded caller contract: `ptr` is null or a live block of ours.
        unsafe { sys::mi_usable_size(ptr as *const c_void) }
    }
}
