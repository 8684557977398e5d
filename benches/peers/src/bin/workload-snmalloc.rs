//! The workload suite with snmalloc (`snmalloc-rs`) as the global allocator.

#[global_allocator]
static GLOBAL: snmalloc_rs::SnMalloc = snmalloc_rs::SnMalloc;

fn main() {
    mimalloc_workloads::run_cli()
}
