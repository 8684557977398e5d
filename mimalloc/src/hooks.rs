//! Where the allocator's messages go, and who hears of its errors.

use core::ffi::{c_char, c_int, c_void, CStr};
use core::sync::atomic::{AtomicPtr, Ordering};
use mimalloc_sys as sys;

static OUTPUT: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());
static ERROR: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

unsafe extern "C" fn output_trampoline(msg: *const c_char, _arg: *mut c_void) {
    let f = OUTPUT.load(Ordering::Acquire);
    if f.is_null() || msg.is_null() {
        return;
    }
    // SAFETY: OUTPUT only ever holds a `fn(&str)` (set_output); msg is NUL-terminated (C side).
    let (f, text) = unsafe {
        (
            core::mem::transmute::<*mut (), fn(&str)>(f),
            CStr::from_ptr(msg),
        )
    };
    f(text.to_string_lossy_str());
}

unsafe extern "C" fn error_trampoline(err: c_int, _arg: *mut c_void) {
    let f = ERROR.load(Ordering::Acquire);
    if !f.is_null() {
        // SAFETY: ERROR only ever holds a `fn(i32)` (set_error_handler).
        let f = unsafe { core::mem::transmute::<*mut (), fn(i32)>(f) };
        f(err);
    }
}

trait LossyStr {
    fn to_string_lossy_str(&self) -> &str;
}

impl LossyStr for CStr {
    /// Messages are ASCII; anything else is cut at the first invalid byte (no allocation here:
    /// this runs inside the allocator).
    fn to_string_lossy_str(&self) -> &str {
        let bytes = self.to_bytes();
        match core::str::from_utf8(bytes) {
            Ok(s) => s,
            // SAFETY: valid_up_to marks a prefix that is valid UTF-8.
            Err(e) => unsafe { core::str::from_utf8_unchecked(&bytes[..e.valid_up_to()]) },
        }
    }
}

/// Sends the allocator's messages (errors, warnings, statistics reports) to `out` instead of
/// stderr; `None` restores stderr. The function runs inside the allocator and must not
/// allocate through it.
///
/// ```
/// fn quiet(_msg: &str) {}
/// mimalloc::set_output(Some(quiet));
/// mimalloc::stats_print(); // goes to `quiet`
/// mimalloc::set_output(None);
/// ```
pub fn set_output(out: Option<fn(&str)>) {
    match out {
        Some(f) => {
            OUTPUT.store(f as *mut (), Ordering::Release);
            // SAFETY: the trampoline matches mi_output_fun and ignores its argument.
            unsafe { sys::mi_register_output(Some(output_trampoline), core::ptr::null_mut()) }
        }
        None => {
            // SAFETY: NULL restores the default output.
            unsafe { sys::mi_register_output(None, core::ptr::null_mut()) };
            OUTPUT.store(core::ptr::null_mut(), Ordering::Release);
        }
    }
}

/// Calls `handler` with an `errno`-style code on every error the allocator detects:
/// `ENOMEM` (out of memory), `EOVERFLOW` (size too large), `EINVAL` (bad argument or foreign
/// pointer), `EAGAIN` (double free, refused), `EFAULT` (corrupted memory). With a handler
/// registered, checked builds no longer abort on a refused double free; corruption still
/// aborts. `None` removes the handler. The handler runs inside the allocator and must not
/// allocate through it.
///
/// ```
/// fn on_error(code: i32) { let _ = code; }
/// mimalloc::set_error_handler(Some(on_error));
/// mimalloc::set_error_handler(None);
/// ```
pub fn set_error_handler(handler: Option<fn(i32)>) {
    match handler {
        Some(f) => {
            ERROR.store(f as *mut (), Ordering::Release);
            // SAFETY: the trampoline matches mi_error_fun and ignores its argument.
            unsafe { sys::mi_register_error(Some(error_trampoline), core::ptr::null_mut()) }
        }
        None => {
            // SAFETY: NULL removes the handler.
            unsafe { sys::mi_register_error(None, core::ptr::null_mut()) };
            ERROR.store(core::ptr::null_mut(), Ordering::Release);
        }
    }
}
