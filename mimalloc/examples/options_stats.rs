//! Options and statistics: set an option from code, read it back, allocate, and look at the
//! allocator's statistics and the process's memory as data, then as the text report.
//!
//! `cargo run --release -p mimalloc --example options_stats`
//! (try `MIMALLOC_PURGE_DELAY=0` or `MIMALLOC_VERBOSE=1` in front)

use mimalloc::{MiMalloc, MiOption};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {
    println!(
        "purge delay: {} ms (from {} or the default)",
        MiOption::PurgeDelay.get(),
        MiOption::PurgeDelay.env_var()
    );
    MiOption::ShowErrors.enable();

    let data: Vec<Vec<u64>> = (0..10_000)
        .map(|i| vec![i; (i % 500) as usize + 1])
        .collect();
    let st = mimalloc::stats();
    println!(
        "live: {} pages, {} segments, {} MiB reserved",
        st.pages.current,
        st.segments.current,
        st.reserved.current >> 20
    );
    for class in st.used_size_classes().take(5) {
        println!(
            "  size class {:>6} B: {} pages now, {} at peak",
            class.block_size, class.pages.current, class.pages.peak
        );
    }
    drop(data);
    mimalloc::collect(true);
    let info = mimalloc::process_info();
    println!(
        "after freeing: rss {} MiB (peak {} MiB), {} page faults",
        info.current_rss >> 20,
        info.peak_rss >> 20,
        info.page_faults
    );
    println!("\nthe full report:");
    mimalloc::stats_print();
}
