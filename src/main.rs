fn main() -> std::process::ExitCode {
    saferl::cli::main()
}
