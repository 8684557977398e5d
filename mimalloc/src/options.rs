//! Typed access to the allocator's options.

use mimalloc_sys as sys;

/// An option the allocator implements. Each is read once, lazily, from its environment
/// variable (`MIMALLOC_<NAME>`, case-insensitive; `1/true/yes/on` and `0/false/no/off` work for
/// switches); setting it from code afterwards wins, as upstream mimalloc documents. A build can
/// bake in other defaults with `MIMALLOC_DEFAULT_<NAME>` at build time (for example in
/// `.cargo/config.toml` under `[env]`), so they hold from the very first allocation.
///
/// Only the options this build implements are here. The C API (`mimalloc_sys::mi_option_*`)
/// accepts every member of upstream's `mi_option_t`, but those not listed here are not
/// supported by this build: they are stored and read back and change nothing, and
/// `MIMALLOC_VERBOSE=1` lists them as "not supported by this build" (setting one from the
/// environment also warns, with `MIMALLOC_VERBOSE=1` or `MIMALLOC_SHOW_ERRORS=1`).
///
/// ```
/// use mimalloc::MiOption;
///
/// MiOption::PurgeDelay.set(25);
/// assert_eq!(MiOption::PurgeDelay.get(), 25);
/// MiOption::ShowErrors.enable();
/// assert!(MiOption::ShowErrors.is_enabled());
/// assert_eq!(MiOption::PurgeDelay.env_var(), "MIMALLOC_PURGE_DELAY");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MiOption {
    /// Print error messages to stderr. Default: off (on in `secure` and `debug` builds).
    /// Environment: `MIMALLOC_SHOW_ERRORS`.
    ShowErrors,
    /// Print statistics to stderr when the process exits. Default: off.
    /// Environment: `MIMALLOC_SHOW_STATS`.
    ShowStats,
    /// Print informational messages (a banner, the options, statistics at exit). Default: off.
    /// Environment: `MIMALLOC_VERBOSE`.
    Verbose,
    /// Purge with `MADV_DONTNEED` (memory reads back as zero, resident memory drops at once) when
    /// on, or `MADV_FREE` (cheaper, the kernel reclaims lazily) when off. Default: on.
    /// Environment: `MIMALLOC_PURGE_DECOMMITS`.
    PurgeDecommits,
    /// Ask the OS for transparent huge pages (2 MiB): 0 never, 1 for every segment, 2 for
    /// huge blocks (above 2 MiB) and for the further small- and medium-object segments of a
    /// thread that already holds 16 of them (64 MiB), or 4 packed with live blocks; its
    /// earlier packed ones are then collapsed into huge pages (Linux 6.1 and later, not when
    /// the system's THP setting is "never"). Default: 2 on Linux, 0 elsewhere.
    /// Environment: `MIMALLOC_ALLOW_LARGE_OS_PAGES`.
    AllowLargeOsPages,
    /// Milliseconds an empty page waits before its memory is returned to the OS; 0 returns it
    /// at once, -1 never. A thread that takes pages again soon after their purge waits up to
    /// 8 times as long (for its own pages). Empty segments are kept ten times as long.
    /// Default: 10.
    /// Environment: `MIMALLOC_PURGE_DELAY`.
    PurgeDelay,
    /// Never map new memory from the OS: allocation fails instead. Default: off.
    /// Environment: `MIMALLOC_DISALLOW_OS_ALLOC`.
    DisallowOsAlloc,
    /// Show at most this many error messages. Default: 16. Environment: `MIMALLOC_MAX_ERRORS`.
    MaxErrors,
    /// Show at most this many warnings. Default: 16. Environment: `MIMALLOC_MAX_WARNINGS`.
    MaxWarnings,
    /// Abandoned segments (of exited threads) a thread looks at per attempt to adopt one.
    /// Default: 10. Environment: `MIMALLOC_MAX_SEGMENT_RECLAIM`.
    MaxSegmentReclaim,
}

/// `value` saturated to C's `long` (32 bits on some targets).
fn to_c_long(value: i64) -> core::ffi::c_long {
    core::ffi::c_long::try_from(value).unwrap_or(if value < 0 {
        core::ffi::c_long::MIN
    } else {
        core::ffi::c_long::MAX
    })
}

impl MiOption {
    /// Every option, in upstream's numbering order.
    pub const ALL: [MiOption; 10] = [
        MiOption::ShowErrors,
        MiOption::ShowStats,
        MiOption::Verbose,
        MiOption::PurgeDecommits,
        MiOption::AllowLargeOsPages,
        MiOption::PurgeDelay,
        MiOption::DisallowOsAlloc,
        MiOption::MaxErrors,
        MiOption::MaxWarnings,
        MiOption::MaxSegmentReclaim,
    ];

    /// The C `mi_option_t` value (upstream v2 numbering).
    pub fn raw(self) -> sys::mi_option_t {
        match self {
            MiOption::ShowErrors => sys::mi_option_show_errors,
            MiOption::ShowStats => sys::mi_option_show_stats,
            MiOption::Verbose => sys::mi_option_verbose,
            MiOption::PurgeDecommits => sys::mi_option_purge_decommits,
            MiOption::AllowLargeOsPages => sys::mi_option_allow_large_os_pages,
            MiOption::PurgeDelay => sys::mi_option_purge_delay,
            MiOption::DisallowOsAlloc => sys::mi_option_disallow_os_alloc,
            MiOption::MaxErrors => sys::mi_option_max_errors,
            MiOption::MaxWarnings => sys::mi_option_max_warnings,
            MiOption::MaxSegmentReclaim => sys::mi_option_max_segment_reclaim,
        }
    }

    /// The environment variable that sets this option.
    pub fn env_var(self) -> &'static str {
        match self {
            MiOption::ShowErrors => "MIMALLOC_SHOW_ERRORS",
            MiOption::ShowStats => "MIMALLOC_SHOW_STATS",
            MiOption::Verbose => "MIMALLOC_VERBOSE",
            MiOption::PurgeDecommits => "MIMALLOC_PURGE_DECOMMITS",
            MiOption::AllowLargeOsPages => "MIMALLOC_ALLOW_LARGE_OS_PAGES",
            MiOption::PurgeDelay => "MIMALLOC_PURGE_DELAY",
            MiOption::DisallowOsAlloc => "MIMALLOC_DISALLOW_OS_ALLOC",
            MiOption::MaxErrors => "MIMALLOC_MAX_ERRORS",
            MiOption::MaxWarnings => "MIMALLOC_MAX_WARNINGS",
            MiOption::MaxSegmentReclaim => "MIMALLOC_MAX_SEGMENT_RECLAIM",
        }
    }

    /// The current value (read from the environment on first use).
    pub fn get(self) -> i64 {
        // SAFETY: any mi_option_t value is accepted.
        unsafe { sys::mi_option_get(self.raw()) as i64 }
    }

    /// Sets the value; it wins over the environment from now on.
    pub fn set(self, value: i64) {
        // SAFETY: any mi_option_t value is accepted.
        unsafe { sys::mi_option_set(self.raw(), to_c_long(value)) }
    }

    /// Changes the default, which applies unless the environment or [`set`](Self::set) gave a value.
    pub fn set_default(self, value: i64) {
        // SAFETY: any mi_option_t value is accepted.
        unsafe { sys::mi_option_set_default(self.raw(), to_c_long(value)) }
    }

    /// Whether the option is non-zero.
    pub fn is_enabled(self) -> bool {
        self.get() != 0
    }

    /// Sets the option to 1.
    pub fn enable(self) {
        self.set(1)
    }

    /// Sets the option to 0.
    pub fn disable(self) {
        self.set(0)
    }
}
