//! libFuzzer target: the input is a sequence of allocator API calls, run against the shadow
//! model of `mimalloc_testkit::api_model` (see there for the encoding and what is checked). A
//! violated property panics, which libFuzzer reports as a crash with the input saved.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The replay test reads the run summary; the fuzzer only needs the panics.
    mimalloc_testkit::api_model::run(data);
});
