//! One option table and one value parser. `c_src/src/options.def` is the table that options.c
//! is compiled from and that build.rs reads: every entry must match the `mi_option_t` member of
//! the same name in the committed bindings (generated from mimalloc.h, the API), legacy names
//! included. build.rs checks a compiled-in `MIMALLOC_DEFAULT_<NAME>` with
//! `c_src/test/option-value.c`, the run-time parser as a program: on every value form, its
//! answer must be the one the library gives for `MIMALLOC_<NAME>` at run time (the same value,
//! or refused with the "invalid value" warning and the default kept). Each run-time answer
//! comes from a child process (this test binary, running one ignored helper test), because the
//! environment is read once at process start.

mod c_program;

use c_program::CProgram;
use mimalloc_sys::*;
use std::collections::BTreeMap;
use std::process::Command;

/// (number, name, legacy name) of every options.def entry, in file order.
fn table() -> Vec<(u32, String, Option<String>)> {
    let path = c_program::c_src().join("src/options.def");
    let text = std::fs::read_to_string(&path).expect("read options.def");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("MI_OPTION("))
        .map(|entry| {
            let cols: Vec<&str> = entry
                .trim_end_matches(')')
                .split(',')
                .map(str::trim)
                .collect();
            assert_eq!(cols.len(), 6, "malformed entry: {entry}");
            assert_eq!(
                cols[2],
                cols[1].to_ascii_uppercase(),
                "NAME column: {entry}"
            );
            assert!(matches!(cols[4], "NUM" | "KIB"), "unit column: {entry}");
            let legacy = (cols[3] != "NULL").then(|| cols[3].trim_matches('"').to_string());
            (
                cols[0].parse().expect("number"),
                cols[1].to_string(),
                legacy,
            )
        })
        .collect()
}

/// `mi_option_<name>` → value, from a committed bindings file.
fn binding_constants(file: &str) -> BTreeMap<String, u32> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("read the bindings");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("pub const mi_option_"))
        .map(|rest| {
            let (name, value) = rest
                .split_once(": mi_option_e = ")
                .expect("an enum constant");
            let value = value.trim_end_matches(';').parse().expect("a number");
            (name.to_string(), value)
        })
        .collect()
}

#[test]
fn table_matches_the_api_enum() {
    let table = table();
    assert_eq!(
        table.len() as u32,
        _mi_option_last as u32,
        "one entry per member"
    );
    for (i, (num, name, _)) in table.iter().enumerate() {
        assert_eq!(
            *num as usize, i,
            "{name}: entries in mi_option_t order, numbered"
        );
    }
    for file in ["bindings.rs", "bindings_32.rs"] {
        let consts = binding_constants(file);
        let mut expected = BTreeMap::new();
        for (num, name, legacy) in &table {
            expected.insert(name.clone(), *num);
            if let Some(legacy) = legacy {
                expected.insert(legacy.clone(), *num);
            }
        }
        assert_eq!(
            consts, expected,
            "{file}: mi_option_t members against options.def"
        );
    }
}

/// The target's `LONG_MAX`: `c_long` is 32 bits on Windows and 32-bit targets, so the
/// conversion is not useless everywhere.
#[allow(clippy::useless_conversion)]
fn long_max() -> i64 {
    i64::from(core::ffi::c_long::MAX)
}

#[test]
fn build_script_bound_is_the_target_long() {
    assert_eq!(
        env!("MIMALLOC_SYS_TARGET_LONG_MAX").parse::<i64>().unwrap(),
        long_max(),
        "build.rs checks MIMALLOC_DEFAULT_* against another LONG_MAX than the target's"
    );
}

/// Every value form the syntax has, and its near misses.
#[rustfmt::skip]
fn value_forms() -> Vec<String> {
    let mut v: Vec<String> = [
        "0", "1", "7", "1023", "1024", "1025", "100B", "100b",
        "4K", "4k", "4KB", "4kb", "4KiB", "4kib", "4KIB", "4Ki",
        "4M", "4m", "4MB", "4MiB", "4mib", "4Mi",
        "4G", "4g", "4GB", "4GiB", "4gib", "4Gi",
        "1T", "1t", "1TB", "1TiB", "1tib", "1Ti", "2T", "8191T", "8192T", "3P",
        "4KK", "4KiBB", "4iB",
        "2147483647", "2147483648", "4294967296", "2097151G", "2097152G",
        "9223372036854775807", "9223372036854775808", "99999999999999999999",
        "-0", "-1", "-10", "-1K", "+5", "+5K",
        "-2147483647", "-2147483648", "-9223372036854775807", "-9223372036854775808",
        " 42 ", "\t7\n", "  4 GiB", "4 G", "", "   ",
        "on", "ON", "On", "off", "OFF", "true", "TRUE", "True", "false", "FALSE",
        "yes", "YES", "Yes", "no", "NO",
        "onn", "of", "y", "n", "t", "abc", "12abc", "1.5G", "1,000", "0x10",
        "G", "K", "-", "+", "--1", "+-1", "0000000000000000000000000000000000000012",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("1".repeat(126)); // too long for the environment reader: refused either way
    v.push(format!("{}1", "0".repeat(125)));
    v.push(format!("{}1", "0".repeat(126)));
    v
}

/// The probe's answers for each value as a size (KIB) and as a count (NUM): `Some(Some(n))`,
/// `Some(None)` (empty: not set) or `None` (refused).
type Answers = Vec<Option<Option<i64>>>;
fn probe(values: &[String]) -> (Answers, Answers) {
    // one directory per call: the tests run in parallel, and each removes its own
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "mimalloc-option-value-{}-{call}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let exe = dir.join("option-value");
    c_program::compile(&CProgram {
        source: &c_program::c_src().join("test/option-value.c"),
        exe: &exe,
        defines: &[],
        flags: &[],
        opt_level: 1,
        debug: false,
    });
    let mut cmd = Command::new(&exe);
    cmd.arg(env!("MIMALLOC_SYS_TARGET_LONG_MAX"));
    for unit in ["KIB", "NUM"] {
        for v in values {
            cmd.arg(unit).arg(v);
        }
    }
    let out = cmd.output().expect("run option-value");
    std::fs::remove_dir_all(&dir).ok();
    assert!(out.status.success(), "option-value failed: {out:?}");
    let mut answers: Answers = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| match l {
            "invalid" => None,
            "empty" => Some(None),
            _ => Some(Some(l.strip_prefix("ok ").unwrap().parse().unwrap())),
        })
        .collect();
    assert_eq!(answers.len(), 2 * values.len(), "one answer per value");
    let counts = answers.split_off(values.len());
    (answers, counts)
}

/// What the library makes of `value` in MIMALLOC_ARENA_RESERVE (KiB) and
/// MIMALLOC_MAX_SEGMENT_RECLAIM (a count): each option's value, and whether it warned.
fn run_time(value: Option<&str>) -> [(i64, bool); 2] {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary path"));
    cmd.args([
        "--exact",
        "child_reports_options",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (k, _) in std::env::vars_os().filter(|(k, _)| k.to_string_lossy().starts_with("MIMALLOC_"))
    {
        cmd.env_remove(k);
    }
    cmd.env("MIMALLOC_SHOW_ERRORS", "1");
    if let Some(v) = value {
        cmd.env("MIMALLOC_ARENA_RESERVE", v)
            .env("MIMALLOC_MAX_SEGMENT_RECLAIM", v);
    }
    let out = cmd.output().expect("run the child");
    assert!(out.status.success(), "child failed: {out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let get = |key: &str| -> i64 {
        stdout
            .lines()
            .find_map(|l| l.split_once(key).map(|(_, v)| v))
            .unwrap_or_else(|| panic!("child did not report {key}: {stdout}"))
            .parse()
            .unwrap()
    };
    let warned =
        |var: &str| stderr.contains(&format!("environment variable {var} has an invalid value"));
    [
        (get("arena_reserve="), warned("MIMALLOC_ARENA_RESERVE")),
        (
            get("max_segment_reclaim="),
            warned("MIMALLOC_MAX_SEGMENT_RECLAIM"),
        ),
    ]
}

#[test]
#[ignore = "helper: run in a child process by the tests below"]
fn child_reports_options() {
    // SAFETY: plain option reads.
    unsafe {
        println!("arena_reserve={}", mi_option_get(mi_option_arena_reserve));
        println!(
            "max_segment_reclaim={}",
            mi_option_get(mi_option_max_segment_reclaim)
        );
    }
}

#[test]
fn build_time_check_and_run_time_parse_agree_on_every_value_form() {
    let values = value_forms();
    let (sizes, counts) = probe(&values);
    let defaults = run_time(None);
    assert!(
        !defaults[0].1 && !defaults[1].1,
        "no warning without a value"
    );
    for (i, value) in values.iter().enumerate() {
        let got = run_time(Some(value));
        for (k, build) in [sizes[i], counts[i]].into_iter().enumerate() {
            let (run_value, run_warned) = got[k];
            let what = ["a size (arena_reserve)", "a count (max_segment_reclaim)"][k];
            match build {
                Some(Some(n)) => assert!(
                    !run_warned && run_value == n,
                    "{value:?} as {what}: the build accepts {n}, the run time reads {run_value} (warned: {run_warned})"
                ),
                Some(None) => assert!(
                    !run_warned && run_value == defaults[k].0,
                    "{value:?} as {what}: empty, so not set, at run time too"
                ),
                None => assert!(
                    run_warned && run_value == defaults[k].0,
                    "{value:?} as {what}: the build refuses it, the run time reads {run_value} (warned: {run_warned})"
                ),
            }
        }
    }
    // and the parser is the documented one, not merely the same twice
    let at = |v: &str| values.iter().position(|x| x == v).unwrap();
    let wide = long_max() > i64::from(i32::MAX);
    assert_eq!(sizes[at("4GiB")], Some(Some(4 << 20)));
    assert_eq!(sizes[at("4gib")], Some(Some(4 << 20)));
    assert_eq!(sizes[at("4Gi")], None, "4Gi is not a unit");
    assert_eq!(sizes[at("1025")], Some(Some(2)), "bytes round up to KiB");
    assert_eq!(
        sizes[at("1T")],
        Some(Some(1 << 30)),
        "fits a 32-bit long in KiB"
    );
    assert_eq!(
        sizes[at("2T")],
        if wide { Some(Some(2 << 30)) } else { None }
    );
    assert_eq!(sizes[at("-1")], None, "a negative size");
    assert_eq!(sizes[at("on")], Some(Some(1)));
    assert_eq!(counts[at("-1")], Some(Some(-1)));
    assert_eq!(counts[at("4K")], None, "a count has no unit");
    assert_eq!(counts[at("Yes")], Some(Some(1)));
    assert_eq!(counts[at("OFF")], Some(Some(0)));
    assert_eq!(counts[at(" 42 ")], Some(Some(42)));
    assert_eq!(counts[at("   ")], Some(None));
    assert_eq!(
        counts[at("2147483648")],
        if wide { Some(Some(1 << 31)) } else { None }
    );
    assert_eq!(counts[at("9223372036854775808")], None, "past any long");
    assert_eq!(counts[at("onn")], None);
}

/// A build with `MIMALLOC_DEFAULT_ARENA_RESERVE` or `MIMALLOC_DEFAULT_MAX_SEGMENT_RECLAIM` set
/// (`.ci/options.sh` builds one) starts with the value the run-time parser reads from it;
/// without, with the built-in defaults (1 GiB of arena, 128 MiB on 32-bit targets; 10).
#[test]
fn compiled_in_defaults_are_what_the_parser_reads() {
    let wide = usize::BITS == 64;
    let built_in = [if wide { 1 << 20 } else { 128 << 10 }, 10];
    let raw = [
        option_env!("MIMALLOC_DEFAULT_ARENA_RESERVE"),
        option_env!("MIMALLOC_DEFAULT_MAX_SEGMENT_RECLAIM"),
    ];
    let values: Vec<String> = raw.iter().map(|v| v.unwrap_or("").to_string()).collect();
    let (sizes, counts) = probe(&values);
    let start = run_time(None);
    for (k, answer) in [sizes[0], counts[1]].into_iter().enumerate() {
        let expected = match (raw[k], answer) {
            (Some(_), Some(Some(n))) => n,
            (Some(v), None) => panic!("{v:?} was compiled in, yet the parser refuses it"),
            _ => built_in[k],
        };
        assert_eq!(
            start[k],
            (expected, false),
            "option {k} at start, compiled in: {:?}",
            raw[k]
        );
    }
}
