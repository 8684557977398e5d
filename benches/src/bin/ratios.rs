//! Reads criterion's results (`target/criterion/<group>/<allocator>/new/estimates.json`) and
//! prints a markdown table of median times with the ratio of each allocator to ours.
//! Usage: `cargo run -p mimalloc-benches --bin ratios [criterion-dir]`.

use std::fs;
use std::path::{Path, PathBuf};

const OURS: &str = "mimalloc-rs";

/// The median's point estimate (nanoseconds) from an estimates.json, without a JSON library.
fn median_ns(path: &Path) -> Option<f64> {
    let text = fs::read_to_string(path).ok()?;
    let median = &text[text.find("\"median\"")?..];
    let pe = &median[median.find("\"point_estimate\"")? + "\"point_estimate\"".len()..];
    let num: String = pe
        .chars()
        .skip_while(|c| *c == ':' || c.is_whitespace())
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    num.parse().ok()
}

fn fmt_time(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var("CARGO_TARGET_DIR")
                .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").into());
            PathBuf::from(target).join("criterion")
        });
    let Ok(groups) = fs::read_dir(&dir) else {
        eprintln!(
            "no criterion results in {}: run `cargo bench -p mimalloc-benches` first",
            dir.display()
        );
        std::process::exit(1);
    };
    let mut groups: Vec<PathBuf> = groups
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && !p.ends_with("report"))
        .collect();
    groups.sort();
    println!("| benchmark | allocator | median | ratio to {OURS} |");
    println!("|---|---|---:|---:|");
    for group in groups {
        let name = group
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(ours) = median_ns(&group.join(OURS).join("new/estimates.json")) else {
            continue;
        };
        let mut peers: Vec<(String, f64)> = fs::read_dir(&group)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let alloc = e.file_name().to_string_lossy().into_owned();
                median_ns(&e.path().join("new/estimates.json")).map(|m| (alloc, m))
            })
            .collect();
        peers.sort_by_key(|a| (a.0 != OURS, a.0.clone()));
        for (alloc, m) in peers {
            println!("| {name} | {alloc} | {} | {:.2} |", fmt_time(m), m / ours);
        }
    }
}
