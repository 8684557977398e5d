//! A large, fragmented heap keeps the process far below the kernel's limit on memory mappings
//! (`vm.max_map_count`, 65,530 by default), in every build mode. It matters most in `secure`
//! mode, where each guard page splits a mapping in two: when the limit is reached, `mmap` and
//! `mprotect` fail with ENOMEM, for the allocator and for everything else in the process.
//!
//! The heap: about 2 GiB requested in small, medium and large blocks (1 GiB of it in blocks of
//! at most 1 KiB, the worst case for guard pages: the most pages per byte), every other block
//! freed, plus huge blocks; then churn that empties whole runs of pages so they are purged and
//! refilled. Mappings are counted from `/proc/self/maps` at each stage.
//!
//! Regression test for a secure-mode defect: a guard page after every page made about 130
//! mappings per small segment, so 1.2 GiB live (2.4 GiB at the peak) took 42,971 mappings and a
//! heap of about 4 GiB would reach the default limit. Guards between pages now come out of a
//! budget (a 64th of the limit); the one after the metadata and the one at the end of each
//! segment stay. A fresh heap after everything was freed must be fully guarded again: the
//! budget comes back with the segments.

use std::ffi::c_void;
use std::time::Duration;

use mimalloc_stress::{map_count, max_map_count, Rng};
use mimalloc_sys as sys;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// The limit this test holds the count to: far below the kernel's, and below 10,000.
fn map_limit() -> usize {
    let kernel = max_map_count().unwrap_or(65_530);
    (kernel / 6).min(10_000)
}

struct Heap {
    blocks: Vec<Option<(*mut u8, usize)>>,
    rng: Rng,
}

impl Heap {
    fn alloc(&mut self, size: usize) {
        // SAFETY: mi_malloc has no preconditions.
        let p = unsafe { sys::mi_malloc(size) } as *mut u8;
        assert!(
            !p.is_null(),
            "allocation of {size} bytes failed with {} mappings",
            map_count()
        );
        // SAFETY: the block is `size` bytes long; touching both ends commits its memory.
        unsafe {
            p.write(0xAB);
            p.add(size - 1).write(0xCD);
        }
        self.blocks.push(Some((p, size)));
    }

    fn free(&mut self, i: usize) {
        if let Some((p, size)) = self.blocks[i].take() {
            // SAFETY: p is a live block of `size` bytes from mi_malloc, freed once (taken).
            unsafe {
                assert_eq!(
                    (p.read(), p.add(size - 1).read()),
                    (0xAB, 0xCD),
                    "block {p:p} ({size} bytes) damaged"
                );
                sys::mi_free(p as *mut c_void);
            }
        }
    }

    /// Requests `total` bytes in sizes from `lo + 1` up to `hi`, each doubling equally likely
    /// (small blocks uniformly in 8..=1024).
    fn fill(&mut self, total: usize, lo: usize, hi: usize) {
        let mut done = 0;
        while done < total {
            let size = if hi <= KIB {
                8 + self.rng.below((hi - 7) as u64) as usize
            } else {
                let doublings = (hi / lo).trailing_zeros() as u64;
                let from = lo << self.rng.below(doublings);
                from + 1 + self.rng.below(from as u64) as usize
            };
            self.alloc(size);
            done += size;
        }
    }

    fn live_bytes(&self) -> usize {
        self.blocks.iter().flatten().map(|&(_, s)| s).sum()
    }
}

fn report(stage: &str, heap: &Heap, peak: &mut usize) -> usize {
    let n = map_count();
    *peak = (*peak).max(n);
    println!(
        "{stage}: {} mappings, {:.0} MiB live",
        n,
        heap.live_bytes() as f64 / MIB as f64
    );
    n
}

#[test]
fn fragmented_heap_stays_far_below_max_map_count() {
    let limit = map_limit();
    println!(
        "vm.max_map_count {:?}, limit held here {limit}, build {}",
        max_map_count(),
        mimalloc_stress::build_mode()
    );
    let secure = !mimalloc_stress::build_mode().starts_with("secure 0");
    let mut peak = 0;
    let mut heap = Heap {
        blocks: Vec::with_capacity(3_000_000),
        rng: Rng::new(35, 0, 0),
    };
    report("start", &heap, &mut peak);

    heap.fill(1024 * MIB, 8, KIB);
    heap.fill(512 * MIB, KIB, 128 * KIB);
    heap.fill(512 * MIB, 128 * KIB, 2 * MIB);
    for _ in 0..16 {
        let size = 8 * MIB + heap.rng.below(24 * MIB as u64) as usize;
        heap.alloc(size);
    }
    report("2 GiB allocated", &heap, &mut peak);

    // Every other block freed: no page empties, so nothing is returned and every segment stays.
    for i in (0..heap.blocks.len()).step_by(2) {
        heap.free(i);
    }
    report("every other block freed", &heap, &mut peak);

    // Churn: empty a run of an eighth of the blocks (whole pages, so they are purged once the
    // purge delay passes), let the purge happen, refill with mixed sizes.
    for pass in 0..4 {
        let n = heap.blocks.len();
        let start = heap.rng.below((n - n / 8) as u64) as usize;
        for i in start..start + n / 8 {
            heap.free(i);
        }
        std::thread::sleep(Duration::from_millis(
            3 * mimalloc::MiOption::PurgeDelay.get().clamp(0, 1000) as u64 + 5,
        ));
        mimalloc::collect(false);
        report(
            &format!("churn {pass}: run freed and purged"),
            &heap,
            &mut peak,
        );
        heap.fill(64 * MIB, 8, KIB);
        heap.fill(32 * MIB, KIB, 128 * KIB);
        heap.fill(32 * MIB, 128 * KIB, 2 * MIB);
        report(&format!("churn {pass}: refilled"), &heap, &mut peak);
    }
    let live = heap.live_bytes();
    assert!(
        live > 900 * MIB,
        "the heap is as large as intended: {live} bytes live"
    );

    for i in 0..heap.blocks.len() {
        heap.free(i);
    }
    mimalloc::collect(true);
    let freed = report("all freed", &heap, &mut peak);

    // Every segment is unmapped now, so the budget of guards between pages is whole again: a
    // fresh heap of small blocks gets a guard after every page (about 130 mappings for each of
    // its 16 or more segments; unguarded, about 4 each).
    heap.blocks.clear();
    heap.fill(64 * MIB, 8, KIB);
    let fresh = report("64 MiB of small blocks allocated afresh", &heap, &mut peak);
    if secure {
        assert!(
            fresh > freed + 1000,
            "guards between pages are back on a fresh heap: {freed} mappings before, {fresh} after"
        );
    }
    for i in 0..heap.blocks.len() {
        heap.free(i);
    }
    println!("peak {peak} mappings (limit {limit})");
    assert!(
        peak < limit,
        "{peak} mappings at the peak: not far below vm.max_map_count (limit held: {limit})"
    );
}
