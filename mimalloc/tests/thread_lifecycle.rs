//! Thread life-cycle edges with `MiMalloc` as the global allocator (the raw-API side of the
//! first-call cases is mimalloc-sys/tests/api_fresh_thread.rs):
//!
//! 1. every Rust allocation entry point (`alloc`, `alloc_zeroed`, over-aligned and huge
//!    layouts, `realloc` and `dealloc` of another thread's block, `usable_size`, a `Heap`) as
//!    the very first allocator call of a thread started with `pthread_create`, so that no Rust
//!    runtime code allocates before it;
//! 2. allocation and free inside thread-exit destructors: a `thread_local!` whose `Drop`
//!    allocates, frees its own and another thread's block, keeps one for main, and touches a
//!    second `thread_local!` that is first initialised during destruction; and a `pthread_key`
//!    destructor (created after the allocator's own key, so it runs after the allocator tore the
//!    thread down) that allocates through `Vec`/`String` and re-arms itself once; and one that
//!    re-arms itself every pass and frees a block of main's in each, the C library's last pass
//!    included (the block must reach its page, and no thread state may be left behind);
//! 3. thread ids, stacks and TLS blocks reused by the C library across 3,000 sequential threads:
//!    each finds an empty heap (no block of a dead thread is visible in it) and leaves a block for
//!    main to free;
//! 4. a block freed by a thread after its allocating thread exited and its segment was reclaimed
//!    by a third thread that goes on allocating from it, including frees racing the reclaim.
//!
//! Holds: contents intact everywhere; every case's panics reported by name; afterwards (forced
//! collect) no thread state is left, no segment is abandoned, and pages, segments and page bytes
//! are back to where they started (margins as in cross_thread.rs).
//!
//! One `#[test]` runs the cases in turn: the statistics are process-wide, and a second test in
//! this binary would start and stop threads at arbitrary times.
//!
//! Unix only: the cases start raw pthreads and use pthread keys. On Windows the thread-exit path
//! is covered by mimalloc-sys/tests/win_threads.rs (CreateThread) and thread_churn.rs.
#![cfg(unix)]

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use mimalloc::{Heap, MiMalloc};
use mimalloc_testkit::{
    pattern::{fill, first_mismatch},
    sys::{redirected, stats},
};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

// ---- Raw threads ---------------------------------------------------------------------------

/// Runs `f` on a thread started with `pthread_create`: nothing of Rust's thread machinery runs
/// there, so `f`'s first allocation is the thread's first allocator call. The function pointer
/// travels as the thread argument, so starting the thread allocates nothing in it either.
/// Returns false when `f` panicked.
fn on_raw_thread(f: fn()) -> bool {
    extern "C" fn trampoline(arg: *mut c_void) -> *mut c_void {
        // SAFETY: `arg` is the `fn()` that on_raw_thread passed.
        let f: fn() = unsafe { core::mem::transmute::<*mut c_void, fn()>(arg) };
        let ok = std::panic::catch_unwind(f).is_ok();
        ok as usize as *mut c_void
    }
    // SAFETY: pthread_t is an integer (glibc) or a pointer (musl, macOS): all-zero is a valid
    // placeholder for pthread_create to overwrite.
    let mut t: libc::pthread_t = unsafe { core::mem::zeroed() };
    // SAFETY: default attributes; the argument is a plain function pointer.
    let rc = unsafe {
        libc::pthread_create(
            &mut t,
            core::ptr::null(),
            trampoline,
            f as usize as *mut c_void,
        )
    };
    assert_eq!(rc, 0, "pthread_create");
    let mut ret: *mut c_void = core::ptr::null_mut();
    // SAFETY: a joinable thread of ours, joined once.
    assert_eq!(unsafe { libc::pthread_join(t, &mut ret) }, 0);
    ret as usize == 1
}

// ---- Blocks handed between threads ----------------------------------------------------------

/// A block through the global allocator, with its layout and pattern seed, as plain numbers so
/// it can sit in an atomic slot.
#[derive(Clone, Copy)]
struct Raw {
    p: usize,
    size: usize,
    align: usize,
    seed: usize,
}

impl Raw {
    fn new(size: usize, align: usize, seed: usize) -> Raw {
        let layout = Layout::from_size_align(size, align).expect("layout");
        // SAFETY: size > 0; the block is filled at once and freed by `free`.
        let p = unsafe { MiMalloc.alloc(layout) };
        assert!(!p.is_null(), "alloc({size}, {align})");
        // SAFETY: `size` bytes are writable.
        unsafe { fill(p, size, seed) };
        Raw {
            p: p as usize,
            size,
            align,
            seed,
        }
    }
    fn check(&self, what: &str) {
        assert_eq!(self.p % self.align, 0, "{what}: alignment");
        // SAFETY: a live block of `size` bytes filled with the pattern of `seed`.
        let bad = unsafe { first_mismatch(self.p as *const u8, self.size, self.seed) };
        assert!(
            bad.is_none(),
            "{what}: block of {} bytes changed at {bad:?}",
            self.size
        );
    }
    fn free(self, what: &str) {
        self.check(what);
        let layout = Layout::from_size_align(self.size, self.align).expect("layout");
        // SAFETY: a live block of this layout from the global allocator, freed once.
        unsafe { MiMalloc.dealloc(self.p as *mut u8, layout) };
    }
}

/// One block in flight between two threads (size, align and seed fixed per use).
struct Slot(AtomicPtr<u8>, usize, usize, usize);

impl Slot {
    const fn new(size: usize, align: usize, seed: usize) -> Slot {
        Slot(AtomicPtr::new(core::ptr::null_mut()), size, align, seed)
    }
    fn put_new(&self) {
        let r = Raw::new(self.1, self.2, self.3);
        let old = self.0.swap(r.p as *mut u8, Ordering::AcqRel);
        assert!(old.is_null(), "slot already full");
    }
    fn take(&self) -> Option<Raw> {
        let p = self.0.swap(core::ptr::null_mut(), Ordering::AcqRel);
        (!p.is_null()).then_some(Raw {
            p: p as usize,
            size: self.1,
            align: self.2,
            seed: self.3,
        })
    }
}

// ---- 1. Entry points as the first call of a thread ----------------------------------------------

static FROM_MAIN: Slot = Slot::new(777, 8, 0x4d);
static FROM_MAIN_BIG: Slot = Slot::new(3 * MIB, 64, 0x4e);

/// Ordinary work after the first call: the thread's heap works normally.
fn afterwards() {
    let mut v: Vec<Vec<u8>> = Vec::new();
    for i in 0..500 {
        v.push(vec![i as u8; 1 + i * 37 % 9000]);
    }
    for (i, b) in v.iter().enumerate() {
        assert!(
            b.iter().all(|x| *x == i as u8),
            "contents after the first call"
        );
    }
    drop(v);
    let s: String = (0..200).map(|i| format!("{i} ")).collect();
    assert!(s.starts_with("0 1 2 "));
}

fn first_call_cases() -> Vec<(&'static str, fn())> {
    vec![
        ("Box::new", || {
            let b = Box::new([7u64; 4]);
            assert_eq!(b[3], 7);
            afterwards();
        }),
        ("Vec::with_capacity(huge)", || {
            let mut v: Vec<u8> = Vec::with_capacity(5 * MIB);
            v.resize(5 * MIB, 3);
            assert_eq!(v[5 * MIB - 1], 3);
            afterwards();
        }),
        ("alloc_zeroed(4096-aligned)", || {
            let layout = Layout::from_size_align(10_000, 4096).expect("layout");
            // SAFETY: non-zero layout; freed with the same layout.
            unsafe {
                let p = MiMalloc.alloc_zeroed(layout);
                assert!(!p.is_null() && p as usize % 4096 == 0);
                assert_eq!(
                    mimalloc_testkit::pattern::first_nonzero(p, 10_000),
                    None,
                    "not zeroed"
                );
                MiMalloc.dealloc(p, layout);
            }
            afterwards();
        }),
        ("alloc(align 2 MiB)", || {
            Raw::new(100, 2 * MIB, 5).free("2 MiB-aligned block");
            afterwards();
        }),
        ("alloc(align 64 KiB, medium)", || {
            Raw::new(40 * KIB, 64 * KIB, 6).free("64 KiB-aligned block");
            afterwards();
        }),
        ("dealloc(block of main)", || {
            FROM_MAIN.take().expect("main's block").free("main's block");
            afterwards();
        }),
        ("dealloc(huge block of main)", || {
            FROM_MAIN_BIG
                .take()
                .expect("main's block")
                .free("main's huge block");
            afterwards();
        }),
        ("realloc(block of main)", || {
            let r = FROM_MAIN.take().expect("main's block");
            let old = Layout::from_size_align(r.size, r.align).expect("layout");
            // SAFETY: a live block of `old`; grown and freed with the new layout.
            unsafe {
                let q = MiMalloc.realloc(r.p as *mut u8, old, 100_000);
                assert!(!q.is_null());
                assert_eq!(
                    first_mismatch(q, r.size, r.seed),
                    None,
                    "realloc lost contents"
                );
                MiMalloc.dealloc(q, Layout::from_size_align(100_000, 8).expect("layout"));
            }
            afterwards();
        }),
        ("usable_size(block of main)", || {
            let r = FROM_MAIN.take().expect("main's block");
            // SAFETY: a live block of ours.
            assert!(unsafe { MiMalloc.usable_size(r.p as *const u8) } >= r.size);
            FROM_MAIN.0.store(r.p as *mut u8, Ordering::Release); // main frees it
            afterwards();
        }),
        ("Heap::new", || {
            let heap = Heap::new();
            let mut v = allocator_api2::vec::Vec::new_in(&heap);
            v.extend(0..10_000u32);
            assert_eq!(v[9_999], 9_999);
            assert!(heap.contains(v.as_ptr() as *const u8));
            drop(v);
            drop(heap);
            afterwards();
        }),
        ("thread_local Drop is the first call", || {
            // the thread allocates only to register and run its exit destructors
            FIRST_IN_DTOR.with(|_| ());
        }),
    ]
}

struct FirstInDtor;
impl Drop for FirstInDtor {
    fn drop(&mut self) {
        let v: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        assert_eq!(v[99], "99");
        FIRST_IN_DTOR_RAN.fetch_add(1, Ordering::AcqRel);
    }
}
thread_local! {
    static FIRST_IN_DTOR: FirstInDtor = const { FirstInDtor };
}
static FIRST_IN_DTOR_RAN: AtomicUsize = AtomicUsize::new(0);

fn case_first_calls() -> Result<(), String> {
    let mut failed = Vec::new();
    for (name, f) in first_call_cases() {
        FROM_MAIN.put_new();
        FROM_MAIN_BIG.put_new();
        if !on_raw_thread(f) {
            failed.push(name);
        }
        for slot in [&FROM_MAIN, &FROM_MAIN_BIG] {
            if let Some(r) = slot.take() {
                r.free(name);
            }
        }
    }
    if FIRST_IN_DTOR_RAN.load(Ordering::Acquire) != 1 {
        failed.push("thread_local Drop did not run");
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("first-call cases failed: {failed:?}"))
    }
}

// ---- 2. Allocation in thread-exit destructors ------------------------------------------------

/// A block of main's that a destructor frees, and blocks destructors keep for main.
static TO_DTOR: Slot = Slot::new(5000, 16, 0x21);
static KEPT_BY_TLS: Slot = Slot::new(40_000, 8, 0x22);
static KEPT_BY_KEY: Slot = Slot::new(3000, 8, 0x23);
static DTOR_RUNS: AtomicUsize = AtomicUsize::new(0);
static KEY_RUNS: AtomicUsize = AtomicUsize::new(0);
static LATE_TLS_DROPS: AtomicUsize = AtomicUsize::new(0);

struct AllocatingDrop(Vec<u8>);
impl Drop for AllocatingDrop {
    fn drop(&mut self) {
        assert!(self.0.iter().all(|b| *b == 9), "the TLS value's own block");
        for n in [10usize, 1000, 100 * KIB, 3 * MIB] {
            let v = vec![0x5au8; n];
            assert_eq!(v[n - 1], 0x5a);
        }
        let s = format!("{:?}", (0..50).collect::<Vec<u32>>());
        assert!(s.ends_with("49]"));
        if let Some(r) = TO_DTOR.take() {
            r.free("main's block freed in a TLS destructor");
        }
        KEPT_BY_TLS.put_new();
        // a thread_local first touched now, during destruction: its value and Drop still work
        LATE_TLS.with(|l| l.borrow_mut().push("late".repeat(100)));
        DTOR_RUNS.fetch_add(1, Ordering::AcqRel);
    }
}

struct LateList(RefCell<Vec<String>>);
impl Drop for LateList {
    fn drop(&mut self) {
        let v = self.0.borrow();
        assert!(v.iter().all(|s| s.len() == 400));
        LATE_TLS_DROPS.fetch_add(1, Ordering::AcqRel);
    }
}
impl LateList {
    fn borrow_mut(&self) -> std::cell::RefMut<'_, Vec<String>> {
        self.0.borrow_mut()
    }
}

thread_local! {
    static ALLOCATING: AllocatingDrop = AllocatingDrop(vec![9u8; 2000]);
    static LATE_TLS: LateList = const { LateList(RefCell::new(Vec::new())) };
}

/// The pthread key whose destructor allocates (created once, after the allocator's key).
static KEY: AtomicUsize = AtomicUsize::new(usize::MAX);

unsafe extern "C" fn key_destructor(value: *mut c_void) {
    let round = value as usize;
    let v: Vec<String> = (0..200).map(|i| format!("key {i}")).collect();
    let big = vec![1u8; 2 * MIB];
    assert!(v[199] == "key 199" && big[2 * MIB - 1] == 1);
    if round == 1 {
        // re-arm once: the C library calls the destructor again in its next pass
        let key = KEY.load(Ordering::Acquire) as libc::pthread_key_t;
        // SAFETY: a key of ours; a non-NULL value makes the destructor run once more.
        unsafe { libc::pthread_setspecific(key, 2 as *const c_void) };
    } else {
        // the last pass keeps a block for main
        if KEPT_BY_KEY.0.load(Ordering::Acquire).is_null() {
            KEPT_BY_KEY.put_new();
        }
    }
    KEY_RUNS.fetch_add(1, Ordering::AcqRel);
}

fn key() -> libc::pthread_key_t {
    let k = KEY.load(Ordering::Acquire);
    if k != usize::MAX {
        return k as libc::pthread_key_t;
    }
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: creates a key with a destructor that only allocates and frees.
    assert_eq!(
        unsafe { libc::pthread_key_create(&mut key, Some(key_destructor)) },
        0
    );
    KEY.store(key as usize, Ordering::Release);
    key
}

fn arm_everything() {
    ALLOCATING.with(|a| assert_eq!(a.0.len(), 2000));
    // SAFETY: a key of ours; value 1 marks the first destructor pass.
    unsafe { libc::pthread_setspecific(key(), 1 as *const c_void) };
    let v: Vec<u64> = (0..1000).collect();
    assert_eq!(v[999], 999);
}

fn case_destructors() -> Result<(), String> {
    key();
    const ROUNDS: usize = 200;
    for round in 0..ROUNDS {
        TO_DTOR.put_new();
        let ok = if round % 2 == 0 {
            thread::spawn(arm_everything).join().is_ok()
        } else {
            on_raw_thread(arm_everything)
        };
        if !ok {
            return Err(format!("round {round}: the thread panicked"));
        }
        if TO_DTOR.take().is_some() {
            return Err(format!(
                "round {round}: the TLS destructor did not free main's block"
            ));
        }
        let kept = KEPT_BY_TLS
            .take()
            .ok_or(format!("round {round}: no block from the TLS destructor"))?;
        kept.free("block kept by a TLS destructor");
        let kept = KEPT_BY_KEY
            .take()
            .ok_or(format!("round {round}: no block from the key destructor"))?;
        kept.free("block kept by a key destructor");
    }
    let (d, k, l) = (
        DTOR_RUNS.load(Ordering::Acquire),
        KEY_RUNS.load(Ordering::Acquire),
        LATE_TLS_DROPS.load(Ordering::Acquire),
    );
    if d != ROUNDS || k != 2 * ROUNDS || l != ROUNDS {
        return Err(format!(
            "destructor runs: TLS {d}, key {k} (re-armed once each), late TLS {l}; wanted \
             {ROUNDS}, {}, {ROUNDS}",
            2 * ROUNDS
        ));
    }
    Ok(())
}

// ---- 2b. A free in the last destructor pass ---------------------------------------------------

/// Blocks of main's that a pthread key destructor frees, one a pass. It re-arms itself every
/// time, so the C library's last pass (PTHREAD_DESTRUCTOR_ITERATIONS: 4 in glibc and musl)
/// frees one too, after the allocator's own destructor ran for the last time.
const PASS_BLOCKS: usize = 8;
#[allow(clippy::declare_interior_mutable_const)] // only ever copied into PASS_SLOTS
const PASS_SLOT: Slot = Slot::new(48, 8, 0x24);
static PASS_SLOTS: [Slot; PASS_BLOCKS] = [PASS_SLOT; PASS_BLOCKS];
static PASS_FREED: [AtomicUsize; PASS_BLOCKS] = [ZERO; PASS_BLOCKS];
static PASS_KEY: AtomicUsize = AtomicUsize::new(usize::MAX);

unsafe extern "C" fn freeing_destructor(value: *mut c_void) {
    let pass = value as usize; // 1, 2, ...
    if pass == 0 || pass > PASS_BLOCKS {
        return;
    }
    if let Some(r) = PASS_SLOTS[pass - 1].take() {
        PASS_FREED[pass - 1].store(r.p, Ordering::Release);
        r.free("main's block freed in a destructor pass");
    }
    let key = PASS_KEY.load(Ordering::Acquire) as libc::pthread_key_t;
    // SAFETY: a key of ours; the non-NULL value asks for one more pass.
    unsafe { libc::pthread_setspecific(key, (pass + 1) as *const c_void) };
}

fn arm_freeing_key() {
    // the thread allocates first, so the allocator's destructor has a thread state to end
    let v: Vec<u64> = (0..100).collect();
    assert_eq!(v[99], 99);
    let key = PASS_KEY.load(Ordering::Acquire) as libc::pthread_key_t;
    // SAFETY: a key of ours; value 1 marks the first pass.
    unsafe { libc::pthread_setspecific(key, 1 as *const c_void) };
}

fn case_destructor_passes() -> Result<(), String> {
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: creates a key (after the allocator's) whose destructor only frees.
    if unsafe { libc::pthread_key_create(&mut key, Some(freeing_destructor)) } != 0 {
        return Err("pthread_key_create".into());
    }
    PASS_KEY.store(key as usize, Ordering::Release);
    for round in 0..50 {
        PASS_SLOTS.iter().for_each(Slot::put_new);
        if !on_raw_thread(arm_freeing_key) {
            return Err(format!("round {round}: the thread panicked"));
        }
        // a fixed array, not a Vec: no allocation of main's may take a freed block's place
        let mut freed = [0usize; PASS_BLOCKS];
        let mut count = 0;
        for f in &PASS_FREED {
            let p = f.swap(0, Ordering::AcqRel);
            if p != 0 {
                freed[count] = p;
                count += 1;
            }
        }
        let freed = &freed[..count];
        // the blocks the destructor did not reach
        for slot in &PASS_SLOTS {
            if let Some(r) = slot.take() {
                r.free("main's block left by the destructor");
            }
        }
        if freed.len() < 2 {
            return Err(format!(
                "round {round}: {} destructor passes freed a block; wanted at least 2",
                freed.len()
            ));
        }
        // every block the passes freed is back in its page, the last pass's too
        let live = live_blocks(Some(freed), true);
        if live != 0 {
            return Err(format!(
                "round {round}: {live} of the {} blocks freed in destructor passes still live",
                freed.len()
            ));
        }
    }
    // SAFETY: the key is ours and no thread uses it any more.
    unsafe { libc::pthread_key_delete(key) };
    Ok(())
}

// ---- 3. Thousands of threads on reused stacks and TLS blocks ---------------------------------

const REUSE_THREADS: usize = 3000;
static LEFT_BEHIND: [AtomicPtr<u8>; REUSE_THREADS] = [EMPTY; REUSE_THREADS];
#[allow(clippy::declare_interior_mutable_const)] // only ever copied into LEFT_BEHIND
const EMPTY: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());
static SELVES: [AtomicUsize; REUSE_THREADS] = [ZERO; REUSE_THREADS];
#[allow(clippy::declare_interior_mutable_const)] // only ever copied into SELVES
const ZERO: AtomicUsize = AtomicUsize::new(0);
static NEXT: AtomicUsize = AtomicUsize::new(0);
const LEFT_SIZE: usize = 200;

/// The live blocks in this thread's backing heap: all of them, or those at the addresses in
/// `only`; after a forced collect (remote frees reach their pages) when `collect` is set.
fn live_blocks(only: Option<&[usize]>, collect: bool) -> usize {
    unsafe extern "C" fn visit(
        _: *const mimalloc_sys::mi_heap_t,
        _: *const mimalloc_sys::mi_heap_area_t,
        block: *mut c_void,
        _: usize,
        arg: *mut c_void,
    ) -> bool {
        // SAFETY: arg is the pair live_blocks passes.
        let (only, found) = unsafe { &mut *(arg as *mut (Option<&[usize]>, usize)) };
        if !block.is_null() && only.map_or(true, |o| o.contains(&(block as usize))) {
            *found += 1;
        }
        true
    }
    let mut state: (Option<&[usize]>, usize) = (only, 0);
    // SAFETY: the backing heap of this thread, collected and visited on this thread; the
    // visitor only counts.
    unsafe {
        let heap = mimalloc_sys::mi_heap_get_backing();
        if collect {
            mimalloc_sys::mi_heap_collect(heap, true);
        }
        mimalloc_sys::mi_heap_visit_blocks(
            heap,
            true,
            Some(visit),
            &mut state as *mut (Option<&[usize]>, usize) as *mut c_void,
        );
    }
    state.1
}

fn reused_thread() {
    let i = NEXT.fetch_add(1, Ordering::AcqRel);
    // SAFETY: no preconditions.
    SELVES[i].store(unsafe { libc::pthread_self() } as usize, Ordering::Release);
    // the first call: this thread's own heap, which must hold nothing of a dead thread's
    let seen = live_blocks(None, false);
    assert_eq!(seen, 0, "thread {i} started with {seen} blocks in its heap");
    let v: Vec<Box<[u8; 48]>> = (0..20).map(|k| Box::new([k as u8; 48])).collect();
    assert!(v.iter().enumerate().all(|(k, b)| b[47] == k as u8));
    let r = Raw::new(LEFT_SIZE, 8, i);
    LEFT_BEHIND[i].store(r.p as *mut u8, Ordering::Release);
}

fn case_reused_threads() -> Result<(), String> {
    for _ in 0..REUSE_THREADS {
        if !on_raw_thread(reused_thread) {
            return Err(format!("thread {} panicked", NEXT.load(Ordering::Acquire)));
        }
    }
    // blocks of 3,000 dead threads, freed here
    for (i, slot) in LEFT_BEHIND.iter().enumerate() {
        let p = slot.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if p.is_null() {
            return Err(format!("thread {i} left no block"));
        }
        Raw {
            p: p as usize,
            size: LEFT_SIZE,
            align: 8,
            seed: i,
        }
        .free("block of a dead thread");
    }
    let mut selves: Vec<usize> = SELVES.iter().map(|s| s.load(Ordering::Acquire)).collect();
    selves.sort_unstable();
    selves.dedup();
    eprintln!(
        "{REUSE_THREADS} threads ran with {} distinct pthread_self values",
        selves.len()
    );
    if selves.len() >= REUSE_THREADS {
        return Err("the C library reused no thread control block: the case tested nothing".into());
    }
    Ok(())
}

// ---- 4. Free after the segment was reclaimed by a third thread --------------------------------

fn reclaim_round(round: usize) -> Result<(), String> {
    let sizes = [16usize, 48, 200, 1000, 3000, 9000, 40_000, 200_000];
    // thread A allocates and exits, leaving its blocks in abandoned segments
    let blocks: Vec<Raw> = thread::spawn(move || {
        (0..600)
            .map(|k| Raw::new(sizes[k % sizes.len()] + k % 7, 8, round * 1000 + k))
            .collect()
    })
    .join()
    .map_err(|_| "allocating thread panicked".to_string())?;
    let reclaimed_before = stats().reclaimed.total;
    let stop = Arc::new(AtomicBool::new(false));
    let go = Arc::new(Barrier::new(2));
    // thread C adopts the abandoned segments and keeps allocating from their pages
    let adopter = {
        let (stop, go) = (stop.clone(), go.clone());
        thread::spawn(move || {
            // SAFETY: no preconditions; a forced collect reclaims abandoned segments.
            unsafe { mimalloc_sys::mi_collect(true) };
            go.wait();
            let mut own: Vec<Raw> = Vec::new();
            let mut k = 0;
            while !stop.load(Ordering::Acquire) || k < 2000 {
                own.push(Raw::new(sizes[k % sizes.len()], 8, k));
                if own.len() > 300 {
                    own.swap_remove(k % 300).free("the adopter's block");
                }
                if k % 100 == 0 {
                    // SAFETY: no preconditions; collects the blocks B freed into its pages
                    unsafe { mimalloc_sys::mi_collect(false) };
                }
                k += 1;
            }
            for r in own {
                r.free("the adopter's block");
            }
        })
    };
    // thread B frees A's blocks while C allocates in the same pages; half of the rounds start
    // freeing before C has adopted anything, so frees race the reclaim
    let racing = round % 2 == 1;
    let freer = {
        let go = go.clone();
        thread::spawn(move || {
            let (first, rest) = blocks.split_at(if racing { blocks.len() / 2 } else { 0 });
            for r in first {
                r.free("A's block, freed during the reclaim");
            }
            if !racing {
                go.wait();
            }
            for r in rest {
                r.free("A's block, freed after the reclaim");
            }
        })
    };
    if racing {
        go.wait(); // stands in for B, which does not wait
    }
    let b = freer.join();
    stop.store(true, Ordering::Release);
    let c = adopter.join();
    if b.is_err() || c.is_err() {
        return Err(format!(
            "round {round}: freer ok {}, adopter ok {}",
            b.is_ok(),
            c.is_ok()
        ));
    }
    if stats().reclaimed.total <= reclaimed_before {
        return Err(format!("round {round}: no segment was reclaimed"));
    }
    Ok(())
}

fn case_reclaimed_by_a_third_thread() -> Result<(), String> {
    (0..20).try_for_each(reclaim_round)
}

/// A case: Err says what failed.
type Case = fn() -> Result<(), String>;

// ---- The test -----------------------------------------------------------------------------------

#[test]
fn thread_lifecycle_edges() {
    // warm-up: std's one-time allocations for threads happen before the baseline
    thread::spawn(|| Box::new(1)).join().expect("warm-up");
    // SAFETY: no preconditions.
    unsafe { mimalloc_sys::mi_collect(true) };
    let before = stats();
    let cases: [(&str, Case); 5] = [
        ("first calls", case_first_calls),
        ("destructors", case_destructors),
        ("a free in the last destructor pass", case_destructor_passes),
        ("reused threads", case_reused_threads),
        (
            "reclaimed by a third thread",
            case_reclaimed_by_a_third_thread,
        ),
    ];
    let mut failures = Vec::new();
    for (name, case) in cases {
        let start = std::time::Instant::now();
        match std::panic::catch_unwind(case) {
            Ok(Ok(())) => eprintln!("{name}: ok in {:?}", start.elapsed()),
            Ok(Err(e)) => failures.push(format!("{name}: {e}")),
            Err(_) => failures.push(format!("{name}: panicked")),
        }
    }
    assert!(failures.is_empty(), "failed:\n{}", failures.join("\n"));

    // SAFETY: no preconditions.
    unsafe { mimalloc_sys::mi_collect(true) };
    let after = stats();
    assert_eq!(
        after.threads.current, before.threads.current,
        "thread state left behind by exited threads"
    );
    assert_eq!(
        after.segments_abandoned.current, 0,
        "abandoned segments left"
    );
    assert_eq!(after.pages_abandoned.current, 0, "abandoned pages left");
    let (pages, segments, bytes) = if redirected() {
        (8, 2, 4 * MIB as i64)
    } else {
        (2, 1, MIB as i64)
    };
    for (what, b, a, tol) in [
        ("pages", before.pages.current, after.pages.current, pages),
        (
            "segments",
            before.segments.current,
            after.segments.current,
            segments,
        ),
        (
            "normal bytes",
            before.normal.current,
            after.normal.current,
            bytes,
        ),
        ("huge bytes", before.huge.current, after.huge.current, 0),
    ] {
        assert!((a - b).abs() <= tol, "{what}: {b} before, {a} after (leak)");
    }
}
