//! Reads criterion's results (`target/criterion/**/new/estimates.json`, where the last
//! directory above `new/` names the allocator and the path above it the benchmark) and prints
//! a markdown table: per benchmark, our median time, each peer's, and the ratio ours / peer
//! (below 1: ours is faster).
//!
//! Usage: `cargo run -p mimalloc-benches --bin ratios [criterion-dir]` after
//! `cargo bench -p mimalloc-benches`. Quotes only what the last bench run measured.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The name our allocator's results are filed under.
const OURS: &str = "mimalloc-rs";

/// The median's point estimate (nanoseconds) in an estimates.json, read without a JSON
/// library: the first `point_estimate` after the `"median"` key is the median's own (its
/// `confidence_interval` holds no such key).
fn median_ns(path: &Path) -> Option<f64> {
    let text = fs::read_to_string(path).ok()?;
    let median = &text[text.find("\"median\"")?..];
    let key = "\"point_estimate\"";
    let rest = &median[median.find(key)? + key.len()..];
    let num: String = rest
        .chars()
        .skip_while(|c| *c == ':' || c.is_whitespace())
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    num.parse().ok()
}

/// Every `<benchmark path>/<allocator>/new/estimates.json` under `dir`, as
/// benchmark → allocator → median (ns).
fn collect(dir: &Path, rel: &[String], out: &mut BTreeMap<String, BTreeMap<String, f64>>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !path.is_dir() || name == "report" {
            continue;
        }
        if name == "new" {
            if let (Some((alloc, bench)), Some(m)) =
                (rel.split_last(), median_ns(&path.join("estimates.json")))
            {
                out.entry(bench.join("/"))
                    .or_default()
                    .insert(alloc.clone(), m);
            }
            continue;
        }
        let mut sub = rel.to_vec();
        sub.push(name);
        collect(&path, &sub, out);
    }
}

/// A sort key that puts sizes in numeric order (`16B` < `1KiB` < `256KiB` < `1MiB`, `64` <
/// `4096`): each `/`-separated component that starts with digits sorts by its value times its
/// unit, before any other component, which sorts as text.
fn natural_key(bench: &str) -> Vec<(u8, u64, String)> {
    bench
        .split('/')
        .map(|part| {
            let digits = part.len() - part.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            match part[..digits].parse::<u64>() {
                Ok(n) => {
                    let unit = match &part[digits..] {
                        "KiB" | "K" => 1 << 10,
                        "MiB" | "M" => 1 << 20,
                        "GiB" | "G" => 1 << 30,
                        _ => 1,
                    };
                    (0, n.saturating_mul(unit), part[digits..].to_string())
                }
                Err(_) => (1, 0, part.to_string()),
            }
        })
        .collect()
}

fn fmt_time(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
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
    let mut results = BTreeMap::new();
    collect(&dir, &[], &mut results);
    if results.is_empty() {
        eprintln!(
            "no criterion results under {}: run `cargo bench -p mimalloc-benches` first",
            dir.display()
        );
        std::process::exit(1);
    }
    println!("| benchmark | {OURS} (ours) | peer | peer median | ours / peer |");
    println!("|---|---:|---|---:|---:|");
    let mut results: Vec<_> = results.into_iter().collect();
    results.sort_by_cached_key(|(bench, _)| natural_key(bench));
    for (bench, allocs) in &results {
        let Some(&ours) = allocs.get(OURS) else {
            eprintln!("{bench}: no result for {OURS}, skipped");
            continue;
        };
        for (peer, &m) in allocs.iter().filter(|(a, _)| a.as_str() != OURS) {
            println!(
                "| {bench} | {} | {peer} | {} | {:.2} |",
                fmt_time(ours),
                fmt_time(m),
                ours / m
            );
        }
    }
}
