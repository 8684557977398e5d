//! The process-wide memory limit (`mimalloc::set_memory_limit`): threads racing at the limit
//! never push the counted memory past it, refusals come back as errors, and freeing brings the
//! headroom back. One test in its own binary: the limit applies to everything in the process.

use mimalloc::MiMalloc;
use mimalloc_sys as sys;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[test]
fn racing_threads_never_pass_the_process_limit() {
    assert_eq!(mimalloc::memory_limit(), None);
    let base = mimalloc::memory_in_use();
    let limit = base + (96 << 20);
    mimalloc::set_memory_limit(Some(limit));

    let threads = 4;
    let barrier = Arc::new(Barrier::new(threads + 1));
    // every worker reads the counted total after each of its allocations: the largest value
    // any of them saw (a sampler thread of its own may not be scheduled during the race)
    let peak = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (barrier, peak) = (barrier.clone(), peak.clone());
            std::thread::spawn(move || {
                let mut blocks: Vec<*mut u8> = Vec::with_capacity(1 << 16);
                barrier.wait();
                // sizes of every page kind: small, medium, large and huge
                let sizes = [200usize, 3000, 40 << 10, 700 << 10, 5 << 20];
                let mut i = t;
                let mut refusals = 0;
                while refusals < 64 {
                    let size = sizes[i % sizes.len()];
                    i += 1;
                    // SAFETY: plain allocation; checked for null below.
                    let p = unsafe { sys::mi_malloc(size) } as *mut u8;
                    if p.is_null() {
                        refusals += 1;
                        continue;
                    }
                    // SAFETY: `p` is a fresh block of `size` bytes; touch its ends.
                    unsafe {
                        p.write(t as u8);
                        p.add(size - 1).write(t as u8);
                    }
                    blocks.push(p);
                    peak.fetch_max(mimalloc::memory_in_use(), Ordering::Relaxed);
                }
                let n = blocks.len();
                for p in blocks {
                    // SAFETY: each block is live, was stamped by this thread, and is freed once.
                    unsafe {
                        assert_eq!(p.read(), t as u8);
                        sys::mi_free(p.cast());
                    }
                }
                // SAFETY: collects this thread's empty pages.
                unsafe { sys::mi_collect(true) };
                n
            })
        })
        .collect();
    barrier.wait();
    let counts: Vec<usize> = workers.into_iter().map(|w| w.join().unwrap()).collect();

    // a race needs two: a thread scheduled late (Wine on a loaded machine) may find the
    // limit taken already, which is the limit working, not a failure
    assert!(
        counts.iter().filter(|&&n| n > 0).count() >= 2,
        "at least two threads got memory in the race: {counts:?}"
    );
    let peak = peak.load(Ordering::Relaxed);
    assert!(
        peak <= limit,
        "counted {peak} bytes past a {limit}-byte limit"
    );
    assert!(
        peak >= limit - (16 << 20),
        "the threads stopped well short of the limit: {peak} of {limit}"
    );

    // the workers freed everything and exited: the headroom is back
    // SAFETY: collects the main thread's pages (and what exited threads left).
    unsafe { sys::mi_collect(true) };
    let after = mimalloc::memory_in_use();
    assert!(
        after <= base + (8 << 20),
        "in use {after} after the frees, {base} before"
    );
    // SAFETY: plain allocation.
    let p = unsafe { sys::mi_malloc(64 << 20) };
    assert!(!p.is_null(), "64 MiB fit again once the blocks were freed");
    // SAFETY: `p` is live and freed once.
    unsafe { sys::mi_free(p) };

    mimalloc::set_memory_limit(None);
    assert_eq!(mimalloc::memory_limit(), None);
}
