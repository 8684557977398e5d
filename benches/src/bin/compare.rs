//! The workload suite's comparison runner: builds one workload binary per allocator, runs
//! every workload with every allocator several times, each run in a fresh process, and
//! reports median wall times and peak resident memory next to ours.
//!
//! ```sh
//! cargo run --release -p mimalloc-benches --bin compare                    # the full run
//! cargo run --release -p mimalloc-benches --bin compare -- --tiny          # CI: each once, tiny
//! cargo run --release -p mimalloc-benches --bin compare -- \
//!     --workloads larson,xmalloc --allocators ours,mimalloc --reps 5       # a focused look
//! ```
//!
//! Binaries: ours is `workload` of this package (our `MiMalloc` as global allocator); the
//! peers' are `workload-<name>` of the separate Cargo projects `benches/peers/` and, for
//! upstream's v2 line, `benches/peers-v2/` (crates.io `mimalloc` exports the same C symbols as
//! ours and its sys crate the same `links` value, so it cannot share a dependency graph with
//! us, and its `v2` feature would switch the v3 line off for the whole graph). All link the
//! same `mimalloc-workloads` code.
//!
//! Each run is timed from spawn to exit (start-up and tear-down included, as `time` does)
//! and its peak RSS read from `wait4`'s rusage. Within a repetition the allocators take turns,
//! in an order that changes between repetitions (see `run_order`), so slow drifts of the
//! machine's load, and whatever one run leaves behind in the kernel, fall on all of them alike. Every run must exit 0 (the workload verified its result) and print the
//! same checksum as every other run of that workload.
//!
//! A full run writes `<out>/<date>-<machine>.md` and `.svg` and copies them to `latest.md`
//! and `latest.svg` (`<out>` is `benches/results` unless `--out` says otherwise).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// An allocator of the comparison and the binary that runs the workloads with it.
struct Allocator {
    /// Its name on the command line and in tables.
    key: &'static str,
    /// What it is, for the report.
    what: &'static str,
    /// The workload binary's name.
    bin: &'static str,
    /// The separate Cargo project the binary comes from (None: ours, from this workspace).
    project: Option<&'static str>,
    /// Cargo features of `mimalloc-benches` the binary is built with (ours only).
    features: &'static str,
}

/// The peers' Cargo projects, relative to the repository root.
const PEERS: &str = "benches/peers";
const PEERS_V2: &str = "benches/peers-v2";

const ALLOCATORS: &[Allocator] = &[
    Allocator {
        key: "ours",
        what: "mimalloc-rs, this repository (`mimalloc::MiMalloc`)",
        bin: "workload",
        project: None,
        features: "",
    },
    Allocator {
        key: "ours-secure",
        what: "mimalloc-rs built with the `secure` feature (guard pages, encoded and random free lists, double-free checks)",
        bin: "workload-secure",
        project: None,
        features: "secure",
    },
    Allocator {
        key: "system",
        what: "the system allocator (`std::alloc::System`, glibc malloc on Linux)",
        bin: "workload-system",
        project: Some(PEERS),
        features: "",
    },
    Allocator {
        key: "mimalloc",
        what: "upstream mimalloc through crates.io `mimalloc` (default features: its libmimalloc-sys \
               0.1.49 builds the v3 line, mimalloc 3.3.2; the `v2` feature would select 2.3.2)",
        bin: "workload-mimalloc",
        project: Some(PEERS),
        features: "",
    },
    Allocator {
        key: "mimalloc-v2",
        what: "upstream mimalloc's v2 line, the one our C API follows: crates.io `mimalloc` with its \
               `v2` feature (libmimalloc-sys 0.1.49 builds mimalloc 2.3.2)",
        bin: "workload-mimalloc-v2",
        project: Some(PEERS_V2),
        features: "",
    },
    Allocator {
        key: "jemalloc",
        what: "jemalloc through `tikv-jemallocator`",
        bin: "workload-jemalloc",
        project: Some(PEERS),
        features: "",
    },
    Allocator {
        key: "snmalloc",
        what: "snmalloc through `snmalloc-rs`",
        bin: "workload-snmalloc",
        project: Some(PEERS),
        features: "",
    },
];

/// The scale of `--tiny`.
const TINY_SCALE: f64 = 0.01;

const USAGE: &str =
    "usage: compare [--workloads a,b] [--allocators ours,ours-secure,system,mimalloc,mimalloc-v2,jemalloc,snmalloc]
               [--reps N] [--scale S] [--threads N] [--out DIR] [--tiny] [--list]
Builds the workload binaries, runs every workload with every allocator --reps times
(default 3) and prints markdown tables of median time and peak RSS, each relative to ours
(or to the first allocator listed when ours is not), with geometric means; writes them with
an SVG chart to DIR/<date>-<machine>.md|.svg and DIR/latest.md|.svg (DIR: benches/results).
--tiny: CI mode: every workload once at scale 0.01, results verified, nothing written.
--threads defaults to the available parallelism, --scale to 1.0.";

/// What the command line asked for.
struct Config {
    workloads: Vec<&'static str>,
    allocators: Vec<&'static Allocator>,
    reps: usize,
    scale: f64,
    threads: usize,
    out: PathBuf,
    tiny: bool,
}

/// The repository root (this package lives in `<root>/benches`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn parse_args(args: &[String]) -> Result<Option<Config>, String> {
    let mut c = Config {
        workloads: mimalloc_workloads::WORKLOADS
            .iter()
            .map(|w| w.name)
            .collect(),
        allocators: ALLOCATORS.iter().collect(),
        reps: 3,
        scale: 1.0,
        threads: mimalloc_workloads::default_threads(),
        out: root().join("benches/results"),
        tiny: false,
    };
    let (mut reps, mut scale) = (None, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "--list" => {
                for w in mimalloc_workloads::WORKLOADS {
                    println!("{:<15} {}", w.name, w.description);
                }
                for a in ALLOCATORS {
                    println!("allocator {:<11} {}", a.key, a.what);
                }
                return Ok(None);
            }
            "--tiny" => c.tiny = true,
            "--workloads" => {
                c.workloads = value()?
                    .split(',')
                    .map(|n| {
                        mimalloc_workloads::find(n.trim())
                            .map(|w| w.name)
                            .ok_or_else(|| format!("no workload called {n:?} (--list)"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--allocators" => {
                c.allocators = value()?
                    .split(',')
                    .map(|n| {
                        ALLOCATORS
                            .iter()
                            .find(|a| a.key == n.trim())
                            .ok_or_else(|| format!("no allocator called {n:?} (--list)"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--reps" => {
                let v = value()?;
                reps = Some(match v.parse::<usize>() {
                    Ok(n) if n >= 1 => n,
                    _ => return Err(format!("--reps wants a positive integer, not {v:?}")),
                });
            }
            "--threads" => {
                let v = value()?;
                c.threads = match v.parse::<usize>() {
                    Ok(n) if n >= 1 => n,
                    _ => return Err(format!("--threads wants a positive integer, not {v:?}")),
                };
            }
            "--scale" => {
                let v = value()?;
                scale = Some(match v.parse::<f64>() {
                    Ok(s) if s.is_finite() && s > 0.0 => s,
                    _ => return Err(format!("--scale wants a positive number, not {v:?}")),
                });
            }
            "--out" => c.out = PathBuf::from(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if c.workloads.is_empty() || c.allocators.is_empty() {
        return Err("nothing to run".into());
    }
    // ours is the baseline whenever it runs
    if let Some(i) = c.allocators.iter().position(|a| a.key == "ours") {
        let ours = c.allocators.remove(i);
        c.allocators.insert(0, ours);
    }
    c.reps = reps.unwrap_or(if c.tiny { 1 } else { 3 });
    c.scale = scale.unwrap_or(if c.tiny { TINY_SCALE } else { 1.0 });
    Ok(Some(c))
}

/// The order the allocators run in during one rep: a permutation drawn from the rep number.
/// A plain rotation would keep every allocator right behind the same predecessor in every
/// rep, and what a process leaves behind in the kernel (fragmented free memory that makes the
/// next process's transparent huge pages wait for compaction, say) would always land on the
/// same successor.
fn run_order(n: usize, rep: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut x = (rep as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    order
}

/// Runs a cargo build and returns the executables it reported, by file name.
fn cargo_build(args: &[&str]) -> Result<BTreeMap<String, PathBuf>, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let start = Instant::now();
    let out = Command::new(&cargo)
        .arg("build")
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .current_dir(root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !out.status.success() {
        return Err(format!("`cargo build {}` failed", args.join(" ")));
    }
    eprintln!(
        "compare: built {} in {:.1} s",
        args.join(" "),
        start.elapsed().as_secs_f64()
    );
    let mut exes = BTreeMap::new();
    // Each message is one JSON object per line; the artifacts' executables are plain
    // strings whose only escapes are backslashes and quotes (absent from our paths).
    let key = "\"executable\":\"";
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(at) = line.find(key) {
            let rest = &line[at + key.len()..];
            if let Some(end) = rest.find('"') {
                let path = PathBuf::from(&rest[..end]);
                if let Some(name) = path.file_name() {
                    exes.insert(name.to_string_lossy().into_owned(), path);
                }
            }
        }
    }
    Ok(exes)
}

/// Builds what `allocators` need (every peers project in any case when `always_peers`).
fn build(
    allocators: &[&Allocator],
    always_peers: bool,
) -> Result<BTreeMap<&'static str, PathBuf>, String> {
    let mut exes = BTreeMap::new();
    for project in [PEERS, PEERS_V2] {
        if always_peers || allocators.iter().any(|a| a.project == Some(project)) {
            let manifest = root().join(project).join("Cargo.toml");
            let manifest = manifest.to_string_lossy().into_owned();
            exes.extend(cargo_build(&["--release", "--manifest-path", &manifest])?);
        }
    }
    // Each feature set of ours is built in turn and its binary copied aside under its own
    // name; the default build comes last, so `workload` itself stays the default one.
    let mut ours: Vec<&Allocator> = allocators
        .iter()
        .copied()
        .filter(|a| a.project.is_none())
        .collect();
    ours.sort_by_key(|a| a.features.is_empty());
    for a in ours {
        let mut args = vec!["--release", "-p", "mimalloc-benches", "--bin", "workload"];
        if !a.features.is_empty() {
            args.extend(["--features", a.features]);
        }
        let built = cargo_build(&args)?;
        let exe = built
            .get("workload")
            .ok_or("the build reported no binary workload")?;
        if a.features.is_empty() {
            exes.insert("workload".into(), exe.clone());
        } else {
            let copy = exe.with_file_name(a.bin);
            std::fs::copy(exe, &copy)
                .map_err(|e| format!("cannot copy {} to {}: {e}", exe.display(), copy.display()))?;
            exes.insert(a.bin.into(), copy);
        }
    }
    allocators
        .iter()
        .map(|a| {
            exes.get(a.bin)
                .map(|p| (a.key, p.clone()))
                .ok_or_else(|| format!("the build reported no binary {}", a.bin))
        })
        .collect()
}

/// One run's measurements.
#[derive(Clone, Copy)]
struct Sample {
    /// Wall time from spawn to exit.
    secs: f64,
    /// User plus system CPU time of the child (less disturbed than wall time by a busy
    /// machine for the one-thread workloads; includes spinning in the threaded ones).
    cpu: f64,
    /// Peak resident set (`ru_maxrss`).
    rss_kib: u64,
}

/// Runs one workload binary to its end; returns its measurements and checksum.
fn run_once(bin: &Path, workload: &str, c: &Config) -> Result<(Sample, String), String> {
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(["--workload", workload])
        .args(["--threads", &c.threads.to_string()])
        .args(["--scale", &c.scale.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our child, not yet reaped (std's Child is never waited on
        // here); `status` and `usage` are valid for writes.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4: {e}"));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let stderr = err_reader.join().unwrap_or_default();
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        let how = if libc::WIFEXITED(status) {
            format!("exited with {}", libc::WEXITSTATUS(status))
        } else {
            format!("was killed by signal {}", libc::WTERMSIG(status))
        };
        return Err(format!("{how}: {}", stderr.trim()));
    }
    let checksum = stdout
        .split_whitespace()
        .find_map(|f| f.strip_prefix("checksum="))
        .ok_or_else(|| format!("no checksum in its output {stdout:?}"))?
        .to_string();
    // ru_maxrss is in KiB on Linux.
    let rss_kib = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    Ok((Sample { secs, cpu, rss_kib }, checksum))
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn geomean(v: &[f64]) -> f64 {
    (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
}

/// The medians of one workload's runs with one allocator.
#[derive(Clone, Copy)]
struct Medians {
    secs: f64,
    cpu: f64,
    rss_kib: f64,
    /// The median over reps of this allocator's time / the baseline's time in the same rep.
    paired: f64,
}

/// The median of the ratios `a[i] / b[i]` of runs taken in the same rep. A machine whose speed
/// drifts over minutes (a shared host) moves both runs of a rep alike, which cancels here but
/// not in a ratio of two medians. `None` unless both have a run in every rep.
fn paired_ratio(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() || a.len() != b.len() || b.iter().any(|&x| x <= 0.0) {
        return None;
    }
    let r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    Some(median(&r))
}

/// Medians per workload and allocator; `None` where a run failed.
struct Results {
    workloads: Vec<&'static str>,
    allocators: Vec<&'static str>,
    /// `[workload][allocator]` → the medians of its runs.
    cells: Vec<Vec<Option<Medians>>>,
}

impl Results {
    /// Ratios of allocator `a` to the baseline (column 0) for the value `pick` selects, for
    /// the workloads where both have results.
    fn ratios(&self, a: usize, pick: fn(&Medians) -> f64) -> Vec<Option<f64>> {
        self.cells
            .iter()
            .map(|row| match (&row[0], &row[a]) {
                (Some(b), Some(x)) => Some(pick(x) / pick(b)),
                _ => None,
            })
            .collect()
    }

    /// A markdown table of `pick` (formatted with `fmt`) with ratios and geometric means.
    fn table(&self, what: &str, pick: fn(&Medians) -> f64, fmt: fn(f64) -> String) -> String {
        let mut s = String::new();
        let _ = write!(s, "| {what} |");
        for a in &self.allocators {
            let _ = write!(s, " {a} |");
        }
        s.push_str("\n|---|");
        s.push_str(&"---:|".repeat(self.allocators.len()));
        s.push('\n');
        for (w, row) in self.workloads.iter().zip(&self.cells) {
            let _ = write!(s, "| {w} |");
            for (a, cell) in row.iter().enumerate() {
                match (cell, &row[0]) {
                    (None, _) => s.push_str(" failed |"),
                    (Some(x), _) if a == 0 => {
                        let _ = write!(s, " {} |", fmt(pick(x)));
                    }
                    (Some(x), Some(b)) => {
                        let _ = write!(s, " {} ({:.2}) |", fmt(pick(x)), pick(x) / pick(b));
                    }
                    (Some(x), None) => {
                        let _ = write!(s, " {} |", fmt(pick(x)));
                    }
                }
            }
            s.push('\n');
        }
        s.push_str("| **geometric mean** |");
        for a in 0..self.allocators.len() {
            let r: Vec<f64> = self.ratios(a, pick).into_iter().flatten().collect();
            if r.is_empty() {
                s.push_str(" – |");
            } else {
                let _ = write!(s, " **{:.2}** |", geomean(&r));
            }
        }
        s.push('\n');
        s
    }

    /// The paired time ratios (see `paired_ratio`) with their geometric means.
    fn paired_table(&self) -> String {
        let mut s = String::from("| paired time ratio |");
        for a in &self.allocators {
            let _ = write!(s, " {a} |");
        }
        s.push_str("\n|---|");
        s.push_str(&"---:|".repeat(self.allocators.len()));
        s.push('\n');
        let mut per_alloc: Vec<Vec<f64>> = vec![Vec::new(); self.allocators.len()];
        for (w, row) in self.workloads.iter().zip(&self.cells) {
            let _ = write!(s, "| {w} |");
            for (a, cell) in row.iter().enumerate() {
                match cell {
                    Some(x) if x.paired.is_finite() => {
                        let _ = write!(s, " {:.2} |", x.paired);
                        per_alloc[a].push(x.paired);
                    }
                    _ => s.push_str(" – |"),
                }
            }
            s.push('\n');
        }
        s.push_str("| **geometric mean** |");
        for r in &per_alloc {
            if r.is_empty() {
                s.push_str(" – |");
            } else {
                let _ = write!(s, " **{:.2}** |", geomean(r));
            }
        }
        s.push('\n');
        s
    }

    /// Per workload, the baseline against the best of the other allocators (our own secure
    /// build is no peer): which peer is fastest and which uses the least memory, and the
    /// baseline's ratio to each (below 1: the baseline leads), with geometric means.
    fn best_peer_table(&self) -> String {
        let base = self.allocators[0];
        let peers: Vec<usize> = (1..self.allocators.len())
            .filter(|&a| !self.allocators[a].starts_with(base))
            .collect();
        let mut s = format!(
            "| workload | {base} time | fastest peer | {base} / fastest | {base} peak RSS | leanest peer | {base} / leanest |\n\
             |---|---:|---|---:|---:|---|---:|\n"
        );
        let (mut time_ratios, mut rss_ratios) = (Vec::new(), Vec::new());
        for (w, row) in self.workloads.iter().zip(&self.cells) {
            let Some(b) = &row[0] else {
                let _ = writeln!(s, "| {w} | failed | | | | | |");
                continue;
            };
            let best = |pick: fn(&Medians) -> f64| {
                peers
                    .iter()
                    .filter_map(|&a| row[a].as_ref().map(|x| (a, pick(x))))
                    .min_by(|x, y| x.1.total_cmp(&y.1))
            };
            let _ = write!(s, "| {w} | {} |", fmt_secs(b.secs));
            match best(|x| x.secs) {
                Some((a, t)) => {
                    time_ratios.push(b.secs / t);
                    let _ = write!(
                        s,
                        " {} {} | {:.2} |",
                        self.allocators[a],
                        fmt_secs(t),
                        b.secs / t
                    );
                }
                None => s.push_str(" – | – |"),
            }
            let _ = write!(s, " {} |", fmt_kib(b.rss_kib));
            match best(|x| x.rss_kib) {
                Some((a, k)) => {
                    rss_ratios.push(b.rss_kib / k);
                    let _ = write!(
                        s,
                        " {} {} | {:.2} |",
                        self.allocators[a],
                        fmt_kib(k),
                        b.rss_kib / k
                    );
                }
                None => s.push_str(" – | – |"),
            }
            s.push('\n');
        }
        let gm = |r: &[f64]| {
            if r.is_empty() {
                "–".to_string()
            } else {
                format!("**{:.2}**", geomean(r))
            }
        };
        let _ = writeln!(
            s,
            "| **geometric mean** | | | {} | | | {} |",
            gm(&time_ratios),
            gm(&rss_ratios)
        );
        s
    }

    /// A grouped bar chart of the time ratios to the baseline, on a log scale, one group per
    /// workload and one for the geometric mean, with the 1.0 line drawn across.
    fn svg(&self, title: &str) -> String {
        const COLORS: [&str; 5] = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1"];
        let peers: Vec<usize> = (1..self.allocators.len()).collect();
        let mut groups: Vec<(String, Vec<Option<f64>>)> = self
            .workloads
            .iter()
            .enumerate()
            .map(|(w, name)| {
                let r = peers
                    .iter()
                    .map(|&a| self.ratios(a, |x| x.secs)[w])
                    .collect();
                (name.to_string(), r)
            })
            .collect();
        groups.push((
            "geomean".into(),
            peers
                .iter()
                .map(|&a| {
                    let r: Vec<f64> = self.ratios(a, |x| x.secs).into_iter().flatten().collect();
                    (!r.is_empty()).then(|| geomean(&r))
                })
                .collect(),
        ));
        let max_log = groups
            .iter()
            .flat_map(|(_, r)| r.iter().flatten())
            .map(|r| r.log2().abs())
            .fold(1.0f64, f64::max)
            .ceil();
        let bar = 12.0;
        let group_w = bar * peers.len().max(1) as f64 + 14.0;
        let (left, top, plot_h, bottom) = (60.0, 40.0, 320.0, 110.0);
        let width = left + group_w * groups.len() as f64 + 20.0;
        let height = top + plot_h + bottom;
        let y = |ratio: f64| top + plot_h / 2.0 * (1.0 - ratio.log2() / max_log);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
             font-family=\"sans-serif\" font-size=\"11\">"
        );
        let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        let _ = writeln!(
            s,
            "<text x=\"{left}\" y=\"18\" font-size=\"13\">{}</text>",
            xml(title)
        );
        // gridlines at powers of two
        let mut k = -max_log;
        while k <= max_log {
            let r = k.exp2();
            let yy = y(r);
            let stroke = if k == 0.0 { "#000" } else { "#ddd" };
            let _ = writeln!(
                s,
                "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"{stroke}\"/>",
                width - 20.0
            );
            let label = if r >= 1.0 {
                format!("{r:.0}×")
            } else {
                format!("1/{:.0}", 1.0 / r)
            };
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
                left - 6.0,
                yy + 4.0
            );
            k += 1.0;
        }
        for (g, (name, ratios)) in groups.iter().enumerate() {
            let x0 = left + group_w * g as f64 + 7.0;
            for (i, r) in ratios.iter().enumerate() {
                let Some(r) = r else { continue };
                let x = x0 + bar * i as f64;
                let (y1, y2) = (y(1.0), y(*r));
                let _ = writeln!(
                    s,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\">\
                     <title>{} {}: {r:.2}</title></rect>",
                    y1.min(y2),
                    bar - 1.0,
                    (y1 - y2).abs().max(0.5),
                    COLORS[i % COLORS.len()],
                    xml(name),
                    self.allocators[peers[i]]
                );
            }
            let lx = x0 + group_w / 2.0 - 7.0;
            let ly = top + plot_h + 8.0;
            let _ = writeln!(
                s,
                "<text x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"end\" \
                 transform=\"rotate(-45 {lx:.1} {ly:.1})\">{}</text>",
                xml(name)
            );
        }
        for (i, &a) in peers.iter().enumerate() {
            let x = left + 110.0 * i as f64;
            let yy = height - 14.0;
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
                 <text x=\"{:.1}\" y=\"{yy:.1}\">{}</text>",
                yy - 9.0,
                COLORS[i % COLORS.len()],
                x + 14.0,
                xml(self.allocators[a])
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

/// Escapes text for SVG.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn fmt_secs(s: f64) -> String {
    format!("{s:.3} s")
}

fn fmt_kib(k: f64) -> String {
    if k >= 1024.0 * 1024.0 {
        format!("{:.2} GiB", k / 1024.0 / 1024.0)
    } else {
        format!("{:.1} MiB", k / 1024.0)
    }
}

/// The output of a command, trimmed, or `unknown`.
fn command_output(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The first value of `key` in a `key : value` file such as /proc/cpuinfo.
fn proc_field(file: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// Today's date (UTC) as YYYY-MM-DD, from the days since 1970 (the civil-calendar
/// conversion of Howard Hinnant's `civil_from_days`).
fn today() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!("{y:04}-{m:02}-{d:02}")
}

/// A short file-name-safe description of the machine: `<n>cpu-<cpu model>`.
fn machine_slug(cpus: usize, model: &str) -> String {
    let mut slug = format!("{cpus}cpu");
    let cleaned = model
        .to_lowercase()
        .replace("(r)", "")
        .replace("(tm)", "")
        .replace(" cpu", "");
    let cleaned = cleaned.split('@').next().unwrap_or("");
    for word in cleaned.split(|c: char| !c.is_ascii_alphanumeric()) {
        if !word.is_empty() && slug.len() < 40 {
            slug.push('-');
            slug.push_str(word);
        }
    }
    slug
}

/// The version of each package named `name` in a Cargo.lock.
fn locked_version(lock: &str, name: &str) -> String {
    let needle = format!("name = \"{name}\"\nversion = \"");
    lock.find(&needle)
        .and_then(|at| {
            let rest = &lock[at + needle.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .unwrap_or_else(|| "?".into())
}

/// The machine and software the numbers were measured on, as markdown list items.
fn machine_description(cpus: usize, model: &str) -> String {
    let mem = proc_field("/proc/meminfo", "MemTotal")
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or("unknown".into(), |kib| {
            format!("{:.1} GiB", kib / 1024.0 / 1024.0)
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or("unknown".into(), |s| s.trim().to_string());
    let lock = std::fs::read_to_string(root().join(PEERS).join("Cargo.lock")).unwrap_or_default();
    let v = |n| locked_version(&lock, n);
    let lock_v2 =
        std::fs::read_to_string(root().join(PEERS_V2).join("Cargo.lock")).unwrap_or_default();
    let glibc = command_output("ldd", &["--version"]);
    let glibc = glibc.lines().next().unwrap_or("unknown");
    format!(
        "- CPUs: {cpus} × {model}\n- memory: {mem}\n- kernel: Linux {kernel}\n- {}\n- system \
         allocator: {glibc}\n- peers: mimalloc {} (libmimalloc-sys {}), with `v2`: mimalloc {} \
         (libmimalloc-sys {}), tikv-jemallocator {} (tikv-jemalloc-sys {}), snmalloc-rs {} \
         (snmalloc-sys {})\n",
        command_output("rustc", &["--version"]),
        v("mimalloc"),
        v("libmimalloc-sys"),
        locked_version(&lock_v2, "mimalloc"),
        locked_version(&lock_v2, "libmimalloc-sys"),
        v("tikv-jemallocator"),
        v("tikv-jemalloc-sys"),
        v("snmalloc-rs"),
        v("snmalloc-sys"),
    )
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let c = match parse_args(&args) {
        Ok(Some(c)) => c,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let build_start = Instant::now();
    let exes = match build(&c.allocators, c.tiny) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("compare: {e}");
            return ExitCode::FAILURE;
        }
    };
    let build_secs = build_start.elapsed().as_secs_f64();
    let load_before = loadavg();
    let run_start = Instant::now();
    eprintln!(
        "compare: {} workloads × {} allocators × {} reps, {} threads, scale {}",
        c.workloads.len(),
        c.allocators.len(),
        c.reps,
        c.threads,
        c.scale
    );
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut cells = Vec::new();
    for &w in &c.workloads {
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); c.allocators.len()];
        let mut bad = vec![false; c.allocators.len()];
        let mut first_sum: Option<(String, &str)> = None;
        for rep in 0..c.reps {
            for a in run_order(c.allocators.len(), rep) {
                let alloc = c.allocators[a];
                match run_once(&exes[alloc.key], w, &c) {
                    Ok((s, sum)) => {
                        let mismatch = match &first_sum {
                            None => {
                                first_sum = Some((sum.clone(), alloc.key));
                                None
                            }
                            Some((f, by)) if *f != sum => Some(format!(
                                "checksum {sum} differs from {f} computed with {by}"
                            )),
                            Some(_) => None,
                        };
                        if let Some(m) = mismatch {
                            eprintln!("FAILED {w} with {}: {m}", alloc.key);
                            bad[a] = true;
                            failed += 1;
                            continue;
                        }
                        passed += 1;
                        eprintln!(
                            "  {w:<15} {:<11} rep {}/{}  {:>8.3} s  cpu {:>7.3} s  {:>9}",
                            alloc.key,
                            rep + 1,
                            c.reps,
                            s.secs,
                            s.cpu,
                            fmt_kib(s.rss_kib as f64)
                        );
                        samples[a].push(s);
                    }
                    Err(e) => {
                        eprintln!("FAILED {w} with {}: {e}", alloc.key);
                        bad[a] = true;
                        failed += 1;
                    }
                }
            }
        }
        let base_secs: Vec<f64> = samples[0].iter().map(|x| x.secs).collect();
        cells.push(
            samples
                .iter()
                .zip(&bad)
                .map(|(s, &bad)| {
                    (!bad && !s.is_empty()).then(|| {
                        let m =
                            |f: fn(&Sample) -> f64| median(&s.iter().map(f).collect::<Vec<_>>());
                        let secs: Vec<f64> = s.iter().map(|x| x.secs).collect();
                        Medians {
                            secs: m(|x| x.secs),
                            cpu: m(|x| x.cpu),
                            rss_kib: m(|x| x.rss_kib as f64),
                            paired: paired_ratio(&secs, &base_secs).unwrap_or(f64::NAN),
                        }
                    })
                })
                .collect(),
        );
    }
    let run_secs = run_start.elapsed().as_secs_f64();
    eprintln!("compare: builds {build_secs:.1} s, runs {run_secs:.1} s");
    if c.tiny {
        println!("{passed} passed, {failed} failed");
        return if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let results = Results {
        workloads: c.workloads.clone(),
        allocators: c.allocators.iter().map(|a| a.key).collect(),
        cells,
    };
    let base = results.allocators[0];
    let time_table = results.table("median time", |x| x.secs, fmt_secs);
    let cpu_table = results.table("CPU time", |x| x.cpu, fmt_secs);
    let mem_table = results.table("peak RSS", |x| x.rss_kib, fmt_kib);
    let paired_table = results.paired_table();
    let best_table = results.best_peer_table();
    println!("Against the best peer per workload (ratio: {base} / peer; below 1: {base} leads)\n");
    println!("{best_table}");
    println!("Median wall time (ratio: time / time with {base}; above 1: slower than {base})\n");
    println!("{time_table}");
    println!("Median CPU time, user + system (ratio: CPU time / CPU time with {base})\n");
    println!("{cpu_table}");
    println!("Median peak resident memory (ratio: RSS / RSS with {base})\n");
    println!("{mem_table}");
    println!("Median over reps of time / time with {base} in the same rep\n");
    println!("{paired_table}");

    let cpus = mimalloc_workloads::default_threads();
    let model = proc_field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown CPU".into());
    let date = today();
    let name = format!("{date}-{}", machine_slug(cpus, &model));
    let title = format!(
        "Median time / median time with {base} (log scale; below 1: faster than {base}), \
         {date}, {cpus} × {model}"
    );
    let svg = results.svg(&title);
    let report = |svg_name: &str| {
        format!(
            "# Workload suite: {date}\n\n`cargo run --release -p mimalloc-benches --bin compare{}`\n\n\
             {} threads, scale {}, {} runs per workload and allocator (medians), allocators taking \
             turns in a different order each time. Time is wall time from spawn to exit; peak RSS is the child's `ru_maxrss`.\n\n\
             ## Machine\n\n{}- load average before the runs: {load_before}; after: {}\n\
             - build {build_secs:.0} s, runs {run_secs:.0} s\n\n## Allocators\n\n{}\n\
             ## Time\n\nMedian wall time; ratio: time / time with {base} (above 1: slower than \
             {base}).\n\n{time_table}\n![time ratios]({svg_name})\n\n## CPU time\n\nMedian user + \
             system time of the process; ratio: CPU time / CPU time with {base}. Less disturbed by \
             other load than wall time for the one-thread workloads.\n\n{cpu_table}\n\
             ## Peak resident memory\n\nMedian `ru_maxrss`; ratio: RSS / RSS with {base}.\n\n{mem_table}\n\
             ## Paired time ratios\n\nThe median over reps of the allocator's time / {base}'s time \
             in the same rep. The two runs of a rep are seconds apart, so a machine whose speed drifts \
             over minutes moves both alike; this cancels here but not in the ratio of the medians \
             above.\n\n{paired_table}\n## Against the best peer\n\nPer workload, the fastest and the leanest \
             of the other allocators (our own secure build is not counted as a peer) and the ratio \
             {base} / peer for each; below 1: {base} leads.\n\n{best_table}",
            args.iter().fold(
                String::from(if args.is_empty() { "" } else { " --" }),
                |s, a| s + " " + a
            ),
            c.threads,
            c.scale,
            c.reps,
            machine_description(cpus, &model),
            loadavg(),
            c.allocators
                .iter()
                .map(|a| format!("- `{}`: {}\n", a.key, a.what))
                .collect::<String>(),
        )
    };
    let written = std::fs::create_dir_all(&c.out)
        .and_then(|()| {
            std::fs::write(
                c.out.join(format!("{name}.md")),
                report(&format!("{name}.svg")),
            )
        })
        .and_then(|()| std::fs::write(c.out.join(format!("{name}.svg")), &svg))
        .and_then(|()| std::fs::write(c.out.join("latest.md"), report("latest.svg")))
        .and_then(|()| std::fs::write(c.out.join("latest.svg"), &svg));
    match written {
        Ok(()) => eprintln!(
            "compare: wrote {0}/{name}.md, {0}/{name}.svg, {0}/latest.md, {0}/latest.svg",
            c.out.display()
        ),
        Err(e) => {
            eprintln!(
                "compare: cannot write the results under {}: {e}",
                c.out.display()
            );
            return ExitCode::FAILURE;
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("compare: {failed} runs failed");
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::{paired_ratio, run_order};

    #[test]
    fn paired_ratio_cancels_a_drift_shared_by_both_runs_of_a_rep() {
        // the machine halves its speed after the second rep; the allocator is always 1.1x
        let base = [1.0, 1.0, 2.0, 2.0, 2.0];
        let a: Vec<f64> = base.iter().map(|x| x * 1.1).collect();
        let r = paired_ratio(&a, &base).expect("both complete");
        assert!((r - 1.1).abs() < 1e-9, "{r}");
        assert_eq!(paired_ratio(&a[..4], &base), None, "a missing rep");
        assert_eq!(paired_ratio(&[], &[]), None);
    }

    #[test]
    fn every_rep_runs_each_allocator_once_and_predecessors_vary() {
        for n in 1..8 {
            for rep in 0..5 {
                let mut order = run_order(n, rep);
                order.sort_unstable();
                assert_eq!(order, (0..n).collect::<Vec<_>>(), "n {n} rep {rep}");
            }
        }
        // six allocators, five reps: no allocator runs right after the same one every time
        for a in 0..6 {
            let before: std::collections::BTreeSet<Option<usize>> = (0..5)
                .map(|rep| {
                    let order = run_order(6, rep);
                    let i = order.iter().position(|&x| x == a).unwrap_or(0);
                    i.checked_sub(1).map(|j| order[j])
                })
                .collect();
            assert!(before.len() > 1, "allocator {a} always follows {before:?}");
        }
    }
}
