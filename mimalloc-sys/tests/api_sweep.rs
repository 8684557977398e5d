//! The raw C API over sizes and alignments: natural alignment of plain `mi_malloc`, the
//! aligned family, size classes and their waste bound.

use core::ffi::c_void;
use mimalloc_sys::*;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// What `mi_malloc(n)` promises: 16 bytes for n >= 16, the largest power of two <= n below.
fn natural_alignment(n: usize) -> usize {
    if n >= MI_MAX_ALIGN_SIZE {
        MI_MAX_ALIGN_SIZE
    } else {
        1 << (usize::BITS - 1 - n.leading_zeros())
    }
}

#[test]
fn plain_malloc_is_naturally_aligned() {
    let mut sizes: Vec<usize> = (1..=8192).collect();
    sizes.extend([12_345, 65_536, 100_000, MIB - 3, 3 * MIB + 5, 10 * MIB]);
    for n in sizes {
        let live: Vec<*mut c_void> = (0..4)
            // SAFETY: mi_malloc has no preconditions.
            .map(|_| unsafe { mi_malloc(n) })
            .collect();
        for &p in &live {
            assert!(!p.is_null());
            assert_eq!(
                p as usize % natural_alignment(n),
                0,
                "mi_malloc({n}) = {p:p}"
            );
        }
        for p in live {
            // SAFETY: from mi_malloc, freed once.
            unsafe { mi_free(p) };
        }
    }
}

#[test]
fn aligned_family_sweep() {
    let mut aligns: Vec<usize> = (0..=12).map(|k| 1 << k).collect();
    aligns.extend([64 * KIB, 2 * MIB]);
    let sizes = [
        0usize,
        1,
        8,
        15,
        16,
        17,
        100,
        1000,
        4095,
        4096,
        4097,
        20_000,
        70_000,
        MIB,
        3 * MIB,
    ];
    for &a in &aligns {
        for &n in &sizes {
            // SAFETY: a is a power of two; every block is freed once below.
            unsafe {
                let p = mi_malloc_aligned(n, a) as *mut u8;
                assert!(
                    !p.is_null() && p as usize % a == 0,
                    "mi_malloc_aligned({n}, {a})"
                );
                assert!(mi_usable_size(p as *const c_void) >= n);
                core::ptr::write_bytes(p, 0x3c, mi_usable_size(p as *const c_void));
                let z = mi_zalloc_aligned(n, a) as *mut u8;
                assert!(!z.is_null() && z as usize % a == 0);
                assert!(
                    (0..n).all(|i| *z.add(i) == 0),
                    "mi_zalloc_aligned({n}, {a}) not zero"
                );
                let r = mi_realloc_aligned(p as *mut c_void, n * 2 + 1, a) as *mut u8;
                assert!(
                    !r.is_null() && r as usize % a == 0,
                    "mi_realloc_aligned({n}, {a})"
                );
                assert!((0..n).all(|i| *r.add(i) == 0x3c), "realloc lost contents");
                let c = mi_calloc_aligned(3, n, a) as *mut u8;
                assert!(!c.is_null() && c as usize % a == 0);
                assert!((0..3 * n).all(|i| *c.add(i) == 0));
                mi_free(r as *mut c_void);
                mi_free(z as *mut c_void);
                mi_free(c as *mut c_void);
            }
        }
    }
}

#[test]
fn aligned_at_offset() {
    for &a in &[16usize, 64, 256, 4096, 64 * KIB] {
        for &off in &[0usize, 8, 16, 100, 5000] {
            for &n in &[1usize, 50, 1000, 10_000, 200_000] {
                // SAFETY: power-of-two alignment; freed once.
                unsafe {
                    let p = mi_malloc_aligned_at(n, a, off) as *mut u8;
                    assert!(!p.is_null());
                    assert_eq!((p as usize + off) % a, 0, "aligned_at({n}, {a}, {off})");
                    core::ptr::write_bytes(p, 1, n);
                    mi_free(p as *mut c_void);
                }
            }
        }
    }
}

#[test]
fn size_classes_are_monotone_and_waste_at_most_an_eighth() {
    let mut prev = 0usize;
    // SAFETY (for the unsafe calls below): mi_good_size has no preconditions.
    for n in 1..=(2 * MIB) {
        if n > 64 * KIB && n % 61 != 0 {
            continue; // sample beyond 64 KiB
        }
        let good = unsafe { mi_good_size(n) };
        assert!(good >= n, "good_size({n}) = {good}");
        assert!(
            good >= prev,
            "good_size not monotone at {n}: {good} < {prev}"
        );
        prev = good;
        if n > 128 {
            let waste = (good - n) as f64 / good as f64;
            assert!(
                waste <= 0.125,
                "size {n} -> class {good}: waste {:.1} %",
                waste * 100.0
            );
        }
    }
}

#[test]
fn usable_size_matches_good_size() {
    // SAFETY: mi_build_config fills the struct it is given.
    let padding = unsafe {
        let mut c: mi_build_config_t = core::mem::zeroed();
        mi_build_config(&mut c);
        c.padding
    };
    let mut n = 1usize;
    while n <= MIB {
        // SAFETY: freed once below.
        unsafe {
            let p = mi_malloc(n);
            let usable = mi_usable_size(p);
            assert!(
                usable <= mi_good_size(n),
                "size {n}: usable {usable} beyond its class"
            );
            // with debug padding the usable size is exactly the request: writing all of it
            // never trips the canary
            let expected = if padding { n } else { mi_good_size(n) };
            assert_eq!(usable, expected, "size {n}");
            mi_free(p);
        }
        n = n + 1 + n / 7;
    }
}
