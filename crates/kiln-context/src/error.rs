//! The error type of kiln-context.

use std::path::PathBuf;

use crate::dockerignore::PatternError;

/// What can go wrong while preparing or streaming a build context.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// The context directory does not exist or is not a directory.
    #[error("build context {path:?} {problem}")]
    BadContext {
        /// The context path as given.
        path: PathBuf,
        /// What is wrong ("does not exist", "is not a directory").
        problem: &'static str,
    },
    /// The Dockerfile does not exist or is not a file.
    #[error("Dockerfile {path:?} {problem}")]
    BadDockerfile {
        /// The Dockerfile path as given.
        path: PathBuf,
        /// What is wrong.
        problem: &'static str,
    },
    /// A file or directory of the context could not be read.
    #[error("cannot read {path:?}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The `.dockerignore` file holds an invalid pattern.
    #[error("in {path:?}: {source}")]
    Ignore {
        /// The `.dockerignore` file.
        path: PathBuf,
        /// The pattern error.
        #[source]
        source: PatternError,
    },
}

impl ContextError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ContextError::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<ContextError> for kiln_core::Error {
    fn from(error: ContextError) -> Self {
        match error {
            ContextError::BadContext { path, problem } => kiln_core::Error::InvalidPath {
                what: "build context",
                path,
                problem: problem.to_owned(),
            },
            ContextError::BadDockerfile { path, problem } => kiln_core::Error::InvalidPath {
                what: "Dockerfile",
                path,
                problem: problem.to_owned(),
            },
            ContextError::Io { path, source } => kiln_core::Error::context(path, source),
            ContextError::Ignore { path, source } => kiln_core::Error::InvalidInput {
                what: ".dockerignore pattern",
                value: path.display().to_string(),
                expected: source.to_string(),
            },
        }
    }
}
