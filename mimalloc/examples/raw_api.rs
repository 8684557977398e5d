//! The raw C API through `mimalloc-sys`, with upstream mimalloc's (v2) names: an option set
//! by code, a first-class heap freed all at once, and the statistics printed at exit.
//!
//! `cargo run --release -p mimalloc --example raw_api`

use mimalloc_sys::*;

fn main() {
    // SAFETY: every call below follows the C API's contract: options may be set at any time;
    // the heap is used only on this thread (heaps belong to the thread that made them); each
    // block is written only within the size asked for and is not used after the heap is
    // destroyed, which frees everything in it.
    unsafe {
        mi_option_set(mi_option_show_stats, 1); // print statistics when the process exits
        let heap = mi_heap_new();
        assert!(!heap.is_null());
        for i in 1..=1000usize {
            let p = mi_heap_malloc(heap, i) as *mut u8;
            assert!(!p.is_null());
            assert!(mi_usable_size(p as *const _) >= i);
            p.write_bytes(0xab, i);
        }
        mi_heap_destroy(heap); // frees all 1000 blocks at once
        let p = mi_malloc(64);
        assert!(!p.is_null());
        mi_free(p);
    }
    println!(
        "1000 blocks made in a heap of their own and freed with it; statistics follow at exit"
    );
}
