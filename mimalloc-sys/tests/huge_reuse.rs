//! Huge blocks (above the large size classes, each in a segment of its own): a program that
//! keeps replacing them with blocks of other sizes reuses the same mappings instead of mapping,
//! faulting in and unmapping one per block; `mi_collect(true)` still gives the memory back at
//! once; and realloc grows a huge block in place into the slack its segment reserved, with its
//! contents intact.
//!
//! The checks read process-wide statistics, which other threads' counts join when those
//! threads exit, so they run one after the other in the only test of this binary. Without
//! `override` nothing else calls into the allocator (Rust's own allocations go to libc).

use core::ffi::c_void;
use mimalloc_sys::*;

const MIB: usize = 1024 * 1024;

fn stats() -> mi_stats_t {
    // SAFETY: plain data; mi_stats_get writes at most size_of bytes.
    unsafe {
        let mut st: mi_stats_t = core::mem::zeroed();
        mi_stats_get(core::mem::size_of::<mi_stats_t>(), &mut st);
        st
    }
}

fn build_config() -> mi_build_config_t {
    // SAFETY: mi_build_config fills the struct it is given (all zeroes is valid for it).
    unsafe {
        let mut c: mi_build_config_t = core::mem::zeroed();
        mi_build_config(&mut c);
        c
    }
}

/// Where a huge segment maps the cache's whole limit (32 MiB) whatever its first block, and a
/// block's end carries no canary, guard or memcheck record: 64-bit, an OS that commits on first
/// touch, huge segments mapped from the OS rather than taken from an arena (they are, while
/// they may ask for huge OS pages: `allow_large_os_pages` 1 or 2), the default (not secure, not
/// debug-padded, not valgrind) build.
fn grows_in_place() -> bool {
    let c = build_config();
    // SAFETY: a plain option read.
    let large_os_pages = unsafe { mi_option_get(mi_option_allow_large_os_pages) };
    cfg!(all(unix, target_pointer_width = "64"))
        && large_os_pages != 0
        && c.secure == 0
        && c.debug < 2
        && !c.padding
        && !c.valgrind
}

/// Resident bytes of the process (0 where the OS does not say).
fn rss() -> usize {
    let (mut elapsed, mut user, mut sys, mut rss, mut peak_rss) = (0, 0, 0, 0, 0);
    let (mut commit, mut peak_commit, mut faults) = (0, 0, 0);
    // SAFETY: every out pointer is valid.
    unsafe {
        mi_process_info(
            &mut elapsed,
            &mut user,
            &mut sys,
            &mut rss,
            &mut peak_rss,
            &mut commit,
            &mut peak_commit,
            &mut faults,
        )
    };
    rss
}

/// A block of `size` bytes with every OS page written (the last byte of each, and the first).
///
/// # Safety
/// The caller frees the block once.
unsafe fn touched(size: usize, tag: u8) -> *mut u8 {
    // SAFETY: the block has `size` bytes; only bytes inside it are written.
    unsafe {
        let p = mi_malloc(size) as *mut u8;
        assert!(!p.is_null(), "mi_malloc({size}) failed");
        let mut off = 0;
        while off < size {
            p.add(off).write(tag);
            off += 4096;
        }
        p.add(size - 1).write(tag);
        p
    }
}

/// Sizes of 5 to 25 MiB, the same sequence every run.
fn sizes(n: usize) -> Vec<usize> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            5 * MIB + (x % (20 * MIB as u64)) as usize
        })
        .collect()
}

fn replaced_huge_blocks_of_other_sizes_reuse_their_mappings() {
    // SAFETY: plain option calls; every block is freed once.
    unsafe {
        // long enough that no cached segment expires while the test runs, however slow
        let delay = mi_option_get(mi_option_purge_delay);
        mi_option_set(mi_option_purge_delay, 10_000);
        // the thread's first allocation maps its metadata and the first arena: not counted
        mi_free(mi_malloc(64));
        mi_collect(true);
        let before = stats();
        // a live set of two, each replaced by a block of another size
        let mut live = [touched(5 * MIB, 1), touched(24 * MIB, 2)];
        let all = sizes(40);
        for (i, &size) in all.iter().enumerate() {
            let slot = i % 2;
            let old = live[slot];
            assert_eq!(
                old.read(),
                1 + slot as u8,
                "block {i}'s predecessor was overwritten"
            );
            mi_free(old as *mut c_void);
            live[slot] = touched(size, 1 + slot as u8);
        }
        let during = stats();
        for p in live {
            mi_free(p as *mut c_void);
        }
        mi_collect(true);
        mi_option_set(mi_option_purge_delay, delay);
        let maps = during.mmap_calls.total - before.mmap_calls.total;
        let huge = during.huge_count.total - before.huge_count.total;
        assert!(huge >= 42, "{huge} huge blocks counted, 42 allocated");
        if grows_in_place() {
            // two segments, each mapping 32 MiB, take every block of up to 25 MiB
            assert!(
                maps <= 2,
                "{maps} mappings for 42 huge blocks, live two at a time"
            );
            assert!(
                during.reserved.peak - before.reserved.current <= (2 * 32 * MIB) as i64,
                "reserved grew by {} MiB",
                (during.reserved.peak - before.reserved.current) / MIB as i64
            );
        } else {
            // a mapping of the next power of two: a fresh one only when a block outgrows it
            assert!(
                maps <= 8,
                "{maps} mappings for 42 huge blocks, live two at a time"
            );
        }
    }
}

fn collect_gives_a_freed_huge_block_back_at_once() {
    // SAFETY: plain option calls; the block is freed once.
    unsafe {
        let delay = mi_option_get(mi_option_purge_delay);
        mi_option_set(mi_option_purge_delay, 10_000);
        mi_collect(true);
        let rss0 = rss();
        let reserved0 = stats().reserved.current;
        let p = touched(20 * MIB, 7);
        mi_free(p as *mut c_void);
        let cached = stats();
        // kept for the next huge block, and resident (where the OS says); its mapping counts
        // as reserved only where huge segments are mapped one by one, not taken from an arena
        assert!(
            cached.segments_cache.current >= 1,
            "the freed huge segment was not cached"
        );
        let rss1 = rss();
        mi_collect(true);
        let rss2 = rss();
        let after = stats();
        mi_option_set(mi_option_purge_delay, delay);
        assert_eq!(
            after.segments_cache.current, 0,
            "a forced collect empties the cache"
        );
        assert!(
            after.reserved.current - reserved0 < (4 * MIB) as i64,
            "reserved stays {} MiB above where it started",
            (after.reserved.current - reserved0) / MIB as i64
        );
        if rss0 != 0 {
            assert!(
                rss1 >= rss0 + 16 * MIB,
                "the freed block's pages were resident: {rss0} -> {rss1}"
            );
            assert!(
                rss2 + 16 * MIB <= rss1,
                "mi_collect(true) left them resident: {rss1} -> {rss2}"
            );
        }
    }
}

/// Checks that `len` bytes at `p` hold `byte`.
///
/// # Safety
/// `p` points to at least `len` readable bytes.
unsafe fn all(p: *const u8, len: usize, byte: u8) -> bool {
    // SAFETY: the caller's promise.
    unsafe {
        core::slice::from_raw_parts(p, len)
            .iter()
            .all(|&b| b == byte)
    }
}

fn realloc_grows_a_huge_block_in_place_with_its_contents() {
    // SAFETY: every pointer is the live result of the previous call; writes stay in the block.
    unsafe {
        let p = mi_malloc(5 * MIB) as *mut u8;
        assert!(!p.is_null());
        p.write_bytes(0x11, 5 * MIB);
        let q = mi_realloc(p as *mut c_void, 9 * MIB) as *mut u8;
        assert!(!q.is_null());
        assert!(all(q, 5 * MIB, 0x11), "contents lost growing to 9 MiB");
        assert!(mi_usable_size(q as *const c_void) >= 9 * MIB);
        q.add(5 * MIB).write_bytes(0x22, 4 * MIB);
        let r = mi_realloc(q as *mut c_void, 30 * MIB) as *mut u8;
        assert!(!r.is_null());
        assert!(all(r, 5 * MIB, 0x11) && all(r.add(5 * MIB), 4 * MIB, 0x22));
        r.add(9 * MIB).write_bytes(0x33, 21 * MIB);
        if grows_in_place() {
            assert_eq!(q, p, "grown from 5 to 9 MiB by a copy");
            assert_eq!(r, p, "grown from 9 to 30 MiB by a copy");
        }
        // past the slack (32 MiB with the header): moved, contents kept
        let s = mi_realloc(r as *mut c_void, 40 * MIB) as *mut u8;
        assert!(!s.is_null());
        assert!(
            all(s, 5 * MIB, 0x11)
                && all(s.add(5 * MIB), 4 * MIB, 0x22)
                && all(s.add(9 * MIB), 21 * MIB, 0x33)
        );
        mi_free(s as *mut c_void);
    }
}

fn rezalloc_growth_in_place_reads_as_zero() {
    // SAFETY: every pointer is the live result of the previous call; writes stay in the block.
    unsafe {
        let p = mi_zalloc(6 * MIB) as *mut u8;
        assert!(!p.is_null());
        p.write_bytes(0xAB, 6 * MIB);
        // shrink in place (at least half stays): the bytes past the request are zeroed
        let q = mi_rezalloc(p as *mut c_void, 3 * MIB) as *mut u8;
        assert!(!q.is_null());
        assert!(all(q, 3 * MIB, 0xAB));
        // grow past the old block: everything after the first 3 MiB reads as zero
        let r = mi_rezalloc(q as *mut c_void, 20 * MIB) as *mut u8;
        assert!(!r.is_null());
        if grows_in_place() {
            assert_eq!(r, p, "grown by a copy");
        }
        assert!(all(r, 3 * MIB, 0xAB), "contents lost");
        assert!(all(r.add(3 * MIB), 17 * MIB, 0), "grown bytes are not zero");
        mi_free(r as *mut c_void);
    }
}

fn growth_in_place_respects_the_heap_memory_limit() {
    // SAFETY: a heap of this thread, deleted at the end; its blocks are freed once.
    unsafe {
        let heap = mi_heap_new();
        assert!(!heap.is_null());
        let p = mi_heap_malloc(heap, 5 * MIB) as *mut u8;
        assert!(!p.is_null());
        p.write_bytes(0x5C, 5 * MIB);
        let used = mi_heap_memory_in_use(heap);
        assert!(used >= 5 * MIB);
        assert!(mi_heap_set_memory_limit(heap, used + MIB));
        // 3 MiB more than the limit allows: refused, in place or by a copy
        let q = mi_heap_realloc(heap, p as *mut c_void, 9 * MIB);
        assert!(
            q.is_null(),
            "the heap's memory limit was passed by a realloc"
        );
        assert!(all(p, 5 * MIB, 0x5C), "a refused realloc changed the block");
        assert_eq!(mi_heap_memory_in_use(heap), used);
        let mut last = p;
        if grows_in_place() {
            // within the limit: granted in place (a copy would need a second block), and counted
            let r = mi_heap_realloc(heap, p as *mut c_void, 5 * MIB + MIB / 2) as *mut u8;
            assert_eq!(r, p);
            assert!(all(r, 5 * MIB, 0x5C));
            let now = mi_heap_memory_in_use(heap);
            assert!(
                now > used && now <= used + MIB,
                "{used} -> {now} bytes in use"
            );
            last = r;
        }
        mi_free(last as *mut c_void);
        mi_heap_delete(heap);
    }
}

#[test]
fn huge_blocks() {
    replaced_huge_blocks_of_other_sizes_reuse_their_mappings();
    collect_gives_a_freed_huge_block_back_at_once();
    realloc_grows_a_huge_block_in_place_with_its_contents();
    rezalloc_growth_in_place_reads_as_zero();
    growth_in_place_respects_the_heap_memory_limit();
}
