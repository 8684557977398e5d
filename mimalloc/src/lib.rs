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
//! | `secure_canary` | `secure` plus a canary after every block, checked at free (heap overflows reported) |
//! | `debug` / `debug_full` | invariant checks and padding canaries (`MI_DEBUG=2` / `3`) |
//! | `debug_in_debug` | `debug` only in builds with debug assertions (the `dev`/`test` profiles) |
//! | `override` | the C side also exports `malloc`/`free`, so C dependencies use it too |
//! | `local_dynamic_tls` | thread-local model that works when loaded with `dlopen` |
//! | `valgrind` | valgrind's memcheck reports leaks, use after free and bad frees as with the system allocator (`MI_TRACK_VALGRIND=1`) |
//! | `extended` | re-exports the raw C API as `mimalloc::ffi` (always available as the `mimalloc_sys` crate) |
//! | `no_thp` | no transparent huge pages for any block: `mi_option_allow_thp` defaults to 0, and every mapping is marked `MADV_NOHUGEPAGE` (Linux; elsewhere there is nothing to turn off) |
//! | `v2`, `win_direct_tls` | accepted and ignored, so crates.io `mimalloc` dependency lines keep working: this crate always is the v2 API line, and the thread-local heap is always a compiler thread-local, on Windows too |
//! | `nightly` | `&Heap` also implements the standard library's unstable `Allocator` trait |
//!
//! Switching from crates.io `mimalloc` is a one-line change of the dependency (its feature names
//! are accepted too): `MiMalloc`, [`MiMalloc::version`], [`MiMalloc::usable_size`] and
//! [`MiMalloc::stats_json`] have the same names, signatures and meaning, and are available
//! without the `extended` feature that crates.io `mimalloc` needs for them.

#![no_std]
#![cfg_attr(feature = "nightly", feature(allocator_api))]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

mod arena;
mod global;
mod heap;
mod hooks;
mod limit;
mod options;
mod stats;

pub use arena::Arena;
pub use global::{MiMalloc, StatsJson};
pub use heap::{BlockInfo, Heap};
pub use hooks::{set_error_handler, set_output};
pub use limit::{memory_in_use, memory_limit, set_memory_limit};
pub use options::MiOption;
pub use stats::{
    collect, process_info, stats, stats_print, stats_reset, Count, ProcessInfo, SizeClass, Stats,
    SIZE_CLASS_SLOTS,
};

/// The `allocator-api2` crate whose `Allocator` trait `&Heap` implements: the version current
/// `hashbrown` uses, so `hashbrown::HashMap::new_in(&heap)` works on stable Rust.
pub use allocator_api2;

/// The raw C API (`mi_malloc`, `mi_heap_new`, `mi_option_set`, …): the whole of
/// [`mimalloc-sys`](mimalloc_sys) under the name `ffi`. (crates.io `mimalloc` keeps its
/// `libmimalloc-sys` private; see `mimalloc-sys`'s docs for how the two raw APIs compare.)
#[cfg(feature = "extended")]
pub use mimalloc_sys as ffi;
