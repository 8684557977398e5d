//! Out of memory on Windows: a request the OS refuses to commit (far beyond the commit limit,
//! though a valid size) comes back NULL with `errno == ENOMEM` from every allocation entry
//! point, nothing already handed out is lost, and allocation works again right after.
//!
//! Windows only: on Linux, oom.rs exhausts a real `RLIMIT_AS` cap in a child process, which
//! Windows has no equivalent of that Wine enforces; this test makes the OS refuse instead.
#![cfg(windows)]

use core::ffi::c_void;
use mimalloc_sys::*;
use mimalloc_testkit::errno::{clear_errno, errno, ENOMEM};

/// 16 TiB: a valid request (below PTRDIFF_MAX) that no commit limit here covers.
const HUGE: usize = 16 << 40;

#[test]
fn refused_commit_returns_null_and_keeps_live_blocks() {
    // live blocks of several kinds, each with a pattern
    let sizes = [24usize, 3000, 100_000, 3 << 20];
    let live: Vec<(*mut u8, usize)> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            // SAFETY: plain allocation, checked; `n` bytes are written.
            unsafe {
                let p = mi_malloc(n) as *mut u8;
                assert!(!p.is_null());
                core::ptr::write_bytes(p, 0x40 + i as u8, n);
                (p, n)
            }
        })
        .collect();

    type Entry = (&'static str, fn() -> *mut c_void);
    let entries: [Entry; 5] = [
        // SAFETY (each): plain allocation calls with a valid but unsatisfiable size.
        ("mi_malloc", || unsafe { mi_malloc(HUGE) }),
        ("mi_zalloc", || unsafe { mi_zalloc(HUGE) }),
        ("mi_calloc", || unsafe { mi_calloc(HUGE / 16, 16) }),
        ("mi_malloc_aligned", || unsafe {
            mi_malloc_aligned(HUGE, 1 << 20)
        }),
        ("mi_realloc", || {
            // SAFETY: a fresh block grown to an unsatisfiable size stays valid when refused.
            unsafe {
                let p = mi_malloc(64);
                let q = mi_realloc(p, HUGE);
                if q.is_null() {
                    mi_free(p);
                }
                q
            }
        }),
    ];
    for (name, f) in entries {
        clear_errno();
        let p = f();
        assert!(p.is_null(), "{name}({HUGE}) succeeded");
        assert_eq!(errno(), ENOMEM, "errno after a refused {name}");
    }

    for (i, &(p, n)) in live.iter().enumerate() {
        // SAFETY: the block is live and holds `n` bytes.
        let bytes = unsafe { core::slice::from_raw_parts(p, n) };
        assert!(
            bytes.iter().all(|&b| b == 0x40 + i as u8),
            "a live block of {n} bytes changed after the refusals"
        );
        // SAFETY: freed once.
        unsafe { mi_free(p as *mut c_void) };
    }
    // allocation goes on normally
    for &n in &sizes {
        // SAFETY: plain allocation, checked, freed.
        unsafe {
            let p = mi_malloc(n);
            assert!(!p.is_null(), "mi_malloc({n}) after the refusals");
            mi_free(p);
        }
    }
}
