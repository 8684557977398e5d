//! The workload suite with the system allocator as the global allocator.

#[global_allocator]
static GLOBAL: std::alloc::System = std::alloc::System;

fn main() {
    mimalloc_workloads::run_cli()
}
