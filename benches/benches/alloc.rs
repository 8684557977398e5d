//! Our allocator next to the system allocator in one run, through their `GlobalAlloc`
//! implementations called directly (the global allocator of this binary plays no part in
//! what is timed, except for the channel and batch vectors, which both sides share alike).
//!
//! Each benchmark is one criterion group with the allocators as its parameters:
//! - `small_churn`: 20,000 operations on a live set of 1,000 blocks; each frees a random slot
//!   and refills it with a block of a pseudo-random size in 16..=1024, written to;
//! - `small_batch`: a round allocates 1,000 blocks of pseudo-random sizes in 16..=1024,
//!   writes to each, then frees them all in a shuffled order;
//! - `remote_free`: a producer allocates batches of 1,000 blocks (16..=512 bytes) and sends
//!   them over a channel to a consumer thread that frees them (every free is a free by a
//!   thread that does not own the block); the whole handoff is timed, thread start excluded;
//! - `size_class/<size>`: 64 blocks of one size (16 B to 256 KiB) allocated, written and
//!   freed in allocation order;
//! - `realloc_growth/<factor>`: a buffer grown by `realloc` from 16 B to 1 MiB, doubling
//!   (`x2`) or by half (`x1.5`) each step, its last byte written after every step;
//! - `aligned/<align>`: 100 blocks of 16-256 bytes at alignment 64 or 4096, then freed;
//! - `zeroed/<size>`: `alloc_zeroed` of 4 KiB, 64 KiB or 1 MiB, a byte checked, freed.
//!
//! `cargo bench -p mimalloc-benches [-- --quick]`, then
//! `cargo run -p mimalloc-benches --bin ratios` for a table of medians and ratios.

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use mimalloc::MiMalloc;
use mimalloc_benches::Rng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Live blocks in `small_churn`.
const SLOTS: usize = 1000;
/// Free-and-refill operations per `small_churn` iteration.
const CHURN_OPS: usize = 20_000;
/// Blocks per round in `small_batch`, and per batch sent in `remote_free`.
const BATCH: usize = 1000;

/// The allocators compared. Results are filed under `mimalloc-rs` (ours, as `ratios`
/// expects) and `system`.
static MI: MiMalloc = MiMalloc;
static SYS: System = System;

/// A live set: slot → (block, its layout); null while empty.
type Slots = Vec<(*mut u8, Layout)>;

/// Replace random slots of a live set with blocks of random sizes in 16..=1024.
fn churn<A: GlobalAlloc>(a: &A, slots: &mut Slots, rng: &mut Rng) {
    for _ in 0..CHURN_OPS {
        let i = rng.below(SLOTS as u64) as usize;
        let (p, layout) = slots[i];
        if !p.is_null() {
            // SAFETY: `p` was allocated by `a` with `layout` and is freed once (slot refilled).
            unsafe { a.dealloc(p, layout) };
        }
        let size = 16 + rng.below(1009) as usize;
        let layout = Layout::from_size_align(size, 8).expect("valid layout");
        // SAFETY: the layout has a non-zero size.
        let q = unsafe { a.alloc(layout) };
        assert!(!q.is_null(), "allocation failed");
        // SAFETY: `q` points to at least `size >= 16` writable bytes.
        unsafe { q.write(size as u8) };
        slots[i] = (black_box(q), layout);
    }
}

/// Frees what is left in a live set.
fn free_all<A: GlobalAlloc>(a: &A, slots: &mut Slots) {
    for (p, layout) in slots.iter_mut() {
        if !p.is_null() {
            // SAFETY: allocated by `a` with `layout`; the slot is emptied so it is freed once.
            unsafe { a.dealloc(*p, *layout) };
            *p = std::ptr::null_mut();
        }
    }
}

fn small_churn(c: &mut Criterion) {
    fn run<A: GlobalAlloc>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, a: &A) {
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            let mut slots: Slots = vec![(std::ptr::null_mut(), Layout::new::<u8>()); SLOTS];
            let mut rng = Rng::new(42);
            b.iter(|| churn(a, &mut slots, &mut rng));
            free_all(a, &mut slots);
        });
    }
    let mut group = c.benchmark_group("small_churn");
    run(&mut group, "mimalloc-rs", &MI);
    run(&mut group, "system", &SYS);
    group.finish();
}

/// The same request sequence for every allocator: `BATCH` layouts with sizes in `lo..=hi`.
fn layouts(seed: u64, lo: usize, hi: usize) -> Vec<Layout> {
    let mut rng = Rng::new(seed);
    (0..BATCH)
        .map(|_| {
            let size = lo + rng.below((hi - lo + 1) as u64) as usize;
            Layout::from_size_align(size, 8).expect("valid layout")
        })
        .collect()
}

/// A permutation of `0..BATCH` (Fisher–Yates): the order in which a round frees its blocks.
fn shuffled(seed: u64) -> Vec<usize> {
    let mut rng = Rng::new(seed);
    let mut order: Vec<usize> = (0..BATCH).collect();
    for i in (1..BATCH).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    order
}

/// One round of `small_batch`: allocate the batch, touch every block, free in `order`.
fn batch_round<A: GlobalAlloc>(a: &A, layouts: &[Layout], order: &[usize], ptrs: &mut [*mut u8]) {
    for (slot, layout) in ptrs.iter_mut().zip(layouts) {
        // SAFETY: every layout has a non-zero size (at least 16 bytes).
        let p = unsafe { a.alloc(*layout) };
        assert!(!p.is_null(), "allocation failed");
        // SAFETY: `p` points to at least `layout.size() >= 16` writable bytes.
        unsafe { p.write(layout.size() as u8) };
        *slot = black_box(p);
    }
    for &i in order {
        // SAFETY: `ptrs[i]` was allocated just above by `a` with `layouts[i]`; `order` is a
        // permutation, so each block is freed once.
        unsafe { a.dealloc(ptrs[i], layouts[i]) };
    }
}

fn small_batch(c: &mut Criterion) {
    let layouts = layouts(42, 16, 1024);
    let order = shuffled(43);
    let mut ptrs = vec![std::ptr::null_mut::<u8>(); BATCH];
    let mut group = c.benchmark_group("small_batch");
    group.bench_function(BenchmarkId::from_parameter("mimalloc-rs"), |b| {
        b.iter(|| batch_round(&MI, &layouts, &order, &mut ptrs))
    });
    group.bench_function(BenchmarkId::from_parameter("system"), |b| {
        b.iter(|| batch_round(&SYS, &layouts, &order, &mut ptrs))
    });
    group.finish();
}

/// A batch of blocks in flight from the producer to the consumer. Addresses travel as
/// `usize` because raw pointers are not `Send`; each block is owned by one side at a time.
struct Batch(Vec<(usize, Layout)>);

/// `iters` batches allocated here and freed on another thread; returns the time from the
/// first allocation to the last free (the consumer is started before the clock).
fn remote_free_run<A: GlobalAlloc + Sync>(a: &'static A, iters: u64) -> Duration {
    let (tx, rx) = mpsc::sync_channel::<Batch>(4);
    let consumer = std::thread::spawn(move || {
        for batch in rx {
            for (p, layout) in batch.0 {
                // SAFETY: allocated by `a` with `layout` on the producer and sent here once.
                unsafe { a.dealloc(p as *mut u8, layout) };
            }
        }
    });
    let mut rng = Rng::new(7);
    let start = Instant::now();
    for _ in 0..iters {
        let mut batch = Vec::with_capacity(BATCH);
        for _ in 0..BATCH {
            let layout = Layout::from_size_align(16 + rng.below(497) as usize, 8).expect("layout");
            // SAFETY: the layout has a non-zero size.
            let p = unsafe { a.alloc(layout) };
            assert!(!p.is_null(), "allocation failed");
            batch.push((p as usize, layout));
        }
        tx.send(Batch(batch)).expect("consumer alive");
    }
    drop(tx);
    consumer.join().expect("consumer thread panicked");
    start.elapsed()
}

fn remote_free(c: &mut Criterion) {
    let mut group = c.benchmark_group("remote_free");
    group.bench_function(BenchmarkId::from_parameter("mimalloc-rs"), |b| {
        b.iter_custom(|iters| remote_free_run(&MI, iters))
    });
    group.bench_function(BenchmarkId::from_parameter("system"), |b| {
        b.iter_custom(|iters| remote_free_run(&SYS, iters))
    });
    group.finish();
}

/// Runs the body as benchmark `<group>/<function>/<allocator>` with `$a` bound to ours and
/// then to the system allocator (the path `ratios` reads: the allocator comes last). A macro
/// rather than a closure over `&dyn GlobalAlloc`, so each allocator's calls are direct.
macro_rules! both {
    ($group:expr, $function:expr, |$b:ident, $a:ident| $body:expr) => {{
        let function: String = $function;
        $group.bench_function(BenchmarkId::new(function.clone(), "mimalloc-rs"), |$b| {
            let $a = &MI;
            $body
        });
        $group.bench_function(BenchmarkId::new(function, "system"), |$b| {
            let $a = &SYS;
            $body
        });
    }};
}

/// A group of the quicker per-operation benchmarks: shorter measurement than the churn ones.
fn short_group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group
}

/// A size for benchmark names: `16B`, `4KiB`, `1MiB`.
fn size_name(size: usize) -> String {
    match size {
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{}MiB", s >> 20),
        s if s >= 1 << 10 && s % (1 << 10) == 0 => format!("{}KiB", s >> 10),
        s => format!("{s}B"),
    }
}

/// Blocks per round of `size_class`.
const SIZE_CLASS_BATCH: usize = 64;

fn size_class(c: &mut Criterion) {
    let mut group = short_group(c, "size_class");
    for size in [16, 64, 256, 1024, 4096, 32 * 1024, 256 * 1024] {
        let layout = Layout::from_size_align(size, 8).expect("valid layout");
        let mut ptrs = [std::ptr::null_mut::<u8>(); SIZE_CLASS_BATCH];
        both!(group, size_name(size), |b, a| {
            b.iter(|| {
                for slot in ptrs.iter_mut() {
                    // SAFETY: the layout has a non-zero size.
                    let p = unsafe { a.alloc(layout) };
                    assert!(!p.is_null(), "allocation failed");
                    // SAFETY: `p` points to `size >= 16` writable bytes.
                    unsafe { p.write(1) };
                    *slot = black_box(p);
                }
                for &p in ptrs.iter() {
                    // SAFETY: allocated just above by `a` with `layout`, freed once.
                    unsafe { a.dealloc(p, layout) };
                }
            })
        });
    }
    group.finish();
}

fn realloc_growth(c: &mut Criterion) {
    let mut group = short_group(c, "realloc_growth");
    for (name, num, den) in [("x2", 2, 1), ("x1.5", 3, 2)] {
        both!(group, name.to_string(), |b, a| {
            b.iter(|| {
                let mut layout = Layout::from_size_align(16, 8).expect("valid layout");
                // SAFETY: the layout has a non-zero size.
                let mut p = unsafe { a.alloc(layout) };
                assert!(!p.is_null(), "allocation failed");
                while layout.size() < 1 << 20 {
                    let new = (layout.size() * num / den).min(1 << 20);
                    // SAFETY: `p` is live, allocated by `a` with `layout`; `new` is non-zero
                    // and far below isize::MAX.
                    p = unsafe { a.realloc(p, layout, new) };
                    assert!(!p.is_null(), "reallocation failed");
                    layout = Layout::from_size_align(new, 8).expect("valid layout");
                    // SAFETY: `p` points to `new` writable bytes.
                    unsafe { p.add(new - 1).write(new as u8) };
                }
                // SAFETY: `p` is live with `layout`, freed once.
                unsafe { a.dealloc(black_box(p), layout) };
            })
        });
    }
    group.finish();
}

fn aligned(c: &mut Criterion) {
    let mut group = short_group(c, "aligned");
    for align in [64, 4096] {
        let mut rng = Rng::new(align as u64);
        let layouts: Vec<Layout> = (0..100)
            .map(|_| {
                let size = 16 + rng.below(241) as usize;
                Layout::from_size_align(size, align).expect("valid layout")
            })
            .collect();
        let mut ptrs = vec![std::ptr::null_mut::<u8>(); layouts.len()];
        both!(group, align.to_string(), |b, a| {
            b.iter(|| {
                for (slot, layout) in ptrs.iter_mut().zip(&layouts) {
                    // SAFETY: the layout has a non-zero size and a power-of-two alignment.
                    let p = unsafe { a.alloc(*layout) };
                    assert!(!p.is_null(), "allocation failed");
                    assert_eq!(p as usize % layout.align(), 0, "misaligned block");
                    *slot = black_box(p);
                }
                for (&p, layout) in ptrs.iter().zip(&layouts) {
                    // SAFETY: allocated just above by `a` with `layout`, freed once.
                    unsafe { a.dealloc(p, *layout) };
                }
            })
        });
    }
    group.finish();
}

fn zeroed(c: &mut Criterion) {
    let mut group = short_group(c, "zeroed");
    for size in [4096, 64 * 1024, 1 << 20] {
        let layout = Layout::from_size_align(size, 8).expect("valid layout");
        both!(group, size_name(size), |b, a| {
            b.iter(|| {
                // SAFETY: the layout has a non-zero size.
                let p = unsafe { a.alloc_zeroed(layout) };
                assert!(!p.is_null(), "allocation failed");
                // SAFETY: `p` points to `size` initialised (zero) bytes.
                let last = unsafe { p.add(size - 1).read() };
                assert_eq!(last, 0, "alloc_zeroed returned a dirty block");
                // SAFETY: allocated just above by `a` with `layout`, freed once.
                unsafe { a.dealloc(black_box(p), layout) };
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = alloc;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = small_churn, small_batch, remote_free, size_class, realloc_growth, aligned, zeroed
}
criterion_main!(alloc);
