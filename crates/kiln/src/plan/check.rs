//! The Dockerfile checked before anything is uploaded: what the builder would fail on after
//! the upload is refused here, naming the file and the line.

use std::path::Path;

use kiln_context::dockerfile::{Dockerfile, Problem};
use kiln_core::{Error, Result};

/// Checks `dockerfile` (read from `path`) for building `target`.
///
/// # Errors
///
/// [`Error::InvalidInput`]: `--target` naming the target when the file has no such stage,
/// otherwise `Dockerfile` with the file and line (`path:3`) and what was expected there.
pub(crate) fn check_dockerfile(
    dockerfile: &Dockerfile,
    path: &Path,
    target: Option<&str>,
) -> Result<()> {
    dockerfile.check(target).map_err(|problem| match &problem {
        Problem::UnknownTarget { target, .. } => {
            Error::invalid_input("--target", target.clone(), problem.to_string())
        }
        _ => {
            let place = match problem.line() {
                Some(line) => format!("{}:{line}", path.display()),
                None => path.display().to_string(),
            };
            Error::invalid_input("Dockerfile", place, problem.to_string())
        }
    })
}
