//! The workload suite with upstream mimalloc's v2 line (crates.io `mimalloc`, feature `v2`) as
//! the global allocator.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    mimalloc_workloads::run_cli()
}
