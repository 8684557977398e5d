//! Runs under valgrind's memcheck and reads its report: the `valgrind` feature's tests of both
//! crates. Without valgrind installed, [`available`] says so loudly and the tests pass.

use std::process::{Command, Output};

/// Memcheck's exit status when it found errors (leaks count when `definite`).
pub const ERROR_EXIT: i32 = 99;

/// The memcheck command line every run uses, without the allocator's own reports (which
/// would mix into memcheck's).
pub fn memcheck() -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
        &format!("--error-exitcode={ERROR_EXIT}"),
    ])
    .env_remove("MIMALLOC_SHOW_ERRORS")
    .env_remove("MIMALLOC_VERBOSE")
    .env_remove("MIMALLOC_SHOW_STATS");
    cmd
}

/// [`memcheck`], with the further valgrind `options`, running this test binary's test `test`
/// alone (see [`crate::child::rerun`]).
pub fn rerun(test: &str, options: &[&str]) -> Command {
    let mut cmd = memcheck();
    cmd.args(options)
        .arg(std::env::current_exe().expect("the test binary's path"))
        .args(crate::child::test_args(test));
    cmd
}

/// Whether valgrind can run here; when not, the caller skips with a message naming the fix.
pub fn available(test: &str) -> bool {
    let ok = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED {test}: valgrind is not installed (apt-get install valgrind); \
             the valgrind feature is NOT checked by this run"
        );
    }
    ok
}

/// Memcheck's report (its stderr) of one run, with the exit status and the program's output.
pub fn report(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- memcheck\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts that memcheck's report holds every phrase, in this order, and counted an error.
pub fn assert_reports(what: &str, out: &Output, phrases: &[&str]) {
    let text = String::from_utf8_lossy(&out.stderr);
    let mut rest: &str = &text;
    for phrase in phrases {
        match rest.find(phrase) {
            Some(at) => rest = &rest[at + phrase.len()..],
            None => panic!(
                "{what}: memcheck's report lacks {phrase:?} (in this order)\n{}",
                report(out)
            ),
        }
    }
    assert!(
        !text.contains("ERROR SUMMARY: 0 errors"),
        "{what}: memcheck counted no error\n{}",
        report(out)
    );
}

/// Asserts a run with nothing to report: exit 0, no error, no definite leak. Blocks still
/// reachable at exit (a test harness's own, from glibc) are not ours to answer for.
pub fn assert_clean(what: &str, out: &Output) {
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: not clean\n{}",
        report(out)
    );
    assert!(
        text.contains("ERROR SUMMARY: 0 errors from 0 contexts"),
        "{what}: memcheck found errors\n{}",
        report(out)
    );
    assert!(
        text.contains("All heap blocks were freed") || text.contains("definitely lost: 0 bytes"),
        "{what}: memcheck found a leak\n{}",
        report(out)
    );
}
