//! The `valgrind` feature: memcheck learns about every block (client requests, see
//! `c_src/include/mimalloc/track.h`), so it reports faults in a program that allocates through
//! us as it does with glibc's malloc: leaks with their size and allocation stack, reads after
//! free, double and interior-pointer frees, writes one byte past the requested size; and a
//! program without faults gets no report at all ("ERROR SUMMARY: 0 errors", every block freed).
//!
//! The C programs in `tests/valgrind/scenarios.c` are compiled here with `c_src/src/static.c`
//! and `MI_TRACK_VALGRIND=1` in the default, secure and debug modes, and each scenario runs
//! under `valgrind --leak-check=full`. The Rust part re-executes this test binary under
//! valgrind: it is linked with the library this feature built, so it also proves the feature
//! reached the C code. Needs `valgrind` on the PATH; without it every test says so loudly and
//! passes (CI installs it).
#![cfg(feature = "valgrind")]

mod c_program;

use c_program::CProgram;
use core::ffi::c_void;
use mimalloc_sys::*;
use mimalloc_testkit::child::SCENARIO_TEST;
use mimalloc_testkit::valgrind::{
    self, assert_clean, assert_reports, available as valgrind_available, report,
};
use std::path::{Path, PathBuf};
use std::process::Output;

const SCENARIO_VAR: &str = "MI_VALGRIND_SCENARIO";

/// Compiles the scenarios with the allocator in one mode (`defines`), with debug info so that
/// memcheck's stacks name the program's functions.
fn compile_scenarios(mode: &str, defines: &[(&str, &str)], flags: &[&str]) -> (PathBuf, PathBuf) {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("valgrind-{}-{mode}", std::process::id()));
    std::fs::create_dir_all(&work).expect("temp dir");
    let exe = work.join("scenarios");
    let mut all = vec![("MI_TRACK_VALGRIND", "1")];
    all.extend_from_slice(defines);
    c_program::compile(&CProgram {
        source: &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/valgrind/scenarios.c"),
        exe: &exe,
        defines: &all,
        flags,
        opt_level: 1,
        debug: true,
    });
    (work, exe)
}

/// Every scenario of the C program in one build mode. `checked`: the mode's own double-free
/// check reports too (and stops the program), after memcheck's report.
fn c_scenarios_in_mode(mode: &str, defines: &[(&str, &str)], checked: bool) {
    if !valgrind_available(mode) {
        return;
    }
    let (work, exe) = compile_scenarios(mode, defines, &[]);
    let run = |scenario: &str| -> Output {
        valgrind::memcheck()
            .arg(&exe)
            .arg(scenario)
            .output()
            .expect("run valgrind")
    };

    let out = run("leak");
    assert_eq!(
        out.status.code(),
        Some(valgrind::ERROR_EXIT),
        "leak\n{}",
        report(&out)
    );
    assert_reports(
        "leak",
        &out,
        &[
            "1,234 bytes in 1 blocks are definitely lost",
            "mi_malloc",
            "leak_1234_bytes (scenarios.c:",
            "definitely lost: 1,234 bytes in 1 blocks",
        ],
    );

    let out = run("realloc-leak");
    assert_reports(
        "realloc-leak",
        &out,
        &[
            "1,100 bytes in 1 blocks are definitely lost",
            "mi_realloc",
            "leak_after_realloc (scenarios.c:",
        ],
    );

    let out = run("use-after-free");
    assert_reports(
        "use-after-free",
        &out,
        &[
            "Invalid read of size 1",
            "read_after_free (scenarios.c:",
            "0 bytes inside a block of size 100 free'd",
            "mi_free",
            "Block was alloc'd at",
            "mi_malloc",
        ],
    );

    let out = run("double-free");
    assert_reports(
        "double-free",
        &out,
        &[
            "Invalid free()",
            "free_twice (scenarios.c:",
            "0 bytes inside a block of size 64 free'd",
        ],
    );
    if checked {
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains("double free detected"),
            "{mode}: {}",
            report(&out)
        );
    }

    let out = run("interior-free");
    assert_reports(
        "interior-free",
        &out,
        &[
            "Invalid free()",
            "free_interior_pointer (scenarios.c:",
            "8 bytes inside a block of size 64 alloc'd",
        ],
    );

    let out = run("overflow");
    assert_reports(
        "overflow",
        &out,
        &[
            "Invalid write of size 1",
            "write_past_the_end (scenarios.c:",
            "0 bytes after a block of size 100 alloc'd",
        ],
    );

    let out = run("clean");
    assert_clean(&format!("clean ({mode})"), &out);
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn c_programs_default_mode() {
    c_scenarios_in_mode("default", &[], false);
}

#[test]
fn c_programs_secure_mode() {
    c_scenarios_in_mode("secure", &[("MI_SECURE", "4")], true);
}

#[test]
fn c_programs_debug_mode() {
    c_scenarios_in_mode("debug", &[("MI_DEBUG", "2")], true);
}

/// With the malloc override, valgrind by default replaces the program's exported malloc/free
/// with its own (then our allocator serves only mi_* calls); told that there is no user
/// allocator to intercept, it lets ours run, and our annotations make the reports the same,
/// for blocks libc allocates on the program's behalf too.
#[test]
fn c_programs_override_mode() {
    if !valgrind_available("override") {
        return;
    }
    let (work, exe) = compile_scenarios(
        "override",
        &[("MI_MALLOC_OVERRIDE", "1")],
        &["-fno-builtin-malloc"],
    );
    let run = |scenario: &str| -> Output {
        valgrind::memcheck()
            .arg("--soname-synonyms=somalloc=nouserintercepts")
            .arg(&exe)
            .arg(scenario)
            .output()
            .expect("run valgrind")
    };
    let out = run("libc-leak");
    assert_reports(
        "libc-leak",
        &out,
        &[
            "37 bytes in 1 blocks are definitely lost",
            "strdup",
            "leak_through_libc (scenarios.c:",
        ],
    );
    let out = run("use-after-free");
    assert_reports(
        "use-after-free (override)",
        &out,
        &[
            "Invalid read of size 1",
            "0 bytes inside a block of size 100 free'd",
        ],
    );
    // stdio's buffers come from our malloc here, and glibc frees them at exit
    let out = run("clean");
    assert_clean("clean (override)", &out);
    let _ = std::fs::remove_dir_all(&work);
}

/// The Rust side: this test binary, linked with the library the feature built, re-executed
/// under valgrind with a scenario. With `override` the binary exports malloc, which valgrind
/// would replace with its own (and then blocks from mi_* calls would reach valgrind's free).
fn run_rust_child(scenario: &str) -> Output {
    let options: &[&str] = if cfg!(feature = "override") {
        &["--soname-synonyms=somalloc=nouserintercepts"]
    } else {
        &[]
    };
    valgrind::rerun(SCENARIO_TEST, options)
        .env(SCENARIO_VAR, scenario)
        .output()
        .expect("run valgrind")
}

/// Not a test of its own: the body of the re-executed child (does nothing without the variable).
#[test]
fn scenario_child() {
    let Ok(scenario) = std::env::var(SCENARIO_VAR) else {
        return;
    };
    // SAFETY: every block is used within its size and freed once, except in `leak`, which drops
    // one on purpose; the heap is destroyed by the thread that created it.
    unsafe {
        match scenario.as_str() {
            "clean" => {
                for size in [1usize, 100, 5000, 300_000] {
                    let p = mi_malloc(size) as *mut u8;
                    core::ptr::write_bytes(p, 1, mi_usable_size(p as *const c_void));
                    let q = mi_realloc(p as *mut c_void, size * 2) as *mut u8;
                    assert_eq!(*q, 1);
                    mi_free(q as *mut c_void);
                    let z = mi_calloc(size, 2) as *mut u8;
                    assert_eq!(*z.add(size * 2 - 1), 0);
                    mi_free(z as *mut c_void);
                    let a = mi_malloc_aligned(size, 256) as *mut u8;
                    assert_eq!(a as usize % 256, 0);
                    core::ptr::write_bytes(a, 2, size);
                    mi_free(a as *mut c_void);
                }
                let heap = mi_heap_new();
                for i in 0..100 {
                    let p = mi_heap_malloc_aligned(heap, 24 + i, 64) as *mut u8;
                    core::ptr::write_bytes(p, 3, 24 + i);
                }
                mi_heap_destroy(heap);
                let sent = mi_malloc(64) as usize;
                std::thread::spawn(move || mi_free(sent as *mut c_void))
                    .join()
                    .expect("thread");
            }
            "leak" => {
                let p = mi_malloc(4321) as *mut u8;
                core::ptr::write_bytes(p, 4, 4321);
                core::hint::black_box(p);
            }
            other => panic!("unknown scenario {other}"),
        }
    }
}

#[test]
fn rust_program_runs_clean_under_memcheck() {
    if !valgrind_available("rust_program_runs_clean_under_memcheck") {
        return;
    }
    let out = run_rust_child("clean");
    // the test harness's own allocations (glibc malloc) may be live at exit: only a definite
    // leak would be ours, which is what assert_clean looks for
    assert_clean("rust program", &out);
}

#[test]
fn rust_leak_is_reported_with_its_size() {
    if !valgrind_available("rust_leak_is_reported_with_its_size") {
        return;
    }
    assert!(
        mimalloc_testkit::sys::build_config().valgrind,
        "the valgrind feature did not reach the C build"
    );
    let out = run_rust_child("leak");
    assert_reports(
        "rust leak",
        &out,
        // (the library is built without debug info, so its own frames may be folded away)
        &[
            "4,321 bytes in 1 blocks are definitely lost",
            "scenario_child",
        ],
    );
}
