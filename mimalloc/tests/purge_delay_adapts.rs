//! A thread that empties pages and fills them again in a steady cycle slower than purge_delay
//! stops paying a purge and the page faults after it on every cycle: pages taken soon after
//! their purge double the thread's page-purge delay (up to 8 times purge_delay). Memory still
//! goes back once it has been free for 8 delays. Seen through the `purged` statistic, with
//! blocks from `mi_malloc` only (Rust's own allocations go to the system allocator), and one
//! live block that keeps the segment in use, so its empty pages wait in it for their purge.
//! Pages a forced collect purged early teach nothing. One test: purge_delay is process-wide.

use core::ffi::c_void;
use mimalloc_sys::*;
use std::time::Duration;

const DELAY_MS: i64 = 50;
const BLOCK: usize = 1024;
/// 32 small pages of 64 KiB: 2 MiB.
const BLOCKS: usize = 2048;
const AREA: i64 = (BLOCK * BLOCKS) as i64;

fn purged() -> i64 {
    mimalloc::stats().purged.total
}

/// Fills the pages with blocks, checks and frees every block, and lets the heap hand its empty
/// pages back to the segment, where their purges are scheduled.
fn fill_and_free(round: usize) {
    let mut blocks = Vec::with_capacity(BLOCKS);
    for i in 0..BLOCKS {
        // SAFETY: a plain allocation, checked for NULL.
        let p = unsafe { mi_malloc(BLOCK) } as *mut u8;
        assert!(!p.is_null(), "round {round}: mi_malloc({BLOCK}) #{i}");
        // SAFETY: BLOCK writable bytes.
        unsafe { core::ptr::write_bytes(p, (i % 251) as u8, BLOCK) };
        blocks.push(p);
    }
    for (i, p) in blocks.into_iter().enumerate() {
        // SAFETY: from mi_malloc above, freed once; its bytes were all written.
        unsafe {
            assert_eq!(
                *p.add(BLOCK - 1),
                (i % 251) as u8,
                "round {round}: block {i} changed"
            );
            mi_free(p as *mut c_void);
        }
    }
    // SAFETY: no preconditions.
    unsafe { mi_collect(false) };
}

/// One cycle: fill and free the pages, wait `wait_ms` and run what is due. Returns the bytes
/// purged.
fn cycle(round: usize, wait_ms: u64) -> i64 {
    fill_and_free(round);
    let before = purged();
    std::thread::sleep(Duration::from_millis(wait_ms));
    // SAFETY: no preconditions.
    unsafe { mi_collect(false) };
    purged() - before
}

/// A block that keeps this thread's small-page segment in use while its other pages empty.
struct Keeper(*mut c_void);

impl Keeper {
    fn new() -> Keeper {
        // SAFETY: a plain allocation, checked for NULL, freed on drop.
        let p = unsafe { mi_malloc(64) };
        assert!(!p.is_null());
        Keeper(p)
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        // SAFETY: from mi_malloc in `new`, freed once.
        unsafe { mi_free(self.0) };
    }
}

/// Runs `f` on a thread of its own: every thread starts with the plain delay.
fn on_fresh_thread(f: fn()) {
    if let Err(e) = std::thread::spawn(f).join() {
        std::panic::resume_unwind(e);
    }
}

/// Pages that a forced collect purged before they were due, taken back at once, teach
/// nothing: the thread's next pages still go back after the plain delay.
fn forced_purges_leave_the_delay_alone() {
    let _keeper = Keeper::new();
    for round in 0..6 {
        fill_and_free(round);
        // SAFETY: no preconditions.
        unsafe { mi_collect(true) };
    }
    let wait = 3 * DELAY_MS as u64;
    let purged = cycle(6, wait);
    assert!(
        purged >= AREA / 2,
        "after forced collects, only {purged} of {AREA} bytes were purged {wait} ms after \
         they were freed (the plain delay is {DELAY_MS} ms)"
    );
}

fn reuse_soon_after_purges_lengthens_the_delay() {
    let _keeper = Keeper::new();
    // Warming up, each cycle waits 7 plain delays: the pages are purged after 1, 2 and 4
    // delays and taken again at once, which makes the delay 8 plain ones (the most). A slow
    // machine can only make a cycle longer, which purges sooner, never later.
    let slow = 7 * DELAY_MS as u64;
    let first = cycle(0, slow);
    assert!(
        first >= AREA / 2,
        "a fresh thread purges after the plain delay: only {first} of {AREA} bytes were purged \
         {slow} ms after they were freed"
    );
    for round in 1..4 {
        cycle(round, slow);
    }
    // Then cycles of 2 plain delays: the pages wait 8, so none should be purged; a cycle that
    // a loaded machine stretches past 8 delays may purge once or twice.
    let fast = 2 * DELAY_MS as u64;
    let later: Vec<i64> = (4..12).map(|round| cycle(round, fast)).collect();
    let purging = later.iter().filter(|&&b| b > 0).count();
    eprintln!(
        "bytes purged per cycle: first {first}, in {fast} ms cycles after warming up {later:?}"
    );
    assert!(
        purging <= 2,
        "pages reused every {fast} ms were still purged in {purging} of 8 cycles: {later:?}"
    );
    // the delay is bounded: pages left alone go back within 8 plain delays
    let wait = 8 * DELAY_MS as u64 + 200;
    let idle = cycle(12, wait);
    assert!(
        idle >= AREA / 2,
        "only {idle} of {AREA} bytes were purged after {wait} ms unused"
    );
}

#[test]
fn page_purges_wait_longer_while_purged_pages_are_reused_soon() {
    // SAFETY: setting an option has no preconditions.
    unsafe { mi_option_set(mi_option_purge_delay, DELAY_MS as _) };
    on_fresh_thread(forced_purges_leave_the_delay_alone);
    on_fresh_thread(reuse_soon_after_purges_lengthens_the_delay);
}
