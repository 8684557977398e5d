//! `MIMALLOC_MEMORY_LIMIT` sets the process-wide limit at start: checked in child processes
//! (this test binary re-executed with a scenario), since the limit governs the whole process.
//! A refusal reaches Rust as an error from `try_reserve` and, on the infallible path, as
//! `handle_alloc_error`'s abort; an unparsable value is reported and leaves no limit.

use mimalloc::MiMalloc;
use std::process::{Command, Output};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const SCENARIO_VAR: &str = "MI_LIMIT_SCENARIO";
const MIB: usize = 1 << 20;

fn child(scenario: &str, limit: &str) -> Output {
    Command::new(std::env::current_exe().expect("the test binary's path"))
        .args(["--exact", "scenario", "--nocapture", "--test-threads=1"])
        .env(SCENARIO_VAR, scenario)
        .env("MIMALLOC_MEMORY_LIMIT", limit)
        .env("MIMALLOC_SHOW_ERRORS", "1")
        .output()
        .expect("run the child")
}

/// Runs in the child only (the parent has no scenario set).
#[test]
fn scenario() {
    let Ok(which) = std::env::var(SCENARIO_VAR) else {
        return;
    };
    match which.as_str() {
        "fallible" => {
            assert_eq!(mimalloc::memory_limit(), Some(200 * MIB));
            let mut v: Vec<u8> = Vec::new();
            assert!(
                v.try_reserve_exact(400 * MIB).is_err(),
                "400 MiB past a 200 MiB limit"
            );
            v.try_reserve_exact(100 * MIB).expect("100 MiB fits");
            v.resize(100 * MIB, 1);
            assert!(mimalloc::memory_in_use() <= 200 * MIB);
            println!("fallible: ok");
        }
        "infallible" => {
            let v = vec![1u8; 400 * MIB];
            println!("unreachable: {}", v.len());
        }
        "invalid" => {
            assert_eq!(mimalloc::memory_limit(), None);
            println!("invalid: ok");
        }
        other => panic!("unknown scenario {other}"),
    }
}

#[test]
fn the_environment_sets_the_limit_and_rust_sees_refusals() {
    let out = child("fallible", "200MiB");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("fallible: ok"),
        "{out:?}"
    );

    let out = child("infallible", "200MiB");
    assert!(
        !out.status.success(),
        "the infallible allocation past the limit must abort"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("memory allocation of"),
        "handle_alloc_error's message: {stderr}"
    );

    let out = child("invalid", "12Q");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("invalid: ok"),
        "{out:?}"
    );
    assert!(
        stderr.contains("MIMALLOC_MEMORY_LIMIT"),
        "the bad value is reported: {stderr}"
    );
}
