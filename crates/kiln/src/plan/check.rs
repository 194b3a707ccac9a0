//! The Dockerfile checked before anything is uploaded: what the builder would fail on after
//! the upload is refused here, naming the file and the line.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use kiln_context::dockerfile::{Dockerfile, Problem};
use kiln_core::{Error, ImageRef, Result};

use crate::kiln::Kiln;

/// How long the registry is given to say whether a base image exists; without an answer the
/// builder is left to find out.
const REGISTRY_ANSWER: Duration = Duration::from_secs(10);

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

/// Refuses a `FROM` image that is neither local nor in its registry, which the builder would
/// fail to pull after the upload. `base_images` maps each image to its local id (`None`: not
/// local, as the daemon answered). Only a registry's definite "absent" refuses the image: an
/// error, a refusal of the credentials (Docker Hub refuses anonymous requests for names that do
/// not exist, and for private ones alike) or no answer in time leave it to the builder.
///
/// A name built from `secrets` (values of secret build args) is shown with them redacted.
///
/// # Errors
///
/// [`Error::InvalidInput`]: `Dockerfile` with the file and the line of the `FROM`.
pub(crate) async fn check_base_images_exist(
    kiln: &Kiln,
    dockerfile: &Dockerfile,
    args: &BTreeMap<String, String>,
    secrets: &[&str],
    base_images: &BTreeMap<String, Option<String>>,
    path: &Path,
) -> Result<()> {
    for (image, line) in dockerfile.base_image_lines(args) {
        if !matches!(base_images.get(&image), Some(None)) {
            continue;
        }
        let Ok(reference) = ImageRef::parse(&image) else {
            continue;
        };
        let name = redacted(&image, secrets);
        let answer = tokio::time::timeout(REGISTRY_ANSWER, kiln.remote_digest(&reference)).await;
        match answer {
            Ok(Ok(None)) => {
                return Err(Error::invalid_input(
                    "Dockerfile",
                    format!("{}:{line}", path.display()),
                    format!(
                        "a FROM image that is local or in its registry; {name} is in neither \
                         (build or pull it first, or correct the name)"
                    ),
                ));
            }
            Ok(Ok(Some(_))) => {}
            Ok(Err(error)) => {
                let error = redacted(&error.to_string(), secrets);
                tracing::debug!(image = %name, %error, "cannot tell whether the base image exists");
            }
            Err(_) => {
                tracing::debug!(image = %name, "the registry did not answer about the base image");
            }
        }
    }
    Ok(())
}

/// `text` with every non-empty value of `secrets` replaced by `***` (as everything kiln prints).
fn redacted(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .fold(text.to_owned(), |text, secret| text.replace(secret, "***"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_are_redacted() {
        assert_eq!(
            redacted("reg.test/s3cret/base:s3cret", &["s3cret", ""]),
            "reg.test/***/base:***"
        );
        assert_eq!(redacted("alpine:3", &[]), "alpine:3");
    }
}
