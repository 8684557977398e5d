//! The demonstration: a multi-threaded, allocation-heavy workload run with our allocator and
//! with the system allocator, each in its own child process (an allocator is chosen once per
//! process), several times; prints the median times, their ratio, and our statistics.
//!
//! `cargo run --release -p mimalloc-benches --bin demo [-- --threads N --scale N --reps N]`

use core::alloc::{GlobalAlloc, Layout};
use mimalloc::MiMalloc;
use std::alloc::System;
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

/// Forwards every call to the allocator this process was started for: decided on the first
/// call from `DEMO_ALLOCATOR` (read with `getenv`, which does not allocate) and fixed after.
/// Both allocators go through the same dispatch, so the comparison is fair.
struct Dispatch;

const UNDECIDED: u8 = 0;
const OURS: u8 = 1;
const SYSTEM: u8 = 2;
static MODE: AtomicU8 = AtomicU8::new(UNDECIDED);

#[inline]
fn mode() -> u8 {
    let m = MODE.load(Ordering::Relaxed);
    if m != UNDECIDED {
        return m;
    }
    // SAFETY: getenv with a NUL-terminated name; the result is only compared, not kept.
    let is_system = unsafe {
        let v = libc::getenv(c"DEMO_ALLOCATOR".as_ptr());
        !v.is_null() && core::ffi::CStr::from_ptr(v).to_bytes() == b"system"
    };
    let m = if is_system { SYSTEM } else { OURS };
    MODE.store(m, Ordering::Relaxed);
    m
}

// SAFETY: every call goes to one allocator for the whole life of the process (the mode never
// changes after the first call), so blocks are always freed by the allocator that made them.
unsafe impl GlobalAlloc for Dispatch {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded GlobalAlloc contract.
        unsafe {
            if mode() == SYSTEM {
                System.alloc(l)
            } else {
                MiMalloc.alloc(l)
            }
        }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded GlobalAlloc contract.
        unsafe {
            if mode() == SYSTEM {
                System.alloc_zeroed(l)
            } else {
                MiMalloc.alloc_zeroed(l)
            }
        }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded GlobalAlloc contract.
        unsafe {
            if mode() == SYSTEM {
                System.dealloc(p, l)
            } else {
                MiMalloc.dealloc(p, l)
            }
        }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: forwarded GlobalAlloc contract.
        unsafe {
            if mode() == SYSTEM {
                System.realloc(p, l, n)
            } else {
                MiMalloc.realloc(p, l, n)
            }
        }
    }
}

#[global_allocator]
static GLOBAL: Dispatch = Dispatch;

/// Command-line knobs; defaults make a run of a few seconds per process on a small machine.
struct Args {
    /// Worker threads in the workload.
    threads: usize,
    /// Maps each worker builds and drops.
    scale: usize,
    /// Child processes per allocator.
    reps: usize,
}

const USAGE: &str = "usage: demo [--threads N] [--scale N] [--reps N]\n\
    --threads N  worker threads (default 4)\n\
    --scale N    maps of 2,000 entries each worker builds and drops (default 150)\n\
    --reps N     runs per allocator; medians are reported (default 7)";

fn parse_args() -> Args {
    let mut args = Args {
        threads: 4,
        scale: 150,
        reps: 7,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = it.next().and_then(|v| v.parse::<usize>().ok());
        match (flag.as_str(), value) {
            ("--threads", Some(v)) if v > 0 => args.threads = v,
            ("--scale", Some(v)) if v > 0 => args.scale = v,
            ("--reps", Some(v)) if v > 0 => args.reps = v,
            _ => {
                eprintln!("bad argument: {flag}\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    args
}

/// Child process: run the workload once and print `seconds checksum`.
fn child(args: &Args, print_stats: bool) {
    // The dispatch must really have picked the allocator asked for, or the comparison means
    // nothing: a fresh box is in our heap's memory exactly when ours was chosen.
    let probe = Box::new([0u8; 64]);
    // SAFETY: asks only whether the address lies in memory our allocator manages; it does
    // not dereference it.
    let in_ours = unsafe { mimalloc_sys::mi_is_in_heap_region(probe.as_ptr().cast()) };
    assert_eq!(
        in_ours,
        mode() == OURS,
        "the global allocator is not the one DEMO_ALLOCATOR asked for"
    );
    drop(probe);
    let start = Instant::now();
    let sum = mimalloc_benches::workload(args.threads, args.scale);
    let secs = start.elapsed().as_secs_f64();
    println!("{secs} {sum}");
    if print_stats {
        // SAFETY: prints through the default output (stderr); no pointers are passed.
        unsafe { mimalloc_sys::mi_stats_print_out(None, std::ptr::null_mut()) };
    }
}

fn run_child(alloc: &str, args: &Args, print_stats: bool) -> (f64, u64) {
    let exe = std::env::current_exe().expect("own executable");
    let mut cmd = Command::new(exe);
    cmd.env("DEMO_ALLOCATOR", alloc).env("DEMO_CHILD", "1");
    if print_stats {
        cmd.env("DEMO_STATS", "1");
    }
    cmd.args([
        "--threads",
        &args.threads.to_string(),
        "--scale",
        &args.scale.to_string(),
    ]);
    let out = cmd.output().expect("run child");
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        panic!("child with {alloc} failed: {}", out.status);
    }
    if print_stats {
        // the child's statistics report goes to its stderr; show it in order with ours
        print!("{}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split_whitespace();
    let secs = fields
        .next()
        .and_then(|s| s.parse().ok())
        .expect("child prints its time");
    let sum = fields
        .next()
        .and_then(|s| s.parse().ok())
        .expect("child prints its checksum");
    (secs, sum)
}

/// The median (the mean of the two middle values for an even count).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let args = parse_args();
    if std::env::var_os("DEMO_CHILD").is_some() {
        child(&args, std::env::var_os("DEMO_STATS").is_some());
        return;
    }
    println!(
        "workload: {} threads, each building and dropping {} maps of 2,000 String -> Vec<u8> entries,\n\
         every tenth value freed by another thread; {} runs per allocator, alternating\n",
        args.threads, args.scale, args.reps
    );
    let (mut ours, mut system) = (Vec::new(), Vec::new());
    let mut checksum = None;
    for rep in 1..=args.reps {
        for (alloc, times) in [("mimalloc-rs", &mut ours), ("system", &mut system)] {
            let (secs, sum) = run_child(alloc, &args, false);
            assert!(
                checksum.map_or(true, |c| c == sum),
                "allocators disagree on the workload's result"
            );
            checksum = Some(sum);
            println!("run {rep}/{}: {alloc:<12} {secs:.3} s", args.reps);
            times.push(secs);
        }
    }
    println!("\nstatistics of one more run with our allocator (mi_stats_print_out):");
    run_child("mimalloc-rs", &args, true);
    let (m_ours, m_sys) = (median(&mut ours), median(&mut system));
    println!(
        "\nmedian wall time of {} runs each, measured in this run (lower is better):\n",
        args.reps
    );
    println!("| allocator | median wall time |");
    println!("|---|---:|");
    println!("| mimalloc-rs (ours) | {m_ours:.3} s |");
    println!("| system | {m_sys:.3} s |");
    println!(
        "\nratio ours / system = {:.2} (below 1: ours is faster)",
        m_ours / m_sys
    );
}
