//! The workload suite with jemalloc (`tikv-jemallocator`) as the global allocator.

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    mimalloc_workloads::run_cli()
}
