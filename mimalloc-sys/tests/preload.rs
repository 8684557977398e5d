//! Real programs with our shared library preloaded (LD_PRELOAD): each run's output must equal
//! the run without it, and the statistics printed at exit (MIMALLOC_SHOW_STATS=1) show that our
//! allocator served the program. A program that is not installed is skipped with a message
//! (CI installs them all). The library is built here from c_src with the CMake build's flags, in
//! the build mode of the tests (the `secure` and `debug` features select those builds).
//!
//! Not in a musl build of the tests: the library is built with the host's `cc` and preloaded
//! into the host's (glibc) programs, so that run would only repeat the glibc one; the musl leg
//! tests the allocator linked statically instead.
#![cfg(not(target_env = "musl"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// This process's scratch directory under cargo's per-target temporary directory (never /tmp:
/// the library and the programs' inputs are about 23 MB a run). A test binary has no hook that
/// runs after its last test, so each run removes the directories of runs that have ended.
fn out_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        if let Ok(entries) = std::fs::read_dir(base) {
            for e in entries.flatten() {
                let name = e.file_name();
                let pid = name.to_str().and_then(|n| n.strip_prefix("preload-"));
                if pid.is_some_and(|pid| !Path::new("/proc").join(pid).exists()) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = base.join(format!("preload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    })
    .clone()
}

/// Builds libmimalloc.so (override on) once per test binary.
fn library() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        // `c_src` beside the manifest: a symlink in the workspace, the files in a package
        let c_src = Path::new(env!("CARGO_MANIFEST_DIR")).join("c_src");
        let lib = out_dir().join("libmimalloc.so");
        let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
            .args([
                "-std=c11",
                "-O2",
                "-shared",
                "-fPIC",
                "-D_GNU_SOURCE",
                "-DMI_MALLOC_OVERRIDE=1",
            ])
            // the build mode the tests run in: so the secure and debug runs of the suite
            // preload those builds into the programs, instead of the default one once more
            .args(cfg!(feature = "secure").then_some("-DMI_SECURE=4"))
            .args(cfg!(feature = "debug").then_some("-DMI_DEBUG=2"))
            .args([
                "-fno-builtin-malloc",
                "-ftls-model=initial-exec",
                "-fvisibility=hidden",
                "-pthread",
            ])
            .arg("-I")
            .arg(c_src.join("include"))
            .arg(c_src.join("src/static.c"))
            .arg("-o")
            .arg(&lib)
            .status()
            .expect("a C compiler (cc) is needed to build the preload library");
        assert!(status.success(), "building libmimalloc.so failed");
        lib
    })
}

fn have(program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        eprintln!("SKIPPED: `{program}` is not installed (.ci/run installs it)");
    }
    found
}

/// Runs `sh -c script` in `dir` without and with the preload; returns (plain, preloaded).
fn run_both(script: &str, dir: &Path) -> (Output, Output) {
    let run = |preload: bool| {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]).current_dir(dir);
        // fixed dates make git's commit ids reproducible
        cmd.env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z");
        cmd.env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t");
        if preload {
            cmd.env("LD_PRELOAD", library())
                .env("MIMALLOC_SHOW_STATS", "1")
                .env("MIMALLOC_VERBOSE", "1");
        }
        cmd.output().expect("run sh")
    };
    (run(false), run(true))
}

/// `stats_at_exit`: false for programs that close stderr in their own exit handler (coreutils),
/// before our exit-time report; the start-up banner still shows the library served them.
fn check(name: &str, script: &str, dir: &Path, stats_at_exit: bool) {
    let (plain, preloaded) = run_both(script, dir);
    let err = String::from_utf8_lossy(&preloaded.stderr);
    assert!(
        plain.status.success(),
        "{name} failed without preload: {}",
        String::from_utf8_lossy(&plain.stderr)
    );
    assert!(
        preloaded.status.success(),
        "{name} failed with our allocator preloaded: {err}"
    );
    assert_eq!(
        String::from_utf8_lossy(&plain.stdout),
        String::from_utf8_lossy(&preloaded.stdout),
        "{name}: output differs with our allocator preloaded"
    );
    assert!(
        err.contains("mimalloc-rs allocator"),
        "{name}: our allocator's banner is missing:\n{err}"
    );
    if stats_at_exit {
        assert!(
            err.contains("mimalloc-rs statistics"),
            "{name}: no statistics from our allocator at exit:\n{err}"
        );
        assert!(
            err.contains("normal blocks"),
            "{name}: the statistics show no blocks served"
        );
    }
    assert!(
        !err.contains("mimalloc: error"),
        "{name}: allocator errors:\n{err}"
    );
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = out_dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

#[test]
fn python_allocation_heavy_script() {
    if !have("python3") {
        return;
    }
    let dir = fresh_dir("python");
    std::fs::write(
        dir.join("work.py"),
        "import json, random\nrandom.seed(7)\nd = {}\nfor i in range(300000):\n    d[str(i) * (i % 7 + 1)] = [i] * (i % 13)\n\
         words = sorted(d, key=lambda k: (len(k), k))\ns = json.dumps({k: d[k] for k in words[:50000]})\n\
         back = json.loads(s)\nprint(len(d), len(words), len(s), sum(len(v) for v in back.values()))\n",
    )
    .expect("script");
    check("python3", "python3 work.py", &dir, true);
}

#[test]
fn git_repository_with_thousands_of_files() {
    if !have("git") {
        return;
    }
    let dir = fresh_dir("git");
    let script = "git init -q repo && cd repo && i=0; while [ $i -lt 3000 ]; do mkdir -p d$((i % 50)); \
                  echo \"file $i $(seq $i $((i+20)))\" > d$((i % 50))/f$i.txt; i=$((i+1)); done; \
                  git add -A && git commit -q -m files && git rev-parse HEAD && git ls-files | wc -l && git gc -q && git count-objects -v | grep count";
    check("git", &format!("rm -rf repo; {script}"), &dir, true);
}

#[test]
fn gcc_compiles_and_the_program_runs() {
    if !have("gcc") {
        return;
    }
    let dir = fresh_dir("gcc");
    std::fs::write(
        dir.join("prog.c"),
        "#include <stdio.h>\n#include <stdlib.h>\nint cmp(const void* a, const void* b) { return *(int*)a - *(int*)b; }\n\
         int main(void) { int n = 100000; int* v = malloc(n * sizeof(int)); unsigned s = 1;\n\
         for (int i = 0; i < n; i++) { s = s * 1103515245u + 12345u; v[i] = (int)(s >> 8) % 100000; }\n\
         qsort(v, n, sizeof(int), cmp); long sum = 0; for (int i = 0; i < n; i += 1000) sum += v[i];\n\
         printf(\"%d %d %ld\\n\", v[0], v[n - 1], sum); free(v); return 0; }\n",
    )
    .expect("source");
    check("gcc", "gcc -O2 -o prog prog.c && ./prog", &dir, true);
}

#[test]
fn sort_a_large_file() {
    if !have("sort") {
        return;
    }
    let dir = fresh_dir("sort");
    let mut text = String::with_capacity(12 << 20);
    let mut s = 1u64;
    for _ in 0..400_000 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        text.push_str(&format!("{:x} line {}\n", s, s % 1000));
    }
    std::fs::write(dir.join("big.txt"), text).expect("input");
    check(
        "sort",
        "sort big.txt | md5sum && sort -n -k3 big.txt | tail -3",
        &dir,
        false,
    );
}

#[test]
fn perl_with_big_hashes() {
    if !have("perl") {
        return;
    }
    let dir = fresh_dir("perl");
    let script = "perl -e 'my %h; for my $i (1..400000) { $h{\"k$i\" x (1 + $i % 5)} = [$i, \"v\" x ($i % 17)]; } \
                  my @k = sort keys %h; my $n = 0; $n += length($h{$_}[1]) for @k; print scalar(@k), \" $n\\n\"; \
                  delete $h{$_} for @k[0..100000]; print scalar(keys %h), \"\\n\";'";
    check("perl", script, &dir, true);
}
