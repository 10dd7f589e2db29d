// mimalloc instead of glibc malloc: per-thread free lists instead of arena locks, which
// showed as a tenth of the token endpoint's CPU under load (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mamori::cli::main()
}
