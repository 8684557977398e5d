//! The text report (`mi_stats_print_out`, what `MIMALLOC_SHOW_STATS=1` prints) says what the
//! statistics struct says, in every build: each count of the report equals `mi_stats_get`'s
//! field taken just before; counters a build does not keep are reported as not counted, never
//! as 0; the peak resident memory is never below the current one.

use core::ffi::{c_char, c_void, CStr};
use mimalloc_sys::*;
use std::sync::Mutex;

static REPORT: Mutex<String> = Mutex::new(String::new());

unsafe extern "C" fn collect(msg: *const c_char, _arg: *mut c_void) {
    // SAFETY: the library passes a NUL-terminated message.
    let text = unsafe { CStr::from_ptr(msg) }.to_string_lossy();
    // This binary's own allocations (the String) go to the system allocator: no count moves.
    REPORT.lock().unwrap().push_str(&text);
}

/// The numbers on the line labelled `label` (the label padded to 26 columns).
fn row(report: &str, label: &str) -> Vec<String> {
    let line = report
        .lines()
        .find(|l| l.len() > 26 && l[..26].trim_end() == label)
        .unwrap_or_else(|| panic!("no line {label:?} in:\n{report}"));
    line[26..].split_whitespace().map(str::to_string).collect()
}

/// "12.5 MiB" / "512 B" as bytes (to the report's one decimal).
fn bytes(number: &str, unit: &str) -> f64 {
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => panic!("unit {other:?}"),
    };
    number.parse::<f64>().expect("a number") * scale
}

#[test]
fn report_matches_the_struct() {
    // some activity of every kind the report counts
    // SAFETY: every block is freed once.
    unsafe {
        let small: Vec<*mut c_void> = (1..300).map(|n| mi_malloc(n * 8)).collect();
        let huge = mi_malloc(8 << 20);
        for p in small {
            mi_free(p);
        }
        mi_free(huge);
        mi_collect(true);
    }
    // SAFETY: the struct is plain data of the size passed.
    let st = unsafe {
        let mut st: mi_stats_t = core::mem::zeroed();
        mi_stats_get(core::mem::size_of::<mi_stats_t>(), &mut st);
        st
    };
    // SAFETY: `collect` matches mi_output_fun and ignores its argument.
    unsafe { mi_stats_print_out(Some(collect), core::ptr::null_mut()) };
    let report = REPORT.lock().unwrap().clone();

    let counts = [
        ("segments", st.segments),
        ("pages", st.pages),
        ("threads", st.threads),
    ];
    for (label, c) in counts {
        let r = row(&report, label);
        assert_eq!(
            r,
            [c.current, c.peak, c.total].map(|n| n.to_string()),
            "{label}"
        );
    }
    let counters = [
        ("mmap calls", st.mmap_calls),
        ("munmap calls", st.munmap_calls),
        ("purge calls", st.purge_calls),
        ("reclaimed segments", st.reclaimed),
        ("page searches", st.searches),
        ("pages kept (not retired)", st.page_no_retire),
        ("huge blocks handed out", st.huge_count),
    ];
    for (label, c) in counters {
        assert_eq!(row(&report, label), [c.total.to_string()], "{label}");
    }
    assert!(st.huge_count.total >= 1);

    // SAFETY: integers and bools, for which all zeroes is valid; mi_build_config fills it.
    let config = unsafe {
        let mut config: mi_build_config_t = core::mem::zeroed();
        mi_build_config(&mut config);
        config
    };
    let normal = row(&report, "normal blocks handed out");
    if config.debug >= 2 {
        assert_eq!(normal, [st.normal_count.total.to_string()]);
        assert!(st.normal_count.total >= 299);
        row(&report, "requested");
    } else {
        assert_eq!(st.normal_count.total, 0, "not kept in this build");
        assert_eq!(normal.join(" "), "not counted (debug builds only)");
        assert!(!report.lines().any(|l| l.starts_with("requested ")));
    }

    // "process: rss 2.0 MiB (peak 26.5 MiB), committed …"
    let line = report
        .lines()
        .find(|l| l.starts_with("process: rss "))
        .expect("an rss line");
    let w: Vec<&str> = line.split_whitespace().collect();
    let rss = bytes(w[2], w[3]);
    let peak = bytes(w[5], w[6].trim_end_matches("),"));
    assert!(peak >= rss, "peak below current: {line}");
}
