//! Child processes: a test binary re-executed to run one of its own tests alone, for what must
//! not happen in the test process itself (an abort, a fault, an address-space cap, an option
//! read once at start), and the ways such a child can end.

#[cfg(unix)]
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Output};

/// The conventional name of the test that is a child's entry point: it does nothing unless
/// its scenario variable is set.
pub const SCENARIO_TEST: &str = "scenario_child";

/// The arguments that make a test binary run the test `test` alone, on one thread, with its
/// output not captured (so the parent reads it).
pub fn test_args(test: &str) -> [&str; 4] {
    ["--exact", test, "--nocapture", "--test-threads=1"]
}

/// A command that re-runs this test binary's test `test` alone, without backtraces (a panic
/// message stays short enough to read in the parent's failure).
pub fn rerun(test: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("the test binary's path"));
    cmd.args(test_args(test)).env("RUST_BACKTRACE", "0");
    cmd
}

/// Runs [`SCENARIO_TEST`] in a child with `var=name` and waits for it.
pub fn run_scenario(var: &str, name: &str) -> Output {
    rerun(SCENARIO_TEST)
        .env(var, name)
        .output()
        .expect("run the child")
}

/// The child's standard output, as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The child's standard error, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The child died of abort(): SIGABRT on Unix; on Windows the C runtime's abort() ends the
/// process with exit code 3 (msvcrt) or a fail-fast 0xC0000409 (the UCRT).
pub fn aborted(status: &ExitStatus) -> bool {
    #[cfg(unix)]
    return status.signal() == Some(libc::SIGABRT);
    #[cfg(windows)]
    return matches!(status.code(), Some(3)) || status.code() == Some(0xC000_0409_u32 as i32);
}

/// The child died of an access to a no-access page: SIGSEGV on Unix, an access violation
/// (0xC0000005) on Windows. Wine, with no debugger to start, prints "Unhandled exception: page
/// fault" (to the child's stdout) and ends the process with STATUS_DEBUGGER_INACTIVE
/// (0xC0000354) instead: `out` is the child's stdout and stderr.
pub fn faulted(status: &ExitStatus, out: &str) -> bool {
    #[cfg(unix)]
    {
        let _ = out;
        status.signal() == Some(libc::SIGSEGV)
    }
    #[cfg(windows)]
    {
        status.code() == Some(0xC000_0005_u32 as i32)
            || (status.code() == Some(0xC000_0354_u32 as i32) && out.contains("page fault"))
    }
}
