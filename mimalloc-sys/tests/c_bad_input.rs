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

use mimalloc_sys::{mi_build_config, mi_build_config_t};
use std::path::{Path, PathBuf};
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

/// `c_src` beside the manifest (a symlink in the workspace, real files in a packaged crate).
fn c_src() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let local = manifest.join("c_src");
    if local.join("src/static.c").exists() {
        local
    } else {
        manifest.join("../c_src")
    }
}

/// The target triple this test binary runs on: the C program is built for the same machine.
/// Cargo gives build scripts `TARGET` but not tests, so it is named from the cfg values (an
/// explicit `TARGET` in the environment wins).
fn target_triple() -> String {
    if let Ok(t) = std::env::var("TARGET") {
        return t;
    }
    let arch = std::env::consts::ARCH;
    if cfg!(target_os = "linux") {
        let env = if cfg!(target_env = "musl") {
            "musl"
        } else {
            "gnu"
        };
        format!("{arch}-unknown-linux-{env}")
    } else if cfg!(target_os = "macos") {
        format!("{arch}-apple-darwin")
    } else {
        format!("{arch}-unknown-{}", std::env::consts::OS)
    }
}

/// Compiles test-bad-input.c with static.c into `exe`, in the library's build mode.
fn compile(exe: &Path, work: &Path, cfg: &mi_build_config_t) {
    let src = c_src();
    let target = target_triple();
    let mut build = cc::Build::new();
    build
        .target(&target)
        .host(&target)
        .opt_level(2)
        .debug(false)
        .out_dir(work)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .std("c11")
        .warnings(true)
        .extra_warnings(true)
        .include(src.join("include"))
        .include(src.join("test"))
        .define("_GNU_SOURCE", None)
        .define("MI_SECURE", cfg.secure.to_string().as_str())
        .define("MI_DEBUG", cfg.debug.to_string().as_str());
    for flag in [
        "-Wundef",
        "-Wstrict-prototypes",
        "-Wshadow",
        // the test passes impossible sizes on purpose
        "-Wno-alloc-size-larger-than",
    ] {
        build.flag_if_supported(flag);
    }
    if cfg.override_ {
        build.define("MI_MALLOC_OVERRIDE", "1");
        build.flag_if_supported("-fno-builtin-malloc");
    }
    if cfg.local_dynamic_tls {
        build.define("MI_LOCAL_DYNAMIC_TLS", "1");
    }
    if std::env::var_os("CI").is_some() {
        build.warnings_into_errors(true);
    }
    let compiler = build
        .try_get_compiler()
        .expect("the cc crate finds a C compiler for this target");
    let mut cmd = compiler.to_command();
    cmd.arg(src.join("test/test-bad-input.c"))
        .arg(src.join("src/static.c"))
        .arg("-o")
        .arg(exe)
        .arg("-lpthread");
    let out = cmd.output().expect("run the C compiler");
    assert!(
        out.status.success(),
        "compiling test-bad-input.c failed: {cmd:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn c_contract_edges_pass_in_this_build_mode() {
    let cfg = build_config();
    let work = std::env::temp_dir().join(format!("mimalloc-c-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("temp dir");
    let exe = work.join("test-bad-input");
    compile(&exe, &work, &cfg);

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
