//! Raw FFI bindings to our allocator: a from-scratch C implementation of the mimalloc design
//! (free-list sharding, per-thread heaps, lock-free cross-thread frees), compiled from the
//! bundled `c_src/` by this crate's build script.
//!
//! The C API follows upstream mimalloc's v2 line: the same function names and signatures, the
//! same `mi_option_t` members with the same numbering, the same `MIMALLOC_<NAME>` environment
//! variables. A program written against crates.io `libmimalloc-sys` builds against this crate
//! by changing only its dependency line:
//!
//! ```toml
//! libmimalloc-sys = { package = "mimalloc-sys", path = "…/mimalloc-sys" }
//! ```
//!
//! ```
//! use mimalloc_sys::*;
//! // SAFETY: the pointer comes from mi_malloc and is freed exactly once.
//! unsafe {
//!     mi_option_set(mi_option_show_stats, 0);
//!     let p = mi_malloc(100);
//!     assert!(!p.is_null());
//!     assert!(mi_usable_size(p) >= 100);
//!     mi_free(p);
//! }
//! ```
//!
//! # Cargo features
//!
//! | feature | effect on the C build |
//! |---|---|
//! | `secure` | `MI_SECURE=4`: guard pages, encoded free lists, double-free detection |
//! | `debug` | `MI_DEBUG=2`: invariant checks, padding canaries, fill patterns |
//! | `debug_full` | `MI_DEBUG=3`: also expensive checks |
//! | `debug_in_debug` | `MI_DEBUG=2` only in builds with the `debug` profile |
//! | `override` | exports `malloc`, `free`, … so C code in the process uses this allocator |
//! | `local_dynamic_tls` | TLS model that works when the library is loaded with `dlopen` |
//! | `extended` | accepted for compatibility with `libmimalloc-sys`; the whole API is always here |
//!
//! [`mi_build_config`] reports what the C side was actually compiled with.

#![no_std]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

#[allow(
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    clippy::missing_safety_doc,
    clippy::undocumented_unsafe_blocks,
    clippy::useless_transmute,
    clippy::ptr_offset_with_cast
)]
mod bindings {
    include!("bindings.rs");
}

pub use bindings::*;

/// Largest size served by the small-object path (`mi_malloc_small`): 128 words.
pub const MI_SMALL_SIZE_MAX: usize = 128 * core::mem::size_of::<*mut core::ffi::c_void>();

/// Alignment that `mi_malloc(n)` guarantees for every `n >= MI_MAX_ALIGN_SIZE`; smaller sizes
/// are aligned to the largest power of two not above `n`.
pub const MI_MAX_ALIGN_SIZE: usize = 16;
