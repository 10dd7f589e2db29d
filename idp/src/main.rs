fn main() -> std::process::ExitCode {
    mamori::cli::main()
}
