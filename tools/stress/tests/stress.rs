//! The transfer-array stress, briefly: four threads, small scale, a few rounds (so threads are
//! created and joined several times and their segments abandoned and reclaimed). Every block's
//! pattern, alignment and size, zero fills, overlaps, bounded and returned resident memory are
//! checked by the stress itself; this test requires that it found nothing.

use mimalloc_stress::{describe, run, Config};

#[test]
fn brief_stress_finds_no_failure() {
    let cfg = Config {
        threads: 4,
        scale: 3,
        iterations: Some(8),
        seconds: Some(20.0),
        seed: 42,
        verbose: true,
    };
    let report = run(&cfg);
    let text = describe(&report, &cfg);
    println!("{text}");
    assert!(report.passed(), "{text}");
    assert!(!report.rounds.is_empty(), "at least one round ran");
    assert!(report.steps > 0, "the workers took steps");
    assert_eq!(
        report.final_abandoned_segments, 0,
        "every abandoned segment was reclaimed"
    );
}
