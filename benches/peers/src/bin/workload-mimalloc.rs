//! The workload suite with upstream mimalloc (crates.io `mimalloc`) as the global allocator.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    mimalloc_workloads::run_cli()
}
