//! A per-request arena: a server-like loop where each request's temporary data lives in its own
//! `Heap`, and the whole heap is dropped (freed at once) when the request is done.
//!
//! `cargo run --release -p mimalloc --example arena_server`

use mimalloc::allocator_api2::vec::Vec as HeapVec;
use mimalloc::{Heap, MiMalloc};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// "Handles" a request: parses its fields into heap-allocated pieces and builds a response.
fn handle(request: &str, heap: &Heap) -> usize {
    let mut fields = HeapVec::new_in(heap);
    for field in request.split('&') {
        let mut bytes = HeapVec::with_capacity_in(field.len(), heap);
        bytes.extend_from_slice(field.as_bytes());
        fields.push(bytes);
    }
    let mut response = HeapVec::new_in(heap);
    for f in fields.iter().rev() {
        response.extend_from_slice(f);
        response.push(b';');
    }
    response.len()
}

fn main() {
    let requests: Vec<String> = (0..20_000)
        .map(|i| {
            format!(
                "user={i}&item={}&qty={}&note={}",
                i * 7,
                i % 13,
                "x".repeat(i % 200)
            )
        })
        .collect();
    let mut total = 0usize;
    for request in &requests {
        let heap = Heap::new(); // this request's arena
        total += handle(request, &heap);
        // `heap` drops here: everything the request allocated goes at once
    }
    mimalloc::collect(true);
    let st = mimalloc::stats();
    println!(
        "handled {} requests, {} response bytes; pages in use now: {}, peak: {}",
        requests.len(),
        total,
        st.pages.current,
        st.pages.peak
    );
}
