//! The C library's `errno` of the calling thread, which the allocator sets on failure.

/// This thread's C `errno` slot, wherever the C library keeps it.
fn slot() -> *mut i32 {
    // SAFETY: each returns this thread's errno slot; no preconditions.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return unsafe { libc::__errno_location() };
    // SAFETY: as above.
    #[cfg(any(target_vendor = "apple", target_os = "freebsd"))]
    return unsafe { libc::__error() };
    // The C runtime's (msvcrt or UCRT: both export `_errno`), which the C code sets.
    #[cfg(windows)]
    {
        extern "C" {
            fn _errno() -> *mut i32;
        }
        // SAFETY: as above.
        unsafe { _errno() }
    }
}

/// This thread's `errno`.
pub fn errno() -> i32 {
    // SAFETY: a valid slot of this thread.
    unsafe { *slot() }
}

/// Sets this thread's `errno`.
pub fn set_errno(v: i32) {
    // SAFETY: a valid slot of this thread.
    unsafe { *slot() = v };
}

/// Sets this thread's `errno` to 0, so a later failure is seen to set it.
pub fn clear_errno() {
    set_errno(0);
}

/// `ENOMEM`, the same number on every target the tests run on.
pub const ENOMEM: i32 = 12;
/// `EINVAL`, likewise.
pub const EINVAL: i32 = 22;
