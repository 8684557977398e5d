//! Exited threads whose segments nobody adopts: each leaves a segment with one live block and
//! its other pages empty. Those empty pages are left unpurged for a next owner only within a
//! process-wide budget (half the memory in use, at least 64 MiB: here, with little in use, 64 MiB),
//! so resident memory stays bounded however many threads exit.
//! All threads finish their work before any exits, so no thread needs a fresh segment (and
//! adopts an abandoned one) once the first has exited.
//!
//! Unix only: the threads are raw pthreads. On Windows the thread-exit path is covered by
//! mimalloc-sys/tests/win_threads.rs (CreateThread) and thread_churn.rs (Rust threads).
#![cfg(unix)]

use core::ffi::c_void;
use mimalloc_sys::*;
use mimalloc_testkit::sys::rss_bytes as rss;
use std::sync::atomic::{AtomicUsize, Ordering};

const MIB: usize = 1 << 20;
const THREADS: usize = 40;
// A const item, not `[const { … }; N]`: inline const blocks need Rust 1.79, the MSRV is older.
// Each use of the const is a fresh atomic, which is what the array wants.
#[allow(clippy::declare_interior_mutable_const)]
const UNSET: AtomicUsize = AtomicUsize::new(0);
static KEPT: [AtomicUsize; THREADS] = [UNSET; THREADS];
static READY: AtomicUsize = AtomicUsize::new(0);

/// Fills most of a small segment with 1 KiB blocks from a heap of its own, keeps one, frees
/// the rest and exits.
extern "C" fn leave_a_segment(arg: *mut c_void) -> *mut c_void {
    let me = arg as usize;
    // SAFETY: a heap of this thread; every block but the kept one is freed once.
    unsafe {
        let heap = mi_heap_new();
        assert!(!heap.is_null());
        let blocks: Vec<*mut u8> = (0..3500)
            .map(|_| {
                let p = mi_heap_malloc(heap, 1024) as *mut u8;
                assert!(!p.is_null());
                core::ptr::write_bytes(p, 0x6b, 1024);
                p
            })
            .collect();
        KEPT[me].store(blocks[1750] as usize, Ordering::Release);
        for (i, &p) in blocks.iter().enumerate() {
            if i != 1750 {
                mi_free(p as *mut c_void);
            }
        }
        mi_heap_delete(heap); // the kept block moves to the backing heap, abandoned at exit
    }
    READY.fetch_add(1, Ordering::AcqRel);
    while READY.load(Ordering::Acquire) < THREADS {
        // SAFETY: no preconditions.
        unsafe { libc::sched_yield() };
    }
    core::ptr::null_mut()
}

#[test]
fn unadopted_segments_of_exited_threads_keep_a_bounded_amount_of_empty_pages() {
    let before = rss();
    let threads: Vec<libc::pthread_t> = (0..THREADS)
        .map(|i| {
            // SAFETY: pthread_t is an integer (glibc) or a pointer (musl, macOS): all-zero is a valid
            // placeholder for pthread_create to overwrite.
            let mut t: libc::pthread_t = unsafe { core::mem::zeroed() };
            // SAFETY: default attributes; function and argument outlive the thread, joined below.
            let rc = unsafe {
                libc::pthread_create(&mut t, core::ptr::null(), leave_a_segment, i as *mut c_void)
            };
            assert_eq!(rc, 0);
            t
        })
        .collect();
    for t in threads {
        // SAFETY: a joinable thread of ours, joined once.
        assert_eq!(unsafe { libc::pthread_join(t, core::ptr::null_mut()) }, 0);
    }
    let grown = rss().saturating_sub(before);
    // unbounded, the empty pages would be about 40 x 3.4 MiB = 136 MiB; bounded, the 64 MiB
    // budget plus the live blocks, thread bookkeeping and, under qemu-user, the emulator's
    // growing translation cache (aarch64 measured 96 MiB there, x86-64 natively less)
    assert!(
        grown < 112 * MIB,
        "{} MiB resident after {THREADS} threads each left a mostly empty segment",
        grown / MIB
    );
    for kept in &KEPT {
        let p = kept.load(Ordering::Acquire) as *mut u8;
        // SAFETY: the block each thread kept, 1024 bytes filled with 0x6b, freed once.
        unsafe {
            assert_eq!(*p.add(1023), 0x6b);
            mi_free(p as *mut c_void);
        }
    }
    // SAFETY: no preconditions.
    unsafe { mi_collect(true) };
}
