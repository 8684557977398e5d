//! Threads the program starts with the Win32 `CreateThread`, not through Rust or the C runtime:
//! their heaps must still be abandoned when they end (prim-windows.c's FLS callback), and the
//! blocks they leave behind stay valid for other threads to free.
//!
//! Windows only: the other platforms have no CreateThread, and their thread-exit hook (a
//! pthread key) is covered by `api_fresh_thread` and the crate's `thread_lifecycle`.
#![cfg(windows)]

use core::ffi::c_void;
use mimalloc_sys::*;

type Handle = *mut c_void;
type ThreadProc = unsafe extern "system" fn(*mut c_void) -> u32;

#[link(name = "kernel32")]
unsafe extern "system" {
    fn CreateThread(
        attributes: *mut c_void,
        stack_size: usize,
        start: ThreadProc,
        param: *mut c_void,
        flags: u32,
        thread_id: *mut u32,
    ) -> Handle;
    fn WaitForSingleObject(handle: Handle, millis: u32) -> u32;
    fn CloseHandle(handle: Handle) -> i32;
}

const INFINITE: u32 = 0xffff_ffff;

fn stats() -> mi_stats_t {
    // SAFETY: plain data; mi_stats_get writes at most size_of bytes.
    unsafe {
        let mut st: mi_stats_t = core::mem::zeroed();
        mi_stats_get(core::mem::size_of::<mi_stats_t>(), &mut st);
        st
    }
}

/// What a bare Win32 thread hands back: blocks it allocated and left live, with their sizes.
struct Leftovers {
    blocks: Vec<(usize, usize)>, // (address, size); Vec itself allocated by the Rust side
}

const SIZES: [usize; 6] = [8, 40, 1000, 20_000, 300_000, 5 << 20];

fn fill_byte(size: usize, i: usize) -> u8 {
    (size as u8) ^ (i as u8).wrapping_mul(31)
}

/// The thread body: allocate blocks of every size class family through the C API, free some of
/// them, and record the rest in the `Leftovers` that `param` points to.
unsafe extern "system" fn worker(param: *mut c_void) -> u32 {
    // SAFETY: `param` is the `Leftovers` the spawning thread keeps alive until this thread ended.
    let out = unsafe { &mut *(param as *mut Leftovers) };
    let mut live = Vec::new();
    for round in 0..4 {
        for &size in &SIZES {
            // SAFETY: plain allocation; checked for NULL.
            let p = unsafe { mi_malloc(size) } as *mut u8;
            assert!(
                !p.is_null(),
                "mi_malloc({size}) failed in a CreateThread thread"
            );
            // SAFETY: `p` holds `size` writable bytes.
            unsafe { core::ptr::write_bytes(p, fill_byte(size, round), size) };
            if round % 2 == 0 {
                live.push((p as usize, size, round));
            } else {
                // SAFETY: `p` came from mi_malloc on this thread and is freed once.
                unsafe { mi_free(p as *mut c_void) };
            }
        }
    }
    out.blocks = live.iter().map(|&(p, s, _)| (p, s)).collect();
    0
}

fn run_bare_thread(out: &mut Leftovers) {
    // SAFETY: `worker` matches LPTHREAD_START_ROUTINE; `out` outlives the thread, which is waited
    // for before this function returns.
    unsafe {
        let h = CreateThread(
            core::ptr::null_mut(),
            0,
            worker,
            out as *mut Leftovers as *mut c_void,
            0,
            core::ptr::null_mut(),
        );
        assert!(!h.is_null(), "CreateThread failed");
        assert_eq!(WaitForSingleObject(h, INFINITE), 0);
        CloseHandle(h);
    }
}

/// Frees what a finished thread left, after checking the contents survived its exit.
fn check_and_free(out: &Leftovers) {
    for (k, &(p, size)) in out.blocks.iter().enumerate() {
        let round = (k / SIZES.len()) * 2;
        let p = p as *mut u8;
        // SAFETY: the block is live (the thread never freed it) and holds `size` bytes.
        let bytes = unsafe { core::slice::from_raw_parts(p, size) };
        let want = fill_byte(size, round);
        assert!(
            bytes.iter().all(|&b| b == want),
            "block of {size} bytes left by an exited thread changed"
        );
        // SAFETY: freed once, from another thread than its owner: the cross-thread path into an
        // abandoned segment.
        unsafe { mi_free(p as *mut c_void) };
    }
}

/// One test function only: the counts are process-wide, and the harness's thread of a second
/// test ending at the same moment would change them.
#[test]
fn create_thread_heaps_are_abandoned_at_exit() {
    heap_is_abandoned_at_exit_and_its_blocks_stay_valid();
    churn_does_not_grow_memory();
}

fn heap_is_abandoned_at_exit_and_its_blocks_stay_valid() {
    // SAFETY: no preconditions; makes this thread's heap exist before the baseline.
    unsafe { mi_free(mi_malloc(1)) };
    let before = stats().threads.current;
    let mut out = Leftovers { blocks: Vec::new() };
    run_bare_thread(&mut out);
    let after = stats().threads.current;
    assert_eq!(
        after, before,
        "a CreateThread thread that allocated ended, but its heap was not torn down (threads {before} -> {after})"
    );
    assert_eq!(out.blocks.len(), 2 * SIZES.len());
    check_and_free(&out);
    // the abandoned segments can be reclaimed and emptied: collecting must not fault
    // SAFETY: no preconditions.
    unsafe { mi_collect(true) };
}

fn churn_does_not_grow_memory() {
    // SAFETY: no preconditions.
    unsafe { mi_free(mi_malloc(1)) };
    let before = stats();
    let mut peak_segments = 0;
    for i in 0..200 {
        let mut out = Leftovers { blocks: Vec::new() };
        run_bare_thread(&mut out);
        check_and_free(&out);
        if i % 20 == 0 {
            // SAFETY: no preconditions.
            unsafe { mi_collect(true) };
        }
        peak_segments = peak_segments.max(stats().segments.current);
    }
    // SAFETY: no preconditions.
    unsafe { mi_collect(true) };
    let after = stats();
    assert_eq!(
        after.threads.current, before.threads.current,
        "thread count after 200 CreateThread threads"
    );
    // every thread leaves one small, one medium and two huge segments' worth at most; without
    // abandonment and reclaim, 200 threads would hold hundreds of segments
    assert!(
        peak_segments <= before.segments.current + 64,
        "segments grew to {peak_segments} (from {}) over 200 CreateThread threads",
        before.segments.current
    );
}
