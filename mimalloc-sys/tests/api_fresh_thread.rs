//! Each entry point as the very first allocator call of a fresh thread (the thread's heap is
//! still the static empty one, so every call must notice and initialise the thread), blocks
//! that outlive the thread that allocated them, and an allocation from a thread-exit
//! destructor that runs after the allocator's own.
//!
//! One test runs every case, each in a thread of its own, and compares the process-wide
//! statistics before and after: a second test in this binary would start and end threads
//! (and merge their statistics) at arbitrary times. A case that panics is reported by name.
//! Rust's own allocations go to libc here, so the first `mi_*` call of a thread really is the
//! first (with `override`, libc's allocations come first; the cases still have to work).

use core::ffi::c_void;
use mimalloc_sys::*;
#[cfg(unix)]
use std::sync::atomic::AtomicPtr;
use std::sync::atomic::{AtomicUsize, Ordering};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

fn stats() -> mi_stats_t {
    // SAFETY: plain data; mi_stats_get writes at most size_of bytes.
    unsafe {
        let mut st: mi_stats_t = core::mem::zeroed();
        mi_stats_get(core::mem::size_of::<mi_stats_t>(), &mut st);
        st
    }
}

/// Writes `n` bytes of `byte` at `p`, reads them back, checks the usable size and frees `p`.
///
/// # Safety
/// `p` must be a live block of at least `n` bytes from this allocator.
unsafe fn use_and_free(what: &str, p: *mut c_void, n: usize, byte: u8) {
    assert!(!p.is_null(), "{what} returned NULL");
    // SAFETY: per the contract above.
    unsafe {
        assert!(
            mi_usable_size(p) >= n,
            "{what}: usable size {}",
            mi_usable_size(p)
        );
        core::ptr::write_bytes(p as *mut u8, byte, n);
        assert!(
            (0..n).all(|i| *(p as *mut u8).add(i) == byte),
            "{what}: contents"
        );
        mi_free(p);
    }
}

/// # Safety
/// `p` must be a live block of at least `n` bytes.
unsafe fn all_zero(p: *mut c_void, n: usize) -> bool {
    // SAFETY: per the contract above.
    unsafe { (0..n).all(|i| *(p as *const u8).add(i) == 0) }
}

/// After the first call: the thread allocates, frees and collects normally.
fn afterwards() {
    // SAFETY: ordinary allocations, freed once.
    unsafe {
        let blocks: Vec<*mut c_void> = (0..2000).map(|i| mi_malloc(1 + i * 37 % 5000)).collect();
        for (i, &p) in blocks.iter().enumerate() {
            use_and_free(
                "mi_malloc after the first call",
                p,
                1 + i * 37 % 5000,
                i as u8,
            );
        }
        use_and_free("mi_malloc(3 MiB)", mi_malloc(3 * MIB), 3 * MIB, 1);
        mi_collect(false);
    }
}

type Case = (&'static str, fn());

/// Blocks handed from main to a thread whose first call frees or measures them.
static FOREIGN: AtomicUsize = AtomicUsize::new(0);

fn cases() -> Vec<Case> {
    // SAFETY (every case): each call's documented contract; blocks freed once.
    vec![
        ("mi_malloc", || unsafe {
            use_and_free("mi_malloc", mi_malloc(100), 100, 1)
        }),
        ("mi_malloc(huge)", || unsafe {
            use_and_free("mi_malloc(5 MiB)", mi_malloc(5 * MIB), 5 * MIB, 2)
        }),
        ("mi_malloc(medium)", || unsafe {
            use_and_free("mi_malloc(40 KiB)", mi_malloc(40 * KIB), 40 * KIB, 2)
        }),
        ("mi_calloc", || unsafe {
            let p = mi_calloc(10, 10);
            assert!(!p.is_null() && all_zero(p, 100), "mi_calloc not zero");
            use_and_free("mi_calloc", p, 100, 3)
        }),
        ("mi_zalloc", || unsafe {
            let p = mi_zalloc(5000);
            assert!(!p.is_null() && all_zero(p, 5000), "mi_zalloc not zero");
            use_and_free("mi_zalloc", p, 5000, 4)
        }),
        ("mi_zalloc_small", || unsafe {
            let p = mi_zalloc_small(64);
            assert!(!p.is_null() && all_zero(p, 64));
            use_and_free("mi_zalloc_small", p, 64, 4)
        }),
        ("mi_malloc_small", || unsafe {
            use_and_free("mi_malloc_small", mi_malloc_small(8), 8, 4)
        }),
        ("mi_realloc(NULL, small)", || unsafe {
            use_and_free(
                "mi_realloc(NULL, 24)",
                mi_realloc(core::ptr::null_mut(), 24),
                24,
                5,
            )
        }),
        ("mi_realloc(NULL, huge)", || unsafe {
            let p = mi_realloc(core::ptr::null_mut(), 3 * MIB);
            use_and_free("mi_realloc(NULL, 3 MiB)", p, 3 * MIB, 5)
        }),
        ("mi_malloc_aligned", || unsafe {
            let p = mi_malloc_aligned(100, 4096);
            assert_eq!(p as usize % 4096, 0);
            use_and_free("mi_malloc_aligned(100, 4096)", p, 100, 6)
        }),
        ("mi_malloc_aligned(huge alignment)", || unsafe {
            let p = mi_malloc_aligned(10, 4 * MIB);
            assert_eq!(p as usize % (4 * MIB), 0);
            use_and_free("mi_malloc_aligned(10, 4 MiB)", p, 10, 6)
        }),
        ("mi_zalloc_aligned", || unsafe {
            let p = mi_zalloc_aligned(300, 64);
            assert!(p as usize % 64 == 0 && all_zero(p, 300));
            use_and_free("mi_zalloc_aligned", p, 300, 6)
        }),
        ("mi_malloc_aligned_at", || unsafe {
            let p = mi_malloc_aligned_at(100, 256, 16);
            assert_eq!((p as usize + 16) % 256, 0);
            use_and_free("mi_malloc_aligned_at", p, 100, 6)
        }),
        ("mi_strdup", || unsafe {
            let p = mi_strdup(c"fresh".as_ptr());
            assert_eq!(core::ffi::CStr::from_ptr(p).to_bytes(), b"fresh");
            mi_free(p as *mut c_void)
        }),
        ("mi_heap_new", || unsafe {
            let heap = mi_heap_new();
            assert!(!heap.is_null(), "mi_heap_new on a fresh thread");
            let p = mi_heap_malloc(heap, 100);
            assert!(mi_heap_contains_block(heap, p));
            use_and_free("mi_heap_malloc", p, 100, 7);
            mi_heap_delete(heap);
            // a heap left undeleted at thread exit: its blocks survive in the backing heap
            let heap = mi_heap_new();
            let kept = mi_heap_malloc(heap, 1000);
            core::ptr::write_bytes(kept as *mut u8, 0x6b, 1000);
            FOREIGN.store(kept as usize, Ordering::SeqCst);
        }),
        ("mi_heap_get_default", || unsafe {
            let heap = mi_heap_get_default();
            assert!(!heap.is_null());
            assert_eq!(heap, mi_heap_get_backing());
            let p = mi_heap_malloc(heap, 10);
            use_and_free("mi_heap_malloc(default)", p, 10, 8)
        }),
        ("mi_heap_get_backing", || unsafe {
            let heap = mi_heap_get_backing();
            assert!(!heap.is_null());
            assert_eq!(heap, mi_heap_get_default());
        }),
        ("mi_free(NULL)", || unsafe {
            mi_free(core::ptr::null_mut());
        }),
        ("mi_usable_size(NULL)", || unsafe {
            assert_eq!(mi_usable_size(core::ptr::null()), 0);
        }),
        ("mi_usable_size(block of main)", || unsafe {
            let p = FOREIGN.load(Ordering::SeqCst) as *const c_void;
            assert!(mi_usable_size(p) >= 777);
        }),
        ("mi_free(block of main)", || unsafe {
            let p = FOREIGN.swap(0, Ordering::SeqCst) as *mut c_void;
            mi_free(p);
        }),
        ("mi_realloc(block of main)", || unsafe {
            let p = FOREIGN.swap(0, Ordering::SeqCst) as *mut c_void;
            let q = mi_realloc(p, 100_000) as *mut u8;
            assert!((0..777).all(|i| *q.add(i) == 0x4d), "realloc lost contents");
            mi_free(q as *mut c_void);
        }),
        ("mi_collect", || unsafe {
            mi_collect(true);
        }),
        ("mi_stats_merge", || unsafe {
            mi_stats_merge();
        }),
        ("mi_check_owned", || unsafe {
            let x = 0u64;
            assert!(!mi_check_owned(&x as *const u64 as *const c_void));
        }),
        ("mi_thread_init + mi_thread_done", || unsafe {
            mi_thread_init();
            use_and_free("mi_malloc after mi_thread_init", mi_malloc(50), 50, 9);
            mi_thread_done();
            // the thread starts over on its next call
            use_and_free("mi_malloc after mi_thread_done", mi_malloc(50), 50, 9);
        }),
    ]
}

/// Runs `f` as the first thing a fresh thread does, then the ordinary `afterwards` work;
/// returns the panic message if it panicked.
fn in_fresh_thread(name: &'static str, f: fn()) -> Option<String> {
    let r = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            f();
            afterwards();
        })
        .expect("spawn")
        .join();
    r.err().map(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

/// Blocks of every kind a thread allocated before it exited, checked and freed by main.
fn blocks_outliving_their_thread() -> Option<String> {
    let sizes = [16usize, 200, 3000, 20_000, 300_000, 3 * MIB];
    let handle = std::thread::spawn(move || {
        sizes
            .iter()
            .flat_map(|&n| (0..50).map(move |i| (n + i, i as u8)))
            .map(|(n, b)| {
                // SAFETY: a fresh block of n bytes, handed to main.
                unsafe {
                    let p = mi_malloc(n) as *mut u8;
                    assert!(!p.is_null());
                    core::ptr::write_bytes(p, b, n);
                    (p as usize, n, b)
                }
            })
            .collect::<Vec<_>>()
    });
    let blocks = match handle.join() {
        Ok(b) => b,
        Err(_) => return Some("the allocating thread panicked".into()),
    };
    for (p, n, b) in blocks {
        let p = p as *mut u8;
        // SAFETY: live blocks whose thread has exited; freed once.
        unsafe {
            if mi_usable_size(p as *const c_void) < n || !(0..n).all(|i| *p.add(i) == b) {
                return Some(format!(
                    "block of {n} bytes changed after its thread exited"
                ));
            }
            mi_free(p as *mut c_void);
        }
    }
    None
}

/// A block allocated by a pthread-key destructor of this test, which runs after the
/// allocator's own thread-exit destructor (its key is older): the thread starts over, and its
/// state must be torn down again.
/// Unix only (a pthread key); on Windows the FLS callback's counterpart is win_threads.rs.
#[cfg(unix)]
static LATE_BLOCK: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());

#[cfg(unix)]
unsafe extern "C" fn late_destructor(_: *mut c_void) {
    // SAFETY: ordinary allocations; the kept block goes to main through LATE_BLOCK.
    unsafe {
        for n in [10usize, 1000, 50_000, 3 * MIB] {
            let p = mi_malloc(n);
            if !p.is_null() {
                core::ptr::write_bytes(p as *mut u8, 1, n);
                mi_free(p);
            }
        }
        let kept = mi_malloc(4000) as *mut u8;
        if !kept.is_null() {
            core::ptr::write_bytes(kept, 0x3e, 4000);
        }
        LATE_BLOCK.store(kept, Ordering::SeqCst);
    }
}

#[cfg(unix)]
fn allocation_in_a_late_thread_destructor() -> Option<String> {
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: creates a key with a destructor that only allocates through the allocator.
    if unsafe { libc::pthread_key_create(&mut key, Some(late_destructor)) } != 0 {
        return Some("pthread_key_create failed".into());
    }
    let joined = std::thread::spawn(move || {
        // SAFETY: ordinary allocation first, so the allocator's own destructor runs at exit;
        // then a non-NULL value so ours runs too.
        unsafe {
            use_and_free("mi_malloc", mi_malloc(100), 100, 1);
            libc::pthread_setspecific(key, 1 as *const c_void);
        }
    })
    .join();
    // SAFETY: the only thread that used the key has exited.
    unsafe { libc::pthread_key_delete(key) };
    if joined.is_err() {
        return Some("thread panicked".into());
    }
    let p = LATE_BLOCK.swap(core::ptr::null_mut(), Ordering::SeqCst);
    if p.is_null() {
        return Some("the late destructor got no block".into());
    }
    // SAFETY: the block the destructor allocated; its thread has exited; freed once.
    unsafe {
        if !(0..4000).all(|i| *p.add(i) == 0x3e) {
            return Some("block from the late destructor changed".into());
        }
        mi_free(p as *mut c_void);
    }
    None
}

#[test]
fn every_entry_point_works_as_the_first_call_of_a_thread() {
    let slack = if unsafe { mi_is_redirected() } { 4 } else { 0 };
    // SAFETY: no preconditions. This thread allocates below (the blocks handed to the
    // cases), so it is set up first: its own state is then in the baseline.
    unsafe {
        mi_free(mi_malloc(1));
        mi_collect(true);
    }
    let before = stats();
    let mut failures = Vec::new();
    for (name, f) in cases() {
        // cases that free, measure or grow a block of main's start with a fresh one
        if name.contains("block of main") {
            // SAFETY: a fresh block, freed by the case or below.
            unsafe {
                let p = mi_malloc(777) as *mut u8;
                core::ptr::write_bytes(p, 0x4d, 777);
                FOREIGN.store(p as usize, Ordering::SeqCst);
            }
        }
        if let Some(msg) = in_fresh_thread(name, f) {
            failures.push(format!("{name}: {msg}"));
        }
        let left = FOREIGN.swap(0, Ordering::SeqCst) as *mut u8;
        if !left.is_null() {
            // SAFETY: a block a case left behind (main's, or one kept from an exited
            // thread's undeleted heap); freed once.
            unsafe {
                let byte = if name == "mi_heap_new" { 0x6b } else { 0x4d };
                if *left != byte {
                    failures.push(format!("{name}: the block left behind changed"));
                }
                mi_free(left as *mut c_void);
            }
        }
    }
    if let Some(msg) = blocks_outliving_their_thread() {
        failures.push(format!("blocks outliving their thread: {msg}"));
    }
    #[cfg(unix)]
    if let Some(msg) = allocation_in_a_late_thread_destructor() {
        failures.push(format!("allocation in a late thread destructor: {msg}"));
    }
    assert!(
        failures.is_empty(),
        "failed cases:\n{}",
        failures.join("\n")
    );

    // every thread is gone: its state too, and a forced collect adopts what they abandoned
    // SAFETY: no preconditions.
    unsafe { mi_collect(true) };
    let after = stats();
    assert_eq!(
        after.threads.current, before.threads.current,
        "threads with allocator state after all of them exited"
    );
    assert_eq!(
        after.segments_abandoned.current, 0,
        "abandoned segments left"
    );
    assert_eq!(after.pages_abandoned.current, 0, "abandoned pages left");
    for (what, b, a, tol) in [
        ("pages", before.pages.current, after.pages.current, slack),
        (
            "segments",
            before.segments.current,
            after.segments.current,
            slack,
        ),
        (
            "normal",
            before.normal.current,
            after.normal.current,
            slack * 65536,
        ),
        ("huge", before.huge.current, after.huge.current, 0),
    ] {
        assert!((a - b).abs() <= tol, "{what}: {b} before, {a} after (leak)");
    }
}
