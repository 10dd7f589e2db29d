// mimalloc instead of glibc malloc: per-thread free lists instead of arena locks, which
// showed as a tenth of the token endpoint's CPU under load (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Freed memory goes back to the OS at once while the server starts (mamori-allocator).
    mamori_allocator::start_up();
    mamori::cli::main()
}
