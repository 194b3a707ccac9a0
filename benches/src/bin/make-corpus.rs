//! Makes a benchmark corpus: `make-corpus [large|many-small] [DIR]`.

use std::path::PathBuf;
use std::process::ExitCode;

use kiln_benches::{LARGE, MANY_SMALL, default_dir, ensure_corpus};

#[allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool's output
fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let spec = match args.next().as_deref() {
        None | Some("large") => LARGE,
        Some("many-small") => MANY_SMALL,
        Some(other) => {
            eprintln!("unknown corpus {other:?}: expected large or many-small");
            return ExitCode::from(2);
        }
    };
    let dir = args.next().map_or_else(|| default_dir(spec), PathBuf::from);
    match ensure_corpus(&dir, spec) {
        Ok(total) => {
            println!("{}", dir.display());
            eprintln!(
                "{} files, {:.0} MB in {}",
                spec.files,
                total as f64 / 1e6,
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot make the corpus in {}: {error}", dir.display());
            ExitCode::FAILURE
        }
    }
}
