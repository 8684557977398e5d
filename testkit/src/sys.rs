//! What the allocator says about itself and the process: statistics, resident memory, the
//! build configuration, whether libc's malloc is ours.

use mimalloc_sys::{mi_build_config, mi_build_config_t, mi_stats_get, mi_stats_t};

/// The allocator's process-wide statistics (the calling thread's are merged first).
pub fn stats() -> mi_stats_t {
    // SAFETY: mi_stats_t is plain data; mi_stats_get fills at most `size` bytes of it.
    unsafe {
        let mut st: mi_stats_t = core::mem::zeroed();
        mi_stats_get(core::mem::size_of::<mi_stats_t>(), &mut st);
        st
    }
}

/// What the C code was built with (secure and debug levels, tracking, overriding).
pub fn build_config() -> mi_build_config_t {
    // SAFETY: the struct holds only integers and bools, for which all-zero bytes are valid;
    // mi_build_config fills the struct it is given.
    unsafe {
        let mut c: mi_build_config_t = core::mem::zeroed();
        mi_build_config(&mut c);
        c
    }
}

/// Whether the build checks what programs do wrong (a secure or debug level above 0).
pub fn checked_build() -> bool {
    let c = build_config();
    c.secure > 0 || c.debug > 0
}

/// Whether the C side also serves libc's malloc (the `override` feature): then the test
/// harness's and libc's own allocations land in our heaps and statistics too.
pub fn redirected() -> bool {
    // SAFETY: no preconditions.
    unsafe { mimalloc_sys::mi_is_redirected() }
}

/// Resident set size of this process in bytes: field 2 of /proc/self/statm times the page size.
#[cfg(target_os = "linux")]
pub fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .expect("statm field 2")
        .parse()
        .expect("number");
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize
}

/// Resident set size of this process in bytes, as the OS layer reports it (Windows: the
/// working set from K32GetProcessMemoryInfo).
#[cfg(not(target_os = "linux"))]
pub fn rss_bytes() -> usize {
    let mut rss = 0usize;
    // SAFETY: every out-pointer is either null (not wanted) or a valid local.
    unsafe {
        mimalloc_sys::mi_process_info(
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            &mut rss,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            core::ptr::null_mut(),
        )
    };
    rss
}
