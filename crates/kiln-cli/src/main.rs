//! The `kiln` binary: everything happens in the kiln-cli library.

fn main() -> std::process::ExitCode {
    kiln_cli::main()
}
