//! Shared by the tests that compile a C program together with the allocator at test time
//! (`c_bad_input.rs`, `valgrind.rs`): where `c_src` is, which target the program is built for,
//! and one compile step with the house warning set, so each test only says what it builds.

use std::path::{Path, PathBuf};

/// `c_src` beside the manifest (a symlink in the workspace, real files in a packaged crate).
pub fn c_src() -> PathBuf {
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

/// What one C program needs beyond the allocator's sources.
pub struct CProgram<'a> {
    /// The program's own source file.
    pub source: &'a Path,
    /// Where the executable goes (its directory holds the compiler's scratch files too).
    pub exe: &'a Path,
    /// Defines on top of `_GNU_SOURCE` (build levels such as `MI_SECURE`).
    pub defines: &'a [(&'a str, &'a str)],
    /// Extra compiler flags, each used only where the compiler supports it.
    pub flags: &'a [&'a str],
    /// `-O` level.
    pub opt_level: u32,
    /// Debug info (memcheck's stacks name functions with it).
    pub debug: bool,
}

/// Compiles `program.source` with `c_src/src/static.c` into `program.exe`, with the compiler the
/// `cc` crate picks for the build script (`CC`, `CFLAGS` and friends apply), the house warning
/// set, and warnings as errors under CI. Panics with the compiler's output on failure.
pub fn compile(program: &CProgram) {
    let src = c_src();
    let target = target_triple();
    let work = program.exe.parent().unwrap_or(Path::new("."));
    let mut build = cc::Build::new();
    build
        .target(&target)
        .host(&target)
        .opt_level(program.opt_level)
        .debug(program.debug)
        .out_dir(work)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .std("c11")
        .warnings(true)
        .extra_warnings(true)
        .include(src.join("include"))
        .include(src.join("test"))
        .define("_GNU_SOURCE", None);
    for (name, value) in program.defines {
        build.define(name, *value);
    }
    let house = std::fs::read_to_string(src.join("warnings.txt")).expect("read c_src/warnings.txt");
    for flag in house
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('-'))
        .chain(program.flags.iter().copied())
    {
        build.flag_if_supported(flag);
    }
    if std::env::var_os("CI").is_some() {
        build.warnings_into_errors(true);
    }
    let compiler = build
        .try_get_compiler()
        .expect("the cc crate finds a C compiler for this target");
    let mut cmd = compiler.to_command();
    cmd.arg(program.source)
        .arg(src.join("src/static.c"))
        .arg("-o")
        .arg(program.exe)
        .arg("-lpthread");
    let out = cmd.output().expect("run the C compiler");
    assert!(
        out.status.success(),
        "compiling {} failed: {cmd:?}\n{}",
        program.source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
