//! Our allocator next to the system allocator in one run, through their `GlobalAlloc`
//! implementations directly (the global allocator of this binary is irrelevant):
//! small-object churn (16–1024 bytes) and blocks freed by another thread.
//! `cargo run -p mimalloc-benches --bin ratios` turns the results into a table of ratios.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use mimalloc::MiMalloc;
use mimalloc_benches::XorShift;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SLOTS: usize = 1000;
const CHURN_OPS: usize = 20_000;
const BATCH: usize = 1000;

/// Replace random slots of a live set with blocks of random sizes in 16..=1024.
fn churn<A: GlobalAlloc>(a: &A, slots: &mut [(*mut u8, Layout)], rng: &mut XorShift) {
    for _ in 0..CHURN_OPS {
        let i = rng.below(SLOTS as u64) as usize;
        let (p, layout) = slots[i];
        if !p.is_null() {
            // SAFETY: p was allocated by `a` with `layout` and is freed once.
            unsafe { a.dealloc(p, layout) };
        }
        let size = 16 + rng.below(1009) as usize;
        let layout = Layout::from_size_align(size, 8).expect("valid layout");
        // SAFETY: non-zero size.
        let q = unsafe { a.alloc(layout) };
        assert!(!q.is_null());
        // SAFETY: q has `size` bytes.
        unsafe { q.write(size as u8) };
        slots[i] = (black_box(q), layout);
    }
}

fn free_all<A: GlobalAlloc>(a: &A, slots: &mut [(*mut u8, Layout)]) {
    for (p, layout) in slots.iter_mut() {
        if !p.is_null() {
            // SAFETY: allocated by `a` with `layout`.
            unsafe { a.dealloc(*p, *layout) };
            *p = std::ptr::null_mut();
        }
    }
}

fn bench_churn<A: GlobalAlloc>(c: &mut Criterion, name: &str, a: &'static A) {
    let mut group = c.benchmark_group("small_churn");
    group.bench_with_input(BenchmarkId::from_parameter(name), &(), |b, _| {
        let mut slots = vec![(std::ptr::null_mut::<u8>(), Layout::new::<u8>()); SLOTS];
        let mut rng = XorShift::new(42);
        b.iter(|| churn(a, &mut slots, &mut rng));
        free_all(a, &mut slots);
    });
    group.finish();
}

/// Raw pointers that cross threads: each is owned by exactly one side at a time.
struct Batch(Vec<(usize, Layout)>);

fn bench_remote_free<A: GlobalAlloc + Sync>(c: &mut Criterion, name: &str, a: &'static A) {
    let mut group = c.benchmark_group("remote_free");
    group.bench_with_input(BenchmarkId::from_parameter(name), &(), |b, _| {
        b.iter_custom(|iters| {
            let (tx, rx) = mpsc::sync_channel::<Batch>(4);
            let consumer = std::thread::spawn(move || {
                for batch in rx {
                    for (p, layout) in batch.0 {
                        // SAFETY: allocated by `a` with `layout` on the producer, sent here once.
                        unsafe { a.dealloc(p as *mut u8, layout) };
                    }
                }
            });
            let mut rng = XorShift::new(7);
            let start = Instant::now();
            for _ in 0..iters {
                let mut batch = Vec::with_capacity(BATCH);
                for _ in 0..BATCH {
                    let layout =
                        Layout::from_size_align(16 + rng.below(497) as usize, 8).expect("layout");
                    // SAFETY: non-zero size.
                    let p = unsafe { a.alloc(layout) };
                    assert!(!p.is_null());
                    batch.push((p as usize, layout));
                }
                tx.send(Batch(batch)).expect("consumer alive");
            }
            drop(tx);
            consumer.join().expect("consumer");
            start.elapsed()
        })
    });
    group.finish();
}

static MI: MiMalloc = MiMalloc;
static SYS: System = System;

fn benches(c: &mut Criterion) {
    bench_churn(c, "mimalloc-rs", &MI);
    bench_churn(c, "system", &SYS);
    bench_remote_free(c, "mimalloc-rs", &MI);
    bench_remote_free(c, "system", &SYS);
}

criterion_group! {
    name = alloc;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = benches
}
criterion_main!(alloc);
