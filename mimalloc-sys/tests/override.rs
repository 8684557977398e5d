//! With the `override` feature, the process's C code allocates through us: libc's own internal
//! allocations, and a C library compiled here at test time and loaded with dlopen, both get
//! blocks that our heap owns.
//!
//! Not on macOS or Windows: build.rs builds the feature without effect there (no malloc zone
//! yet; the C runtime's heap cannot be replaced by a static library), with a warning.
#![cfg(all(feature = "override", not(any(windows, target_vendor = "apple"))))]

use core::ffi::{c_char, c_void};
use mimalloc_sys::*;
use std::process::Command;

const C_SOURCE: &str = r#"
#include <stdlib.h>
#include <string.h>
void* c_dependency_alloc(size_t n) { char* p = malloc(n); if (p) memset(p, 1, n); return p; }
char* c_dependency_dup(const char* s) { return strdup(s); }
void c_dependency_free(void* p) { free(p); }
"#;

#[test]
fn libc_internals_allocate_through_us() {
    // SAFETY: strdup returns a malloc'ed copy (or NULL); we free it with free.
    unsafe {
        let s = libc::strdup(c"through libc".as_ptr());
        assert!(!s.is_null());
        assert!(
            mi_check_owned(s as *const c_void),
            "libc's strdup did not use our malloc"
        );
        libc::free(s as *mut c_void);
        let p = libc::malloc(1000);
        assert!(mi_check_owned(p));
        assert!(mi_usable_size(p) >= 1000);
        libc::free(p);
    }
}

#[test]
fn a_c_library_built_here_allocates_through_us() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("override-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let src = dir.join("dep.c");
    let lib = dir.join("libdep.so");
    std::fs::write(&src, C_SOURCE).expect("write C source");
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .expect("a C compiler (cc) is needed for this test");
    assert!(status.success(), "compiling the C dependency failed");
    let path = std::ffi::CString::new(lib.to_str().expect("utf-8 path")).expect("no NUL");
    // SAFETY: the library and its symbols are the ones compiled above, with these signatures.
    unsafe {
        let handle = libc::dlopen(path.as_ptr(), libc::RTLD_NOW);
        assert!(!handle.is_null(), "dlopen failed");
        let alloc: extern "C" fn(usize) -> *mut c_void =
            std::mem::transmute(libc::dlsym(handle, c"c_dependency_alloc".as_ptr()));
        let dup: extern "C" fn(*const c_char) -> *mut c_char =
            std::mem::transmute(libc::dlsym(handle, c"c_dependency_dup".as_ptr()));
        let free: extern "C" fn(*mut c_void) =
            std::mem::transmute(libc::dlsym(handle, c"c_dependency_free".as_ptr()));
        for n in [1usize, 100, 5000, 300_000, 5 << 20] {
            let p = alloc(n);
            assert!(
                mi_check_owned(p),
                "a block of {n} bytes from the C library is not ours"
            );
            free(p);
        }
        let s = dup(c"copied".as_ptr());
        assert!(mi_check_owned(s as *const c_void));
        free(s as *mut c_void);
        libc::dlclose(handle);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_library_says_it_is_redirected() {
    // SAFETY: no preconditions.
    assert!(unsafe { mi_is_redirected() });
}

/// NetBSD's `reallocarr`, exported by the override (glibc has none, so the name can only be
/// ours): 0 or an errno value, the pointer replaced on success only.
#[test]
fn reallocarr_is_exported_with_its_contract() {
    unsafe extern "C" {
        fn reallocarr(ptrp: *mut c_void, count: usize, size: usize) -> i32;
    }
    // SAFETY: `p` is a malloc'ed block owned here; reallocarr gets the address of the pointer
    // and replaces it only when it returns 0; the final block is freed once.
    unsafe {
        let mut p = libc::malloc(10);
        assert_eq!(
            reallocarr(&mut p as *mut *mut c_void as *mut c_void, 100, 10),
            0
        );
        assert!(mi_check_owned(p) && mi_usable_size(p) >= 1000);
        let before = p;
        assert_eq!(
            reallocarr(&mut p as *mut *mut c_void as *mut c_void, usize::MAX / 2, 4),
            libc::ENOMEM
        );
        assert_eq!(p, before, "the pointer is untouched on failure");
        libc::free(p);
    }
}
