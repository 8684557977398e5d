//! Statistics and process information as data, plus collection and the text report.

use core::time::Duration;
use mimalloc_sys as sys;

/// A quantity that goes up and down: bytes or objects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count {
    /// Live now.
    pub current: i64,
    /// Highest `current` seen.
    pub peak: i64,
    /// Everything ever added.
    pub total: i64,
}

impl From<sys::mi_stat_count_t> for Count {
    fn from(c: sys::mi_stat_count_t) -> Self {
        Count {
            current: c.current,
            peak: c.peak,
            total: c.total,
        }
    }
}

/// Pages of one size class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SizeClass {
    /// Bytes per block of the class.
    pub block_size: usize,
    /// Pages of the class.
    pub pages: Count,
}

/// Number of size-class slots in [`Stats::size_classes`].
pub const SIZE_CLASS_SLOTS: usize = sys::MI_STAT_BINS as usize;

/// The allocator's statistics, process-wide (each thread's counters are merged in when it exits;
/// the calling thread's when this is taken).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Address space reserved from the OS, in bytes.
    pub reserved: Count,
    /// Memory committed, in bytes.
    pub committed: Count,
    /// Memory given back to the OS by purging, in bytes.
    pub purged: Count,
    /// Segments owned by threads.
    pub segments: Count,
    /// Segments of exited threads not yet adopted by another thread.
    pub segments_abandoned: Count,
    /// Empty segments kept for reuse.
    pub segments_cached: Count,
    /// Pages in use.
    pub pages: Count,
    /// Pages in abandoned segments.
    pub pages_abandoned: Count,
    /// Threads with allocator state.
    pub threads: Count,
    /// Bytes in pages of small, medium and large blocks.
    pub normal_bytes: Count,
    /// Bytes in huge blocks.
    pub huge_bytes: Count,
    /// Bytes requested by the program (debug builds only; zero otherwise).
    pub requested_bytes: Count,
    /// Mappings made.
    pub mmap_calls: i64,
    /// Unmappings made.
    pub munmap_calls: i64,
    /// Purges sent to the OS.
    pub purge_calls: i64,
    /// Abandoned segments adopted.
    pub reclaimed_segments: i64,
    /// Huge blocks handed out.
    pub huge_count: i64,
    /// Pages per size class (slots of unused classes are zero).
    pub size_classes: [SizeClass; SIZE_CLASS_SLOTS],
}

impl Stats {
    /// The size classes that have ever had a page.
    pub fn used_size_classes(&self) -> impl Iterator<Item = &SizeClass> {
        self.size_classes.iter().filter(|c| c.pages.total > 0)
    }
}

/// The current statistics.
///
/// ```
/// let v = vec![0u8; 100_000];
/// let st = mimalloc::stats();
/// assert!(st.reserved.current > 0 || st.reserved.total >= 0);
/// drop(v);
/// ```
pub fn stats() -> Stats {
    // SAFETY: mi_stats_t is plain data; mi_stats_get writes at most `size_of` bytes into it.
    let raw = unsafe {
        let mut raw: sys::mi_stats_t = core::mem::zeroed();
        sys::mi_stats_get(core::mem::size_of::<sys::mi_stats_t>(), &mut raw);
        raw
    };
    let mut size_classes = [SizeClass::default(); SIZE_CLASS_SLOTS];
    for (bin, class) in size_classes.iter_mut().enumerate() {
        // SAFETY: mi_stats_bin_block_size accepts any index.
        class.block_size = unsafe { sys::mi_stats_bin_block_size(bin) };
        class.pages = raw.normal_bins[bin].into();
    }
    Stats {
        reserved: raw.reserved.into(),
        committed: raw.committed.into(),
        purged: raw.purged.into(),
        segments: raw.segments.into(),
        segments_abandoned: raw.segments_abandoned.into(),
        segments_cached: raw.segments_cache.into(),
        pages: raw.pages.into(),
        pages_abandoned: raw.pages_abandoned.into(),
        threads: raw.threads.into(),
        normal_bytes: raw.normal.into(),
        huge_bytes: raw.huge.into(),
        requested_bytes: raw.malloc_requested.into(),
        mmap_calls: raw.mmap_calls.total,
        munmap_calls: raw.munmap_calls.total,
        purge_calls: raw.purge_calls.total,
        reclaimed_segments: raw.reclaimed.total,
        huge_count: raw.huge_count.total,
        size_classes,
    }
}

/// Facts about the process, as the allocator reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Time since the allocator started.
    pub elapsed: Duration,
    /// CPU time in user mode.
    pub user_time: Duration,
    /// CPU time in the kernel.
    pub system_time: Duration,
    /// Resident memory now, in bytes.
    pub current_rss: usize,
    /// Highest resident memory, in bytes (never below `current_rss`).
    pub peak_rss: usize,
    /// Memory the allocator has committed now, in bytes.
    pub current_commit: usize,
    /// Highest commit, in bytes.
    pub peak_commit: usize,
    /// Page faults (minor and major).
    pub page_faults: usize,
}

/// The process's times and memory.
///
/// ```
/// let info = mimalloc::process_info();
/// assert!(info.current_rss > 0 && info.peak_rss >= info.current_rss);
/// ```
pub fn process_info() -> ProcessInfo {
    let mut v = [0usize; 8];
    // SAFETY: every out-pointer points to a distinct, writable usize.
    unsafe {
        let [a, b, c, d, e, f, g, h] = &mut v;
        sys::mi_process_info(a, b, c, d, e, f, g, h);
    }
    let ms = |n: usize| Duration::from_millis(n as u64);
    ProcessInfo {
        elapsed: ms(v[0]),
        user_time: ms(v[1]),
        system_time: ms(v[2]),
        current_rss: v[3],
        peak_rss: v[4],
        current_commit: v[5],
        peak_commit: v[6],
        page_faults: v[7],
    }
}

/// Writes the statistics report (the same text as `MIMALLOC_SHOW_STATS=1`) to stderr, or to
/// the output registered with [`set_output`](crate::set_output).
pub fn stats_print() {
    // SAFETY: NULL selects the registered (or default) output.
    unsafe { sys::mi_stats_print_out(None, core::ptr::null_mut()) }
}

/// Restarts totals and peaks from the present values.
pub fn stats_reset() {
    // SAFETY: no preconditions.
    unsafe { sys::mi_stats_reset() }
}

/// Frees what the calling thread's heap no longer needs; with `force`, also returns empty
/// memory to the OS at once and adopts the segments of exited threads.
pub fn collect(force: bool) {
    // SAFETY: no preconditions.
    unsafe { sys::mi_collect(force) }
}
