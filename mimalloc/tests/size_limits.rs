//! Impossible sizes through the Rust layer (`MiMalloc` as `GlobalAlloc` and as the global
//! allocator): the C API's sweep is c_src/test/test-bad-input.c (run by
//! mimalloc-sys/tests/c_bad_input.rs); this checks that what Rust can ask for reaches it and
//! comes back as a failure, never as a small block, in `alloc`, `alloc_zeroed` and `realloc`,
//! for every power-of-two alignment, each request right after a small allocation was freed
//! (so a recycled block sits at the head of a free list). `Vec::try_reserve` and
//! `String::try_reserve` of the same sizes report an error instead of aborting.
//!
//! Sizes: the largest valid `Layout` for the alignment (`isize::MAX` rounded down to it), and
//! `isize::MAX - i`, `isize::MAX / 2 + i`, `k << 50` and `(k << 50) | (2^50 - 1)`: all more
//! address space than any machine has (2^50 bytes is a petabyte). With 32-bit pointers a GiB
//! can be had (a 64-bit kernel gives a 32-bit process 4 GiB of address space), so there the
//! sizes are those the allocator refuses before asking the OS: `isize::MAX - i` and
//! `isize::MAX - 512 * i`, within a MiB of the limit (a huge block's segment needs its header
//! and a segment of alignment room on top, which no longer fits below `isize::MAX`).

use core::alloc::{GlobalAlloc, Layout};
use mimalloc::MiMalloc;
use mimalloc_testkit::pattern::{fill, first_mismatch};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const MAX: usize = isize::MAX as usize;

fn impossible_sizes() -> Vec<usize> {
    let mut v: Vec<usize> = (0..256).map(|i| MAX - i).collect();
    #[cfg(target_pointer_width = "64")]
    {
        v.extend((0..256).map(|i| MAX / 2 + 1 + i));
        for k in 1..(1usize << 13) {
            if k < 64 || k % 61 == 0 {
                v.push(k << 50);
                v.push((k << 50) | ((1 << 50) - 1));
            }
        }
    }
    #[cfg(target_pointer_width = "32")]
    v.extend((1..2048).map(|i| MAX - 512 * i));
    v
}

/// A small allocation and free: the freed block heads its page's free list.
fn prime() {
    // SAFETY: a 16-byte layout, freed at once.
    unsafe {
        let l = Layout::from_size_align(16, 8).expect("layout");
        MiMalloc.dealloc(MiMalloc.alloc(l), l);
    }
}

#[test]
fn impossible_layouts_fail_through_global_alloc() {
    let live_layout = Layout::from_size_align(48, 16).expect("layout");
    // SAFETY: a live block for the realloc attempts, filled and checked, freed at the end.
    let live = unsafe { MiMalloc.alloc(live_layout) };
    assert!(!live.is_null());
    // SAFETY: 48 writable bytes.
    unsafe { fill(live, 48, 3) };
    let mut checked = 0usize;
    for shift in 0..=21 {
        let align = 1usize << shift;
        let mut sizes = impossible_sizes();
        sizes.push(MAX - (align - 1)); // the largest size a Layout of this alignment allows
        for n in sizes {
            let Ok(layout) = Layout::from_size_align(n, align) else {
                continue; // not a valid Layout: Rust code cannot ask for it
            };
            // SAFETY (all three): non-zero layouts; a non-null result would be freed, and the
            // realloc gets a live block of `live_layout`.
            unsafe {
                prime();
                let p = MiMalloc.alloc(layout);
                assert!(p.is_null(), "alloc({n:#x}, {align}) returned {p:p}");
                prime();
                let z = MiMalloc.alloc_zeroed(layout);
                assert!(z.is_null(), "alloc_zeroed({n:#x}, {align}) returned {z:p}");
                if align <= 16 {
                    prime();
                    let r = MiMalloc.realloc(live, live_layout, n);
                    assert!(r.is_null(), "realloc(live, {n:#x}) returned {r:p}");
                }
            }
            checked += 1;
        }
    }
    // SAFETY: the live block, never freed by a failed realloc.
    unsafe {
        assert_eq!(
            first_mismatch(live, 48, 3),
            None,
            "a failed realloc changed the block"
        );
        MiMalloc.dealloc(live, live_layout);
    }
    assert!(checked > 10_000, "only {checked} layouts checked");
}

#[test]
fn try_reserve_reports_impossible_sizes() {
    let mut v: Vec<u8> = vec![1, 2, 3];
    let mut s = String::from("abc");
    for n in impossible_sizes() {
        prime();
        assert!(v.try_reserve(n).is_err(), "Vec::try_reserve({n:#x})");
        assert!(
            v.try_reserve_exact(n).is_err(),
            "Vec::try_reserve_exact({n:#x})"
        );
        assert!(s.try_reserve(n).is_err(), "String::try_reserve({n:#x})");
        let mut w: Vec<u64> = Vec::new();
        assert!(
            w.try_reserve(n / 8).is_err(),
            "Vec<u64>::try_reserve({:#x})",
            n / 8
        );
    }
    assert_eq!(v, [1, 2, 3]);
    assert_eq!(s, "abc");
    // and ordinary growth still works afterwards
    v.try_reserve(1 << 20).expect("a MiB");
    v.extend(std::iter::repeat(9).take(1 << 20));
    assert_eq!(v.len(), 3 + (1 << 20));
}
