//! Builds and runs the C contract test `c_src/test/test-bad-input.c` (impossible sizes swept,
//! overflowing products, size + alignment overflow, zero sizes, bad alignments, realloc of NULL,
//! aligned realloc to larger alignments, mi_expand, rezalloc's zeroed growth) in the build mode
//! of this test run: the C file is compiled together with `c_src/src/static.c` using the levels
//! the linked library reports through `mi_build_config` (so `--features secure` runs it with
//! `MI_SECURE=4`, `--features debug` with `MI_DEBUG=2`, `override` with malloc exported), with
//! the compiler the `cc` crate picks for the build script (`CC`, `CFLAGS` and friends apply).
//!
//! Holds: the program exits 0 and its last line reads `N passed, 0 failed`, with the full sweep
//! run (over three million checks).

mod c_program;

use c_program::CProgram;
use mimalloc_sys::{mi_build_config, mi_build_config_t};
use std::path::Path;
use std::process::Command;

/// The library's build levels, as the C side reports them.
fn build_config() -> mi_build_config_t {
    // SAFETY: mi_build_config fills the plain struct it is given.
    unsafe {
        let mut c: mi_build_config_t = core::mem::zeroed();
        mi_build_config(&mut c);
        c
    }
}

/// Compiles test-bad-input.c with static.c into `exe`, in the library's build mode.
fn compile(exe: &Path, cfg: &mi_build_config_t) {
    let secure = cfg.secure.to_string();
    let debug = cfg.debug.to_string();
    let mut defines = vec![("MI_SECURE", secure.as_str()), ("MI_DEBUG", debug.as_str())];
    // the test passes impossible sizes on purpose
    let mut flags = vec!["-Wno-alloc-size-larger-than"];
    if cfg.override_ {
        defines.push(("MI_MALLOC_OVERRIDE", "1"));
        flags.push("-fno-builtin-malloc");
    }
    if cfg.local_dynamic_tls {
        defines.push(("MI_LOCAL_DYNAMIC_TLS", "1"));
    }
    c_program::compile(&CProgram {
        source: &c_program::c_src().join("test/test-bad-input.c"),
        exe,
        defines: &defines,
        flags: &flags,
        opt_level: 2,
        debug: false,
    });
}

#[test]
fn c_contract_edges_pass_in_this_build_mode() {
    let cfg = build_config();
    let work =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("c-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("temp dir");
    let exe = work.join("test-bad-input");
    compile(&exe, &cfg);

    let out = Command::new(&exe)
        .env_remove("MIMALLOC_SHOW_ERRORS")
        .env_remove("MIMALLOC_VERBOSE")
        .output()
        .expect("run test-bad-input");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&work);
    let checks: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("check failed") || l.contains("unexpected"))
        .collect();
    assert!(
        out.status.success() && checks.is_empty(),
        "test-bad-input failed ({:?}):\n{stdout}\n{}",
        out.status,
        checks.join("\n")
    );
    let summary = stdout.lines().last().unwrap_or_default();
    let (passed, failed) = summary
        .split_once(" passed, ")
        .expect("a closing `N passed, N failed` line");
    assert_eq!(failed, "0 failed", "summary: {summary}");
    let passed: u64 = passed.parse().expect("a count of passed checks");
    assert!(
        passed > 3_000_000,
        "only {passed} checks ran: the sweep is incomplete"
    );
    let mode = format!("secure {}, debug {};", cfg.secure, cfg.debug);
    assert!(
        stdout.contains(&mode),
        "the C program was not built in this mode ({mode}):\n{stdout}"
    );
    eprintln!("{}", stdout.trim_end());
}
