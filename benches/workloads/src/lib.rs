//! Allocation workloads modelled on the published descriptions of the classic allocator
//! benchmarks (cfrac, larson, xmalloc, cache-scratch, alloc-test, sh6bench, mstress, rptest,
//! a large-block test) and on allocation-heavy Rust programs (`BTreeMap`, string sorting,
//! serde_json, rayon). The code is ours; only the shapes of the workloads follow the
//! descriptions.
//!
//! This crate has no allocator of its own: each binary that links it picks one with
//! `#[global_allocator]` and calls [`run_cli`], so the same code runs on every allocator
//! (`benches/src/bin/workload.rs` for ours, `benches/peers/` for the others, and
//! `cargo run --release -p mimalloc-benches --bin compare` to compare them).
//!
//! Every workload takes a [`Params`] (thread count and a size multiplier), verifies its own
//! result (block contents, arithmetic identities, round trips) and returns a checksum that
//! depends only on the parameters, never on the allocator or on thread scheduling, so a
//! runner can also check that all allocators computed the same thing.

#![deny(missing_docs)]

mod block;
mod cfrac;
mod classic;
mod programs;

use std::time::Instant;

pub use block::Block;

/// The size of a run: how many threads, and how much work relative to the default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// Worker threads, for the workloads that use several (at least 1).
    pub threads: usize,
    /// Work multiplier: 1.0 is the default size (a fraction of a second to about two seconds
    /// with our allocator on a small machine); 0.01 is the tiny size CI runs.
    pub scale: f64,
}

impl Params {
    /// `base` scaled by [`Params::scale`], at least 1.
    pub fn n(&self, base: usize) -> usize {
        ((base as f64 * self.scale) as usize).max(1)
    }
}

/// What a workload returns: its checksum, or what its verification found wrong.
pub type Outcome = Result<u64, String>;

/// One workload of the suite.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// The name used on the command line.
    pub name: &'static str,
    /// Whether it uses [`Params::threads`] threads (otherwise it runs on one, or on a fixed
    /// number it states in its description).
    pub threaded: bool,
    /// One line on what it does and which benchmark it is modelled on.
    pub description: &'static str,
    /// Runs it.
    pub run: fn(&Params) -> Outcome,
}

/// The whole suite, in the order tables list it.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "cfrac",
        threaded: false,
        description: "continued-fraction expansion of square roots of 40-digit numbers with \
                      immutable big numbers and trial division (cfrac: many short-lived small objects)",
        run: cfrac::run,
    },
    Workload {
        name: "larson",
        threaded: true,
        description: "server churn: each thread replaces random blocks (8-1000 B) in its array; \
                      each round new threads take over the arrays (larson: objects migrate between threads)",
        run: classic::larson,
    },
    Workload {
        name: "xmalloc",
        threaded: true,
        description: "half the threads allocate blocks (8-512 B) and send them in batches to the \
                      other half, which free them (xmalloc: asymmetric producer/consumer)",
        run: classic::xmalloc,
    },
    Workload {
        name: "cache-scratch1",
        threaded: false,
        description: "one thread frees an 8-byte object the main thread made, then allocates, \
                      writes and frees small objects (cache-scratch, 1 thread)",
        run: classic::cache_scratch1,
    },
    Workload {
        name: "cache-scratchN",
        threaded: true,
        description: "the same with N threads whose first objects were allocated side by side by \
                      the main thread (cache-scratch: passive false sharing)",
        run: classic::cache_scratch_n,
    },
    Workload {
        name: "alloc-test1",
        threaded: false,
        description: "millions of random replacements in a live set of blocks of random sizes, \
                      mostly small, some up to 256 KiB (alloc-test, 1 thread)",
        run: classic::alloc_test1,
    },
    Workload {
        name: "tight-loop",
        threaded: false,
        description: "a live set of 100 blocks of 48 B allocated and all freed, round after round \
                      (glibc's bench-malloc-simple: the fast paths' round trip alone)",
        run: classic::tight_loop,
    },
    Workload {
        name: "alloc-testN",
        threaded: true,
        description: "the same on N threads at once (alloc-test, N threads)",
        run: classic::alloc_test_n,
    },
    Workload {
        name: "sh6bench",
        threaded: true,
        description: "batches of blocks of cycling sizes freed in reverse order, or half forwards \
                      and half backwards, on every thread (sh6bench)",
        run: classic::sh6bench,
    },
    Workload {
        name: "mstress",
        threaded: true,
        description: "rounds of short-lived threads (4 per core) swapping blocks through a shared \
                      pool, so objects outlive the thread that made them (mstress)",
        run: classic::mstress,
    },
    Workload {
        name: "thread-churn",
        threaded: false,
        description: "rounds of 32 threads that live for one round, allocate mixed sizes \
                      (16 B-1 MiB) and leave a quarter of their blocks to later threads (thread churn)",
        run: classic::thread_churn,
    },
    Workload {
        name: "rptest",
        threaded: true,
        description: "working sets with a size distribution weighted towards small blocks (16 B-64 KiB), \
                      a share of each batch freed by the next thread (rptest)",
        run: classic::rptest,
    },
    Workload {
        name: "rptest-cross",
        threaded: true,
        description: "a live set per thread of random sizes (8 B-16 KiB, log-uniform); one replaced \
                      block in eight goes to a random other thread in batches of 64 and is freed \
                      there (rptest with its cross-thread rate)",
        run: classic::rptest_cross,
    },
    Workload {
        name: "large",
        threaded: false,
        description: "a live set of 8 blocks of 5-25 MiB, each replaced at random and every page of \
                      it written (malloc-large)",
        run: classic::large,
    },
    Workload {
        name: "btree",
        threaded: false,
        description: "build, look up and drop a BTreeMap<String, Vec<u8>> of a million entries",
        run: programs::btree,
    },
    Workload {
        name: "sort-strings",
        threaded: false,
        description: "sort a Vec<String> of a million random strings, then dedup and drop it",
        run: programs::sort_strings,
    },
    Workload {
        name: "json",
        threaded: false,
        description: "generate a JSON document of about 20 MB as a serde_json::Value, serialise it, \
                      parse it back and compare",
        run: programs::json,
    },
    Workload {
        name: "rayon",
        threaded: true,
        description: "rayon on N threads: parallel map of strings and vectors, a parallel sort of \
                      strings and a parallel word count merged from per-task HashMaps",
        run: programs::rayon,
    },
];

/// The workload called `name`.
pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

/// The number of threads the machine offers (1 if unknown): the default for `--threads`.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

const USAGE: &str = "usage: workload --workload NAME [--threads N] [--scale S]
       workload --list
Runs one workload of the suite with this binary's global allocator and prints one line:
  <name> threads=<N> scale=<S> checksum=<hex> elapsed=<seconds>
--threads defaults to the available parallelism, --scale to 1.0 (0.01 is tiny).
Exits 1 when the workload's own verification fails, 2 on a bad command line.";

/// What a command line asks for.
#[derive(Debug)]
enum Command {
    List,
    Help,
    Run(&'static Workload, Params),
}

/// Parses the arguments after the program name.
fn parse(args: &[String]) -> Result<Command, String> {
    let mut name = None;
    let mut params = Params {
        threads: default_threads(),
        scale: 1.0,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match arg.as_str() {
            "--list" => return Ok(Command::List),
            "--help" | "-h" => return Ok(Command::Help),
            "--workload" => name = Some(value("--workload")?),
            "--threads" => {
                let v = value("--threads")?;
                params.threads = match v.parse::<usize>() {
                    Ok(n) if n >= 1 => n,
                    _ => return Err(format!("--threads wants a positive integer, not {v:?}")),
                };
            }
            "--scale" => {
                let v = value("--scale")?;
                params.scale = match v.parse::<f64>() {
                    Ok(s) if s.is_finite() && s > 0.0 => s,
                    _ => return Err(format!("--scale wants a positive number, not {v:?}")),
                };
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let name = name.ok_or("--workload NAME is required (--list shows the names)")?;
    let w =
        find(&name).ok_or_else(|| format!("no workload called {name:?} (--list shows them)"))?;
    Ok(Command::Run(w, params))
}

/// Runs `w` and prints its result line; returns the process exit code.
pub fn run_one(w: &Workload, p: &Params) -> i32 {
    let start = Instant::now();
    let outcome = (w.run)(p);
    let elapsed = start.elapsed().as_secs_f64();
    match outcome {
        Ok(sum) => {
            println!(
                "{} threads={} scale={} checksum={sum:016x} elapsed={elapsed:.6}",
                w.name, p.threads, p.scale
            );
            0
        }
        Err(e) => {
            eprintln!("{}: verification failed: {e}", w.name);
            1
        }
    }
}

/// The `main` of every workload binary: parses `--workload NAME --threads N --scale S` (or
/// `--list`), runs that workload with the binary's global allocator, prints its checksum and
/// elapsed seconds, and exits non-zero when the workload's verification fails (1) or the
/// command line is wrong (2).
pub fn run_cli() -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match parse(&args) {
        Ok(Command::List) => {
            for w in WORKLOADS {
                let t = if w.threaded { "N threads" } else { "1 thread" };
                println!("{:<15} {:<10} {}", w.name, t, w.description);
            }
            0
        }
        Ok(Command::Help) => {
            println!("{USAGE}");
            0
        }
        Ok(Command::Run(w, p)) => run_one(w, &p),
        Err(e) => {
            eprintln!("workload: {e}\n{USAGE}");
            2
        }
    };
    std::process::exit(code)
}

/// A small xorshift generator: deterministic, so every allocator sees the same requests.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value).
    pub fn new(seed: u64) -> Self {
        let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `lo..=hi` (`lo <= hi`).
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo + 1) as u64) as usize
    }
}

/// Mixes a value into a running checksum (order-dependent).
pub fn mix(sum: u64, v: u64) -> u64 {
    (sum ^ v).wrapping_mul(0x100_0000_01b3).rotate_left(5)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn command_line() {
        let Ok(Command::Run(w, p)) = parse(&args("--workload larson --threads 3 --scale 0.5"))
        else {
            panic!("a valid command line was refused");
        };
        assert_eq!(w.name, "larson");
        assert_eq!(
            p,
            Params {
                threads: 3,
                scale: 0.5
            }
        );
        assert!(matches!(parse(&args("--list")), Ok(Command::List)));
        for bad in [
            "",
            "--workload nosuch",
            "--workload larson --threads 0",
            "--workload larson --threads",
            "--workload larson --scale -1",
            "--workload larson --scale nan",
            "--bogus",
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn names_are_unique() {
        for (i, w) in WORKLOADS.iter().enumerate() {
            assert!(
                WORKLOADS[..i].iter().all(|o| o.name != w.name),
                "{} twice",
                w.name
            );
            assert!(find(w.name).is_some());
        }
    }

    /// Every workload verifies and gives the same checksum twice at a tiny size, with one and
    /// with three threads (the checksum must not depend on scheduling).
    #[test]
    fn every_workload_runs_tiny_and_is_deterministic() {
        for w in WORKLOADS {
            for threads in [1, 3] {
                let p = Params {
                    threads,
                    scale: 0.01,
                };
                let a = (w.run)(&p).unwrap_or_else(|e| panic!("{}: {e}", w.name));
                let b = (w.run)(&p).unwrap_or_else(|e| panic!("{}: {e}", w.name));
                assert_eq!(
                    a, b,
                    "{} with {threads} threads is not deterministic",
                    w.name
                );
            }
        }
    }
}
