//! Compiles the allocator in `c_src/` as one translation unit and maps cargo features to the
//! C build-time levels. No bindgen and no network here: the bindings are committed.

use std::env;
use std::path::PathBuf;

/// Cargo feature → C define. The meaning of each level lives in `c_src/include/mimalloc/types.h`.
const FEATURE_DEFINES: &[(&str, &str, &str)] = &[
    ("SECURE", "MI_SECURE", "4"),
    ("DEBUG", "MI_DEBUG", "2"),
    ("DEBUG_FULL", "MI_DEBUG", "3"),
    ("OVERRIDE", "MI_MALLOC_OVERRIDE", "1"),
];

/// Environment knobs this script reads; cargo reruns it when one changes.
const ENV_KNOBS: &[&str] = &["MIMALLOC_SYS_CFLAGS", "MIMALLOC_SYS_WERROR", "CI"];

fn feature(name: &str) -> bool {
    env::var_os(format!("CARGO_FEATURE_{name}")).is_some()
}

/// The C sources: `c_src` beside the manifest (a symlink in the workspace, real files in a
/// packaged crate).
fn c_src_dir() -> PathBuf {
    let manifest =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let local = manifest.join("c_src");
    if local.join("src/static.c").exists() {
        local
    } else {
        manifest.join("../c_src")
    }
}

fn rerun_triggers(c_src: &std::path::Path) {
    println!("cargo:rerun-if-changed=build.rs");
    // A directory path makes cargo rescan every file below it.
    println!("cargo:rerun-if-changed={}", c_src.display());
    for knob in ENV_KNOBS {
        println!("cargo:rerun-if-env-changed={knob}");
    }
}

/// Collects the defines the enabled features ask for, refusing contradictory combinations.
fn feature_defines() -> Vec<(&'static str, &'static str)> {
    let mut defines = Vec::new();
    for (feat, define, value) in FEATURE_DEFINES {
        if feature(feat) {
            defines.push((*define, *value));
        }
    }
    // debug_in_debug: debug checks only in a debug-assertions build of the final profile.
    if feature("DEBUG_IN_DEBUG")
        && env::var("PROFILE").map(|p| p == "debug").unwrap_or(false)
        && !defines.iter().any(|(d, _)| *d == "MI_DEBUG")
    {
        defines.push(("MI_DEBUG", "2"));
    }
    // debug_full implies debug: keep the stronger level only.
    if defines.iter().filter(|(d, _)| *d == "MI_DEBUG").count() > 1 {
        defines.retain(|(d, v)| *d != "MI_DEBUG" || *v == "3");
    }
    for (define, value) in &defines {
        println!("cargo:warning=mimalloc-sys: building with {define}={value}");
    }
    defines
}

/// Target-specific settings, one reason per line.
fn target_settings(build: &mut cc::Build) {
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    // initial-exec TLS is one instruction per access; local-dynamic survives dlopen.
    if feature("LOCAL_DYNAMIC_TLS") {
        build.flag_if_supported("-ftls-model=local-dynamic");
        build.define("MI_LOCAL_DYNAMIC_TLS", "1");
    } else {
        build.flag_if_supported("-ftls-model=initial-exec");
    }
    // Exporting malloc means the compiler must not treat our own malloc calls as builtins.
    if feature("OVERRIDE") {
        build.flag_if_supported("-fno-builtin-malloc");
    } else {
        // Two copies of the allocator in one process must never bind to each other's symbols.
        build.flag_if_supported("-fvisibility=hidden");
    }
    if os == "linux" || os == "android" || os == "freebsd" {
        println!("cargo:rustc-link-lib=pthread");
    }
}

fn main() {
    let c_src = c_src_dir();
    rerun_triggers(&c_src);

    let mut build = cc::Build::new();
    build
        .std("c11")
        .include(c_src.join("include"))
        .file(c_src.join("src/static.c"))
        .opt_level(3)
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-Wundef")
        .flag_if_supported("-Wstrict-prototypes")
        .flag_if_supported("-Wshadow")
        .flag_if_supported("-fno-semantic-interposition")
        .define("_GNU_SOURCE", None);
    for (define, value) in feature_defines() {
        build.define(define, value);
    }
    target_settings(&mut build);
    if env::var_os("CI").is_some() || env::var_os("MIMALLOC_SYS_WERROR").is_some() {
        build.warnings_into_errors(true);
    }
    if let Ok(extra) = env::var("MIMALLOC_SYS_CFLAGS") {
        for flag in extra.split_whitespace() {
            build.flag(flag);
        }
    }
    build.compile("mimalloc");
    println!("cargo:include={}", c_src.join("include").display());
}
