//! `mimalloc-stress`: the transfer-array stress test of our allocator as a program. Prints a
//! line per round (steps, live blocks, resident memory, mappings) and a summary; exits 1 if
//! anything failed, 2 on bad arguments.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cfg = match mimalloc_stress::parse_args(std::env::args().skip(1)) {
        Ok(cfg) => cfg,
        Err(msg) => {
            if msg.is_empty() {
                println!("{}", mimalloc_stress::USAGE);
                return ExitCode::SUCCESS;
            }
            eprintln!("mimalloc-stress: {msg}\n{}", mimalloc_stress::USAGE);
            return ExitCode::from(2);
        }
    };
    let max = mimalloc_stress::max_map_count().map_or("unknown".to_string(), |m| m.to_string());
    println!(
        "mimalloc-stress: threads {}, scale {} ({} steps per thread per round, {} transfer slots), \
         rounds {}, seconds {}, seed {}; build {}; vm.max_map_count {max}",
        cfg.threads,
        cfg.scale,
        cfg.steps_per_thread(),
        cfg.transfer_slots(),
        cfg.iterations.map_or("unbounded".to_string(), |n| n.to_string()),
        cfg.seconds.map_or("unbounded".to_string(), |s| s.to_string()),
        cfg.seed,
        mimalloc_stress::build_mode(),
    );
    let report = mimalloc_stress::run(&cfg);
    println!("{}", mimalloc_stress::describe(&report, &cfg));
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
