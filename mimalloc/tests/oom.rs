//! Out of memory, for real: each scenario runs in a child process (this test binary
//! re-executed with a scenario name) that caps its own address space with `RLIMIT_AS` at what
//! it uses now plus a margin, then exhausts it.
//!
//! - `c_null`: `mi_malloc` (and zalloc, calloc, aligned, the global allocator's `alloc`) return
//!   NULL with `errno == ENOMEM` once the address space is used up, for huge and for small
//!   blocks; after freeing half of the blocks allocation works again, and every block that was
//!   kept still holds its pattern.
//! - `rust_abort`: a `Vec::with_capacity` that cannot be satisfied reaches the standard
//!   library's `handle_alloc_error`, which prints `memory allocation of N bytes failed` and
//!   aborts: the parent checks the message and SIGABRT.
//! - `thread_start`: threads created before the address space ran out make their
//!   very first allocation after it did (every last page of it mapped): one that reuses cached
//!   thread data but cannot map a segment, and one that cannot even map its thread data. Both
//!   get NULL, and neither their start nor their exit (statistics, abandonment) crashes; once
//!   memory is freed a new thread allocates normally.
//!
//! While the address space is exhausted the scenarios make no allocation of their own through
//! Rust (their pointer lists are reserved beforehand), so the only allocations that fail are
//! the ones under test.
//!
//! Linux only (glibc and musl): the cap is `RLIMIT_AS`, which macOS accepts but does not
//! enforce on mmap, and the address space in use comes from /proc/self/status; other systems
//! check their out-of-memory paths through `size_limits.rs` and the C bad-input test instead.
#![cfg(target_os = "linux")]

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use mimalloc::MiMalloc;
use mimalloc_sys::*;
use mimalloc_testkit::errno::{clear_errno, errno};
use mimalloc_testkit::pattern::{fill, first_mismatch};
use std::os::unix::process::ExitStatusExt;
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const SCENARIO_VAR: &str = "MI_OOM_SCENARIO";
/// Address space the child may still map after the cap is set.
const MARGIN: usize = 256 * MIB;

/// The process's virtual size (VmSize of /proc/self/status) in bytes.
fn vm_size() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmSize:"))
        .expect("a VmSize line");
    let kb: usize = line
        .split_whitespace()
        .nth(1)
        .expect("a number")
        .parse()
        .expect("kB");
    kb * KIB
}

/// Caps the address space at what is mapped now plus `margin`.
fn cap_address_space(margin: usize) {
    let limit = (vm_size() + margin) as libc::rlim_t;
    let rl = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: a valid rlimit struct; lowering our own limit needs no privilege.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &rl) };
    assert_eq!(rc, 0, "setrlimit(RLIMIT_AS)");
}

/// Allocates blocks of `size` bytes with `mi_malloc` until it returns NULL (at most `cap`),
/// filling each with the pattern of its index; returns how many it got. `out` must have room.
fn exhaust(size: usize, cap: usize, out: &mut Vec<(usize, usize)>) -> usize {
    assert!(out.capacity() - out.len() >= cap, "reserve room first");
    let mut got = 0;
    while got < cap {
        clear_errno();
        // SAFETY: a plain allocation request.
        let p = unsafe { mi_malloc(size) } as *mut u8;
        if p.is_null() {
            assert_eq!(
                errno(),
                libc::ENOMEM,
                "mi_malloc({size}) failed without ENOMEM"
            );
            return got;
        }
        let seed = out.len();
        // SAFETY: `size` bytes are writable.
        unsafe { fill(p, size, seed) };
        out.push((p as usize, size));
        got += 1;
    }
    panic!("{cap} blocks of {size} bytes fit in a {MARGIN}-byte margin: the cap does not hold");
}

fn check_blocks(blocks: &[(usize, usize)], what: &str) {
    for (seed, &(p, size)) in blocks.iter().enumerate() {
        if p == 0 {
            continue;
        }
        // SAFETY: a live block of `size` bytes filled with the pattern of `seed`.
        let bad = unsafe { first_mismatch(p as *const u8, size, seed) };
        assert!(
            bad.is_none(),
            "{what}: block {seed} ({size} bytes) changed at {bad:?}"
        );
    }
}

/// One allocation request.
type AllocCall = fn() -> *mut c_void;

/// Every allocation entry point fails now, with ENOMEM (the calls are plain function pointers:
/// checking them allocates nothing).
fn assert_everything_fails(what: &str) {
    // SAFETY (all): plain allocation requests; nothing is returned to free.
    let calls: [(&str, AllocCall); 6] = [
        ("mi_malloc(8 MiB)", || unsafe { mi_malloc(8 * MIB) }),
        ("mi_zalloc(8 MiB)", || unsafe { mi_zalloc(8 * MIB) }),
        ("mi_calloc(1024, 8 KiB)", || unsafe {
            mi_calloc(1024, 8 * KIB)
        }),
        ("mi_malloc_aligned(4 MiB, 4 MiB)", || unsafe {
            mi_malloc_aligned(4 * MIB, 4 * MIB)
        }),
        ("mi_malloc_aligned(5 MiB, 4096)", || unsafe {
            mi_malloc_aligned(5 * MIB, 4096)
        }),
        ("GlobalAlloc::alloc(16 MiB)", || unsafe {
            MiMalloc.alloc(Layout::from_size_align(16 * MIB, 8).expect("layout")) as *mut c_void
        }),
    ];
    for (name, call) in calls.iter() {
        clear_errno();
        let p = call();
        assert!(p.is_null(), "{what}: {name} succeeded");
        assert_eq!(errno(), libc::ENOMEM, "{what}: errno after {name}");
    }
}

fn scenario_c_null() {
    // room for every pointer, reserved before the cap
    let mut huge: Vec<(usize, usize)> = Vec::with_capacity(1000);
    let mut small: Vec<(usize, usize)> = Vec::with_capacity(400_000);
    cap_address_space(MARGIN);
    let n_huge = exhaust(8 * MIB, 1000, &mut huge);
    assert!(n_huge >= 4, "only {n_huge} huge blocks fit in the margin");
    // what is left is less than a segment: small blocks fill the pages there are
    let n_small = exhaust(4000, 400_000, &mut small);
    assert!(n_small > 0, "no small block fitted after the huge ones");
    assert_everything_fails("address space exhausted");

    // free every other block; allocation works again and the kept blocks are intact
    for list in [&mut huge, &mut small] {
        for (i, b) in list.iter_mut().enumerate() {
            if i % 2 == 1 {
                // SAFETY: a live block of ours, freed once; marked as gone.
                unsafe { mi_free(b.0 as *mut c_void) };
                b.0 = 0;
            }
        }
    }
    check_blocks(&huge, "huge, after freeing half");
    check_blocks(&small, "small, after freeing half");
    let mut again: Vec<(usize, usize)> = Vec::with_capacity(4);
    // SAFETY: plain allocations, checked and freed below.
    unsafe {
        for size in [8 * MIB, 4000, 100, 300 * KIB] {
            let p = mi_malloc(size) as *mut u8;
            assert!(
                !p.is_null(),
                "mi_malloc({size}) still fails after freeing half"
            );
            fill(p, size, 7);
            again.push((p as usize, size));
        }
    }
    let v: Vec<u64> = (0..100_000).collect(); // Rust allocates again too
    assert_eq!(v[99_999], 99_999);
    check_blocks(&huge, "huge, after allocating again");
    check_blocks(&small, "small, after allocating again");
    for (p, size) in again {
        // SAFETY: the blocks allocated just above.
        unsafe {
            assert_eq!(first_mismatch(p as *const u8, size, 7), None);
            mi_free(p as *mut c_void);
        }
    }
    for (p, _) in huge.into_iter().chain(small) {
        if p != 0 {
            // SAFETY: live blocks, freed once.
            unsafe { mi_free(p as *mut c_void) };
        }
    }
    println!("oom-ok: {n_huge} huge and {n_small} small blocks before NULL");
}

fn scenario_rust_abort() {
    cap_address_space(MARGIN);
    let v: Vec<u8> = Vec::with_capacity(2 * MARGIN);
    // not reached: handle_alloc_error aborts
    println!("allocated {} bytes beyond the cap", v.capacity());
}

/// Threads started before the address space runs out, all alive at once: only the chunks that
/// threads which exited earlier left in the allocator's thread-data cache can be reused (one
/// here), so most of them must map their own.
const LATE: usize = 24;
/// What each late thread got from its first allocations (1 = not yet run).
static SMALL_RESULT: [AtomicUsize; LATE] = [NOT_RUN; LATE];
static HUGE_RESULT: [AtomicUsize; LATE] = [NOT_RUN; LATE];
#[allow(clippy::declare_interior_mutable_const)] // only ever copied into the arrays above
const NOT_RUN: AtomicUsize = AtomicUsize::new(1);
static GO: AtomicBool = AtomicBool::new(false);
static EXIT: AtomicBool = AtomicBool::new(false);
static DONE: AtomicUsize = AtomicUsize::new(0);

fn spin_until(flag: &AtomicBool) {
    while !flag.load(Ordering::Acquire) {
        // SAFETY: no preconditions.
        unsafe { libc::sched_yield() };
    }
}

/// A thread with no Rust runtime in it (started with pthread_create), so its first allocator
/// call is the one below; it exits only when told, so all late threads hold their thread state
/// at the same time.
extern "C" fn late_allocator(arg: *mut c_void) -> *mut c_void {
    let me = arg as usize;
    spin_until(&GO);
    // SAFETY: plain allocations; whatever is returned is freed.
    unsafe {
        let p = mi_malloc(64);
        let q = mi_malloc(8 * MIB);
        SMALL_RESULT[me].store(p as usize, Ordering::Release);
        HUGE_RESULT[me].store(q as usize, Ordering::Release);
        DONE.fetch_add(1, Ordering::AcqRel);
        spin_until(&EXIT);
        mi_free(p);
        mi_free(q);
        mi_free(mi_zalloc(100));
        mi_free(core::ptr::null_mut());
    }
    core::ptr::null_mut()
}

fn start_raw_thread(index: usize) -> libc::pthread_t {
    // SAFETY: pthread_t is an integer (glibc) or a pointer (musl, macOS): all-zero is a valid
    // placeholder for pthread_create to overwrite.
    let mut t: libc::pthread_t = unsafe { core::mem::zeroed() };
    // SAFETY: default attributes; the function and argument live as long as the thread.
    let rc = unsafe {
        libc::pthread_create(
            &mut t,
            core::ptr::null(),
            late_allocator,
            index as *mut c_void,
        )
    };
    assert_eq!(rc, 0, "pthread_create");
    t
}

fn join_raw_thread(t: libc::pthread_t) {
    // SAFETY: a joinable thread of ours, joined once.
    assert_eq!(unsafe { libc::pthread_join(t, core::ptr::null_mut()) }, 0);
}

fn scenario_thread_start() {
    // a thread that allocates and exits first: its thread data goes to the cache, so at least
    // one late thread starts a heap without mapping anything
    std::thread::spawn(|| {
        // black_box: in a release build the compiler would drop an allocation never looked at
        let v: Vec<u8> = std::hint::black_box(vec![1; 1000]);
        assert_eq!(v[999], 1);
    })
    .join()
    .expect("warm-up thread");
    // SAFETY: no preconditions.
    unsafe { mi_collect(true) };
    let late: Vec<libc::pthread_t> = (0..LATE).map(start_raw_thread).collect();
    let mut blocks: Vec<(usize, usize)> = Vec::with_capacity(1_600_000);
    let mut holes: Vec<(usize, usize)> = Vec::with_capacity(10_000);
    cap_address_space(MARGIN);
    for (size, cap) in [
        (8 * MIB, 1000),
        (MIB, 1000),
        (64 * KIB, 100_000),
        (4 * KIB, 200_000),
        (64, 1_000_000),
    ] {
        exhaust(size, cap, &mut blocks);
    }
    // what the allocator could not use (less than a segment) is mapped here, to the last page
    let mut size = 4 * MIB;
    while size >= 4 * KIB {
        // SAFETY: an anonymous mapping of our own, unmapped below.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                size,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED || holes.len() == holes.capacity() {
            size /= 2;
        } else {
            holes.push((p as usize, size));
        }
    }
    let threads_before = mimalloc_testkit::sys::stats().threads.current;
    GO.store(true, Ordering::Release);
    while DONE.load(Ordering::Acquire) < LATE {
        // SAFETY: no preconditions.
        unsafe { libc::sched_yield() };
    }
    // every late thread has made its first allocations and still holds what it got
    let with_state = (mimalloc_testkit::sys::stats().threads.current - threads_before) as usize;
    EXIT.store(true, Ordering::Release);
    for t in late {
        join_raw_thread(t);
    }
    for i in 0..LATE {
        assert_eq!(
            HUGE_RESULT[i].load(Ordering::Acquire),
            0,
            "late thread {i}: 8 MiB allocated in an exhausted address space"
        );
        assert_eq!(
            SMALL_RESULT[i].load(Ordering::Acquire),
            0,
            "late thread {i}: a small block came from nowhere"
        );
    }
    // both paths ran: threads that reused cached thread data (and then found no segment), and
    // threads that could not map thread data at all (they never count as started)
    assert!(
        (1..LATE).contains(&with_state),
        "{with_state} of {LATE} late threads got thread state: one path was not exercised"
    );
    check_blocks(&blocks, "main's blocks after the late threads");
    for (p, size) in holes {
        // SAFETY: the mappings made above.
        unsafe { libc::munmap(p as *mut c_void, size) };
    }
    for (p, _) in blocks.drain(..) {
        // SAFETY: live blocks, freed once.
        unsafe { mi_free(p as *mut c_void) };
    }
    // SAFETY: no preconditions.
    unsafe { mi_collect(true) };
    // memory is back: a new thread allocates normally
    let ok = std::thread::spawn(|| {
        let v: Vec<u64> = (0..100_000).collect();
        // SAFETY: plain allocation, freed at once.
        let p = unsafe { mi_malloc(8 * MIB) };
        let fine = !p.is_null() && v[99_999] == 99_999;
        // SAFETY: ours or NULL.
        unsafe { mi_free(p) };
        fine
    })
    .join()
    .expect("thread after the memory came back");
    assert!(ok, "a new thread could not allocate after memory was freed");
    println!(
        "oom-ok: {LATE} late threads got NULL ({with_state} with cached thread data) and exited"
    );
}

/// The child's entry point: does nothing unless the scenario variable is set.
#[test]
fn scenario_child() {
    match std::env::var(SCENARIO_VAR).as_deref() {
        Ok("c_null") => scenario_c_null(),
        Ok("rust_abort") => scenario_rust_abort(),
        Ok("thread_start") => scenario_thread_start(),
        Ok(other) => panic!("unknown scenario {other}"),
        Err(_) => {}
    }
}

fn run_child(name: &str) -> Output {
    mimalloc_testkit::child::run_scenario(SCENARIO_VAR, name)
}

fn assert_ok(name: &str) {
    let out = run_child(name);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("oom-ok"),
        "{name}: {:?}\n{stdout}\n{stderr}",
        out.status
    );
    let line = stdout.lines().find(|l| l.contains("oom-ok")).unwrap_or("");
    eprintln!("{name}: {line}");
}

#[test]
fn allocation_fails_with_null_and_recovers() {
    assert_ok("c_null");
}

#[test]
fn rust_allocation_failure_reaches_handle_alloc_error() {
    let out = run_child("rust_abort");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!("memory allocation of {} bytes failed", 2 * MARGIN);
    assert!(
        stderr.contains(&want),
        "no `{want}` message: {:?}\n{stderr}",
        out.status
    );
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "handle_alloc_error aborts: {:?}",
        out.status
    );
}

#[test]
fn first_allocation_of_a_thread_in_an_exhausted_address_space() {
    assert_ok("thread_start");
}
