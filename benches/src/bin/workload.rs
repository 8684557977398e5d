//! The workload suite (`mimalloc-workloads`) with our allocator as the global allocator: the
//! `ours` binary of `compare`. The peers' binaries are built from `benches/peers/`.
//!
//! `cargo run --release -p mimalloc-benches --bin workload -- --list`

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    mimalloc_workloads::run_cli()
}
