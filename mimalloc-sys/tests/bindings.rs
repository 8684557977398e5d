//! The committed bindings must be exactly what bindgen makes of `c_src/include/mimalloc.h`, so
//! header and bindings cannot drift apart. There is one file per pointer width, because the
//! public structs hold `size_t` fields (and bindgen writes their sizes into layout assertions):
//! `src/bindings.rs` for 64-bit targets, `src/bindings_32.rs` for 32-bit ones. Each file is
//! generated for every target listed with it and must come out byte-identical for each: the
//! header keeps layouts target-independent within a width (64-bit counters explicitly 8-byte
//! aligned, as i686 would align them to 4; no `long` in a struct, as Windows' is 32 bits).
//!
//! Run with `BLESS=1` to rewrite the files after changing the header:
//!
//! ```text
//! BLESS=1 cargo test -p mimalloc-sys --test bindings
//! ```
//!
//! Needs libclang at test time (`apt-get install libclang-dev`), with its built-in targets (no
//! target C library: the header is parsed against three tiny standard headers written here);
//! the library itself never runs bindgen. The output depends only on the header, the target
//! list and the bindgen/libclang versions: no absolute path, date or host name ends up in it.
//! Runs on the build host (it is skipped where no libclang can be loaded, such as a
//! cross-compiled test run under qemu), and is not compiled at all for 32-bit targets, where
//! bindgen is no dev-dependency: those test builds are always cross builds, and the host's run
//! checks their bindings.
#![cfg(target_pointer_width = "64")]

use std::path::{Path, PathBuf};

/// The header the bindings are generated from, relative to this crate's manifest.
const HEADER: &str = "c_src/include/mimalloc.h";

/// Each committed bindings file (relative to the manifest), what it is for, and the clang
/// targets it must equal bindgen's output for; the first one is what `BLESS=1` writes, and the
/// others may differ from it only in alignment hints (see `without_align_hints`).
const BINDINGS: &[(&str, &str, &[&str])] = &[
    (
        "src/bindings.rs",
        "64-bit targets",
        &[
            "x86_64-unknown-linux-gnu",
            "aarch64-unknown-linux-gnu",
            "x86_64-unknown-linux-musl",
            "x86_64-apple-darwin",
            "aarch64-apple-darwin",
            "x86_64-unknown-freebsd",
            "x86_64-pc-windows-gnu",
        ],
    ),
    (
        "src/bindings_32.rs",
        "32-bit targets",
        &["i686-unknown-linux-gnu", "armv7-unknown-linux-gnueabihf"],
    ),
];

/// The `rust-version` of the workspace (`x.y`), so the bindings use no newer syntax than the
/// crates promise to build with.
fn rust_target() -> bindgen::RustTarget {
    let version = env!("CARGO_PKG_RUST_VERSION");
    let minor = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("rust-version {version:?} is not of the form 1.x"));
    bindgen::RustTarget::stable(minor, 0)
        .unwrap_or_else(|e| panic!("bindgen does not know Rust {version}: {e}"))
}

/// The three standard headers `mimalloc.h` includes, written from the target's own predefined
/// type macros (what clang's and GCC's headers do too). Parsing against these instead of the
/// installed ones makes the output independent of the host: libclang loaded without a `clang`
/// executable finds its own headers for some targets only (Debian's finds them for Linux, not
/// for macOS, FreeBSD or Windows), and no target's C library needs to be installed. Bindgen
/// maps `size_t`, `int64_t`, ... by name, so the bindings are those of the real headers.
const STD_HEADERS: &[(&str, &str)] = &[
    (
        "stddef.h",
        "typedef __SIZE_TYPE__ size_t;\ntypedef __PTRDIFF_TYPE__ ptrdiff_t;\n\
         typedef __WCHAR_TYPE__ wchar_t;\n#define NULL ((void*)0)\n",
    ),
    (
        "stdint.h",
        "typedef __INT8_TYPE__ int8_t;\ntypedef __INT16_TYPE__ int16_t;\n\
         typedef __INT32_TYPE__ int32_t;\ntypedef __INT64_TYPE__ int64_t;\n\
         typedef __UINT8_TYPE__ uint8_t;\ntypedef __UINT16_TYPE__ uint16_t;\n\
         typedef __UINT32_TYPE__ uint32_t;\ntypedef __UINT64_TYPE__ uint64_t;\n\
         typedef __INTPTR_TYPE__ intptr_t;\ntypedef __UINTPTR_TYPE__ uintptr_t;\n",
    ),
    (
        "stdbool.h",
        "#define bool _Bool\n#define true 1\n#define false 0\n",
    ),
];

/// A directory holding [`STD_HEADERS`], in cargo's scratch space for integration tests.
fn std_headers_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mimalloc-sys-bindgen-include");
    std::fs::create_dir_all(&dir).expect("create the bindgen include directory");
    for (name, text) in STD_HEADERS {
        std::fs::write(dir.join(name), text).expect("write a bindgen include header");
    }
    dir
}

/// The one bindgen configuration of this crate (no second copy anywhere else), for one clang
/// target triple.
fn bindgen_config(header: &Path, std_headers: &Path, target: &str, what: &str) -> bindgen::Builder {
    bindgen::Builder::default()
        .header(header.to_str().expect("the header path is UTF-8"))
        .clang_arg("-std=c11")
        .clang_arg(format!("--target={target}"))
        // mi_option_t as `c_int`, as crates.io libmimalloc-sys has it (see the header).
        .clang_arg("-DMI_OPTION_AS_INT")
        .clang_arg("-Wno-fixed-enum-extension")
        .clang_arg("-nostdinc")
        .clang_arg("-isystem")
        .clang_arg(std_headers.to_str().expect("the include path is UTF-8"))
        // Only the public API: functions, types and constants of our own prefix. Enum
        // constants (and `_mi_option_last`) come with the allowlisted `mi_option_e`.
        .allowlist_function("^mi_.*")
        .allowlist_type("^mi_.*")
        .allowlist_var("^mi_.*")
        .allowlist_var("^MI_.*")
        .allowlist_var("^_mi_option_last$")
        // Its width and signedness differ by target (16 bits on Windows), and each file must
        // serve every target of its width: lib.rs defines it per target instead.
        .blocklist_type("wchar_t")
        // Each option is a constant named exactly as in C: `mi_option_show_stats`.
        .prepend_enum_name(false)
        .use_core()
        .size_t_is_usize(true)
        .layout_tests(true)
        .generate_comments(true)
        // Formatted in-process, so the output does not depend on which rustfmt (if any) the
        // toolchain running the test has. `cargo fmt` does not touch the file (it is
        // `include!`d, not a module), so this formatting is the one committed.
        .formatter(bindgen::Formatter::Prettyplease)
        .rust_target(rust_target())
        .raw_line(format!(
            "// Generated by bindgen from c_src/include/mimalloc.h for {what}; do not edit."
        ))
        .raw_line("// Regenerate: BLESS=1 cargo test -p mimalloc-sys --test bindings")
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A line diff (longest common subsequence) in unified style, with `context` lines around
/// each change; enough to see at a glance what the header change did to the bindings.
fn line_diff(old: &str, new: &str, context: usize) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // (tag, old line number, text); tag ' ' keeps, '-' removes, '+' adds.
    let mut ops: Vec<(char, usize, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', i + 1, a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', i + 1, a[i]));
            i += 1;
        } else {
            ops.push(('+', i + 1, b[j]));
            j += 1;
        }
    }
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    let mut out = String::new();
    let mut shown_until = 0;
    for (n, &k) in changed.iter().enumerate() {
        if k < shown_until {
            continue; // already printed as part of the previous hunk
        }
        let start = k.saturating_sub(context).max(shown_until);
        if n == 0 || start > shown_until {
            out.push_str(&format!("@@ committed line {} @@\n", ops[start].1));
        }
        let end = (k + context + 1).min(ops.len());
        for op in &ops[start..end] {
            out.push_str(&format!("{}{}\n", op.0, op.2));
        }
        shown_until = shown_until.max(end);
    }
    out
}

/// The file without bindgen's `#[repr(align(N))]` lines. Bindgen writes one where a C struct is
/// more aligned than its Rust fields would make it: i686 aligns `int64_t` fields to 4, so the
/// 8-aligned counters need it there, and armv7 (8 already) does not. Which target needs the hint
/// is no difference in layout: the layout assertions (size, alignment, every field offset, as
/// clang computed them for that target) stay in the comparison.
fn without_align_hints(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("#[repr(align("))
        .flat_map(|line| [line, "\n"])
        .collect()
}

/// Is libclang loadable here? Not in a cross-compiled test binary run under qemu, where there is
/// no libclang for the target's architecture, nor in a static musl binary, which cannot dlopen
/// at all; the drift check (of every target's bindings) then belongs to the host's run.
fn libclang_available() -> bool {
    if cfg!(all(target_arch = "x86_64", target_env = "gnu")) {
        return true; // the host: a missing libclang must fail the test, not skip it
    }
    std::panic::catch_unwind(bindgen::clang_version).is_ok()
}

#[test]
fn bindings_match_header() {
    if !libclang_available() {
        eprintln!("skipped: no libclang for this (cross-compiled or static musl) test binary; the host run checks the bindings");
        return;
    }
    let dir = manifest_dir();
    let bless = std::env::var_os("BLESS").is_some();
    let std_headers = std_headers_dir();
    let mut failures = Vec::new();
    for (file, what, targets) in BINDINGS {
        let committed_path = dir.join(file);
        for (i, target) in targets.iter().enumerate() {
            let generated =
                match bindgen_config(&dir.join(HEADER), &std_headers, target, what).generate() {
                    Ok(bindings) => bindings.to_string(),
                    Err(e) => {
                        failures.push(format!(
                            "bindgen could not parse {HEADER} for {target}: {e}"
                        ));
                        continue;
                    }
                };
            assert!(
                !generated.contains(dir.to_str().expect("UTF-8 path")),
                "the bindings must not depend on where the checkout lives"
            );
            if bless && i == 0 {
                std::fs::write(&committed_path, &generated)
                    .unwrap_or_else(|e| panic!("write {file}: {e}"));
                continue;
            }
            // a missing file compares as empty: its diff is the whole output
            let mut committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
            let mut generated = generated;
            if i > 0 {
                committed = without_align_hints(&committed);
                generated = without_align_hints(&generated);
            }
            if committed != generated {
                failures.push(format!(
                    "{file} differs from what bindgen makes of {HEADER} for {target}.\n\
                     If the header change is intended, rerun with BLESS=1 and commit the result; \
                     if only some targets differ, the header made a layout depend on the target.\n\
                     --- {file} (committed)\n+++ bindgen output for {target}\n{}",
                    line_diff(&committed, &generated, 3)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn line_diff_shows_changes_in_context() {
    let diff = line_diff("a\nb\nc\nd\n", "a\nb\nx\nd\ne\n", 1);
    assert_eq!(diff, "@@ committed line 2 @@\n b\n-c\n+x\n d\n+e\n");
    assert_eq!(line_diff("same\n", "same\n", 3), "");
}
