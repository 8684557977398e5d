//! Size classes as `mi_good_size` reports them: monotone non-decreasing, never below the
//! request, equal to what `mi_usable_size` reports for a real block, wasting at most 12.5 % of
//! the block above 128 bytes, and blocks of one class never overlapping.
//!
//! With debug padding (`mi_build_config().padding`, the `debug` features) the usable size is
//! exactly the requested size by design (writing all of it never trips the canary), so there
//! the check is `usable == n <= mi_good_size(n)`.

use core::ffi::c_void;
use mimalloc_sys::*;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

fn good(n: usize) -> usize {
    // SAFETY: mi_good_size has no preconditions.
    unsafe { mi_good_size(n) }
}

fn padding() -> bool {
    // SAFETY: mi_build_config fills the struct it is given.
    unsafe {
        let mut c: mi_build_config_t = core::mem::zeroed();
        mi_build_config(&mut c);
        c.padding
    }
}

/// Every n up to 64 KiB; beyond, the smallest member of every class (class + 1, where the waste
/// is largest), its largest member, and a spread of other samples, up to `limit`.
fn sample_sizes(limit: usize) -> Vec<usize> {
    let mut s: Vec<usize> = (0..=64 * KIB).collect();
    let mut n = 64 * KIB;
    while n < limit {
        let c = good(n + 1);
        s.extend([n + 1, n + 1 + (c - n) / 2, c]);
        n = c;
    }
    s.extend((0..2000).map(|i| 64 * KIB + (i * 7919 * 13) % (limit - 64 * KIB)));
    s.sort_unstable();
    s.dedup();
    s.retain(|&x| x <= limit);
    s
}

#[test]
fn good_size_is_monotone_and_at_least_the_request() {
    let mut prev = 0usize;
    let mut sizes = sample_sizes(2 * MIB + 64 * KIB);
    sizes.extend([3 * MIB, 3 * MIB + 1, 10 * MIB + 3, 64 * MIB + 1]);
    sizes.push(if usize::BITS == 64 { 1 << 40 } else { 1 << 30 }); // beyond every class
    for n in sizes {
        let g = good(n);
        assert!(g >= n, "mi_good_size({n}) = {g} < {n}");
        assert!(
            g >= prev,
            "mi_good_size not monotone at {n}: {g} after {prev}"
        );
        assert_eq!(
            good(g),
            g,
            "a class size is its own class: mi_good_size({g})"
        );
        prev = g;
    }
}

#[test]
fn waste_is_at_most_an_eighth_above_128_bytes() {
    let mut classes = 0;
    let mut last = 0;
    for n in sample_sizes(2 * MIB) {
        let g = good(n);
        if g != last {
            classes += 1;
            last = g;
        }
        if n <= 128 {
            continue;
        }
        let waste = (g - n) as f64 / g as f64;
        assert!(
            waste <= 0.125,
            "size {n} -> class {g}: {:.2} % of the block wasted",
            waste * 100.0
        );
    }
    // a sanity bound: classes exist at all and are not one per byte
    assert!(
        (40..2000).contains(&classes),
        "{classes} distinct classes up to 2 MiB"
    );
}

#[test]
fn usable_size_of_a_real_block_is_its_good_size() {
    let padding = padding();
    let mut sizes = sample_sizes(MIB + 64 * KIB);
    // every 3rd size beyond 4 KiB keeps this quick; every class edge is still in
    sizes.retain(|&n| n <= 4096 || n % 3 == 0 || good(n) == n || good(n - 1) < n);
    sizes.extend([2 * MIB - 1, 2 * MIB, 2 * MIB + 1, 3 * MIB + 5, 10 * MIB + 3]);
    for n in sizes {
        // SAFETY: freed once below.
        unsafe {
            let p = mi_malloc(n);
            assert!(!p.is_null(), "mi_malloc({n})");
            let u = mi_usable_size(p);
            if padding {
                assert_eq!(u, n.max(1), "usable size of mi_malloc({n}) with padding");
                assert!(
                    u <= good(n),
                    "mi_good_size({n}) = {} is below the usable size {u} of mi_malloc({n})",
                    good(n)
                );
            } else {
                assert_eq!(
                    u,
                    good(n),
                    "mi_usable_size(mi_malloc({n})) != mi_good_size({n})"
                );
            }
            mi_free(p);
        }
    }
}

#[test]
fn blocks_of_a_class_do_not_overlap() {
    // the first and last size of classes across the small, medium and large kinds
    let mut sizes = vec![1usize, 8, 9, 16, 17, 100, 128, 129, 1000, 4096, 4097];
    sizes.extend([
        8 * KIB,
        8 * KIB + 1,
        16 * KIB,
        16 * KIB + 1,
        100 * KIB,
        128 * KIB + 1,
        MIB,
        2 * MIB,
    ]);
    for n in sizes {
        for n in [n, good(n)] {
            // SAFETY: every block is live until freed below.
            unsafe {
                let mut blocks: Vec<(usize, usize)> = (0..64)
                    .map(|_| {
                        let p = mi_malloc(n);
                        assert!(!p.is_null());
                        (p as usize, mi_usable_size(p))
                    })
                    .collect();
                blocks.sort_unstable();
                for w in blocks.windows(2) {
                    assert!(
                        w[0].0 + w[0].1 <= w[1].0,
                        "blocks of size {n} overlap: {:#x}+{} and {:#x}",
                        w[0].0,
                        w[0].1,
                        w[1].0
                    );
                }
                for (p, _) in blocks {
                    mi_free(p as *mut c_void);
                }
            }
        }
    }
}
