//! No silent no-ops: an option this build accepts but does not implement says so. The verbose
//! listing marks it "not supported by this build", setting it from the environment warns (in
//! verbose mode and with show_errors), and so does setting it from code in verbose mode. Each
//! case runs in a child process (this test binary, running one ignored helper test), because
//! the environment is read once at process start.

use mimalloc_sys::*;
use std::process::Command;

/// Options that no work in progress implements; they stay unsupported in this build.
const UNSUPPORTED: &[&str] = &["use_numa_nodes", "destroy_on_exit"];
/// Options that work on every platform.
const SUPPORTED: &[&str] = &[
    "show_errors",
    "show_stats",
    "verbose",
    "purge_decommits",
    "abandoned_page_purge",
    "purge_delay",
    "disallow_os_alloc",
    "max_errors",
    "max_warnings",
    "max_segment_reclaim",
    "eager_commit",
    "arena_eager_commit",
    "reserve_os_memory",
    "eager_commit_delay",
    "arena_reserve",
    "arena_purge_mult",
    "disallow_arena_alloc",
    "guarded_min",
    "guarded_max",
    "guarded_precise",
    "guarded_sample_rate",
    "guarded_sample_seed",
];

/// Runs the ignored helper test `name` in a child with `env`, returns its stderr.
fn child_stderr(name: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary path"));
    cmd.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("MIMALLOC_")) {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run the child");
    assert!(out.status.success(), "child failed: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
#[ignore = "helper: run in a child process by the tests below"]
fn child_allocates() {
    // SAFETY: a block allocated and freed once.
    unsafe { mi_free(mi_malloc(100)) };
}

#[test]
#[ignore = "helper: run in a child process by the tests below"]
fn child_sets_unsupported_option() {
    // SAFETY: plain option calls.
    unsafe {
        mi_option_set(mi_option_use_numa_nodes, 3);
        assert_eq!(
            mi_option_get(mi_option_use_numa_nodes),
            3,
            "still stored and returned"
        );
        mi_option_set(mi_option_purge_delay, 5);
    }
}

#[test]
fn verbose_listing_marks_unsupported_options() {
    let err = child_stderr("child_allocates", &[("MIMALLOC_VERBOSE", "1")]);
    let listing: Vec<&str> = err.lines().filter(|l| l.contains("option '")).collect();
    assert_eq!(
        listing.len(),
        _mi_option_last as usize,
        "one line per option:\n{err}"
    );
    let line_of = |name: &str| {
        let tag = format!("option '{name}':");
        *listing
            .iter()
            .find(|l| l.contains(&tag))
            .unwrap_or_else(|| panic!("{name} not listed:\n{err}"))
    };
    for name in UNSUPPORTED {
        assert!(
            line_of(name).ends_with("not supported by this build"),
            "{}",
            line_of(name)
        );
    }
    for name in SUPPORTED {
        assert!(
            !line_of(name).contains("not supported"),
            "{}",
            line_of(name)
        );
    }
}

#[test]
fn unsupported_option_from_the_environment_is_warned_about() {
    let warning =
        "option 'use_numa_nodes' is not supported by this build: MIMALLOC_USE_NUMA_NODES=4 is accepted and has no effect";
    for shown_by in ["MIMALLOC_VERBOSE", "MIMALLOC_SHOW_ERRORS"] {
        let err = child_stderr(
            "child_allocates",
            &[(shown_by, "1"), ("MIMALLOC_USE_NUMA_NODES", "4")],
        );
        assert!(err.contains(warning), "{shown_by}=1:\n{err}");
    }
    // a supported option set from the environment is not warned about
    let err = child_stderr(
        "child_allocates",
        &[("MIMALLOC_SHOW_ERRORS", "1"), ("MIMALLOC_PURGE_DELAY", "3")],
    );
    assert!(!err.contains("not supported"), "{err}");
}

#[test]
fn unsupported_option_set_from_code_is_reported_in_verbose_mode() {
    let err = child_stderr(
        "child_sets_unsupported_option",
        &[("MIMALLOC_VERBOSE", "1")],
    );
    assert!(
        err.contains(
            "option 'use_numa_nodes' is not supported by this build: setting it to 3 has no effect"
        ),
        "{err}"
    );
    assert!(
        !err.contains("option 'purge_delay' is not supported"),
        "{err}"
    );
    let quiet = child_stderr("child_sets_unsupported_option", &[]);
    assert!(
        !quiet.contains("not supported"),
        "silent unless verbose:\n{quiet}"
    );
}
