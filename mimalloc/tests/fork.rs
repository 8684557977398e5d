//! `fork` while other threads allocate, with `MiMalloc` as the global allocator: the child
//! inherits whatever state the other threads left mid-operation (their heaps, a half-done
//! cross-thread free, a segment being abandoned), and only the forking thread survives in it.
//! The allocator must hold no lock across those operations, so the child can allocate at once.
//!
//! Each child allocates and frees `Vec`s, `Box`es and `String`s of small, medium, large and huge
//! sizes, frees blocks that the parent's worker threads had allocated before the fork (their
//! threads do not exist in the child), spawns a thread that allocates too, and `_exit(0)`s. The
//! parent polls `waitpid(WNOHANG)` against a deadline, so a deadlocked child fails the test
//! (and is killed) instead of hanging CI, and asserts every child's exit status.
//!
//! Formally a child of a multi-threaded process may only make async-signal-safe calls; glibc
//! makes malloc-style allocators and `pthread_create` work there in practice, and so must we.
//! The child uses no lock of this test (the hand-over slots are atomics) so a lock a worker held
//! at the fork cannot be what hangs it.
//!
//! Unix only: Windows has no fork (skipped there, not silently: this line is the reason).
#![cfg(unix)]

use core::alloc::{GlobalAlloc, Layout};
use mimalloc::MiMalloc;
use mimalloc_testkit::{
    pattern::{fill, first_mismatch},
    rng::Rng,
};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const SLOTS: usize = 64;
/// How long one child may take before it counts as deadlocked (a child normally needs a few
/// milliseconds; the margin covers a loaded 2-core machine).
const CHILD_DEADLINE: Duration = Duration::from_secs(30);

/// Blocks the workers hand over: slot `i` always holds a block of `slot_size(i)` bytes (or
/// nothing), filled with the pattern of seed `i`.
static HANDOVER: [AtomicPtr<u8>; SLOTS] = [EMPTY_SLOT; SLOTS];
#[allow(clippy::declare_interior_mutable_const)] // only ever copied into HANDOVER
const EMPTY_SLOT: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());

fn slot_layout(i: usize) -> Layout {
    // one huge slot; the rest small to large (every page a worker writes after a fork is a
    // copy-on-write fault, so the hand-over set is kept to a few MiB)
    let size = if i == SLOTS - 1 {
        3 * MIB
    } else {
        [24usize, 200, 3000, 40 * KIB, 300 * KIB][i % 5] + i
    };
    Layout::from_size_align(size, 8).expect("layout")
}

/// Puts a fresh block into slot `i` and frees the one it replaces.
fn refill_slot(i: usize) {
    let layout = slot_layout(i);
    // SAFETY: a non-zero layout; the block is filled before it is published.
    let p = unsafe { MiMalloc.alloc(layout) };
    assert!(!p.is_null());
    // SAFETY: `layout.size()` bytes are writable.
    unsafe { fill(p, layout.size(), i) };
    let old = HANDOVER[i].swap(p, Ordering::AcqRel);
    if !old.is_null() {
        // SAFETY: every pointer in slot i is a live block of slot_layout(i), owned by whoever
        // swapped it out.
        unsafe {
            assert_eq!(
                first_mismatch(old, layout.size(), i),
                None,
                "slot {i} corrupted"
            );
            MiMalloc.dealloc(old, layout);
        }
    }
}

/// A worker: mixed-size churn on its own blocks (checked before each free), plus hand-overs.
fn worker(seed: u64, stop: Arc<AtomicBool>, rounds: Arc<AtomicUsize>) {
    let mut rng = Rng::new(seed);
    let mut live: Vec<(Vec<u8>, usize)> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..64 {
            // small and medium sizes: the large and huge ones go through the hand-over slots,
            // less often (each fresh huge block is page faults, and they would dominate)
            let size = match rng.below(1000) {
                0..=899 => 1 + rng.below(512),
                900..=994 => 1 + rng.below(64 * KIB as u64),
                _ => 1 + rng.below(256 * KIB as u64),
            } as usize;
            let s = rng.next() as usize;
            let mut v = Vec::with_capacity(size);
            // SAFETY: capacity for `size` bytes, all written before set_len.
            unsafe {
                fill(v.as_mut_ptr(), size, s);
                v.set_len(size);
            }
            live.push((v, s));
            if live.len() > 100 {
                let (v, s) = live.swap_remove(rng.below(live.len() as u64) as usize);
                // SAFETY: the Vec's bytes are initialised.
                let bad = unsafe { first_mismatch(v.as_ptr(), v.len(), s) };
                assert_eq!(bad, None, "a worker's block changed");
            }
        }
        if rng.below(4) == 0 {
            refill_slot(rng.below(SLOTS as u64) as usize);
        }
        rounds.fetch_add(1, Ordering::Relaxed);
        // bursts with short pauses: four of these on two cores would otherwise starve the
        // children of CPU (the forks still land in the middle of bursts)
        thread::sleep(Duration::from_micros(200));
    }
    for (v, s) in live {
        // SAFETY: as above.
        assert_eq!(unsafe { first_mismatch(v.as_ptr(), v.len(), s) }, None);
    }
}

/// What a child does; returns an exit code (0 = every check held).
fn child_work(round: usize) -> i32 {
    // blocks of threads that do not exist here: check and free them
    for (i, slot) in HANDOVER.iter().enumerate() {
        let p = slot.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !p.is_null() {
            let layout = slot_layout(i);
            // SAFETY: a live block of slot_layout(i) (see refill_slot), now ours.
            unsafe {
                if first_mismatch(p, layout.size(), i).is_some() {
                    return 2;
                }
                MiMalloc.dealloc(p, layout);
            }
        }
    }
    // every size kind, kept alive together, then checked and freed
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for (k, size) in [1usize, 16, 100, 1000, 9000, 60 * KIB, 500 * KIB, 3 * MIB]
        .into_iter()
        .enumerate()
    {
        for j in 0..2 {
            kept.push(vec![(k * 2 + j + round) as u8; size]);
        }
    }
    let boxes: Vec<Box<[u64; 32]>> = (0..100).map(|i| Box::new([i as u64; 32])).collect();
    let text: String = (0..500).map(|i| format!("{i},")).collect();
    for (n, v) in kept.iter().enumerate() {
        let want = (n + round) as u8;
        if v.iter().any(|b| *b != want) {
            return 3;
        }
    }
    if boxes.iter().enumerate().any(|(i, b)| b[31] != i as u64) || !text.starts_with("0,1,2,") {
        return 4;
    }
    drop(kept);
    drop(boxes);
    // a thread of the child's own
    let t = thread::Builder::new().spawn(move || {
        let v: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
        let big = vec![7u8; MIB];
        v.len() == 1000 && v[999] == "999" && big.iter().all(|b| *b == 7)
    });
    match t.map(|h| h.join()) {
        Ok(Ok(true)) => {}
        _ => return 5,
    }
    // the child's allocator still serves and reports
    // SAFETY: no preconditions.
    unsafe { mimalloc_sys::mi_collect(false) };
    let p = Box::new(round);
    // SAFETY: a pointer to a live block of ours.
    if !unsafe { mimalloc_sys::mi_check_owned(&*p as *const usize as *const core::ffi::c_void) } {
        return 6;
    }
    0
}

/// Forks; the child runs `child_work` and `_exit`s with its result (101 if it panicked).
fn fork_child(round: usize) -> libc::pid_t {
    // SAFETY: fork has no preconditions; the child only runs child_work and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(|| child_work(round)).unwrap_or(101);
        // SAFETY: ends the child without running the parent's atexit handlers or destructors.
        unsafe { libc::_exit(code) };
    }
    pid
}

/// Waits for `pid` until the deadline; kills it and fails if it does not exit in time.
fn wait_child(pid: libc::pid_t, round: usize) {
    let start = Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: our own child; status is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(r >= 0, "waitpid failed");
        if r == pid {
            break;
        }
        if start.elapsed() > CHILD_DEADLINE {
            // SAFETY: our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("child {round} did not finish within {CHILD_DEADLINE:?}: deadlocked after fork");
        }
        thread::sleep(Duration::from_millis(1));
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child {round}: {} {} (2: handed-over block corrupt, 3/4: own blocks corrupt, 5: thread \
         failed, 6: not owned, 101: panicked)",
        if libc::WIFEXITED(status) {
            "exit status"
        } else {
            "killed by signal"
        },
        if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            libc::WTERMSIG(status)
        }
    );
}

/// Starts `n` workers; returns the stop flag, the round counter and their handles.
fn start_workers(
    n: usize,
    seed: u64,
) -> (
    Arc<AtomicBool>,
    Arc<AtomicUsize>,
    Vec<thread::JoinHandle<()>>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicUsize::new(0));
    let handles = (0..n)
        .map(|t| {
            let (stop, rounds) = (stop.clone(), rounds.clone());
            thread::spawn(move || worker(seed + t as u64, stop, rounds))
        })
        .collect();
    (stop, rounds, handles)
}

fn wait_for_rounds(rounds: &AtomicUsize, at_least: usize) {
    let start = Instant::now();
    while rounds.load(Ordering::Relaxed) < at_least && start.elapsed() < Duration::from_secs(30) {
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn fork_while_four_threads_allocate() {
    let (stop, rounds, handles) = start_workers(4, 1);
    wait_for_rounds(&rounds, 8); // the workers are in full swing
    let start = Instant::now();
    for round in 0..100 {
        let pid = fork_child(round);
        wait_child(pid, round);
        // the parent carries on allocating between forks
        let v: Vec<u64> = (0..1000).collect();
        assert_eq!(v.iter().sum::<u64>(), 499_500);
    }
    eprintln!("100 forks in {:?}", start.elapsed());
    let worked = rounds.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("a worker found corruption in the parent");
    }
    assert!(worked > 8, "the workers ran during the forks");
}

#[test]
fn fork_from_a_thread_that_is_not_main() {
    let (stop, rounds, handles) = start_workers(2, 100);
    wait_for_rounds(&rounds, 4);
    let forker = thread::spawn(|| {
        for round in 0..20 {
            let pid = fork_child(1000 + round);
            wait_child(pid, 1000 + round);
        }
    });
    let result = forker.join();
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("a worker found corruption in the parent");
    }
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
