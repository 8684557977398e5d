//! Helpers shared by the tests of `mimalloc-sys` and `mimalloc`, the API fuzzer and the stress
//! tool, so each is written once: block contents checked at memcpy speed ([`pattern`]), the
//! layout sweep over every allocation interface ([`sweep`]), a deterministic generator
//! ([`rng`]), re-executing a test binary as a child process ([`child`]) or under memcheck
//! ([`valgrind`]), what the allocator reports about itself ([`sys`]), the C `errno`
//! ([`errno`]), and the fuzzer's decoder and shadow model ([`api_model`]).
//!
//! Plain std Rust (with `cfg(unix)`/`cfg(windows)` where the OS shows), so it builds for every
//! target the tests are cross-built for.

pub mod api_model;
pub mod child;
pub mod errno;
pub mod pattern;
pub mod rng;
pub mod sweep;
pub mod sys;
pub mod valgrind;
