//! Compiles the allocator in `c_src/` as one translation unit and maps cargo features to the
//! C build-time levels, or, with `MIMALLOC_SYS_USE_PKG_CONFIG=1`, links an installed build of
//! it found through pkg-config. No bindgen and no network here: the bindings are committed.

use std::env;
use std::path::PathBuf;
use std::process::Stdio;

/// Cargo feature → C define. The meaning of each level lives in `c_src/include/mimalloc/types.h`.
const FEATURE_DEFINES: &[(&str, &str, &str)] = &[
    ("SECURE", "MI_SECURE", "4"),
    ("SECURE_CANARY", "MI_SECURE_CANARY", "1"),
    ("DEBUG", "MI_DEBUG", "2"),
    ("DEBUG_FULL", "MI_DEBUG", "3"),
    ("OVERRIDE", "MI_MALLOC_OVERRIDE", "1"),
    ("VALGRIND", "MI_TRACK_VALGRIND", "1"),
];

/// One entry of `c_src/src/options.def`, the option table the C side is compiled from.
struct OptionEntry {
    /// The name in capitals: `MIMALLOC_DEFAULT_<NAME>` here, `MI_DEFAULT_<NAME>` in C.
    upper: String,
    /// A size: the value syntax takes K/M/G/T suffixes and the C value is in KiB.
    in_kib: bool,
    /// The `supported` column is literally `false`: the option has no effect in any build.
    unsupported: bool,
}

/// The option table, read from the file options.c includes, so this script accepts exactly the
/// options the C side has, with their units.
fn option_table(c_src: &std::path::Path) -> Vec<OptionEntry> {
    let path = c_src.join("src/options.def");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("mimalloc-sys: cannot read {}: {e}", path.display()));
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("MI_OPTION("))
        .map(|entry| {
            let cols: Vec<&str> = entry
                .trim_end_matches(')')
                .split(',')
                .map(str::trim)
                .collect();
            assert!(
                cols.len() == 6 && matches!(cols[4], "NUM" | "KIB"),
                "mimalloc-sys: options.def: malformed entry MI_OPTION({entry}"
            );
            OptionEntry {
                upper: cols[2].to_string(),
                in_kib: cols[4] == "KIB",
                unsupported: cols[5] == "false",
            }
        })
        .collect()
}

/// The target's `LONG_MAX`, the bound on every option value: `long` is 32 bits on Windows
/// (LLP64) and on 32-bit targets, 64 bits elsewhere.
fn target_long_max() -> i64 {
    let width = env::var("CARGO_CFG_TARGET_POINTER_WIDTH").unwrap_or_default();
    if target_is_windows() || width == "32" {
        i64::from(i32::MAX)
    } else {
        i64::MAX
    }
}

/// Reads each value with the C parser itself: `c_src/test/option-value.c` (which includes the
/// parser of options.c) compiled for the build machine, told the target's `LONG_MAX`. One
/// answer per value: `Some(Some(n))`, `Some(None)` for an empty value (not set), `None` for a
/// value the run-time parser would refuse.
fn parse_with_c(c_src: &std::path::Path, values: &[(bool, &str)]) -> Vec<Option<Option<i64>>> {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let host = env::var("HOST").expect("cargo sets HOST");
    let compiler = cc::Build::new()
        .target(&host)
        .host(&host)
        .opt_level(1)
        .cargo_metadata(false)
        .std("c11")
        .get_compiler();
    let exe = out.join(if host.contains("windows") {
        "option-value.exe"
    } else {
        "option-value"
    });
    let mut cmd = compiler.to_command();
    cmd.arg(c_src.join("test/option-value.c"));
    if compiler.is_like_msvc() {
        cmd.arg(format!("/Fe{}", exe.display()));
    } else {
        cmd.arg("-o").arg(&exe);
    }
    let hint = "checking MIMALLOC_DEFAULT_* needs a C compiler for the build machine (set HOST_CC)";
    let built = cmd
        .output()
        .unwrap_or_else(|e| panic!("mimalloc-sys: {hint}: {e}"));
    assert!(
        built.status.success(),
        "mimalloc-sys: {hint}: compiling option-value.c failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let mut run = std::process::Command::new(&exe);
    run.arg(target_long_max().to_string());
    for (in_kib, value) in values {
        run.arg(if *in_kib { "KIB" } else { "NUM" }).arg(value);
    }
    let ran = run
        .output()
        .unwrap_or_else(|e| panic!("mimalloc-sys: {hint}: running option-value failed: {e}"));
    let answers: Vec<Option<Option<i64>>> = String::from_utf8_lossy(&ran.stdout)
        .lines()
        .map(|line| match line {
            "invalid" => None,
            "empty" => Some(None),
            _ => Some(Some(
                line.strip_prefix("ok ")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("mimalloc-sys: option-value answered {line:?}")),
            )),
        })
        .collect();
    assert!(
        ran.status.success() && answers.len() == values.len(),
        "mimalloc-sys: option-value did not answer for every value ({})",
        String::from_utf8_lossy(&ran.stderr)
    );
    answers
}

/// The compiled-in defaults the build environment asks for: `MIMALLOC_DEFAULT_<NAME>` for any
/// option of the table becomes `-DMI_DEFAULT_<NAME>`, so a program's settings hold from its
/// very first allocation; `MIMALLOC_<NAME>` at run time still overrides it. A value is read by
/// the run-time parser (see `parse_with_c`), and one it would refuse fails the build here
/// rather than being ignored, with a warning few would see, by every run of the program.
fn option_defaults(c_src: &std::path::Path) -> Vec<(String, String)> {
    let mut requested = Vec::new();
    for option in option_table(c_src) {
        let var = format!("MIMALLOC_DEFAULT_{}", option.upper);
        println!("cargo:rerun-if-env-changed={var}");
        if let Ok(value) = env::var(&var) {
            requested.push((option, var, value));
        }
    }
    let mut defines = Vec::new();
    if !requested.is_empty() {
        let values: Vec<(bool, &str)> = requested
            .iter()
            .map(|(option, _, value)| (option.in_kib, value.as_str()))
            .collect();
        let answers = parse_with_c(c_src, &values);
        for ((option, var, value), answer) in requested.iter().zip(answers) {
            let unit = if option.in_kib { " KiB" } else { "" };
            let syntax = if option.in_kib {
                "a size: a number of bytes, or with a K, M, G or T suffix (KiB, MiB, GiB, TiB and KB, ... too), \
                 at most the target's LONG_MAX KiB"
            } else {
                "an integer within the target's long, or on/off, true/false, yes/no"
            };
            match answer {
                None => {
                    panic!("mimalloc-sys: {var}={value:?} is not a valid value: expected {syntax}")
                }
                Some(None) => {
                    println!(
                        "cargo:warning=mimalloc-sys: {var} is empty: the built-in default stays"
                    )
                }
                Some(Some(n)) => {
                    println!(
                        "cargo:warning=mimalloc-sys: option default {} = {n}{unit} (from {var})",
                        option.upper
                    );
                    if option.unsupported {
                        println!(
                            "cargo:warning=mimalloc-sys: option {} is not supported by this build: {var} has no effect",
                            option.upper
                        );
                    }
                    defines.push((format!("MI_DEFAULT_{}", option.upper), format!("({n})")));
                }
            }
        }
    }
    // `no_thp` (as in crates.io libmimalloc-sys): no transparent huge pages for any block,
    // from the first allocation; MIMALLOC_ALLOW_THP=1 at run time can still turn them back on.
    if feature("NO_THP") && !defines.iter().any(|(d, _)| d == "MI_DEFAULT_ALLOW_THP") {
        defines.push(("MI_DEFAULT_ALLOW_THP".to_string(), "0".to_string()));
    }
    defines
}

/// The house C warning set, one flag per line of `c_src/warnings.txt` (CMake and CI read it too).
fn house_warnings(c_src: &std::path::Path) -> Vec<String> {
    let path = c_src.join("warnings.txt");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("mimalloc-sys: cannot read {}: {e}", path.display()))
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('-'))
        .map(str::to_string)
        .collect()
}

/// Environment knobs this script reads; cargo reruns it when one changes.
const ENV_KNOBS: &[&str] = &["MIMALLOC_SYS_CFLAGS", "MIMALLOC_SYS_WERROR", "CI"];

fn feature(name: &str) -> bool {
    env::var_os(format!("CARGO_FEATURE_{name}")).is_some()
}

fn target_is_windows() -> bool {
    env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "windows")
}

/// macOS and the other Apple systems (same linker, same dyld thread-locals).
fn target_is_apple() -> bool {
    env::var("CARGO_CFG_TARGET_VENDOR").is_ok_and(|v| v == "apple")
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
        if *feat == "OVERRIDE" && feature(feat) && target_is_windows() {
            // A static library cannot replace the C runtime's malloc on Windows: the CRT DLL and
            // every other DLL keep calling their own heap, and the import library already
            // defines `malloc`. Build without it rather than pretend (README, "Platforms").
            println!(
                "cargo:warning=mimalloc-sys: the `override` feature has no effect on Windows: \
                 malloc/free of the C runtime are not replaced (use MiMalloc as the global \
                 allocator or the mi_* API); mi_is_redirected() returns false"
            );
            continue;
        }
        if *feat == "OVERRIDE" && feature(feat) && target_is_apple() {
            // Mach-O has no symbol aliases, and two-level namespaces bind every library's
            // malloc to libSystem anyway: replacing it means registering a malloc zone as the
            // default, which is not written yet (README, "Platforms"). Without it, dyld's lazy
            // thread-local set-up keeps using libmalloc and cannot recurse into us (prim-unix.c).
            println!(
                "cargo:warning=mimalloc-sys: the `override` feature is not supported on macOS yet \
                 (no malloc zone): malloc/free stay the system's (use MiMalloc as the global \
                 allocator or the mi_* API); mi_is_redirected() returns false"
            );
            continue;
        }
        if feature(feat) {
            defines.push((*define, *value));
        }
    }
    // debug_in_debug: debug checks only where the profile has debug assertions (dev and test by
    // default), the same condition as `cfg!(debug_assertions)` in the crates being built.
    if feature("DEBUG_IN_DEBUG")
        && env::var_os("CARGO_CFG_DEBUG_ASSERTIONS").is_some()
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

/// Refuses targets the C code is not written for, before the compiler fails in a less clear way.
/// The OS layer is `prim-unix.c` (Linux, macOS, the BSDs) or `prim-windows.c`; the layout
/// constants hold for 32- and 64-bit pointers.
fn check_target() {
    let width = env::var("CARGO_CFG_TARGET_POINTER_WIDTH").unwrap_or_default();
    let family = env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    let target = env::var("TARGET").unwrap_or_default();
    assert!(
        width == "64" || width == "32",
        "mimalloc-sys: target {target} has {width}-bit pointers; only 32- and 64-bit targets are supported"
    );
    assert!(
        family.split(',').any(|f| f == "unix" || f == "windows"),
        "mimalloc-sys: target {target} is neither Unix nor Windows; the C code has no OS layer for it"
    );
}

/// The `valgrind` feature compiles against valgrind's client-request header: say plainly what is
/// missing before the compiler fails on the include.
fn check_valgrind_header(build: &cc::Build) {
    if !feature("VALGRIND") {
        return;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let probe = out.join("valgrind_probe.c");
    std::fs::write(&probe, "#include <valgrind/memcheck.h>\n").expect("OUT_DIR is writable");
    let found = build
        .get_compiler()
        .to_command()
        .arg("-E")
        .arg(&probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "mimalloc-sys: the `valgrind` feature needs <valgrind/memcheck.h>: install valgrind (Debian package valgrind)"
    );
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
    if feature("OVERRIDE") && os != "windows" && !target_is_apple() {
        build.flag_if_supported("-fno-builtin-malloc");
    } else {
        // Two copies of the allocator in one process must never bind to each other's symbols.
        build.flag_if_supported("-fvisibility=hidden");
    }
    // Our own calls between our functions bind locally, even in a shared object (an ELF idea:
    // Mach-O binds within the image anyway, and clang for it warns the flag is unused).
    if !target_is_apple() {
        build.flag_if_supported("-fno-semantic-interposition");
    }
    if os == "linux" || os == "android" || os == "freebsd" {
        println!("cargo:rustc-link-lib=pthread");
    }
    if os == "windows" {
        // BCryptGenRandom (randomness) and the token calls that enable large OS pages.
        println!("cargo:rustc-link-lib=bcrypt");
        println!("cargo:rustc-link-lib=advapi32");
        // MSVC's cl.exe lacks the GNU C extensions the sources use (statement attributes,
        // __builtin_*, range initialisers, GCC inline asm); clang-cl accepts them.
        let env = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
        if env == "msvc" {
            let compiler = build.get_compiler();
            assert!(
                !compiler.is_like_msvc() || compiler.is_like_clang_cl(),
                "mimalloc-sys: cl.exe cannot compile the C sources (they use GCC/Clang extensions); \
                 build with clang-cl (set CC=clang-cl for this target) or use x86_64-pc-windows-gnu"
            );
            // C11 <stdatomic.h> on the MSVC headers
            build.flag_if_supported("/experimental:c11atomics");
        }
    }
}

/// Runs `pkg-config` with `args` for the `mimalloc` package; its stdout, or why it failed.
fn pkg_config(args: &[&str]) -> Result<String, String> {
    let tool = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into());
    let out = std::process::Command::new(&tool)
        .args(args)
        .arg("mimalloc")
        .output()
        .map_err(|e| format!("cannot run {tool}: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `MI_MALLOC_VERSION` of the bundled header: the oldest library whose API the bindings match.
fn bundled_version(c_src: &std::path::Path) -> u32 {
    let header =
        std::fs::read_to_string(c_src.join("include/mimalloc.h")).expect("read mimalloc.h");
    header
        .lines()
        .find_map(|l| l.strip_prefix("#define MI_MALLOC_VERSION "))
        .and_then(|v| v.trim().parse().ok())
        .expect("mimalloc.h defines MI_MALLOC_VERSION")
}

/// `MIMALLOC_SYS_USE_PKG_CONFIG=1`: link an installed libmimalloc (ours, from `cmake --install`)
/// found through pkg-config instead of compiling `c_src`. Refuses, with the reason, when it is
/// missing, older than the bundled sources, or not ours: upstream's library has other
/// signatures for some of the same names (mi_stats_get) and lacks functions the crates call, so
/// a probe program must link against the functions only ours has. The library's own build
/// decides its levels; the cargo features and MIMALLOC_DEFAULT_* cannot reach it.
fn link_system_library(c_src: &std::path::Path) -> bool {
    println!("cargo:rerun-if-env-changed=MIMALLOC_SYS_USE_PKG_CONFIG");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG");
    match env::var("MIMALLOC_SYS_USE_PKG_CONFIG").as_deref() {
        Ok("1") | Ok("true") | Ok("yes") | Ok("on") => {}
        _ => return false,
    }
    let fail = |why: String| -> ! {
        panic!(
            "mimalloc-sys: MIMALLOC_SYS_USE_PKG_CONFIG is set, but {why}. Install our library \
             (cmake -S c_src -B build && cmake --build build && cmake --install build --prefix P) \
             and set PKG_CONFIG_PATH=P/lib/pkgconfig, or unset MIMALLOC_SYS_USE_PKG_CONFIG to \
             compile the bundled sources"
        )
    };
    let version = pkg_config(&["--modversion"])
        .unwrap_or_else(|e| fail(format!("pkg-config finds no `mimalloc` package ({e})")));
    let needed = bundled_version(c_src);
    let parsed = version.split_once('.').and_then(|(major, minor)| {
        Some(major.parse::<u32>().ok()? * 100 + minor.split('.').next()?.parse::<u32>().ok()?)
    });
    match parsed {
        Some(v) if v >= needed => {}
        _ => fail(format!(
            "the installed mimalloc is version {version}, older than the {}.{} these bindings need",
            needed / 100,
            needed % 100
        )),
    }
    let libdir = pkg_config(&["--variable=libdir"]).unwrap_or_else(|e| fail(e));
    let cflags = pkg_config(&["--cflags-only-I"]).unwrap_or_else(|e| fail(e));
    let includes: Vec<&str> = cflags
        .split_whitespace()
        .filter_map(|f| f.strip_prefix("-I"))
        .collect();
    // The static archive is the bundled build's counterpart (no malloc override, no run-time
    // library path to set); CMake builds it position-independent.
    let archive = std::path::Path::new(&libdir).join("libmimalloc.a");
    if !archive.exists() {
        fail(format!("{} does not exist", archive.display()));
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let probe = out.join("pkg_config_probe.c");
    std::fs::write(
        &probe,
        "#include <mimalloc.h>\nint main(void) {\n  mi_build_config_t c; mi_build_config(&c);\n  \
         mi_stats_t s; mi_stats_get(sizeof(s), &s);\n  char* j = mi_stats_get_json(0, 0); mi_free(j);\n  \
         return (int)mi_stats_bin_block_size(1) + mi_version() - MI_MALLOC_VERSION;\n}\n",
    )
    .expect("OUT_DIR is writable");
    let mut cmd = cc::Build::new().get_compiler().to_command();
    for dir in &includes {
        cmd.arg(format!("-I{dir}"));
    }
    let probe_out = cmd
        .arg(&probe)
        .arg(&archive)
        .arg("-lpthread")
        .arg("-o")
        .arg(out.join("pkg_config_probe"))
        .output()
        .unwrap_or_else(|e| fail(format!("the C compiler could not run: {e}")));
    if !probe_out.status.success() {
        fail(format!(
            "the library at {} is not ours or lacks functions these bindings call \
             (a probe using mi_build_config, mi_stats_get, mi_stats_get_json and \
             mi_stats_bin_block_size did not build: {})",
            archive.display(),
            String::from_utf8_lossy(&probe_out.stderr).trim()
        ));
    }
    let ignored: Vec<&str> = [
        "SECURE",
        "DEBUG",
        "DEBUG_FULL",
        "DEBUG_IN_DEBUG",
        "OVERRIDE",
        "VALGRIND",
        "LOCAL_DYNAMIC_TLS",
        "NO_THP",
    ]
    .into_iter()
    .filter(|f| feature(f))
    .collect();
    if !ignored.is_empty()
        || option_table(c_src)
            .iter()
            .any(|o| env::var_os(format!("MIMALLOC_DEFAULT_{}", o.upper)).is_some())
    {
        println!(
            "cargo:warning=mimalloc-sys: linking the installed library; the features {ignored:?} and any \
             MIMALLOC_DEFAULT_* cannot change it (its own build decides; mi_build_config reports it)"
        );
    }
    println!("cargo:warning=mimalloc-sys: linking the installed mimalloc {version} from {libdir} (pkg-config)");
    println!("cargo:rustc-link-search=native={libdir}");
    println!("cargo:rustc-link-lib=static=mimalloc");
    println!("cargo:rustc-link-lib=pthread");
    if let Some(dir) = includes.first() {
        println!("cargo:include={dir}");
    }
    true
}

fn main() {
    let c_src = c_src_dir();
    rerun_triggers(&c_src);
    check_target();
    // the option_values test checks this against the target's real c_long
    println!(
        "cargo:rustc-env=MIMALLOC_SYS_TARGET_LONG_MAX={}",
        target_long_max()
    );
    if link_system_library(&c_src) {
        return;
    }

    let mut build = cc::Build::new();
    build
        .std("c11")
        .include(c_src.join("include"))
        .file(c_src.join("src/static.c"))
        .opt_level(3)
        .define("_GNU_SOURCE", None);
    // cc's spelling of -Wall -Wextra, which it also knows for cl and clang-cl (/W4); the rest of
    // the house set is GCC/Clang syntax. (`warnings(false)` would add -w, which silences all.)
    build.warnings(true).extra_warnings(true);
    if !build.get_compiler().is_like_msvc() {
        for flag in house_warnings(&c_src) {
            build.flag_if_supported(&flag);
        }
    }
    for (define, value) in feature_defines() {
        build.define(define, value);
    }
    for (define, value) in option_defaults(&c_src) {
        build.define(&define, value.as_str());
    }
    target_settings(&mut build);
    check_valgrind_header(&build);
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
