//! Allocation-heavy Rust programs: what a Rust program does with its allocator when it
//! builds collections, sorts strings, round-trips JSON and runs rayon.

use crate::{mix, Outcome, Params, Rng};
use rayon::prelude::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// A lowercase word of `lo..=hi` letters.
fn word(rng: &mut Rng, lo: usize, hi: usize) -> String {
    let len = rng.range(lo, hi);
    (0..len)
        .map(|_| (b'a' + rng.below(26) as u8) as char)
        .collect()
}

/// The value stored under the `i`-th key of [`btree`].
fn btree_value(i: usize, len: usize) -> Vec<u8> {
    vec![(i % 251) as u8; len]
}

/// Builds a `BTreeMap<String, Vec<u8>>` of a million entries (keys of 8-22 bytes, values of
/// 0-100 bytes), looks every tenth key up, walks it in order, removes a tenth of it entry by
/// entry and drops the rest at once.
pub(crate) fn btree(p: &Params) -> Outcome {
    let n = p.n(1_000_000);
    let key = |rng: &mut Rng, i: usize| format!("{:x}-{i}", rng.next_u64() >> 36);
    let mut rng = Rng::new(9);
    let mut map: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for i in 0..n {
        let k = key(&mut rng, i);
        let len = rng.range(0, 100);
        map.insert(k, btree_value(i, len));
    }
    if map.len() != n {
        return Err(format!("{} entries, not {n}", map.len()));
    }
    let mut rng = Rng::new(9);
    let mut sum = 0u64;
    for i in 0..n {
        if i % 10 != 0 {
            // draw what the build drew for this entry, without formatting its key
            rng.next_u64();
            rng.range(0, 100);
            continue;
        }
        let k = key(&mut rng, i);
        let len = rng.range(0, 100);
        if map.get(&k) != Some(&btree_value(i, len)) {
            return Err(format!("entry {k:?} is missing or wrong"));
        }
    }
    let mut prev: Option<&String> = None;
    for (k, v) in &map {
        if prev.is_some_and(|p| p >= k) {
            return Err("the map is out of order".into());
        }
        prev = Some(k);
        sum = mix(sum, k.len() as u64 ^ (v.len() as u64) << 8);
    }
    let doomed: Vec<String> = map.keys().step_by(10).cloned().collect();
    for k in &doomed {
        if map.remove(k).is_none() {
            return Err(format!("entry {k:?} vanished"));
        }
    }
    if map.len() != n - doomed.len() {
        return Err("removal lost entries".into());
    }
    Ok(mix(sum, map.len() as u64))
}

/// Sorts a `Vec<String>` of a million random words (4-24 letters), checks the order,
/// deduplicates it and drops it.
pub(crate) fn sort_strings(p: &Params) -> Outcome {
    let n = p.n(1_000_000);
    let mut rng = Rng::new(10);
    let mut v: Vec<String> = (0..n).map(|_| word(&mut rng, 4, 24)).collect();
    let letters: usize = v.iter().map(String::len).sum();
    v.sort();
    if v.windows(2).any(|w| w[0] > w[1]) {
        return Err("the strings are out of order".into());
    }
    if v.iter().map(String::len).sum::<usize>() != letters {
        return Err("sorting changed the strings".into());
    }
    let mut sum = 0u64;
    for s in v.iter().step_by(1000) {
        sum = mix(
            sum,
            s.bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)),
        );
    }
    v.dedup();
    Ok(mix(sum, v.len() as u64))
}

/// Builds a JSON document of about 20 MB as a `serde_json::Value` (an array of records with
/// strings, numbers, arrays and a nested object; integers only, so the text round-trips
/// exactly), serialises it, parses the text back and compares the two trees.
pub(crate) fn json(p: &Params) -> Outcome {
    let n = p.n(60_000);
    let mut rng = Rng::new(11);
    let records: Vec<Value> = (0..n)
        .map(|i| {
            let tags: Vec<String> = (0..rng.range(0, 6)).map(|_| word(&mut rng, 3, 10)).collect();
            let scores: Vec<u64> = (0..rng.range(0, 10)).map(|_| rng.below(1 << 40)).collect();
            json!({
                "id": i,
                "name": format!("{} {}", word(&mut rng, 3, 9), word(&mut rng, 4, 12)),
                "email": format!("{}@{}.example", word(&mut rng, 4, 10), word(&mut rng, 3, 8)),
                "active": rng.below(2) == 1,
                "balance": rng.below(1 << 50) as i64 - (1 << 49),
                "tags": tags,
                "scores": scores,
                "address": {
                    "street": format!("{} {}", rng.range(1, 9999), word(&mut rng, 5, 14)),
                    "city": word(&mut rng, 4, 12),
                    "zip": rng.range(10_000, 99_999),
                },
                "note": if rng.below(4) == 0 { Value::Null } else { Value::String(word(&mut rng, 10, 60)) },
            })
        })
        .collect();
    let doc = json!({ "version": 1, "records": records });
    let text = serde_json::to_string(&doc).map_err(|e| e.to_string())?;
    let back: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if back != doc {
        return Err("the parsed document differs from the one serialised".into());
    }
    let count = back["records"].as_array().map_or(0, Vec::len);
    if count != n {
        return Err(format!("{count} records parsed, not {n}"));
    }
    let sum = text.bytes().step_by(97).fold(0u64, |h, b| mix(h, b as u64));
    Ok(mix(sum, text.len() as u64))
}

/// rayon on [`Params::threads`] threads: builds lines of random words in parallel, sorts
/// them with a parallel sort, and counts words with per-task `HashMap`s merged in a reduce.
pub(crate) fn rayon(p: &Params) -> Outcome {
    let n = p.n(150_000);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(p.threads)
        .build()
        .map_err(|e| e.to_string())?;
    pool.install(|| {
        let lines: Vec<(String, usize)> = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut rng = Rng::new(i as u64 ^ 0x5eed);
                let words: Vec<String> = (0..rng.range(1, 12))
                    .map(|_| word(&mut rng, 1, 4))
                    .collect();
                (words.join(" "), words.len())
            })
            .collect();
        let total: usize = lines.par_iter().map(|(_, w)| w).sum();
        let mut lines: Vec<String> = lines.into_par_iter().map(|(l, _)| l).collect();
        lines.par_sort();
        if lines.par_windows(2).any(|w| w[0] > w[1]) {
            return Err("the lines are out of order".to_string());
        }
        let counts: HashMap<String, usize> = lines
            .par_iter()
            .fold(HashMap::new, |mut m: HashMap<String, usize>, line| {
                for w in line.split(' ') {
                    *m.entry(w.to_string()).or_default() += 1;
                }
                m
            })
            .reduce(HashMap::new, |mut a, b| {
                for (w, c) in b {
                    *a.entry(w).or_default() += c;
                }
                a
            });
        let counted: usize = counts.values().sum();
        if counted != total {
            return Err(format!("{counted} words counted, {total} written"));
        }
        let mut sum = mix(counts.len() as u64, total as u64);
        for l in lines.iter().step_by(997) {
            sum = mix(sum, l.len() as u64);
        }
        Ok(sum)
    })
}
