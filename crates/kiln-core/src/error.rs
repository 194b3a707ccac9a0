//! The one error type of kiln's core, shared by every engine and layer above it.

use std::path::PathBuf;
use std::time::Duration;

use crate::reference::ReferenceError;

/// Result alias used throughout kiln-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, with enough context to act on it.
///
/// Variants are grouped by [`ErrorKind`], which decides how callers react (and which exit code
/// the CLI uses). No variant ever carries a secret: registry passwords and secret build args are
/// never part of an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An image reference failed the distribution reference grammar.
    #[error(transparent)]
    InvalidReference(#[from] ReferenceError),

    /// A value given by the user is not acceptable.
    #[error("invalid {what} {value:?}: expected {expected}")]
    InvalidInput {
        /// Which input this is ("platform", "build mode", "--build-arg", ...).
        what: &'static str,
        /// The value as given.
        value: String,
        /// What would have been accepted.
        expected: String,
    },

    /// A path the build needs does not exist or is not what it must be.
    #[error("{what} {path:?} {problem}")]
    InvalidPath {
        /// Which path this is ("build context", "Dockerfile", ...).
        what: &'static str,
        /// The path as given.
        path: PathBuf,
        /// What is wrong with it ("does not exist", "is not a directory", ...).
        problem: String,
    },

    /// Reading the build context failed.
    #[error("cannot read {path:?} in the build context: {source}")]
    Context {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The image does not exist.
    #[error("image {image} not found")]
    ImageNotFound {
        /// The reference or id that was looked up.
        image: String,
    },

    /// The Docker daemon (or another endpoint) cannot be reached.
    #[error("cannot reach {endpoint}: {reason}")]
    Unreachable {
        /// The endpoint that was tried, e.g. `unix:///var/run/docker.sock`.
        endpoint: String,
        /// Why, in a sentence.
        reason: String,
    },

    /// An operation did not finish in time.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// What was being done.
        operation: String,
        /// How long kiln waited.
        after: Duration,
    },

    /// The build ran and failed: a Dockerfile step failed or the daemon refused the build.
    #[error("{}", build_failure_message(step.as_deref(), message))]
    BuildFailed {
        /// The step that failed, as the builder names it (`Step 2/3 : RUN false`).
        step: Option<String>,
        /// The daemon's message.
        message: String,
        /// The last lines of build output before the failure.
        log_tail: Vec<String>,
    },

    /// The registry or daemon refused the credentials.
    #[error("authentication refused by {registry}: {reason}")]
    AuthRefused {
        /// The registry that refused.
        registry: String,
        /// The registry's reason, without any secret.
        reason: String,
    },

    /// The engine reported an error that fits no other variant.
    #[error("{operation} failed: {message}")]
    Engine {
        /// What kiln asked the engine to do.
        operation: String,
        /// The engine's message.
        message: String,
        /// Whether trying again may succeed.
        transient: bool,
    },

    /// A cache could not be read or written. Callers degrade to no caching; they do not fail.
    #[error("cache {operation} failed for {path:?}: {message}")]
    Cache {
        /// What was being done ("read", "write", "lock").
        operation: &'static str,
        /// The cache file or directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

fn build_failure_message(step: Option<&str>, message: &str) -> String {
    match step {
        Some(step) => format!("build failed at {step}: {message}"),
        None => format!("build failed: {message}"),
    }
}

impl Clone for Error {
    /// A copy for every waiter of a shared operation. An I/O source is rebuilt from its kind and
    /// message (`std::io::Error` is not `Clone`); everything else is copied as is.
    fn clone(&self) -> Self {
        match self {
            Error::InvalidReference(error) => Error::InvalidReference(error.clone()),
            Error::InvalidInput {
                what,
                value,
                expected,
            } => Error::InvalidInput {
                what,
                value: value.clone(),
                expected: expected.clone(),
            },
            Error::InvalidPath {
                what,
                path,
                problem,
            } => Error::InvalidPath {
                what,
                path: path.clone(),
                problem: problem.clone(),
            },
            Error::Context { path, source } => Error::Context {
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            Error::ImageNotFound { image } => Error::ImageNotFound {
                image: image.clone(),
            },
            Error::Unreachable { endpoint, reason } => Error::Unreachable {
                endpoint: endpoint.clone(),
                reason: reason.clone(),
            },
            Error::Timeout { operation, after } => Error::Timeout {
                operation: operation.clone(),
                after: *after,
            },
            Error::BuildFailed {
                step,
                message,
                log_tail,
            } => Error::BuildFailed {
                step: step.clone(),
                message: message.clone(),
                log_tail: log_tail.clone(),
            },
            Error::AuthRefused { registry, reason } => Error::AuthRefused {
                registry: registry.clone(),
                reason: reason.clone(),
            },
            Error::Engine {
                operation,
                message,
                transient,
            } => Error::Engine {
                operation: operation.clone(),
                message: message.clone(),
                transient: *transient,
            },
            Error::Cache {
                operation,
                path,
                message,
            } => Error::Cache {
                operation,
                path: path.clone(),
                message: message.clone(),
            },
        }
    }
}

/// The class of an [`Error`]: what a caller (or the CLI's exit code) should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is wrong; retrying the same request cannot help.
    InvalidInput,
    /// Something looked up does not exist.
    NotFound,
    /// The daemon or registry cannot be reached, or did not answer in time.
    Unreachable,
    /// The build itself failed.
    BuildFailed,
    /// Credentials were refused.
    AuthRefused,
    /// Anything else.
    Other,
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidReference(_) | Error::InvalidInput { .. } | Error::InvalidPath { .. } => {
                ErrorKind::InvalidInput
            }
            Error::ImageNotFound { .. } => ErrorKind::NotFound,
            Error::Unreachable { .. } | Error::Timeout { .. } => ErrorKind::Unreachable,
            Error::BuildFailed { .. } => ErrorKind::BuildFailed,
            Error::AuthRefused { .. } => ErrorKind::AuthRefused,
            Error::Context { .. } | Error::Engine { .. } | Error::Cache { .. } => ErrorKind::Other,
        }
    }

    /// Whether the same request may succeed if tried again unchanged.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unreachable { .. } | Error::Timeout { .. } => true,
            Error::Engine { transient, .. } => *transient,
            _ => false,
        }
    }

    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid_input(
        what: &'static str,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Error::InvalidInput {
            what,
            value: value.into(),
            expected: expected.into(),
        }
    }

    /// Shorthand for [`Error::Engine`] with a permanent failure.
    pub fn engine(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Engine {
            operation: operation.into(),
            message: message.into(),
            transient: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_failure_names_the_step() {
        let error = Error::BuildFailed {
            step: Some("Step 2/3 : RUN false".into()),
            message: "returned a non-zero code: 1".into(),
            log_tail: vec![],
        };
        assert_eq!(
            error.to_string(),
            "build failed at Step 2/3 : RUN false: returned a non-zero code: 1"
        );
        assert_eq!(error.kind(), ErrorKind::BuildFailed);
        assert!(!error.is_transient());
    }

    #[test]
    fn clones_keep_kind_and_message() {
        let error = Error::Context {
            path: "a/b".into(),
            source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"),
        };
        let copy = error.clone();
        assert_eq!(copy.to_string(), error.to_string());
        assert_eq!(copy.kind(), error.kind());
    }

    #[test]
    fn unreachable_is_transient() {
        let error = Error::Unreachable {
            endpoint: "unix:///nowhere".into(),
            reason: "connection refused".into(),
        };
        assert!(error.is_transient());
        assert_eq!(error.kind(), ErrorKind::Unreachable);
    }

    #[test]
    fn invalid_input_names_value_and_expectation() {
        let error = Error::invalid_input("build mode", "turbo", "one of \"\", debug");
        assert_eq!(
            error.to_string(),
            "invalid build mode \"turbo\": expected one of \"\", debug"
        );
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
    }
}
