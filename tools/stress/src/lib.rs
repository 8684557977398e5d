//! A multi-threaded stress test of our allocator, in the style of the classic transfer-array
//! stress programs: threads share an array of slots; each step a thread allocates a block of a
//! random size through one of the allocator's entry points, fills it with a pattern derived from
//! the block's address and size, and swaps it into a random slot (or into a slot of its own),
//! checking and freeing what it took out. Threads are created and joined in rounds, so blocks
//! outlive the thread that allocated them and the allocator must reclaim abandoned segments.
//!
//! Between rounds, with every worker joined, the main thread checks every live block's pattern,
//! checks that no two live blocks overlap, records resident memory and the number of mappings,
//! then frees about half of the blocks (frees into abandoned pages). Any pattern mismatch,
//! misaligned block, short block, overlap or missing zero fill is a failure, reported with the
//! block's address and size.
//!
//! This crate installs our allocator as the global allocator, so the Rust side's own `Box`es and
//! `Vec`s are served by it too, next to the raw `mi_*` calls.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mimalloc::MiMalloc;
use mimalloc_sys as sys;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// Blocks up to this size carry the pattern in every byte; larger ones in their first and last
/// words and one word per 4 KiB (so every OS page of the block is written and checked).
const FULL_FILL_MAX: usize = 64 * KIB;
/// Zero-filled blocks up to this size are checked byte by byte; larger ones where the pattern
/// would go.
const FULL_ZERO_CHECK_MAX: usize = MIB;
/// Words at each end of a large block that carry the pattern.
const EDGE_WORDS: usize = 64;
/// One pattern word every this many words inside a large block (4 KiB).
const STRIDE_WORDS: usize = 512;
/// Blocks each worker keeps to itself (freed locally, by the thread that allocated them).
const LOCAL_SLOTS: usize = 64;
/// Resident memory may exceed its level before the run by this much once everything is freed
/// and collected (thread bookkeeping, the allocator's own metadata, the report's vectors).
const FINAL_RSS_SLACK: usize = 16 * MIB;
/// Failure messages kept; later failures are only counted.
const MAX_MESSAGES: usize = 32;

/// What one run does. [`Config::default`] is a run of about a second on two cores.
#[derive(Clone, Debug)]
pub struct Config {
    /// Worker threads per round.
    pub threads: usize,
    /// Work multiplier: each worker takes `1000 * scale` steps per round, and the transfer
    /// array has `100 * scale` slots.
    pub scale: usize,
    /// Rounds (thread creations); with `seconds` set, an upper bound (`None`: unbounded).
    pub iterations: Option<u64>,
    /// Keep starting rounds until this much time has passed.
    pub seconds: Option<f64>,
    /// Seed of every worker's generator: the same seed gives the same sequence of sizes and
    /// entry points per thread and round (the interleaving of threads is the scheduler's).
    pub seed: u64,
    /// Print a line per round on standard output.
    pub verbose: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            threads: 8,
            scale: 10,
            iterations: Some(10),
            seconds: None,
            seed: 1,
            verbose: false,
        }
    }
}

impl Config {
    /// Steps each worker takes per round.
    pub fn steps_per_thread(&self) -> u64 {
        1000 * self.scale.max(1) as u64
    }

    /// Slots of the shared transfer array.
    pub fn transfer_slots(&self) -> usize {
        100 * self.scale.max(1)
    }
}

/// What one round left behind, measured after every worker was joined and the main thread had
/// checked the live blocks (before it frees about half of them).
#[derive(Clone, Debug)]
pub struct RoundReport {
    /// Round number, from 0.
    pub round: u64,
    /// Steps the workers took in this round.
    pub steps: u64,
    /// Blocks still in the transfer array.
    pub live_blocks: usize,
    /// Bytes requested for those blocks.
    pub live_bytes: usize,
    /// Resident set size of the process (`VmRSS`).
    pub rss_bytes: usize,
    /// Lines of `/proc/self/maps`.
    pub maps: usize,
}

/// The outcome of [`run`].
#[derive(Clone, Debug)]
pub struct Report {
    /// One entry per round.
    pub rounds: Vec<RoundReport>,
    /// Steps over all rounds.
    pub steps: u64,
    /// Failures found (pattern, alignment, size, zero fill, overlap, bounded RSS, allocation).
    pub failure_count: u64,
    /// The first failures, described.
    pub failures: Vec<String>,
    /// The most lines `/proc/self/maps` had at any measurement.
    pub max_maps: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Resident memory after the last block was freed and the allocator collected.
    pub final_rss_bytes: usize,
    /// Segments still abandoned (no thread owns them) at the very end, after a forced collect.
    pub final_abandoned_segments: i64,
}

impl Report {
    /// Whether the run found nothing wrong.
    pub fn passed(&self) -> bool {
        self.failure_count == 0
    }

    /// (min, max, last) resident bytes over the rounds; zeros without rounds.
    pub fn rss_min_max_last(&self) -> (usize, usize, usize) {
        let rss = self.rounds.iter().map(|r| r.rss_bytes);
        let min = rss.clone().min().unwrap_or(0);
        let max = rss.max().unwrap_or(0);
        let last = self.rounds.last().map_or(0, |r| r.rss_bytes);
        (min, max, last)
    }

    /// The one-line summary the binary prints.
    pub fn summary(&self, cfg: &Config) -> String {
        let (min, max, last) = self.rss_min_max_last();
        format!(
            "stress: {}: rounds {}, steps {}, threads {}, scale {}, seed {}, {:.1} s; \
             rss per round min/max/last {:.1}/{:.1}/{:.1} MiB, final {:.1} MiB; max maps {}; \
             abandoned segments at end {}; failures {}",
            if self.passed() { "ok" } else { "FAILED" },
            self.rounds.len(),
            self.steps,
            cfg.threads,
            cfg.scale,
            cfg.seed,
            self.elapsed.as_secs_f64(),
            mib(min),
            mib(max),
            mib(last),
            mib(self.final_rss_bytes),
            self.max_maps,
            self.final_abandoned_segments,
            self.failure_count
        )
    }
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / MIB as f64
}

// ---- Process measurements ------------------------------------------------------------------

/// Resident set size of this process in bytes (`VmRSS` of `/proc/self/status`); 0 where the
/// file is unreadable, or where `MIMALLOC_STRESS_NO_RSS` is set: under qemu-user the RSS is
/// the emulator's, which keeps memory for every thread it ever ran. A 0 skips the RSS bounds.
pub fn rss_bytes() -> usize {
    if std::env::var_os("MIMALLOC_STRESS_NO_RSS").is_some() {
        return 0;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * KIB)
}

/// Number of memory mappings of this process (lines of `/proc/self/maps`); 0 where unreadable.
pub fn map_count() -> usize {
    std::fs::read_to_string("/proc/self/maps").map_or(0, |m| m.lines().count())
}

/// The kernel's limit on mappings per process (`vm.max_map_count`), if readable.
pub fn max_map_count() -> Option<usize> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

// ---- Generator ------------------------------------------------------------------------------

/// splitmix64: a small, fast, well-mixed deterministic generator.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `(seed, round, thread)`; distinct triples give unrelated streams.
    pub fn new(seed: u64, round: u64, thread: u64) -> Rng {
        let mut r = Rng(seed
            ^ round.wrapping_mul(0xA076_1D64_78BD_642F)
            ^ thread.wrapping_mul(0xE703_7ED1_A0B4_28DB));
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the slight modulo bias does not matter here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo + 1) as u64) as usize
    }
}

/// A request size: mostly small (8 B..1 KiB, half of them at most 256 B), some medium (up to
/// 128 KiB), rare large (up to 4 MiB) and very rare huge (8..32 MiB) blocks. Within the medium
/// and large classes every doubling is equally likely, so smaller sizes dominate, as in real
/// programs.
pub fn pick_size(rng: &mut Rng) -> usize {
    let r = rng.below(100_000);
    if r < 94_790 {
        if r % 2 == 0 {
            rng.range(8, 256)
        } else {
            rng.range(8, KIB)
        }
    } else if r < 99_790 {
        log_uniform(rng, KIB, 128 * KIB)
    } else if r < 99_990 {
        log_uniform(rng, 128 * KIB, 4 * MIB)
    } else {
        rng.range(8 * MIB, 32 * MIB)
    }
}

/// A size in `lo+1..=hi` (powers of two `lo < hi`), each doubling equally likely.
fn log_uniform(rng: &mut Rng, lo: usize, hi: usize) -> usize {
    let doublings = (hi / lo).trailing_zeros() as u64;
    let from = lo << rng.below(doublings);
    rng.range(from + 1, 2 * from)
}

/// An alignment above the natural one: 32 B up to 1 MiB, each doubling half as likely.
fn pick_alignment(rng: &mut Rng) -> usize {
    let extra = (rng.next_u64() | (1 << 15)).trailing_zeros() as usize; // 0..=15
    32usize << extra
}

// ---- Blocks and their pattern ------------------------------------------------------------------

/// How a block was allocated, which says how it is freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    /// `GlobalAlloc` (alloc, alloc_zeroed, realloc): freed with `dealloc` and its layout.
    Global,
    /// `mi_malloc` and friends (also heap and aligned allocations): freed with `mi_free`.
    Mi,
}

/// A live block: where it is, how many bytes were asked for, the alignment it must have, and
/// how it is freed.
#[derive(Debug)]
struct Block {
    ptr: *mut u8,
    size: usize,
    align: usize,
    api: Api,
}

// SAFETY: a Block is the sole owner of its allocation, and our allocator lets any thread free a
// block any thread allocated.
unsafe impl Send for Block {}

/// The alignment the plain API guarantees for `size` bytes (16, or the largest power of two not
/// above `size` for smaller requests).
fn natural_align(size: usize) -> usize {
    if size >= 16 {
        16
    } else {
        1 << (usize::BITS - 1 - size.leading_zeros())
    }
}

fn pattern_base(addr: usize, size: usize) -> u64 {
    let mut r = Rng((addr as u64) ^ (size as u64).rotate_left(29) ^ 0x5EED_C00C_1E00_0000);
    r.next_u64()
}

fn pattern_word(base: u64, i: usize) -> u64 {
    base ^ (i as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93)
}

fn pattern_tail_byte(base: u64, j: usize) -> u8 {
    (base.rotate_right(8 * (j % 8) as u32) as u8) ^ 0xA5
}

/// Calls `f` with each word index of a `size`-byte block that carries the pattern (all of them
/// for blocks up to [`FULL_FILL_MAX`]), stopping at the first `false`.
fn for_each_pattern_word(size: usize, mut f: impl FnMut(usize) -> bool) -> bool {
    let words = size / 8;
    if size <= FULL_FILL_MAX {
        return (0..words).all(f);
    }
    let head = EDGE_WORDS.min(words);
    let tail_start = words.saturating_sub(EDGE_WORDS).max(head);
    (0..head).all(&mut f)
        && (head..tail_start).step_by(STRIDE_WORDS).all(&mut f)
        && (tail_start..words).all(&mut f)
}

/// Writes the pattern of (`addr`, `size`) into the block at `ptr`.
///
/// # Safety
/// `ptr` must be valid for writes of `size` bytes and 8-aligned.
unsafe fn fill(ptr: *mut u8, addr: usize, size: usize) {
    let base = pattern_base(addr, size);
    let words = ptr as *mut u64;
    for_each_pattern_word(size, |i| {
        // SAFETY: i < size / 8 and `ptr` is 8-aligned and valid for `size` bytes (caller).
        unsafe { words.add(i).write(pattern_word(base, i)) };
        true
    });
    for j in (size / 8) * 8..size {
        // SAFETY: j < size (caller: valid for `size` bytes).
        unsafe { ptr.add(j).write(pattern_tail_byte(base, j)) };
    }
}

/// Checks the pattern of (`addr`, `size`) in the first `limit` bytes of the block at `ptr`;
/// describes the first mismatch.
///
/// # Safety
/// `ptr` must be valid for reads of `limit.min(size)` bytes and 8-aligned.
unsafe fn check(ptr: *const u8, addr: usize, size: usize, limit: usize) -> Result<(), String> {
    let base = pattern_base(addr, size);
    let limit = limit.min(size);
    let words = ptr as *const u64;
    let mut bad = None;
    for_each_pattern_word(size, |i| {
        if (i + 1) * 8 > limit {
            return true;
        }
        // SAFETY: (i + 1) * 8 <= limit and `ptr` is 8-aligned and valid for `limit` bytes.
        let actual = unsafe { words.add(i).read() };
        let expected = pattern_word(base, i);
        if actual != expected {
            bad = Some(format!(
                "word {i} (byte offset {}): expected {expected:#018x}, found {actual:#018x}",
                i * 8
            ));
            return false;
        }
        true
    });
    if bad.is_none() {
        for j in (size / 8) * 8..limit {
            // SAFETY: j < limit (caller: valid for `limit` bytes).
            let actual = unsafe { ptr.add(j).read() };
            let expected = pattern_tail_byte(base, j);
            if actual != expected {
                bad = Some(format!(
                    "tail byte offset {j}: expected {expected:#04x}, found {actual:#04x}"
                ));
                break;
            }
        }
    }
    bad.map_or(Ok(()), Err)
}

/// Checks that a fresh zero-filled block reads as zeros (everywhere up to
/// [`FULL_ZERO_CHECK_MAX`], where the pattern goes beyond); the offset of the first non-zero
/// byte otherwise.
///
/// # Safety
/// `ptr` must be valid for reads of `size` bytes and 8-aligned.
unsafe fn check_zero(ptr: *const u8, size: usize) -> Result<(), usize> {
    if size <= FULL_ZERO_CHECK_MAX {
        // SAFETY: valid for `size` bytes (caller).
        let bytes = unsafe { std::slice::from_raw_parts(ptr, size) };
        return match bytes.iter().position(|&b| b != 0) {
            Some(off) => Err(off),
            None => Ok(()),
        };
    }
    let words = ptr as *const u64;
    let mut off = None;
    for_each_pattern_word(size, |i| {
        // SAFETY: i < size / 8, 8-aligned, valid for `size` bytes (caller).
        let w = unsafe { words.add(i).read() };
        if w != 0 {
            off = Some(i * 8);
        }
        w == 0
    });
    off.map_or(Ok(()), Err)
}

// ---- Shared state ------------------------------------------------------------------------------

struct Failures {
    count: AtomicU64,
    messages: Mutex<Vec<String>>,
}

impl Failures {
    fn report(&self, msg: String) {
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        if (n as usize) < MAX_MESSAGES {
            if let Ok(mut m) = self.messages.lock() {
                m.push(msg);
            }
        }
    }

    fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }
}

struct Shared {
    slots: Vec<AtomicPtr<Block>>,
    failures: Failures,
    /// Set once the time is up: workers finish their round early.
    stop: AtomicBool,
    deadline: Option<Instant>,
}

impl Shared {
    /// Puts `block` in slot `i` and returns what was there.
    fn swap(&self, i: usize, block: Option<Box<Block>>) -> Option<Box<Block>> {
        let new = block.map_or(std::ptr::null_mut(), Box::into_raw);
        let old = self.slots[i].swap(new, Ordering::AcqRel);
        // SAFETY: every non-null slot value came from Box::into_raw just above, and the swap
        // hands its ownership to exactly one taker.
        (!old.is_null()).then(|| unsafe { Box::from_raw(old) })
    }
}

// ---- Allocation and release through the entry points -----------------------------------------

/// A worker's view: its generator, its own first-class heap, and the shared state.
struct Worker<'a> {
    rng: Rng,
    heap: *mut sys::mi_heap_t,
    shared: &'a Shared,
    tag: String,
}

impl Worker<'_> {
    fn fail(&self, what: &str, b: &Block, detail: &str) {
        self.shared.failures.report(format!(
            "{}: {what}: block {:p}, size {}, align {}, {:?}{}{detail}",
            self.tag,
            b.ptr,
            b.size,
            b.align,
            b.api,
            if detail.is_empty() { "" } else { ": " }
        ));
    }

    /// Checks a freshly allocated block (not null, aligned, large enough), then fills it.
    fn accept(&mut self, b: Block, zeroed: bool) -> Option<Block> {
        if b.ptr.is_null() {
            self.shared.failures.report(format!(
                "{}: allocation of {} bytes (align {}) returned null",
                self.tag, b.size, b.align
            ));
            return None;
        }
        if (b.ptr as usize) % b.align != 0 {
            self.fail("misaligned", &b, "");
            return None; // leaked: freeing it could make things worse
        }
        // SAFETY: b.ptr is a live block of ours.
        let usable = unsafe { sys::mi_usable_size(b.ptr as *const c_void) };
        if usable < b.size {
            self.fail(
                "usable size below the request",
                &b,
                &format!("usable {usable}"),
            );
            return None;
        }
        if zeroed {
            // SAFETY: the block is live, 8-aligned (natural alignment is at least 8 for our
            // sizes, checked above) and `size` bytes long.
            if let Err(off) = unsafe { check_zero(b.ptr, b.size) } {
                self.fail("zeroed block not zero", &b, &format!("byte offset {off}"));
            }
        }
        // SAFETY: as above: live, 8-aligned, `size` bytes.
        unsafe { fill(b.ptr, b.ptr as usize, b.size) };
        Some(b)
    }

    /// Allocates a block of a random size through a random entry point.
    fn alloc(&mut self) -> Option<Block> {
        let size = pick_size(&mut self.rng);
        let natural = natural_align(size);
        let choice = self.rng.below(100);
        // SAFETY (all arms): the layouts have non-zero sizes and power-of-two alignments; the
        // raw calls have no preconditions beyond a power-of-two alignment and a heap owned by
        // this thread (self.heap was created by this thread and is deleted only at its end).
        let (b, zeroed) = unsafe {
            match choice {
                0..=39 => (self.global(size, natural, false), false),
                40..=49 => (self.global(size, natural, true), true),
                50..=59 => {
                    let align = pick_alignment(&mut self.rng);
                    (self.global(size, align, false), false)
                }
                60..=69 => (
                    Block {
                        ptr: sys::mi_malloc(size) as *mut u8,
                        size,
                        align: natural,
                        api: Api::Mi,
                    },
                    false,
                ),
                70..=74 => (
                    Block {
                        ptr: sys::mi_zalloc(size) as *mut u8,
                        size,
                        align: natural,
                        api: Api::Mi,
                    },
                    true,
                ),
                75..=79 => {
                    let align = pick_alignment(&mut self.rng);
                    (
                        Block {
                            ptr: sys::mi_malloc_aligned(size, align) as *mut u8,
                            size,
                            align,
                            api: Api::Mi,
                        },
                        false,
                    )
                }
                80..=84 => (
                    Block {
                        ptr: sys::mi_heap_malloc(self.heap, size) as *mut u8,
                        size,
                        align: natural,
                        api: Api::Mi,
                    },
                    false,
                ),
                85..=94 => return self.realloc_global(size),
                _ => return self.realloc_mi(size),
            }
        };
        self.accept(b, zeroed)
    }

    /// # Safety
    /// `size > 0` and `align` a power of two.
    unsafe fn global(&mut self, size: usize, align: usize, zeroed: bool) -> Block {
        let ptr = match Layout::from_size_align(size, align) {
            // SAFETY: non-zero size (caller).
            Ok(l) if zeroed => unsafe { GLOBAL.alloc_zeroed(l) },
            // SAFETY: non-zero size (caller).
            Ok(l) => unsafe { GLOBAL.alloc(l) },
            Err(_) => std::ptr::null_mut(),
        };
        Block {
            ptr,
            size,
            align,
            api: Api::Global,
        }
    }

    /// A block that first had another size, filled, then grew or shrank to `size` through
    /// `GlobalAlloc::realloc`; the kept prefix must carry the first pattern.
    fn realloc_global(&mut self, size: usize) -> Option<Block> {
        let first = self.first_size(size);
        // one layout alignment serves both sizes, as GlobalAlloc::realloc keeps it
        let natural = natural_align(first).min(natural_align(size));
        // SAFETY: non-zero size, power-of-two alignment.
        let old = unsafe { self.global(first, natural, false) };
        let old = self.accept(old, false)?;
        let layout = Layout::from_size_align(old.size, old.align).ok()?;
        let (old_addr, old_size) = (old.ptr as usize, old.size);
        // SAFETY: `old` is a live GlobalAlloc block with exactly this layout; size is non-zero.
        let ptr = unsafe { GLOBAL.realloc(old.ptr, layout, size) };
        self.after_realloc(
            Block {
                ptr,
                size,
                align: natural,
                api: Api::Global,
            },
            old_addr,
            old_size,
            old,
        )
    }

    /// Like [`Worker::realloc_global`] through `mi_realloc` (or `mi_heap_realloc`).
    fn realloc_mi(&mut self, size: usize) -> Option<Block> {
        let first = self.first_size(size);
        let in_heap = self.rng.below(2) == 0;
        // SAFETY: mi_malloc has no preconditions; self.heap belongs to this thread.
        let p = unsafe {
            if in_heap {
                sys::mi_heap_malloc(self.heap, first)
            } else {
                sys::mi_malloc(first)
            }
        };
        let old = self.accept(
            Block {
                ptr: p as *mut u8,
                size: first,
                align: natural_align(first),
                api: Api::Mi,
            },
            false,
        )?;
        let (old_addr, old_size) = (old.ptr as usize, old.size);
        // SAFETY: old.ptr is a live block of ours; self.heap belongs to this thread.
        let ptr = unsafe {
            if in_heap {
                sys::mi_heap_realloc(self.heap, old.ptr as *mut c_void, size)
            } else {
                sys::mi_realloc(old.ptr as *mut c_void, size)
            }
        } as *mut u8;
        let align = natural_align(size).min(natural_align(first));
        self.after_realloc(
            Block {
                ptr,
                size,
                align,
                api: Api::Mi,
            },
            old_addr,
            old_size,
            old,
        )
    }

    /// The size a reallocated block starts with: a random one, or one near `size`.
    fn first_size(&mut self, size: usize) -> usize {
        match self.rng.below(3) {
            0 => pick_size(&mut self.rng),
            1 => (size / 2).max(8),
            _ => size.saturating_add(size / 2).max(8),
        }
    }

    fn after_realloc(
        &mut self,
        new: Block,
        old_addr: usize,
        old_size: usize,
        old: Block,
    ) -> Option<Block> {
        if new.ptr.is_null() {
            // the old block is still ours: free it
            self.shared.failures.report(format!(
                "{}: realloc of {:p} from {} to {} bytes returned null",
                self.tag, old.ptr, old.size, new.size
            ));
            self.free(old);
            return None;
        }
        // `old` is plain data without Drop: dropping it here frees nothing (realloc consumed it)
        let _ = old;
        // SAFETY: the new block is live and at least min(old, new) bytes long; it is 8-aligned
        // (checked by accept just below for misalignment; natural alignment is 8 or 16).
        if (new.ptr as usize) % new.align == 0 {
            if let Err(e) = unsafe { check(new.ptr, old_addr, old_size, new.size) } {
                self.fail(
                    "realloc lost the contents",
                    &new,
                    &format!("moved from {old_addr:#x} ({old_size} bytes): {e}"),
                );
            }
        }
        self.accept(new, false)
    }

    /// Checks a block's pattern and frees it (a damaged block is reported and leaked).
    fn check_and_free(&mut self, b: Block) {
        // SAFETY: the block is live, 8-aligned, `size` bytes long (checked when allocated).
        if let Err(e) = unsafe { check(b.ptr, b.ptr as usize, b.size, b.size) } {
            self.fail("pattern damaged", &b, &e);
            return;
        }
        self.free(b);
    }

    fn free(&self, b: Block) {
        release(b)
    }
}

/// Frees a block through the call that matches how it was allocated.
fn release(b: Block) {
    match b.api {
        Api::Global => match Layout::from_size_align(b.size, b.align) {
            // SAFETY: the block came from GLOBAL with exactly this layout and is live.
            Ok(l) => unsafe { GLOBAL.dealloc(b.ptr, l) },
            Err(_) => unreachable!("a block's layout was valid when it was allocated"),
        },
        // SAFETY: the block came from the mi_* API and is live.
        Api::Mi => unsafe { sys::mi_free(b.ptr as *mut c_void) },
    }
}

fn worker(shared: &Shared, cfg: &Config, round: u64, thread: u64) -> u64 {
    // SAFETY: no preconditions; the heap belongs to this thread, which deletes it before exit.
    let heap = unsafe { sys::mi_heap_new() };
    if heap.is_null() {
        shared.failures.report(format!(
            "round {round} thread {thread}: mi_heap_new returned null"
        ));
        return 0;
    }
    let mut w = Worker {
        rng: Rng::new(cfg.seed, round, thread),
        heap,
        shared,
        tag: format!("round {round} thread {thread}"),
    };
    let mut local: Vec<Option<Box<Block>>> = (0..LOCAL_SLOTS).map(|_| None).collect();
    let slots = shared.slots.len() as u64;
    let steps = cfg.steps_per_thread();
    let mut done = 0;
    while done < steps {
        if done % 1024 == 0
            && (shared.stop.load(Ordering::Relaxed)
                || shared.deadline.is_some_and(|d| Instant::now() >= d))
        {
            shared.stop.store(true, Ordering::Relaxed);
            break;
        }
        done += 1;
        let Some(b) = w.alloc() else { continue };
        let b = Some(Box::new(b));
        let old = if w.rng.below(4) != 0 {
            shared.swap(w.rng.below(slots) as usize, b)
        } else {
            let i = w.rng.below(LOCAL_SLOTS as u64) as usize;
            std::mem::replace(&mut local[i], b)
        };
        if let Some(old) = old {
            w.check_and_free(*old);
        }
    }
    for b in local.into_iter().flatten() {
        w.check_and_free(*b);
    }
    // Blocks of this heap still in the transfer array move to the thread's default heap, and
    // are abandoned with it when the thread exits.
    // SAFETY: the heap was created by this thread and is not used after this.
    unsafe { sys::mi_heap_delete(heap) };
    done
}

/// Checks every live block in the transfer array (pattern, no overlap) with the workers
/// joined; returns the blocks that passed as (address, size, slot).
fn check_live(shared: &Shared, tag: &str) -> Vec<(usize, usize, usize)> {
    let mut live: Vec<(usize, usize, usize)> = Vec::new(); // (addr, size, slot)
    for (i, s) in shared.slots.iter().enumerate() {
        let p = s.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: the workers are joined, so the main thread alone reads the slots; a
            // non-null slot holds a live Box<Block>.
            let b = unsafe { &*p };
            live.push((b.ptr as usize, b.size, i));
        }
    }
    live.sort_unstable();
    for pair in live.windows(2) {
        let ((a, sa, ia), (b, sb, ib)) = (pair[0], pair[1]);
        if a + sa > b {
            shared.failures.report(format!(
                "{tag}: blocks overlap: {a:#x} ({sa} bytes, slot {ia}) and {b:#x} ({sb} bytes, slot {ib})"
            ));
        }
    }
    live.retain(|&(addr, size, _)| {
        // SAFETY: as above, the block is live and 8-aligned, `size` bytes long.
        match unsafe { check(addr as *const u8, addr, size, size) } {
            Ok(()) => true,
            Err(e) => {
                shared.failures.report(format!(
                    "{tag}: pattern damaged between rounds: block {addr:#x}, size {size}: {e}"
                ));
                false // left in its slot, leaked at the end rather than freed damaged
            }
        }
    });
    live
}

/// Frees about half of the checked live blocks from the main thread: most of them are in
/// segments abandoned by the workers that just exited.
fn free_half(shared: &Shared, live: &[(usize, usize, usize)], rng: &mut Rng) {
    for &(_, _, i) in live {
        if rng.below(2) == 0 {
            if let Some(b) = shared.swap(i, None) {
                release(*b);
            }
        }
    }
}

fn median(mut v: Vec<usize>) -> usize {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// Resident memory stays bounded: with `slots` transfer slots, no round has more than the live
/// bytes plus 64 KiB per slot (each live block may keep a small page resident) plus 128 MiB
/// (memory in flight: pages waiting for their purge delay, cached segments); and it does not
/// grow: the median RSS above the live bytes over the second half of the rounds stays within
/// 1.5 times that of the first half plus 8 MiB (six rounds or more). Single rounds well above
/// the median do occur: blocks freed into a segment whose thread has exited stay resident until
/// another thread reclaims the segment. Returns the description of a violation.
pub fn rss_violation(rounds: &[RoundReport], slots: usize) -> Option<String> {
    let ceiling = |r: &RoundReport| r.live_bytes + slots * 64 * KIB + 128 * MIB;
    if let Some(r) = rounds.iter().find(|r| r.rss_bytes > ceiling(r)) {
        return Some(format!(
            "resident memory unbounded: round {} has {:.1} MiB resident for {:.1} MiB live, above {:.1} MiB",
            r.round,
            mib(r.rss_bytes),
            mib(r.live_bytes),
            mib(ceiling(r))
        ));
    }
    if rounds.len() < 6 {
        return None; // too few rounds to speak of growth
    }
    let overhead = |rs: &[RoundReport]| {
        median(
            rs.iter()
                .map(|r| r.rss_bytes.saturating_sub(r.live_bytes))
                .collect(),
        )
    };
    let half = rounds.len() / 2;
    let (first, second) = (overhead(&rounds[..half]), overhead(&rounds[half..]));
    (second > first + first / 2 + 8 * MIB).then(|| {
        format!(
            "resident memory grew: the median RSS above the live bytes is {:.1} MiB over rounds {}..{}, \
             {:.1} MiB over rounds 0..{half} (allowed: 1.5 times plus 8 MiB)",
            mib(second),
            half,
            rounds.len(),
            mib(first)
        )
    })
}

/// Runs the stress as `cfg` says; the report lists every failure found.
pub fn run(cfg: &Config) -> Report {
    let start = Instant::now();
    let start_rss = rss_bytes();
    let shared = Shared {
        slots: (0..cfg.transfer_slots())
            .map(|_| AtomicPtr::new(std::ptr::null_mut()))
            .collect(),
        failures: Failures {
            count: AtomicU64::new(0),
            messages: Mutex::new(Vec::new()),
        },
        stop: AtomicBool::new(false),
        deadline: cfg
            .seconds
            .map(|s| start + Duration::from_secs_f64(s.max(0.0))),
    };
    let mut main_rng = Rng::new(cfg.seed, u64::MAX, u64::MAX);
    let mut rounds = Vec::new();
    let mut steps = 0;
    let mut max_maps = map_count();
    let mut round = 0u64;
    loop {
        if cfg.iterations.is_some_and(|n| round >= n) {
            break;
        }
        if round > 0 && shared.stop.load(Ordering::Relaxed) {
            break;
        }
        if cfg.iterations.is_none() && cfg.seconds.is_none() {
            break; // nothing bounds the run: do nothing rather than run forever
        }
        let round_steps: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..cfg.threads.max(1) as u64)
                .map(|t| {
                    let shared = &shared;
                    std::thread::Builder::new()
                        .name(format!("stress-{round}-{t}"))
                        .spawn_scoped(s, move || worker(shared, cfg, round, t))
                })
                .collect();
            let mut total = 0;
            for h in handles {
                match h {
                    Ok(h) => match h.join() {
                        Ok(n) => total += n,
                        Err(_) => shared
                            .failures
                            .report(format!("round {round}: a worker panicked")),
                    },
                    Err(e) => shared
                        .failures
                        .report(format!("round {round}: cannot start a thread: {e}")),
                }
            }
            total
        });
        steps += round_steps;
        let live = check_live(&shared, &format!("after round {round}"));
        let r = RoundReport {
            round,
            steps: round_steps,
            live_blocks: live.len(),
            live_bytes: live.iter().map(|&(_, size, _)| size).sum(),
            rss_bytes: rss_bytes(),
            maps: map_count(),
        };
        free_half(&shared, &live, &mut main_rng);
        max_maps = max_maps.max(r.maps);
        if cfg.verbose {
            println!(
                "round {}: steps {}, live {} blocks {:.1} MiB, rss {:.1} MiB, maps {}",
                r.round,
                r.steps,
                r.live_blocks,
                mib(r.live_bytes),
                mib(r.rss_bytes),
                r.maps
            );
        }
        rounds.push(r);
        round += 1;
        if shared.deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
    }
    if let Some(v) = rss_violation(&rounds, shared.slots.len()) {
        shared.failures.report(v);
    }
    // Free what is left; a forced collect then adopts every abandoned segment.
    let mut left = Vec::new();
    for i in 0..shared.slots.len() {
        if let Some(b) = shared.swap(i, None) {
            left.push(b);
        }
    }
    for b in left {
        // SAFETY: live, 8-aligned, `size` bytes (checked when allocated and between rounds).
        if unsafe { check(b.ptr, b.ptr as usize, b.size, b.size) }.is_ok() {
            release(*b);
        } else {
            std::mem::forget(b); // reported between rounds; leaked
        }
    }
    mimalloc::collect(true);
    max_maps = max_maps.max(map_count());
    let final_rss_bytes = rss_bytes();
    // Under ThreadSanitizer (TSAN_OPTIONS set, as .ci/sanitizers.sh does) its shadow of every
    // address the arenas ever handed out stays resident after our purges: 21 MiB more here.
    let slack = if std::env::var_os("TSAN_OPTIONS").is_some() {
        4 * FINAL_RSS_SLACK
    } else {
        FINAL_RSS_SLACK
    };
    if final_rss_bytes > start_rss + slack {
        shared.failures.report(format!(
            "memory not returned: {:.1} MiB resident after freeing everything and a forced collect, \
             {:.1} MiB before the run",
            mib(final_rss_bytes),
            mib(start_rss)
        ));
    }
    let final_abandoned_segments = mimalloc::stats().segments_abandoned.current;
    if final_abandoned_segments != 0 && !shared.failures.any() {
        shared
            .failures
            .report(format!("{final_abandoned_segments} segments still abandoned after freeing everything and a forced collect"));
    }
    let failures = shared
        .failures
        .messages
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    Report {
        rounds,
        steps,
        failure_count: shared.failures.count.load(Ordering::Relaxed),
        failures,
        max_maps,
        elapsed: start.elapsed(),
        final_rss_bytes,
        final_abandoned_segments,
    }
}

/// The usage text of the binary.
pub const USAGE: &str = "\
usage: mimalloc-stress [--threads N] [--scale N] [--iterations N] [--seconds S] [--seed N] [--quiet]
  --threads N     worker threads per round (default 8)
  --scale N       work per round: 1000*N steps per thread, 100*N transfer slots (default 10)
  --iterations N  rounds of thread creation (default 10; with --seconds, an upper bound)
  --seconds S     keep starting rounds until S seconds have passed
  --seed N        seed of the per-thread generators (default 1)
  --quiet         no line per round, only the summary";

/// Parses the binary's arguments (without the program name).
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Config, String> {
    let mut cfg = Config {
        verbose: true,
        ..Config::default()
    };
    let mut iterations_given = false;
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.clone(), None),
        };
        if name == "--quiet" {
            cfg.verbose = false;
            continue;
        }
        if name == "--help" || name == "-h" {
            return Err(String::new());
        }
        let value = match inline.or_else(|| it.next()) {
            Some(v) => v,
            None => return Err(format!("{name} needs a value")),
        };
        let int = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: not a non-negative integer: {v:?}"))
        };
        match name.as_str() {
            "--threads" => cfg.threads = positive(int(&value)?, &name)?,
            "--scale" => cfg.scale = positive(int(&value)?, &name)?,
            "--iterations" => {
                cfg.iterations = Some(int(&value)?);
                iterations_given = true;
            }
            "--seconds" => match value.parse::<f64>() {
                Ok(s) if s.is_finite() && s >= 0.0 => cfg.seconds = Some(s),
                _ => return Err(format!("--seconds: not a non-negative number: {value:?}")),
            },
            "--seed" => cfg.seed = int(&value)?,
            _ => return Err(format!("unknown flag {name:?}")),
        }
    }
    if cfg.seconds.is_some() && !iterations_given {
        cfg.iterations = None;
    }
    Ok(cfg)
}

fn positive(v: u64, name: &str) -> Result<usize, String> {
    match usize::try_from(v) {
        Ok(n) if n > 0 && n <= 1 << 20 => Ok(n),
        _ => Err(format!("{name}: must be between 1 and {}", 1 << 20)),
    }
}

/// The whole report as text: a line per failure, then the summary.
pub fn describe(report: &Report, cfg: &Config) -> String {
    let mut s = String::new();
    for f in &report.failures {
        let _ = writeln!(s, "FAILURE: {f}");
    }
    if report.failure_count as usize > report.failures.len() {
        let _ = writeln!(
            s,
            "... and {} more failures",
            report.failure_count as usize - report.failures.len()
        );
    }
    s.push_str(&report.summary(cfg));
    s
}

/// The allocator's build mode as the C side reports it, e.g. `secure 4, debug 0`.
pub fn build_mode() -> String {
    let c = mimalloc_testkit::sys::build_config();
    format!("secure {}, debug {}", c.secure, c.debug)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_round_trip_and_detection() {
        for size in [
            8,
            9,
            15,
            16,
            100,
            4096,
            FULL_FILL_MAX,
            FULL_FILL_MAX + 8,
            3 * MIB + 5,
        ] {
            let mut buf = vec![0u64; size.div_ceil(8)];
            let p = buf.as_mut_ptr() as *mut u8;
            // SAFETY: buf is 8-aligned and holds at least `size` bytes.
            unsafe {
                fill(p, 0x1000, size);
                assert!(check(p, 0x1000, size, size).is_ok(), "size {size}");
                assert!(
                    check(p, 0x2000, size, size).is_err(),
                    "another address reads wrong, size {size}"
                );
                *p.add(size - 1) ^= 1;
                assert!(
                    check(p, 0x1000, size, size).is_err(),
                    "last byte flip found, size {size}"
                );
                assert!(
                    check(p, 0x1000, size, size - 1).is_ok(),
                    "prefix check stops at the limit"
                );
            }
        }
    }

    #[test]
    fn args_parse_and_reject() {
        let a = |v: &[&str]| parse_args(v.iter().map(|s| s.to_string()));
        let c = a(&[
            "--threads",
            "3",
            "--scale=2",
            "--seconds",
            "1.5",
            "--seed",
            "7",
        ])
        .expect("valid flags");
        assert_eq!(
            (c.threads, c.scale, c.seconds, c.seed, c.iterations),
            (3, 2, Some(1.5), 7, None)
        );
        let c = a(&["--seconds", "1", "--iterations", "4"]).expect("valid flags");
        assert_eq!(c.iterations, Some(4));
        assert!(a(&["--threads", "x"]).is_err());
        assert!(a(&["--threads", "0"]).is_err());
        assert!(a(&["--seconds", "-1"]).is_err());
        assert!(a(&["--seconds"]).is_err());
        assert!(a(&["--bogus", "1"]).is_err());
    }

    #[test]
    fn growth_rule() {
        let r = |round, rss| RoundReport {
            round,
            steps: 0,
            live_blocks: 0,
            live_bytes: 0,
            rss_bytes: rss,
            maps: 0,
        };
        let mut spiky: Vec<_> = (0..8).map(|i| r(i, 40 * MIB)).collect();
        spiky[6].rss_bytes = 120 * MIB;
        assert!(
            rss_violation(&spiky, 1000).is_none(),
            "a single spike is not growth"
        );
        let growing: Vec<_> = (0..8).map(|i| r(i, (40 + 30 * i as usize) * MIB)).collect();
        assert!(rss_violation(&growing, 1000).is_some());
        let huge = vec![r(0, 40 * MIB), r(1, 400 * MIB)];
        assert!(
            rss_violation(&huge, 1000).is_some(),
            "above the ceiling in any round"
        );
    }

    #[test]
    fn sizes_cover_every_class() {
        let mut rng = Rng::new(3, 0, 0);
        let sizes: Vec<usize> = (0..200_000).map(|_| pick_size(&mut rng)).collect();
        assert!(sizes.iter().all(|&s| (8..=32 * MIB).contains(&s)));
        assert!(sizes.iter().filter(|&&s| s <= KIB).count() > 170_000);
        assert!(sizes.iter().any(|&s| s > 128 * KIB && s <= 4 * MIB));
        assert!(sizes.iter().any(|&s| s >= 8 * MIB));
    }
}
