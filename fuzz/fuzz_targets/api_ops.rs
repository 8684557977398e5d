//! libFuzzer target: the input is a sequence of allocator API calls, run against the shadow
//! model of `src/model.rs` (see there for the encoding and what is checked). A violated
//! property panics, which libFuzzer reports as a crash with the input saved.
#![no_main]

// The replay test reads the run summary; the fuzzer only needs the panics.
#[allow(dead_code)]
#[path = "../src/model.rs"]
mod model;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    model::run(data);
});
