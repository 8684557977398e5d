//! `MiMalloc` as the global allocator of a Rust program built with the `valgrind` feature, run
//! under valgrind's memcheck: collections growing and shrinking (realloc), over-aligned types,
//! blocks handed between threads and a `Heap` dropped with live blocks (destroyed at once) give
//! no report at all, and a leaked `Vec` is reported as "definitely lost" with its size. This test
//! binary re-executes itself under valgrind; without valgrind installed it says so and passes.
#![cfg(feature = "valgrind")]

use mimalloc::allocator_api2::vec::Vec as HeapVec;
use mimalloc::{Heap, MiMalloc};
use mimalloc_testkit::child::SCENARIO_TEST;
use mimalloc_testkit::valgrind::{self, report};
use std::collections::{BTreeMap, HashMap};
use std::process::Output;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const SCENARIO_VAR: &str = "MI_VALGRIND_RUST_SCENARIO";

/// A type whose blocks come from the aligned API (an interior pointer of a larger block).
#[repr(align(256))]
struct Aligned([u8; 300]);

fn clean() {
    let mut v: Vec<u64> = Vec::new();
    for i in 0..20_000 {
        v.push(i); // grows by realloc, in place or moved
    }
    assert_eq!(v.iter().sum::<u64>(), 20_000 * 19_999 / 2);
    v.truncate(10);
    v.shrink_to_fit();
    let mut s = String::new();
    for i in 0..500 {
        s.push_str(&i.to_string());
    }
    let mut map: HashMap<String, Vec<u8>> = HashMap::new();
    let mut tree = BTreeMap::new();
    for i in 0..300usize {
        map.insert(format!("key{i}"), vec![i as u8; i]);
        tree.insert(i, format!("{i}"));
    }
    map.retain(|k, _| k.len() % 2 == 0);
    let boxes: Vec<Box<Aligned>> = (0..50).map(|i| Box::new(Aligned([i as u8; 300]))).collect();
    for (i, b) in boxes.iter().enumerate() {
        assert_eq!(b.as_ref() as *const Aligned as usize % 256, 0);
        assert!(b.0.iter().all(|&x| x == i as u8));
    }
    // blocks allocated here, freed by another thread, and the other way round
    let sent: Vec<Vec<u8>> = (0..100).map(|i| vec![1u8; 10 + i]).collect();
    let back = std::thread::spawn(move || {
        drop(sent);
        (0..100).map(|i| vec![2u8; 20 + i]).collect::<Vec<_>>()
    })
    .join()
    .expect("thread");
    assert_eq!(back.len(), 100);
    // a heap dropped while its blocks are live: they are freed with it, memcheck is told
    let heap = Heap::new();
    {
        let mut hv = HeapVec::new_in(&heap);
        for i in 0..1000u32 {
            hv.push(i);
        }
        core::mem::forget(hv); // the heap reclaims it
    }
    drop(heap);
    drop((v, s, map, tree, boxes, back));
}

#[inline(never)] // memcheck's stack names it
fn leak() {
    let v = vec![7u8; 3000];
    core::mem::forget(core::hint::black_box(v));
}

#[test]
fn scenario_child() {
    match std::env::var(SCENARIO_VAR).as_deref() {
        Ok("clean") => clean(),
        Ok("leak") => leak(),
        Ok(other) => panic!("unknown scenario {other}"),
        Err(_) => {} // not a child: nothing to do
    }
}

/// This test binary's `scenario_child` under memcheck; `None` (said loudly) without valgrind.
fn under_valgrind(test: &str, scenario: &str) -> Option<Output> {
    if !valgrind::available(test) {
        return None;
    }
    let out = valgrind::rerun(SCENARIO_TEST, &[])
        .env(SCENARIO_VAR, scenario)
        .output()
        .expect("run valgrind");
    Some(out)
}

#[test]
fn global_allocator_runs_clean_under_memcheck() {
    let test = "global_allocator_runs_clean_under_memcheck";
    let Some(out) = under_valgrind(test, "clean") else {
        return;
    };
    valgrind::assert_clean(test, &out);
}

#[test]
fn leaked_vec_is_reported_with_its_size() {
    let Some(out) = under_valgrind("leaked_vec_is_reported_with_its_size", "leak") else {
        return;
    };
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(valgrind::ERROR_EXIT),
        "{}",
        report(&out)
    );
    assert!(
        text.contains("3,000 bytes in 1 blocks are definitely lost"),
        "{}",
        report(&out)
    );
    assert!(text.contains("valgrind::leak"), "{}", report(&out));
}
