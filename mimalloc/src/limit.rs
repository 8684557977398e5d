//! The process-wide memory limit (an extension of ours: upstream mimalloc has none).
//!
//! The limit counts the memory of pages handed to heaps: a small (64 KiB) or medium (512 KiB)
//! page whole, a large or huge allocation's whole segment. An allocation that would pass it
//! fails: [`MiMalloc`](crate::MiMalloc) returns null, so `Vec::try_reserve` and friends return
//! an error and infallible collections call `handle_alloc_error`. Nothing already allocated is
//! touched, and freeing brings the headroom back once a page is empty. Threads racing at the
//! limit never push the total past it. `MIMALLOC_MEMORY_LIMIT=512MiB` in the environment sets
//! it at start; per-heap limits are [`Heap::with_limit`](crate::Heap::with_limit).

use mimalloc_sys as sys;

/// Sets the process-wide limit, or removes it with `None`. A limit below the memory in use
/// only stops further growth.
///
/// ```
/// let before = mimalloc::memory_limit();
/// mimalloc::set_memory_limit(Some(64 << 40)); // far above anything this example uses
/// assert_eq!(mimalloc::memory_limit(), Some(64 << 40));
/// mimalloc::set_memory_limit(before);
/// ```
pub fn set_memory_limit(bytes: Option<usize>) {
    // SAFETY: a plain store of a word; any value is valid (0 means no limit).
    unsafe { sys::mi_set_memory_limit(bytes.unwrap_or(0)) }
}

/// The process-wide limit, `None` when there is none.
pub fn memory_limit() -> Option<usize> {
    // SAFETY: reads a word; no preconditions.
    match unsafe { sys::mi_get_memory_limit() } {
        0 => None,
        bytes => Some(bytes),
    }
}

/// Bytes the limit counts right now, over every thread and heap (abandoned pages of exited
/// threads included).
pub fn memory_in_use() -> usize {
    // SAFETY: reads a word; no preconditions.
    unsafe { sys::mi_memory_in_use() }
}
