//! The API fuzzer: bytes decoded into a sequence of calls of the C API, each
//! checked against a shadow model of the live blocks. In the kit, so the `cargo fuzz` target
//! (`fuzz/fuzz_targets/api_ops.rs`) and the ordinary replay test
//! (`mimalloc/tests/fuzz_seeds.rs`) run exactly the same checks; block contents are the kit's
//! [`crate::pattern`].
//!
//! Decoding is total: every byte string is a valid program. Each operation starts with a tag
//! byte followed by its arguments; reading past the end yields zeros, and the run stops when
//! the input is used up or after [`MAX_OPS`] operations. Sizes are skewed small with
//! occasional medium, large, huge and edge (2^k ± 1) sizes; alignments run from 1 to 2^20
//! with an occasional 2, 4 or 8 MiB. Requests that would take the live bytes over
//! [`MAX_LIVE_BYTES`] or the live blocks over [`MAX_LIVE_BLOCKS`] are skipped, so the fuzzer
//! cannot exhaust memory and every failed request the model does not expect is a failure.
//!
//! What holds, and is checked:
//! - every live block keeps its contents: block `id` holds `pattern(seed, offset)` over its
//!   requested size, verified by check operations and in full before every free, realloc and
//!   hand-off to another thread;
//! - alignment as requested (`(p + offset) % alignment == 0`, the natural alignment
//!   `min(16, 2^⌊log2 n⌋)` for plain allocations);
//! - `mi_usable_size(p) >= size`, stable while the block lives, equal to `mi_malloc_size`, and
//!   at most `mi_good_size(size)` for plain allocations;
//! - zeroed memory is zero over the whole usable size (`mi_rezalloc` relies on that), and a
//!   `mi_rezalloc`/`mi_recalloc` grows with zeros;
//! - no two live blocks overlap (an interval map checked on every insertion);
//! - ownership: `mi_check_owned`, `mi_is_in_heap_region`, `mi_heap_contains_block` and
//!   `mi_heap_check_owned` answer true for the heap the model says holds the block and false
//!   for the other first-class heaps; `mi_heap_visit_blocks` on a first-class heap finds
//!   exactly the model's blocks of that heap;
//! - requests that must fail (overflowing `calloc`, `PTRDIFF_MAX`-sized, non-power-of-two
//!   alignment, `mi_expand` past the usable size) return NULL with `errno` set and leave the
//!   block they were asked about intact;
//! - no error is reported through `mi_register_error` except by those requests (the secure
//!   and debug builds report double frees, corrupted free lists and overwritten canaries).
//!
//! Heaps: up to [`MAX_HEAPS`] first-class heaps. `mi_heap_delete` moves its blocks to the
//! thread's backing heap (the model keeps them live), `mi_heap_destroy` frees them all (the
//! model forgets them). A persistent helper thread frees blocks handed to it (the lock-free
//! cross-thread free and the delayed-free path of full pages) and allocates blocks that this
//! thread later checks, reallocates and frees.

use crate::errno::{self, errno, set_errno};
use crate::pattern::{
    fill_range, first_mismatch, first_mismatch_in, first_nonzero_in, pattern_byte,
};
use core::ffi::{c_int, c_void};
use mimalloc_sys as mi;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{mpsc, Once, OnceLock};

/// Operations decoded from one input at most.
pub const MAX_OPS: usize = 4096;
/// Live bytes (usable sizes, plus the alignment of blocks that get a segment of their own) the
/// model allows at once.
pub const MAX_LIVE_BYTES: usize = 256 << 20;
/// Live blocks the model allows at once.
pub const MAX_LIVE_BLOCKS: usize = 8192;
/// First-class heaps alive at once.
pub const MAX_HEAPS: usize = 4;

/// `MI_ALIGN_OVERALLOC_MAX`: larger alignments get a segment of their own, and refuse an offset.
const ALIGN_OVERALLOC_MAX: usize = 64 << 10;
/// `PTRDIFF_MAX`, the largest request the allocator may grant.
const MAX_ALLOC: usize = isize::MAX as usize;
/// Blocks up to this size are checked in full by the whole-model checks, larger ones at both ends.
const CHECK_FULL_MAX: usize = 64 << 10;
const CHECK_EDGE: usize = 4 << 10;

/// What one run did, for the replay test to assert that the inputs exercised the API.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    /// Operations decoded and executed (skipped ones included).
    pub ops: usize,
    /// Blocks allocated (including by realloc when it moved).
    pub allocs: usize,
    /// Blocks freed by this thread.
    pub frees: usize,
    /// Blocks handed to the helper thread to free.
    pub remote_frees: usize,
    /// Blocks the helper thread allocated.
    pub remote_allocs: usize,
    /// Reallocations that stayed in place.
    pub in_place: usize,
    /// First-class heaps created.
    pub heaps: usize,
    /// Blocks freed by `mi_heap_destroy`.
    pub destroyed: usize,
    /// Requests that failed as they must.
    pub refused: usize,
    /// Operations skipped by the memory bounds.
    pub skipped: usize,
}

impl Summary {
    /// Adds another run's counts to these.
    pub fn add(&mut self, o: &Summary) {
        self.ops += o.ops;
        self.allocs += o.allocs;
        self.frees += o.frees;
        self.remote_frees += o.remote_frees;
        self.remote_allocs += o.remote_allocs;
        self.in_place += o.in_place;
        self.heaps += o.heaps;
        self.destroyed += o.destroyed;
        self.refused += o.refused;
        self.skipped += o.skipped;
    }
}

/// Decodes `data` into operations and runs them against the allocator and the model; panics
/// with the operation's index and a description at the first violated property. Everything
/// still live at the end is checked and freed, and the first-class heaps are deleted, so runs
/// are independent.
pub fn run(data: &[u8]) -> Summary {
    init();
    let mut m = Model::new();
    let mut input = Input { data, pos: 0 };
    while !input.exhausted() && m.summary.ops < MAX_OPS {
        let op = input.op();
        m.current = op;
        m.step(op);
        m.check_errors();
        m.summary.ops += 1;
    }
    m.finish();
    m.summary
}

// ---- Error reports --------------------------------------------------------------------------

thread_local! {
    /// Set while a request that must fail runs: its report is expected.
    static EXPECTING: Cell<bool> = const { Cell::new(false) };
    /// Unexpected reports on this thread: (count, last error code).
    static UNEXPECTED: Cell<(usize, c_int)> = const { Cell::new((0, 0)) };
}

unsafe extern "C" fn on_error(err: c_int, _arg: *mut c_void) {
    let expected = EXPECTING.try_with(|e| e.get()).unwrap_or(false);
    if !expected {
        let _ = UNEXPECTED.try_with(|u| {
            let (n, _) = u.get();
            u.set((n + 1, err));
        });
    }
}

fn take_unexpected() -> (usize, c_int) {
    UNEXPECTED.with(|u| u.replace((0, 0)))
}

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // SAFETY: the hook is a plain function that only touches its own thread-locals; it is
        // registered once and stays valid for the life of the process.
        unsafe { mi::mi_register_error(Some(on_error), core::ptr::null_mut()) };
        // The refused requests report on purpose; the hook sees every report either way, so
        // printing is only wanted when someone asked for it.
        if std::env::var_os("MIMALLOC_SHOW_ERRORS").is_none() {
            // SAFETY: setting an option has no preconditions.
            unsafe { mi::mi_option_disable(mi::mi_option_show_errors) };
        }
    });
}

/// Runs `f`, a request that must fail, with its error report expected.
fn expecting<T>(f: impl FnOnce() -> T) -> T {
    EXPECTING.with(|e| e.set(true));
    let r = f();
    EXPECTING.with(|e| e.set(false));
    r
}

const ENOMEM: c_int = errno::ENOMEM;
const EINVAL: c_int = errno::EINVAL;

// ---- The helper thread ------------------------------------------------------------------------

enum Msg {
    Free(usize),
    Alloc {
        size: usize,
        n: usize,
        zero: bool,
        reply: mpsc::Sender<Vec<usize>>,
    },
    Sync(mpsc::Sender<(usize, c_int)>),
}

/// The persistent helper thread's mailbox. It is started once and lives as long as the
/// process, so its heap is never abandoned under blocks the model still holds.
fn helper() -> &'static mpsc::Sender<Msg> {
    static HELPER: OnceLock<mpsc::Sender<Msg>> = OnceLock::new();
    HELPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Msg>();
        std::thread::Builder::new()
            .name("fuzz-model-helper".into())
            .spawn(move || {
                for msg in rx {
                    match msg {
                        // SAFETY: the model handed the block over and forgot it: it is live,
                        // ours, and freed exactly once, here.
                        Msg::Free(p) => unsafe { mi::mi_free(p as *mut c_void) },
                        Msg::Alloc {
                            size,
                            n,
                            zero,
                            reply,
                        } => {
                            let v = (0..n)
                                // SAFETY: allocation has no preconditions.
                                .map(|_| unsafe {
                                    if zero {
                                        mi::mi_zalloc(size) as usize
                                    } else {
                                        mi::mi_malloc(size) as usize
                                    }
                                })
                                .collect();
                            let _ = reply.send(v);
                        }
                        Msg::Sync(reply) => {
                            let _ = reply.send(take_unexpected());
                        }
                    }
                }
            })
            .expect("spawn the model's helper thread");
        tx
    })
}

// ---- Input decoding -------------------------------------------------------------------------

struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

/// Which heap an allocation goes to: the `mi_*` API, `mi_heap_*` on the default heap, or
/// `mi_heap_*` on first-class heap `k` (modulo the live ones; the default heap when none).
#[derive(Clone, Copy, Debug)]
enum Target {
    Default,
    DefaultHeap,
    Heap(u8),
}

#[derive(Clone, Copy, Debug)]
enum FreeKind {
    Free,
    FreeSize,
    FreeAligned,
    FreeSizeAligned,
    Cfree,
}

#[derive(Clone, Copy, Debug)]
enum ReKind {
    Realloc,
    Rezalloc,
    Recalloc(usize),
    Reallocn(usize),
    Reallocf,
}

#[derive(Clone, Copy, Debug)]
enum AlignedVia {
    Mi,
    PosixMemalign,
    AlignedAlloc,
    Memalign,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Nop,
    Malloc {
        to: Target,
        size: usize,
        zero: bool,
        small_api: bool,
    },
    Calloc {
        to: Target,
        count: usize,
        elem: usize,
        zero: bool,
    },
    Aligned {
        to: Target,
        size: usize,
        align: usize,
        offset: usize,
        zero: bool,
        via: AlignedVia,
    },
    Realloc {
        to: Target,
        idx: usize,
        size: usize,
        kind: ReKind,
        from_null: bool,
    },
    ReallocAligned {
        to: Target,
        idx: usize,
        size: usize,
        align: usize,
        offset: usize,
        kind: ReKind,
    },
    Expand {
        idx: usize,
        size: usize,
    },
    Free {
        idx: usize,
        kind: FreeKind,
    },
    FreeRun {
        idx: usize,
        n: usize,
    },
    AllocRun {
        to: Target,
        size: usize,
        n: usize,
        zero: bool,
    },
    Remote {
        idx: usize,
        n: usize,
    },
    RemoteAlloc {
        size: usize,
        n: usize,
        zero: bool,
    },
    Check {
        idx: usize,
    },
    CheckAll,
    Visit {
        to: Target,
    },
    Collect {
        to: Target,
        force: bool,
    },
    HeapNew,
    HeapDelete {
        k: usize,
    },
    HeapDestroy {
        k: usize,
    },
    Bad {
        kind: u8,
        idx: usize,
        size: usize,
    },
}

impl Input<'_> {
    fn exhausted(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn u16(&mut self) -> usize {
        let lo = self.byte() as usize;
        lo | (self.byte() as usize) << 8
    }

    /// A size: most below 256 bytes, then up to 4 KiB, 64 KiB, 512 KiB, edge sizes
    /// 2^k - 1 ..= 2^k + 1 up to 4 MiB, up to 2 MiB, and rarely a huge one of 2 to 10 MiB.
    fn size(&mut self) -> usize {
        match self.byte() {
            0..=159 => self.byte() as usize,
            160..=207 => self.u16() % 4096,
            208..=231 => self.u16(),
            232..=243 => self.u16() * 8,
            244..=251 => {
                let e = self.byte() as usize;
                (1usize << (e % 23)) + (e / 23) % 3 - 1
            }
            252 | 253 => self.u16() * 32,
            _ => (2 << 20) + self.u16() * 128,
        }
    }

    fn small_size(&mut self) -> usize {
        let s = self.size();
        if s > 16 << 10 {
            s % 2048
        } else {
            s
        }
    }

    /// A power of two: mostly up to 64 KiB (served by over-allocation), one in five up to
    /// 2^20 (a segment of its own from 128 KiB), one in sixteen 2, 4 or 8 MiB.
    fn align(&mut self) -> usize {
        let b = self.byte();
        match b {
            0..=191 => 1 << (b % 17),
            192..=239 => 1 << (b % 21),
            _ => 1 << (21 + b % 3),
        }
    }

    fn target(&mut self) -> Target {
        let t = self.byte();
        match t % 8 {
            0..=3 => Target::Default,
            4 => Target::DefaultHeap,
            _ => Target::Heap(t >> 3),
        }
    }

    fn idx(&mut self) -> usize {
        self.u16()
    }

    fn offset(&mut self, size: usize) -> usize {
        let b = self.byte();
        if b < 192 {
            0
        } else {
            self.u16() % (size + 1)
        }
    }

    fn rekind(&mut self) -> ReKind {
        let b = self.byte();
        let count = 1 + (b as usize >> 3) % 8;
        match b % 8 {
            0..=2 => ReKind::Realloc,
            3 | 4 => ReKind::Rezalloc,
            5 => ReKind::Recalloc(count),
            6 => ReKind::Reallocn(count),
            _ => ReKind::Reallocf,
        }
    }

    fn op(&mut self) -> Op {
        let tag = self.byte();
        match tag {
            0..=39 => {
                let to = self.target();
                let size = self.size();
                let b = self.byte();
                Op::Malloc {
                    to,
                    size,
                    zero: b & 1 != 0,
                    small_api: b & 6 == 6,
                }
            }
            40..=51 => {
                let to = self.target();
                let b = self.byte();
                let size = self.size();
                let small = 1 + (b as usize >> 3) % 8;
                let elem = if b % 8 <= 5 { size / small } else { size };
                let count = match b % 8 {
                    0..=5 => small,
                    // products that overflow (or, for 1-byte elements, reach SIZE_MAX), and
                    // ones that do not overflow but exceed PTRDIFF_MAX
                    6 => (usize::MAX / elem.max(1)).saturating_add(1 + (b as usize >> 3)),
                    _ => MAX_ALLOC / elem.max(1) + 1,
                };
                Op::Calloc {
                    to,
                    count,
                    elem,
                    zero: b & 0x80 == 0,
                }
            }
            52..=79 => {
                let to = self.target();
                let size = self.size();
                let align = self.align();
                let offset = self.offset(size);
                let b = self.byte();
                let via = match b % 16 {
                    13 => AlignedVia::PosixMemalign,
                    14 => AlignedVia::AlignedAlloc,
                    15 => AlignedVia::Memalign,
                    _ => AlignedVia::Mi,
                };
                Op::Aligned {
                    to,
                    size,
                    align,
                    offset,
                    zero: b & 0x10 != 0,
                    via,
                }
            }
            80..=103 => {
                let to = self.target();
                let idx = self.idx();
                let size = self.size();
                let kind = self.rekind();
                Op::Realloc {
                    to,
                    idx,
                    size,
                    kind,
                    from_null: tag == 103,
                }
            }
            104..=115 => {
                let to = self.target();
                let idx = self.idx();
                let size = self.size();
                let align = self.align();
                let offset = self.offset(size);
                let kind = match self.rekind() {
                    ReKind::Reallocn(c) => ReKind::Recalloc(c),
                    ReKind::Reallocf => ReKind::Realloc,
                    k => k,
                };
                Op::ReallocAligned {
                    to,
                    idx,
                    size,
                    align,
                    offset,
                    kind,
                }
            }
            116..=123 => Op::Expand {
                idx: self.idx(),
                size: self.size(),
            },
            124..=159 => {
                let idx = self.idx();
                let kind = match self.byte() % 8 {
                    0..=3 => FreeKind::Free,
                    4 => FreeKind::FreeSize,
                    5 => FreeKind::FreeAligned,
                    6 => FreeKind::FreeSizeAligned,
                    _ => FreeKind::Cfree,
                };
                Op::Free { idx, kind }
            }
            160..=167 => Op::FreeRun {
                idx: self.idx(),
                n: 1 + self.byte() as usize % 128,
            },
            168..=175 => {
                let to = self.target();
                let size = self.small_size();
                let b = self.byte();
                Op::AllocRun {
                    to,
                    size,
                    n: 1 + (b & 0x7f) as usize,
                    zero: b & 0x80 != 0,
                }
            }
            176..=187 => Op::Remote {
                idx: self.idx(),
                n: 1 + self.byte() as usize % 64,
            },
            188..=193 => {
                let size = self.size();
                let b = self.byte();
                Op::RemoteAlloc {
                    size,
                    n: 1 + b as usize % 16,
                    zero: b >= 192,
                }
            }
            194..=209 => Op::Check { idx: self.idx() },
            210..=212 => Op::CheckAll,
            213..=215 => Op::Visit { to: self.target() },
            216..=221 => {
                let to = self.target();
                Op::Collect {
                    to,
                    force: self.byte() & 1 != 0,
                }
            }
            222..=230 => Op::HeapNew,
            231..=237 => Op::HeapDelete {
                k: self.byte() as usize,
            },
            238..=245 => Op::HeapDestroy {
                k: self.byte() as usize,
            },
            246..=254 => Op::Bad {
                kind: self.byte(),
                idx: self.idx(),
                size: self.size(),
            },
            255 => Op::Nop,
        }
    }
}

// ---- Content patterns -----------------------------------------------------------------------

/// The alignment `mi_malloc(n)` guarantees: `min(16, 2^⌊log2 n⌋)`.
fn natural_align(n: usize) -> usize {
    if n >= 16 {
        16
    } else if n == 0 {
        1
    } else {
        1 << (usize::BITS - 1 - n.leading_zeros())
    }
}

// ---- The model --------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    /// This thread's backing heap.
    Backing,
    /// The first-class heap with this serial number.
    Heap(u32),
    /// The helper thread's heap.
    Helper,
}

#[derive(Clone, Copy, Debug)]
struct Block {
    p: *mut u8,
    /// Requested size: bytes `0..size` hold the block's pattern.
    size: usize,
    /// `mi_usable_size` when it was allocated (or last resized).
    usable: usize,
    seed: u32,
    owner: Owner,
    /// Bytes `size..usable` are known to be zero (a zeroed allocation, not shrunk since).
    tail_zero: bool,
    align: usize,
    offset: usize,
    /// What the block counts against MAX_LIVE_BYTES.
    cost: usize,
}

#[derive(Clone, Copy, Debug)]
struct HeapRec {
    serial: u32,
    h: *mut mi::mi_heap_t,
}

struct Model {
    blocks: Vec<Block>,
    /// start -> end of every live block's usable extent.
    extents: BTreeMap<usize, usize>,
    heaps: Vec<HeapRec>,
    next_seed: u32,
    next_heap: u32,
    live_bytes: usize,
    summary: Summary,
    current: Op,
}

fn cost_of(usable: usize, align: usize) -> usize {
    usable
        + if align > ALIGN_OVERALLOC_MAX {
            align
        } else {
            0
        }
}

fn estimate(size: usize, align: usize) -> usize {
    size + if align > ALIGN_OVERALLOC_MAX {
        align
    } else {
        align.saturating_sub(1)
    }
}

fn void(p: *mut u8) -> *mut c_void {
    p as *mut c_void
}

impl Model {
    fn new() -> Model {
        Model {
            blocks: Vec::new(),
            extents: BTreeMap::new(),
            heaps: Vec::new(),
            next_seed: 0,
            next_heap: 0,
            live_bytes: 0,
            summary: Summary::default(),
            current: Op::Nop,
        }
    }

    #[cold]
    #[inline(never)]
    fn fail(&self, msg: &str) -> ! {
        let mut s = String::new();
        let _ = write!(
            s,
            "api fuzz model: operation {} {:?}: {msg}\n  live blocks: {}, live bytes: {}, heaps: {}",
            self.summary.ops,
            self.current,
            self.blocks.len(),
            self.live_bytes,
            self.heaps.len()
        );
        panic!("{s}");
    }

    fn check_errors(&self) {
        let (n, err) = take_unexpected();
        if n != 0 {
            self.fail(&format!(
                "{n} unexpected error report(s) from the allocator, the last with code {err}"
            ));
        }
    }

    fn sync_helper(&self) {
        let (tx, rx) = mpsc::channel();
        if helper().send(Msg::Sync(tx)).is_err() {
            self.fail("the helper thread is gone");
        }
        match rx.recv() {
            Ok((0, _)) => {}
            Ok((n, err)) => self.fail(&format!(
                "{n} unexpected error report(s) on the helper thread, the last with code {err}"
            )),
            Err(_) => self.fail("the helper thread died (a failed check there?)"),
        }
    }

    fn new_seed(&mut self) -> u32 {
        self.next_seed = self.next_seed.wrapping_add(1);
        self.next_seed.wrapping_mul(0x9e37_79b1) ^ 0x7f4a_7c15
    }

    /// The heap pointer (None: the `mi_*` API) and the owner a block allocated for `t` gets.
    fn resolve(&self, t: Target) -> (Option<*mut mi::mi_heap_t>, Owner) {
        match t {
            Target::Default => (None, Owner::Backing),
            // SAFETY: no preconditions; the default heap of this thread is its backing heap,
            // as the model never changes the default.
            Target::DefaultHeap => (Some(unsafe { mi::mi_heap_get_default() }), Owner::Backing),
            Target::Heap(k) => {
                if self.heaps.is_empty() {
                    (None, Owner::Backing)
                } else {
                    let h = self.heaps[k as usize % self.heaps.len()];
                    (Some(h.h), Owner::Heap(h.serial))
                }
            }
        }
    }

    fn fits(&self, extra: usize, blocks: usize) -> bool {
        self.live_bytes.saturating_add(extra) <= MAX_LIVE_BYTES
            && self.blocks.len() + blocks <= MAX_LIVE_BLOCKS
    }

    fn pick(&self, idx: usize) -> Option<usize> {
        if self.blocks.is_empty() {
            None
        } else {
            Some(idx % self.blocks.len())
        }
    }

    // ---- checks of one block

    fn usable_of(&self, p: *mut u8) -> usize {
        // SAFETY: p is a live block of ours (the model's invariant).
        let (u, ms, mus) = unsafe {
            (
                mi::mi_usable_size(void(p)),
                mi::mi_malloc_size(void(p)),
                mi::mi_malloc_usable_size(void(p)),
            )
        };
        if ms != u || mus != u {
            self.fail(&format!("{p:p}: mi_usable_size {u}, mi_malloc_size {ms}, mi_malloc_usable_size {mus} differ"));
        }
        u
    }

    /// Contents, and the zero tail if claimed; in full, or (`full == false`) only near both
    /// ends of large blocks.
    fn verify(&self, b: &Block, full: bool, why: &str) {
        let ranges = |from: usize, to: usize| -> [(usize, usize); 2] {
            if full || to - from <= CHECK_FULL_MAX {
                [(from, to), (to, to)]
            } else {
                [(from, from + CHECK_EDGE), (to - CHECK_EDGE, to)]
            }
        };
        for (from, to) in ranges(0, b.size) {
            // SAFETY: 0..size of a live block is readable.
            if let Some(at) = unsafe { first_mismatch_in(b.p, from, to, b.seed as usize) } {
                // SAFETY: as above, `at < size`.
                let got = unsafe { *b.p.add(at) };
                self.fail(&format!(
                    "{why}: block {:p} (size {}, usable {}, {:?}) has {got:#04x} at offset {at}, expected {:#04x}",
                    b.p,
                    b.size,
                    b.usable,
                    b.owner,
                    pattern_byte(at, b.seed as usize)
                ));
            }
        }
        if b.tail_zero && b.usable > b.size {
            for (from, to) in ranges(b.size, b.usable) {
                // SAFETY: size..usable of a live block is readable (mi_usable_size says so).
                if let Some(at) = unsafe { first_nonzero_in(b.p, from, to) } {
                    self.fail(&format!(
                        "{why}: zeroed block {:p} (size {}, usable {}) has a non-zero byte at offset {at} of its tail",
                        b.p, b.size, b.usable
                    ));
                }
            }
        }
    }

    fn check_align(&self, p: *mut u8, align: usize, offset: usize, what: &str) {
        if (p as usize).wrapping_add(offset) & (align - 1) != 0 {
            self.fail(&format!(
                "{what}: {p:p} + {offset} is not aligned to {align}"
            ));
        }
    }

    /// Ownership queries agree with the model.
    fn check_owner(&self, b: &Block) {
        let p = b.p as *const c_void;
        let aligned = (b.p as usize) & (core::mem::size_of::<usize>() - 1) == 0;
        // SAFETY: the ownership queries accept any pointer.
        unsafe {
            if !mi::mi_is_in_heap_region(p) {
                self.fail(&format!(
                    "mi_is_in_heap_region({p:p}) is false for a live block"
                ));
            }
            if aligned && !mi::mi_check_owned(p) {
                self.fail(&format!("mi_check_owned({p:p}) is false for a live block"));
            }
            for h in &self.heaps {
                let mine = b.owner == Owner::Heap(h.serial);
                if mi::mi_heap_contains_block(h.h, p) != mine {
                    self.fail(&format!(
                        "mi_heap_contains_block(heap #{}, {p:p}) is {} for a block of {:?}",
                        h.serial, !mine, b.owner
                    ));
                }
                if aligned && mi::mi_heap_check_owned(h.h, p) != mine {
                    self.fail(&format!(
                        "mi_heap_check_owned(heap #{}, {p:p}) is {} for a block of {:?}",
                        h.serial, !mine, b.owner
                    ));
                }
            }
            let backing = mi::mi_heap_get_backing();
            let in_backing = mi::mi_heap_contains_block(backing, p);
            if in_backing != (b.owner == Owner::Backing) {
                self.fail(&format!(
                    "mi_heap_contains_block(backing heap, {p:p}) is {in_backing} for a block of {:?}",
                    b.owner
                ));
            }
        }
    }

    fn check_block(&self, b: &Block, full: bool, why: &str) {
        self.verify(b, full, why);
        self.check_align(b.p, b.align, b.offset, why);
        let u = self.usable_of(b.p);
        if u != b.usable {
            self.fail(&format!(
                "{why}: mi_usable_size({:p}) changed from {} to {u}",
                b.p, b.usable
            ));
        }
        self.check_owner(b);
    }

    // ---- adding and removing blocks

    fn insert_extent(&mut self, p: *mut u8, usable: usize, what: &str) {
        let start = p as usize;
        let end = start + usable.max(1);
        if let Some((&s, &e)) = self.extents.range(..=start).next_back() {
            if e > start {
                self.fail(&format!(
                    "{what}: new block {start:#x}..{end:#x} overlaps the live block {s:#x}..{e:#x}"
                ));
            }
        }
        if let Some((&s, &e)) = self.extents.range(start..).next() {
            if s < end {
                self.fail(&format!(
                    "{what}: new block {start:#x}..{end:#x} overlaps the live block {s:#x}..{e:#x}"
                ));
            }
        }
        self.extents.insert(start, end);
    }

    fn remove_extent(&mut self, p: *mut u8) {
        if self.extents.remove(&(p as usize)).is_none() {
            self.fail(&format!("model bug: no extent for {p:p}"));
        }
    }

    /// Takes a fresh block into the model after checking what holds of every new block.
    #[allow(clippy::too_many_arguments)]
    fn adopt(
        &mut self,
        p: *mut u8,
        size: usize,
        zero: bool,
        align: usize,
        offset: usize,
        owner: Owner,
        plain: bool,
        what: &str,
    ) {
        if p.is_null() {
            self.fail(&format!("{what}: NULL for a request of {size} bytes (alignment {align}) the model can serve"));
        }
        self.check_align(p, align, offset, what);
        let usable = self.usable_of(p);
        if usable < size {
            self.fail(&format!(
                "{what}: mi_usable_size({p:p}) = {usable} < {size}"
            ));
        }
        if plain {
            // SAFETY: no preconditions.
            let good = unsafe { mi::mi_good_size(size) };
            if usable > good {
                self.fail(&format!(
                    "{what}: mi_usable_size({p:p}) = {usable} > mi_good_size({size}) = {good}"
                ));
            }
        }
        if zero {
            // SAFETY: the block's usable bytes are readable.
            if let Some(at) = unsafe { first_nonzero_in(p, 0, usable) } {
                self.fail(&format!("{what}: zeroed block {p:p} (size {size}, usable {usable}) has a non-zero byte at offset {at}"));
            }
        }
        self.insert_extent(p, usable, what);
        let seed = self.new_seed();
        // SAFETY: 0..size of the new block is writable.
        unsafe { fill_range(p, 0, size, seed as usize) };
        let cost = cost_of(usable, align);
        self.live_bytes += cost;
        self.blocks.push(Block {
            p,
            size,
            usable,
            seed,
            owner,
            tail_zero: zero,
            align,
            offset,
            cost,
        });
        self.summary.allocs += 1;
    }

    /// Removes block `i` from the model after checking it in full; the caller frees it.
    fn release(&mut self, i: usize, why: &str) -> Block {
        let b = self.blocks[i];
        self.check_block(&b, true, why);
        self.remove_extent(b.p);
        self.live_bytes -= b.cost;
        self.blocks.swap_remove(i);
        b
    }

    // ---- operations

    fn step(&mut self, op: Op) {
        match op {
            Op::Nop => {}
            Op::Malloc {
                to,
                size,
                zero,
                small_api,
            } => self.op_malloc(to, size, zero, small_api),
            Op::Calloc {
                to,
                count,
                elem,
                zero,
            } => self.op_calloc(to, count, elem, zero),
            Op::Aligned {
                to,
                size,
                align,
                offset,
                zero,
                via,
            } => self.op_aligned(to, size, align, offset, zero, via),
            Op::Realloc {
                to,
                idx,
                size,
                kind,
                from_null,
            } => self.op_realloc(to, idx, size, kind, from_null),
            Op::ReallocAligned {
                to,
                idx,
                size,
                align,
                offset,
                kind,
            } => self.op_realloc_aligned(to, idx, size, align, offset, kind),
            Op::Expand { idx, size } => self.op_expand(idx, size),
            Op::Free { idx, kind } => self.op_free(idx, kind),
            Op::FreeRun { idx, n } => {
                for _ in 0..n {
                    self.op_free(idx, FreeKind::Free);
                }
            }
            Op::AllocRun { to, size, n, zero } => {
                for _ in 0..n {
                    self.op_malloc(to, size, zero, false);
                }
            }
            Op::Remote { idx, n } => self.op_remote(idx, n),
            Op::RemoteAlloc { size, n, zero } => self.op_remote_alloc(size, n, zero),
            Op::Check { idx } => {
                if let Some(i) = self.pick(idx) {
                    let b = self.blocks[i];
                    self.check_block(&b, true, "check");
                }
            }
            Op::CheckAll => {
                for b in &self.blocks {
                    self.check_block(b, false, "check all");
                }
            }
            Op::Visit { to } => self.op_visit(to),
            Op::Collect { to, force } => match self.resolve(to).0 {
                // SAFETY: collection has no preconditions; h is a live heap of this thread.
                None => unsafe { mi::mi_collect(force) },
                // SAFETY: as above.
                Some(h) => unsafe { mi::mi_heap_collect(h, force) },
            },
            Op::HeapNew => self.op_heap_new(),
            Op::HeapDelete { k } => self.op_heap_delete(k),
            Op::HeapDestroy { k } => self.op_heap_destroy(k),
            Op::Bad { kind, idx, size } => self.op_bad(kind, idx, size),
        }
    }

    fn op_malloc(&mut self, to: Target, size: usize, zero: bool, small_api: bool) {
        if !self.fits(size, 1) {
            self.summary.skipped += 1;
            return;
        }
        let (h, owner) = self.resolve(to);
        let small = small_api && size <= mi::MI_SMALL_SIZE_MAX;
        // SAFETY: allocation has no preconditions; h is a live heap of this thread.
        let p = unsafe {
            match (h, zero, small) {
                (None, false, false) => mi::mi_malloc(size),
                (None, true, false) => mi::mi_zalloc(size),
                (None, false, true) => mi::mi_malloc_small(size),
                (None, true, true) => mi::mi_zalloc_small(size),
                (Some(h), false, false) => mi::mi_heap_malloc(h, size),
                (Some(h), true, false) => mi::mi_heap_zalloc(h, size),
                (Some(h), false, true) => mi::mi_heap_malloc_small(h, size),
                (Some(h), true, true) => mi::mi_heap_zalloc_small(h, size),
            }
        } as *mut u8;
        self.adopt(p, size, zero, natural_align(size), 0, owner, true, "malloc");
    }

    fn op_calloc(&mut self, to: Target, count: usize, elem: usize, zero: bool) {
        let (h, owner) = self.resolve(to);
        let total = count.checked_mul(elem);
        let must_fail = match total {
            None => true,
            Some(t) => t > MAX_ALLOC,
        };
        if !must_fail && !self.fits(total.unwrap_or(0), 1) {
            self.summary.skipped += 1;
            return;
        }
        let call = || {
            // SAFETY: allocation has no preconditions; h is a live heap of this thread.
            unsafe {
                match (h, zero) {
                    (None, true) => mi::mi_calloc(count, elem),
                    (None, false) => mi::mi_mallocn(count, elem),
                    (Some(h), true) => mi::mi_heap_calloc(h, count, elem),
                    (Some(h), false) => mi::mi_heap_mallocn(h, count, elem),
                }
            }
        };
        if must_fail {
            set_errno(0);
            let p = expecting(call);
            self.refused(p, ENOMEM, &format!("calloc({count}, {elem})"));
            return;
        }
        let size = count * elem;
        self.adopt(
            call() as *mut u8,
            size,
            zero,
            natural_align(size),
            0,
            owner,
            true,
            "calloc",
        );
    }

    /// A request that must fail returned NULL with `errno` set.
    fn refused(&mut self, p: *mut c_void, err: c_int, what: &str) {
        if !p.is_null() {
            self.fail(&format!("{what} must fail but returned {p:p}"));
        }
        let e = errno();
        if e != err {
            self.fail(&format!("{what} failed with errno {e}, expected {err}"));
        }
        self.summary.refused += 1;
    }

    #[allow(clippy::too_many_arguments)]
    fn op_aligned(
        &mut self,
        to: Target,
        size: usize,
        align: usize,
        offset: usize,
        zero: bool,
        via: AlignedVia,
    ) {
        if !self.fits(estimate(size, align), 1) {
            self.summary.skipped += 1;
            return;
        }
        let (h, owner) = self.resolve(to);
        // an offset is refused above the over-allocation limit (a documented limit)
        let may_refuse = offset != 0 && align > ALIGN_OVERALLOC_MAX;
        let via = if offset != 0 || zero || h.is_some() {
            AlignedVia::Mi
        } else {
            via
        };
        let call = || {
            // SAFETY: allocation has no preconditions; h is a live heap of this thread; the
            // out pointer of posix_memalign is a local.
            unsafe {
                match (h, via, zero, offset != 0) {
                    (None, AlignedVia::PosixMemalign, ..) => {
                        let mut q: *mut c_void = core::ptr::null_mut();
                        let r = mi::mi_posix_memalign(&mut q, align, size);
                        let valid = align >= core::mem::size_of::<usize>();
                        if (r == 0) != valid || (r == 0) == q.is_null() {
                            self.fail(&format!(
                                "mi_posix_memalign({align}, {size}) returned {r} and {q:p}"
                            ));
                        }
                        if valid {
                            q
                        } else {
                            core::ptr::null_mut()
                        }
                    }
                    (None, AlignedVia::AlignedAlloc, ..) => mi::mi_aligned_alloc(align, size),
                    (None, AlignedVia::Memalign, ..) => mi::mi_memalign(align, size),
                    (None, _, false, false) => mi::mi_malloc_aligned(size, align),
                    (None, _, true, false) => mi::mi_zalloc_aligned(size, align),
                    (None, _, false, true) => mi::mi_malloc_aligned_at(size, align, offset),
                    (None, _, true, true) => mi::mi_zalloc_aligned_at(size, align, offset),
                    (Some(h), _, false, false) => mi::mi_heap_malloc_aligned(h, size, align),
                    (Some(h), _, true, false) => mi::mi_heap_zalloc_aligned(h, size, align),
                    (Some(h), _, false, true) => {
                        mi::mi_heap_malloc_aligned_at(h, size, align, offset)
                    }
                    (Some(h), _, true, true) => {
                        mi::mi_heap_zalloc_aligned_at(h, size, align, offset)
                    }
                }
            }
        };
        let p = if may_refuse { expecting(call) } else { call() } as *mut u8;
        if let AlignedVia::PosixMemalign = via {
            if align < core::mem::size_of::<usize>() {
                self.summary.refused += 1;
                return;
            }
        }
        if p.is_null() && may_refuse {
            self.summary.refused += 1;
            return;
        }
        self.adopt(p, size, zero, align, offset, owner, false, "aligned alloc");
    }

    fn op_realloc(&mut self, to: Target, idx: usize, size: usize, kind: ReKind, from_null: bool) {
        let (h, owner) = self.resolve(to);
        let pick = if from_null { None } else { self.pick(idx) };
        let newsize = match kind {
            ReKind::Recalloc(c) | ReKind::Reallocn(c) => size / c * c,
            _ => size,
        };
        let old_cost = pick.map_or(0, |i| self.blocks[i].cost);
        if !self.fits(
            newsize.saturating_sub(old_cost),
            usize::from(pick.is_none()),
        ) {
            self.summary.skipped += 1;
            return;
        }
        let old = pick.map(|i| {
            let b = self.blocks[i];
            self.check_block(&b, true, "before realloc");
            b
        });
        let p = old.map_or(core::ptr::null_mut(), |b| void(b.p));
        // SAFETY: p is NULL or a live block of ours, now handed to realloc (the model takes it
        // back below whether or not it moved); h is a live heap of this thread.
        let q = unsafe {
            match (h, kind) {
                (None, ReKind::Realloc) => mi::mi_realloc(p, newsize),
                (None, ReKind::Rezalloc) => mi::mi_rezalloc(p, newsize),
                (None, ReKind::Recalloc(c)) => mi::mi_recalloc(p, c, newsize / c),
                (None, ReKind::Reallocn(c)) => mi::mi_reallocn(p, c, newsize / c),
                (None, ReKind::Reallocf) => mi::mi_reallocf(p, newsize),
                (Some(h), ReKind::Realloc) => mi::mi_heap_realloc(h, p, newsize),
                (Some(h), ReKind::Rezalloc) => mi::mi_heap_rezalloc(h, p, newsize),
                (Some(h), ReKind::Recalloc(c)) => mi::mi_heap_recalloc(h, p, c, newsize / c),
                (Some(h), ReKind::Reallocn(c)) => mi::mi_heap_reallocn(h, p, c, newsize / c),
                (Some(h), ReKind::Reallocf) => mi::mi_heap_reallocf(h, p, newsize),
            }
        } as *mut u8;
        let zero = matches!(kind, ReKind::Rezalloc | ReKind::Recalloc(_));
        match pick {
            None => self.adopt(
                q,
                newsize,
                false,
                natural_align(newsize),
                0,
                owner,
                true,
                "realloc(NULL)",
            ),
            Some(i) => self.resized(i, q, newsize, zero, None, owner, "realloc"),
        }
    }

    /// Block `i` was resized to `q`; `aligned` is the (alignment, offset) asked for, if any.
    #[allow(clippy::too_many_arguments)]
    fn resized(
        &mut self,
        i: usize,
        q: *mut u8,
        newsize: usize,
        zero: bool,
        aligned: Option<(usize, usize)>,
        owner: Owner,
        what: &str,
    ) {
        let b = self.blocks[i];
        if q.is_null() {
            self.fail(&format!(
                "{what}: NULL resizing {:p} from {} to {newsize} bytes, a request the model can serve",
                b.p, b.size
            ));
        }
        let moved = q != b.p;
        let (align, offset) = match aligned {
            Some(ao) => ao,
            None if moved => (natural_align(newsize), 0),
            None => (b.align, b.offset),
        };
        self.check_align(q, align, offset, what);
        let usable = self.usable_of(q);
        if usable < newsize {
            self.fail(&format!(
                "{what}: mi_usable_size({q:p}) = {usable} < {newsize}"
            ));
        }
        let keep = b.size.min(newsize);
        // SAFETY: 0..keep of the (new) block is readable.
        if let Some(at) = unsafe { first_mismatch(q, keep, b.seed as usize) } {
            self.fail(&format!(
                "{what}: {:p} -> {q:p} ({} -> {newsize} bytes) lost its contents at offset {at}",
                b.p, b.size
            ));
        }
        if zero && newsize > b.size {
            // the tail the old block promised to be zero, then whatever the allocator added
            let from = if b.tail_zero {
                b.size
            } else {
                b.usable.min(newsize)
            };
            // SAFETY: from..newsize of the new block is readable.
            if let Some(at) = unsafe { first_nonzero_in(q, from, newsize) } {
                self.fail(&format!(
                    "{what}: rezalloc {:p} -> {q:p} ({} -> {newsize} bytes, old usable {}, zero tail {}) has a non-zero byte at offset {at}",
                    b.p, b.size, b.usable, b.tail_zero
                ));
            }
        }
        self.remove_extent(b.p);
        self.insert_extent(q, usable, what);
        // SAFETY: b.size..newsize of the new block is writable.
        unsafe { fill_range(q, b.size, newsize, b.seed as usize) };
        let cost = cost_of(usable, align);
        self.live_bytes = self.live_bytes - b.cost + cost;
        let nb = &mut self.blocks[i];
        nb.p = q;
        nb.size = newsize;
        nb.usable = usable;
        nb.align = align;
        nb.offset = offset;
        nb.cost = cost;
        if moved {
            nb.owner = owner;
            nb.tail_zero = false;
            self.summary.allocs += 1;
        } else {
            nb.tail_zero = b.tail_zero && newsize >= b.size;
            self.summary.in_place += 1;
        }
    }

    fn op_realloc_aligned(
        &mut self,
        to: Target,
        idx: usize,
        size: usize,
        align: usize,
        offset: usize,
        kind: ReKind,
    ) {
        let Some(i) = self.pick(idx) else { return };
        let (h, owner) = self.resolve(to);
        let newsize = match kind {
            ReKind::Recalloc(c) => size / c * c,
            _ => size,
        };
        let b = self.blocks[i];
        if !self.fits(estimate(newsize, align).saturating_sub(b.cost), 0) {
            self.summary.skipped += 1;
            return;
        }
        self.check_block(&b, true, "before realloc_aligned");
        let may_refuse = offset != 0 && align > ALIGN_OVERALLOC_MAX;
        let p = void(b.p);
        let call = || {
            // SAFETY: p is a live block of ours handed to realloc (taken back below); h is a
            // live heap of this thread.
            unsafe {
                match (h, kind, offset != 0) {
                    (None, ReKind::Rezalloc, false) => mi::mi_rezalloc_aligned(p, newsize, align),
                    (None, ReKind::Rezalloc, true) => {
                        mi::mi_rezalloc_aligned_at(p, newsize, align, offset)
                    }
                    (None, ReKind::Recalloc(c), false) => {
                        mi::mi_recalloc_aligned(p, c, newsize / c, align)
                    }
                    (None, ReKind::Recalloc(c), true) => {
                        mi::mi_recalloc_aligned_at(p, c, newsize / c, align, offset)
                    }
                    (None, _, false) => mi::mi_realloc_aligned(p, newsize, align),
                    (None, _, true) => mi::mi_realloc_aligned_at(p, newsize, align, offset),
                    (Some(h), ReKind::Rezalloc, false) => {
                        mi::mi_heap_rezalloc_aligned(h, p, newsize, align)
                    }
                    (Some(h), ReKind::Rezalloc, true) => {
                        mi::mi_heap_rezalloc_aligned_at(h, p, newsize, align, offset)
                    }
                    (Some(h), ReKind::Recalloc(c), false) => {
                        mi::mi_heap_recalloc_aligned(h, p, c, newsize / c, align)
                    }
                    (Some(h), ReKind::Recalloc(c), true) => {
                        mi::mi_heap_recalloc_aligned_at(h, p, c, newsize / c, align, offset)
                    }
                    (Some(h), _, false) => mi::mi_heap_realloc_aligned(h, p, newsize, align),
                    (Some(h), _, true) => {
                        mi::mi_heap_realloc_aligned_at(h, p, newsize, align, offset)
                    }
                }
            }
        };
        let q = if may_refuse { expecting(call) } else { call() } as *mut u8;
        if q.is_null() && may_refuse {
            // refused: the old block is untouched
            self.check_block(&b, true, "after a refused realloc_aligned");
            self.summary.refused += 1;
            return;
        }
        let zero = matches!(kind, ReKind::Rezalloc | ReKind::Recalloc(_));
        self.resized(
            i,
            q,
            newsize,
            zero,
            Some((align, offset)),
            owner,
            "realloc_aligned",
        );
    }

    fn op_expand(&mut self, idx: usize, size: usize) {
        let Some(i) = self.pick(idx) else { return };
        let b = self.blocks[i];
        self.check_block(&b, false, "before mi_expand");
        let fits = size <= b.usable;
        // SAFETY: b.p is a live block of ours; mi_expand never moves it.
        let call = || unsafe { mi::mi_expand(void(b.p), size) };
        let q = if fits { call() } else { expecting(call) } as *mut u8;
        if fits != (q == b.p) || (!fits && !q.is_null()) {
            self.fail(&format!(
                "mi_expand({:p}, {size}) with usable size {} returned {q:p}",
                b.p, b.usable
            ));
        }
        if !fits {
            self.summary.refused += 1;
            return;
        }
        // SAFETY: b.size..size is within the usable size.
        unsafe { fill_range(b.p, b.size, size, b.seed as usize) };
        let nb = &mut self.blocks[i];
        nb.tail_zero = b.tail_zero && size >= b.size;
        nb.size = size;
        let nb = *nb;
        self.check_block(&nb, false, "after mi_expand");
    }

    fn op_free(&mut self, idx: usize, kind: FreeKind) {
        let Some(i) = self.pick(idx) else { return };
        let b = self.release(i, "before free");
        let p = void(b.p);
        // SAFETY: p was a live block of ours, now forgotten by the model and freed once.
        unsafe {
            match kind {
                FreeKind::Free => mi::mi_free(p),
                FreeKind::FreeSize => mi::mi_free_size(p, b.size),
                FreeKind::FreeAligned => mi::mi_free_aligned(p, b.align),
                FreeKind::FreeSizeAligned => mi::mi_free_size_aligned(p, b.size, b.align),
                FreeKind::Cfree => mi::mi_cfree(p),
            }
        }
        self.summary.frees += 1;
    }

    fn op_remote(&mut self, idx: usize, n: usize) {
        for _ in 0..n {
            let Some(i) = self.pick(idx) else { return };
            let b = self.release(i, "before handing to another thread");
            if helper().send(Msg::Free(b.p as usize)).is_err() {
                self.fail("the helper thread is gone");
            }
            self.summary.remote_frees += 1;
        }
    }

    fn op_remote_alloc(&mut self, size: usize, n: usize, zero: bool) {
        if !self.fits(size.saturating_mul(n), n) {
            self.summary.skipped += 1;
            return;
        }
        let (tx, rx) = mpsc::channel();
        if helper()
            .send(Msg::Alloc {
                size,
                n,
                zero,
                reply: tx,
            })
            .is_err()
        {
            self.fail("the helper thread is gone");
        }
        let Ok(v) = rx.recv() else {
            self.fail("the helper thread died")
        };
        for p in v {
            self.adopt(
                p as *mut u8,
                size,
                zero,
                natural_align(size),
                0,
                Owner::Helper,
                true,
                "malloc on another thread",
            );
            self.summary.remote_allocs += 1;
        }
    }

    fn op_visit(&mut self, to: Target) {
        let (h, owner) = self.resolve(to);
        // SAFETY: no preconditions.
        let h = h.unwrap_or_else(|| unsafe { mi::mi_heap_get_backing() });
        // blocks in flight to the helper are live to the allocator until freed
        self.sync_helper();
        unsafe extern "C" fn visitor(
            _heap: *const mi::mi_heap_t,
            area: *const mi::mi_heap_area_t,
            block: *mut c_void,
            size: usize,
            arg: *mut c_void,
        ) -> bool {
            // SAFETY: arg is the Visited passed below, alive for the whole call, and area is
            // the allocator's valid area description.
            let (v, area) = unsafe { (&mut *(arg as *mut Visited), &*area) };
            if !block.is_null() {
                // never grow the vector here: with `override` that would allocate from the
                // heap being walked, which a visitor must not do
                if v.blocks.len() < v.blocks.capacity() {
                    v.blocks.push((block as usize, size, area.full_block_size));
                } else {
                    v.overflow = true;
                }
            }
            true
        }
        struct Visited {
            blocks: Vec<(usize, usize, usize)>,
            overflow: bool,
        }
        let mut visited = Visited {
            blocks: Vec::with_capacity(self.blocks.len() + 16384),
            overflow: false,
        };
        // SAFETY: h is a live heap of this thread, the visitor matches the signature and only
        // writes to `visited` (never allocating).
        let all = unsafe {
            mi::mi_heap_visit_blocks(
                h,
                true,
                Some(visitor),
                &mut visited as *mut _ as *mut c_void,
            )
        };
        if !all {
            self.fail("mi_heap_visit_blocks stopped although the visitor never asked it to");
        }
        if visited.overflow {
            // only the backing heap may hold that many blocks the model does not know (with
            // `override`, everything the process allocates)
            if let Owner::Heap(_) = owner {
                self.fail(
                    "mi_heap_visit_blocks reported over 16384 blocks more than the model has",
                );
            }
            return;
        }
        let mut seen = visited.blocks;
        seen.sort_unstable();
        for w in seen.windows(2) {
            if w[0].0 + w[0].2 > w[1].0 {
                self.fail(&format!(
                    "mi_heap_visit_blocks reported overlapping blocks {:#x?} and {:#x?}",
                    w[0], w[1]
                ));
            }
        }
        let mut mine = 0;
        for b in self.blocks.iter().filter(|b| b.owner == owner) {
            mine += 1;
            let at = seen.partition_point(|&(s, _, _)| s <= b.p as usize);
            // the block's pointer (an interior one for an aligned block) and usable bytes lie
            // inside a reported block
            let found = at > 0 && {
                let (s, _, full) = seen[at - 1];
                b.p as usize + b.usable <= s + full
            };
            if !found {
                self.fail(&format!(
                    "mi_heap_visit_blocks on {owner:?} did not report the live block {:p} (size {}, usable {})",
                    b.p, b.size, b.usable
                ));
            }
        }
        // only a first-class heap holds nothing but the model's blocks (the backing heap also
        // holds the heap structures, and may adopt other threads' pages)
        if let Owner::Heap(_) = owner {
            if seen.len() != mine {
                self.fail(&format!(
                    "mi_heap_visit_blocks reported {} live blocks in {owner:?}, the model has {mine}",
                    seen.len()
                ));
            }
        }
    }

    fn op_heap_new(&mut self) {
        if self.heaps.len() >= MAX_HEAPS {
            return;
        }
        // SAFETY: no preconditions.
        let h = unsafe { mi::mi_heap_new() };
        if h.is_null() {
            self.fail("mi_heap_new returned NULL");
        }
        self.next_heap += 1;
        self.heaps.push(HeapRec {
            serial: self.next_heap,
            h,
        });
        self.summary.heaps += 1;
    }

    fn op_heap_delete(&mut self, k: usize) {
        if self.heaps.is_empty() {
            return;
        }
        let rec = self.heaps.remove(k % self.heaps.len());
        // SAFETY: a live heap of this thread, deleted once; its blocks stay valid.
        unsafe { mi::mi_heap_delete(rec.h) };
        for b in self
            .blocks
            .iter_mut()
            .filter(|b| b.owner == Owner::Heap(rec.serial))
        {
            b.owner = Owner::Backing;
        }
    }

    fn op_heap_destroy(&mut self, k: usize) {
        if self.heaps.is_empty() {
            return;
        }
        // frees of its blocks still in flight must land before the memory goes away
        self.sync_helper();
        let rec = self.heaps[k % self.heaps.len()];
        let mut i = 0;
        while i < self.blocks.len() {
            if self.blocks[i].owner == Owner::Heap(rec.serial) {
                // checked in full, ownership included, then forgotten: the destroy frees it
                self.release(i, "before mi_heap_destroy");
                self.summary.destroyed += 1;
            } else {
                i += 1;
            }
        }
        self.heaps.retain(|r| r.serial != rec.serial);
        // SAFETY: a live heap of this thread; the model forgot every block in it.
        unsafe { mi::mi_heap_destroy(rec.h) };
    }

    fn op_bad(&mut self, kind: u8, idx: usize, size: usize) {
        set_errno(0);
        match kind % 8 {
            0 => {
                let n = MAX_ALLOC - (size & 0xff) + (kind as usize >> 3);
                // SAFETY: allocation has no preconditions.
                let p = expecting(|| unsafe { mi::mi_malloc(n) });
                self.refused(p, ENOMEM, &format!("mi_malloc({n})"));
            }
            1 => {
                let n = usize::MAX - (size & 0xff);
                // SAFETY: allocation has no preconditions.
                let p = expecting(|| unsafe { mi::mi_zalloc_aligned(n, 16) });
                self.refused(p, ENOMEM, &format!("mi_zalloc_aligned({n}, 16)"));
            }
            2 | 3 => {
                // not a power of two (0 included)
                let align = (size & 0xffff) | 3;
                let align = if kind % 8 == 3 { 0 } else { align };
                // SAFETY: allocation has no preconditions.
                let p = expecting(|| unsafe { mi::mi_malloc_aligned(size & 0xfff, align) });
                self.refused(
                    p,
                    EINVAL,
                    &format!("mi_malloc_aligned({}, {align})", size & 0xfff),
                );
            }
            _ => {
                let Some(i) = self.pick(idx) else { return };
                let b = self.blocks[i];
                let p = void(b.p);
                let big = usize::MAX / 2 + 1 + (size & 0xff);
                // SAFETY: p is a live block of ours; every call here must refuse and leave it be.
                let (q, what) = expecting(|| unsafe {
                    match kind % 8 {
                        4 => (mi::mi_reallocn(p, 2, big), "mi_reallocn overflowing"),
                        5 => (mi::mi_recalloc(p, 3, big), "mi_recalloc overflowing"),
                        6 => (
                            mi::mi_realloc(p, MAX_ALLOC + 1 + (size & 0xff)),
                            "mi_realloc to more than PTRDIFF_MAX",
                        ),
                        _ => (
                            mi::mi_rezalloc_aligned(p, usize::MAX - (size & 0xff), 64),
                            "mi_rezalloc_aligned to SIZE_MAX",
                        ),
                    }
                });
                self.refused(q, ENOMEM, what);
                self.check_block(&b, true, "after a refused realloc");
            }
        }
    }

    /// Checks and frees everything, deletes the heaps, waits for the helper.
    fn finish(&mut self) {
        self.current = Op::Nop;
        self.sync_helper();
        while !self.blocks.is_empty() {
            let b = self.release(self.blocks.len() - 1, "at the end");
            // SAFETY: a live block of ours, forgotten by the model, freed once.
            unsafe { mi::mi_free(void(b.p)) };
        }
        for rec in self.heaps.drain(..) {
            // SAFETY: a live, now empty, heap of this thread.
            unsafe { mi::mi_heap_delete(rec.h) };
        }
        self.check_errors();
    }
}
