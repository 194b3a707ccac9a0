//! The kiln CLI for integration tests: the same library entry point as `kiln-cli`'s binary.

fn main() -> std::process::ExitCode {
    kiln_cli::main()
}
