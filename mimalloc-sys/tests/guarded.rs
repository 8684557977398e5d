//! Sampled guard pages (`mi_heap_guarded_set_sample_rate`, the `guarded_*` options): a sampled
//! block ends where a no-access page begins, so a write past it faults; such blocks free,
//! reallocate, visit and destroy like any other; unsampled sizes and rate 0 change nothing.
//! Faults run in a child process (this test binary re-executed with a scenario name).
#![cfg(unix)]

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicUsize, Ordering};
use mimalloc_sys::*;
use mimalloc_testkit::child::{rerun, SCENARIO_TEST};
use std::os::unix::process::ExitStatusExt;
use std::process::Output;

const SCENARIO_VAR: &str = "MI_GUARDED_SCENARIO";

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// Does the block at `p` end right before an OS page boundary (within the 16-byte rounding and
/// the debug padding, if any)? Where sampling places it, that next page is its guard.
fn ends_at_page(p: *mut c_void) -> bool {
    // SAFETY: p is a live block of ours.
    let end = p as usize + unsafe { mi_usable_size(p) };
    let ps = page_size();
    let gap = end.next_multiple_of(ps) - end;
    gap < 64
}

/// Writes one byte at `p + offset`, as a program overflowing its block would.
unsafe fn poke(p: *mut c_void, offset: usize) {
    // SAFETY: the caller expects this write to fault, or knows it is in bounds.
    unsafe { core::ptr::write_volatile((p as *mut u8).add(offset), 0x5a) }
}

fn padded() -> bool {
    // SAFETY: fills the plain struct it is given.
    unsafe {
        let mut c: mi_build_config_t = core::mem::zeroed();
        mi_build_config(&mut c);
        c.padding
    }
}

/// Writes byte after byte past the block's usable size: the first one past the block (with
/// padding: past the padding) must fault. Returns only if none did.
unsafe fn overflow(p: *mut c_void) {
    // SAFETY: p is a live block; the writes past it are the point of the scenario.
    unsafe {
        let usable = mi_usable_size(p);
        // with debug padding the canary bytes come first; they are ours to overwrite here
        let reach = if padded() { 64 } else { 1 };
        for i in 0..reach {
            poke(p, usable + i);
        }
    }
}

fn run_scenario(name: &str) {
    // SAFETY: the scenarios overflow blocks on purpose; they run in a child process only.
    unsafe {
        match name {
            "overflow_rounded" => {
                let heap = mi_heap_new();
                mi_heap_guarded_set_sample_rate(heap, 1, 0);
                let p = mi_heap_malloc(heap, 100);
                assert!(ends_at_page(p));
                poke(p, mi_usable_size(p) - 1); // the last usable byte is writable
                overflow(p);
            }
            "overflow_precise" => {
                mi_option_set(mi_option_guarded_precise, 1);
                let heap = mi_heap_new();
                mi_heap_guarded_set_sample_rate(heap, 1, 0);
                let p = mi_heap_malloc(heap, 13);
                if !padded() {
                    assert_eq!(mi_usable_size(p), 13);
                }
                poke(p, 12);
                overflow(p);
            }
            "overflow_large" => {
                let heap = mi_heap_new();
                mi_heap_guarded_set_sample_rate(heap, 1, 0);
                let p = mi_heap_malloc(heap, 300_000);
                assert!(ends_at_page(p));
                overflow(p);
            }
            "overflow_env" => {
                // MIMALLOC_GUARDED_SAMPLE_RATE=1, MIN=1000, MAX=2000 are set by the parent
                assert_eq!(mi_option_get(mi_option_guarded_sample_rate), 1);
                let small = mi_malloc(48);
                let p = mi_malloc(1500);
                assert!(ends_at_page(p), "1500 bytes: sampled");
                let small2 = mi_malloc(48);
                assert!(
                    !ends_at_page(small) || !ends_at_page(small2),
                    "48 bytes: not sampled"
                );
                mi_free(small);
                mi_free(small2);
                overflow(p);
            }
            "rate0_env" => {
                // MIMALLOC_GUARDED_SAMPLE_RATE=0 (the default): blocks pack as always
                let mut blocks = Vec::new();
                for _ in 0..64 {
                    blocks.push(mi_malloc(100) as usize);
                }
                let at_page = blocks
                    .iter()
                    .filter(|&&p| ends_at_page(p as *mut c_void))
                    .count();
                assert!(at_page < 8, "{at_page} of 64 blocks end at a page");
                for p in blocks {
                    mi_free(p as *mut c_void);
                }
                return;
            }
            _ => panic!("unknown scenario {name}"),
        }
    }
    // only reached when the overflow did not fault
    std::process::exit(42);
}

/// The child's entry point: a test that does nothing unless the scenario variable is set.
#[test]
fn scenario_child() {
    if let Ok(name) = std::env::var(SCENARIO_VAR) {
        run_scenario(&name);
    }
}

fn run_child(name: &str, env: &[(&str, &str)]) -> Output {
    rerun(SCENARIO_TEST)
        .env(SCENARIO_VAR, name)
        .envs(env.iter().copied())
        .output()
        .expect("run child")
}

fn assert_faults(name: &str, env: &[(&str, &str)]) {
    let out = run_child(name, env);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGSEGV),
        "{name}: expected SIGSEGV, got {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn one_byte_past_a_sampled_block_faults() {
    assert_faults("overflow_rounded", &[]);
    assert_faults("overflow_precise", &[]);
    assert_faults("overflow_large", &[]);
}

#[test]
fn env_options_sample_and_bound_sizes() {
    assert_faults(
        "overflow_env",
        &[
            ("MIMALLOC_GUARDED_SAMPLE_RATE", "1"),
            ("MIMALLOC_GUARDED_MIN", "1000"),
            ("MIMALLOC_GUARDED_MAX", "2000"),
        ],
    );
    let out = run_child("rate0_env", &[("MIMALLOC_GUARDED_SAMPLE_RATE", "0")]);
    assert!(
        out.status.success(),
        "{:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

static ERRORS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_error(_err: c_int, _arg: *mut c_void) {
    ERRORS.fetch_add(1, Ordering::SeqCst);
}

/// Counts every error the allocator reports from now on (in this process).
fn watch_errors() {
    // SAFETY: the handler is a plain function that only bumps a counter.
    unsafe { mi_register_error(Some(count_error), core::ptr::null_mut()) }
}

const SIZES: [usize; 7] = [1, 16, 48, 100, 5000, 300_000, 5 << 20];

#[test]
fn sampled_blocks_free_realloc_visit_and_destroy() {
    watch_errors();
    // SAFETY: every pointer used is a live block of `heap`, freed once.
    unsafe {
        let heap = mi_heap_new();
        mi_heap_guarded_set_sample_rate(heap, 1, 0);
        let mut blocks = Vec::new();
        for &size in &SIZES {
            let p = mi_heap_malloc(heap, size) as *mut u8;
            assert!(!p.is_null());
            assert_eq!(p as usize % 16, 0, "{size}: aligned");
            assert!(ends_at_page(p as *mut c_void), "{size}: ends at a page");
            assert!(mi_usable_size(p as *mut c_void) >= size);
            assert!(mi_heap_contains_block(heap, p as *const c_void));
            core::ptr::write_bytes(p, 0xab, size);
            blocks.push((p, size));
        }
        // zeroed allocations are zero
        let z = mi_heap_zalloc(heap, 200) as *mut u8;
        assert!(ends_at_page(z as *mut c_void));
        assert!((0..200).all(|i| *z.add(i) == 0));
        mi_free(z as *mut c_void);

        // every block is visited, with its usable size
        unsafe extern "C" fn count(
            _heap: *const mi_heap_t,
            _area: *const mi_heap_area_t,
            block: *mut c_void,
            _size: usize,
            arg: *mut c_void,
        ) -> bool {
            if !block.is_null() {
                // SAFETY: arg is the counter the caller passed.
                unsafe { *(arg as *mut usize) += 1 };
            }
            true
        }
        let mut visited = 0usize;
        assert!(mi_heap_visit_blocks(
            heap,
            true,
            Some(count),
            &mut visited as *mut usize as *mut c_void
        ));
        assert_eq!(visited, SIZES.len());

        // realloc: grows and shrinks keep the contents; the new block is sampled too
        for (p, size) in blocks.iter_mut() {
            let q = mi_heap_realloc(heap, *p as *mut c_void, *size * 3 + 1) as *mut u8;
            assert!(!q.is_null());
            assert!((0..*size).all(|i| *q.add(i) == 0xab));
            assert!(ends_at_page(q as *mut c_void));
            let r = mi_heap_realloc(heap, q as *mut c_void, *size / 4 + 1) as *mut u8;
            assert!(!r.is_null());
            assert!((0..*size / 4 + 1).all(|i| *r.add(i) == 0xab));
            *p = r;
        }
        // half are freed on another thread, the rest go with the heap
        let remote: Vec<usize> = blocks.iter().step_by(2).map(|&(p, _)| p as usize).collect();
        std::thread::spawn(move || {
            for p in remote {
                mi_free(p as *mut c_void);
            }
        })
        .join()
        .unwrap();
        for &(p, _) in blocks.iter().skip(1).step_by(2).take(2) {
            mi_free(p as *mut c_void);
        }
        // a block left behind by an exited thread (its segment abandoned) frees here
        let orphan = std::thread::spawn(|| {
            let own = mi_heap_get_default();
            mi_heap_guarded_set_sample_rate(own, 1, 0);
            let p = mi_malloc(700);
            assert!(ends_at_page(p));
            core::ptr::write_bytes(p as *mut u8, 1, 700);
            p as usize
        })
        .join()
        .unwrap() as *mut c_void;
        assert_eq!(*(orphan as *const u8).add(699), 1);
        mi_free(orphan);
        mi_heap_collect(heap, true);
        let more = mi_heap_malloc(heap, 64);
        assert!(ends_at_page(more));
        mi_heap_destroy(heap);
    }
    // the memory is reusable afterwards: ordinary heaps work on
    // SAFETY: a plain allocation and free.
    unsafe {
        let p = mi_malloc(1000);
        assert!(!p.is_null());
        mi_free(p);
    }
    assert_eq!(
        ERRORS.load(Ordering::SeqCst),
        0,
        "the allocator reported errors"
    );
}

#[test]
fn sizes_outside_the_bound_and_rate_zero_are_not_sampled() {
    watch_errors();
    // SAFETY: every pointer used is a live block of its heap, freed once.
    unsafe {
        let heap = mi_heap_new();
        mi_heap_guarded_set_sample_rate(heap, 1, 0);
        mi_heap_guarded_set_size_bound(heap, 1000, 2000);
        let mut small = Vec::new();
        for _ in 0..64 {
            small.push(mi_heap_malloc(heap, 100));
        }
        let at_page = small.iter().filter(|&&p| ends_at_page(p)).count();
        assert!(
            at_page < 8,
            "{at_page} of 64 unsampled blocks end at a page"
        );
        let big = mi_heap_malloc(heap, 3000);
        assert!(
            !ends_at_page(big) || {
                // a 3000-byte block may end at a page by chance: its neighbour then does not
                let big2 = mi_heap_malloc(heap, 3000);
                let b = !ends_at_page(big2);
                mi_free(big2);
                b
            }
        );
        let inside = mi_heap_malloc(heap, 1500);
        assert!(ends_at_page(inside));
        mi_free(inside);
        mi_free(big);

        // 1 in 4: exactly 16 of 64 in-range allocations are sampled
        mi_heap_guarded_set_size_bound(heap, 0, 0);
        mi_heap_guarded_set_sample_rate(heap, 4, 3);
        let mut quarter = Vec::new();
        for _ in 0..64 {
            quarter.push(mi_heap_malloc(heap, 100));
        }
        let sampled = quarter.iter().filter(|&&p| ends_at_page(p)).count();
        assert!(
            (16..=20).contains(&sampled),
            "{sampled} of 64 sampled at rate 4"
        );

        // back to 0: packed again
        mi_heap_guarded_set_sample_rate(heap, 0, 0);
        let mut packed = Vec::new();
        for _ in 0..64 {
            packed.push(mi_heap_malloc(heap, 100));
        }
        let at_page = packed.iter().filter(|&&p| ends_at_page(p)).count();
        assert!(
            at_page < 8,
            "{at_page} of 64 blocks at rate 0 end at a page"
        );
        for p in small.into_iter().chain(quarter).chain(packed) {
            mi_free(p);
        }
        mi_heap_delete(heap);
    }
    assert_eq!(
        ERRORS.load(Ordering::SeqCst),
        0,
        "the allocator reported errors"
    );
}
