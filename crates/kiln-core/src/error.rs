//! The one error type of kiln's core, shared by every engine and layer above it.

use std::fmt;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::reference::ReferenceError;

/// Result alias used throughout kiln-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The cause of an [`Error`], shared so that every waiter of a shared operation gets the same
/// chain (and so that [`Error`] is `Clone`). Never built from anything that may hold a secret.
///
/// It dereferences to the cause itself, so [`std::error::Error::source`] of an [`Error`] is the
/// original error (`downcast_ref::<std::io::Error>()` works), not a wrapper around it.
#[derive(Clone)]
pub struct ErrorSource(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl ErrorSource {
    /// Shares `error` as a cause.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        ErrorSource(Arc::new(error))
    }

    /// Shares an already boxed error (a `String` or `&str` turned into one, too).
    pub fn boxed(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        ErrorSource(Arc::from(error.into()))
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for ErrorSource {
    fn from(error: E) -> Self {
        ErrorSource::new(error)
    }
}

impl Deref for ErrorSource {
    type Target = dyn std::error::Error + Send + Sync + 'static;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl fmt::Debug for ErrorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for ErrorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

/// What went wrong, with enough context to act on it.
///
/// Variants are grouped by [`ErrorKind`], which decides how callers react (and which exit code
/// the CLI uses). No variant ever carries a secret: registry passwords, tokens, credential
/// helpers' output and secret build args are never part of an error, nor of its sources.
///
/// The message of each variant is complete on its own (the CLI prints it alone); the cause, when
/// there is one, stays reachable through [`std::error::Error::source`].
#[derive(Debug, Clone, thiserror::Error)]
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

    /// A file kiln reads (a bake file, a catalogue) says something invalid at a place in it.
    #[error("{}:{line}:{column}: {problem}", path.display())]
    InvalidFile {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// The column, from 1.
        column: usize,
        /// What is wrong there, naming the value and what was expected.
        problem: String,
    },

    /// Reading the build context failed.
    #[error("cannot read {path:?} in the build context: {source}")]
    Context {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: ErrorSource,
    },

    /// The image does not exist.
    #[error("image {image} not found")]
    ImageNotFound {
        /// The reference or id that was looked up.
        image: String,
    },

    /// The container does not exist.
    #[error("container {container} not found")]
    ContainerNotFound {
        /// The name or id that was looked up.
        container: String,
    },

    /// The network does not exist.
    #[error("network {network} not found")]
    NetworkNotFound {
        /// The name or id that was looked up.
        network: String,
    },

    /// Another container already has the name.
    #[error("a container named {name:?} exists already")]
    ContainerNameConflict {
        /// The name asked for.
        name: String,
    },

    /// Another network already has the name.
    #[error("a network named {name:?} exists already")]
    NetworkNameConflict {
        /// The name asked for.
        name: String,
    },

    /// The daemon refused a network because its subnet overlaps one in use ("Pool overlaps with
    /// other one on this address space").
    #[error("{}: {message}", overlap_subject(subnet))]
    PoolOverlap {
        /// The subnet asked for (CIDR); empty when the daemon chose it.
        subnet: String,
        /// The daemon's message.
        message: String,
    },

    /// Every subnet of a pool is taken.
    #[error("the subnet pool {pool} is exhausted; {}", holders_text(holders))]
    PoolExhausted {
        /// The pool (CIDR).
        pool: String,
        /// Who holds its subnets, one line each (network, subnet, experiment, owner alive).
        holders: Vec<String>,
    },

    /// The resource cannot be removed while something uses it: a running container (removed
    /// without force), a network with containers attached.
    #[error("{what} {name} is in use")]
    InUse {
        /// What it is ("container", "network").
        what: &'static str,
        /// Its name or id.
        name: String,
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

    /// A base tier was built, but does not hold a claim its catalogue makes: its size is over
    /// its limit, it is for another platform, or a capability's probe failed in a container of
    /// it.
    #[error("base tier {tier} does not hold its claim: {check}")]
    ClaimFailed {
        /// The tier.
        tier: String,
        /// The claim and what was found (`probe networking (`nc -h`): exit code 127`).
        check: String,
        /// The last lines a failed probe printed.
        output: Vec<String>,
    },

    /// The registry or daemon refused the credentials.
    #[error("authentication refused by {registry}: {reason}")]
    AuthRefused {
        /// The registry that refused.
        registry: String,
        /// The registry's reason, without any secret.
        reason: String,
    },

    /// The credentials for a registry cannot be read: a credential helper that is missing,
    /// fails or answers nonsense, an unreadable `auths` entry. A problem of the local
    /// configuration, not a refusal by the registry.
    #[error("cannot get the credentials for {registry}: {problem}")]
    Credentials {
        /// The registry the credentials were for.
        registry: String,
        /// What is wrong, naming the helper or the file; never a helper's output.
        problem: String,
        /// The cause, when it can carry no secret.
        #[source]
        source: Option<ErrorSource>,
    },

    /// A registry answered outside the protocol, or refused a request for a reason other than
    /// credentials: a server error, rate limiting, a malformed manifest, a TLS failure.
    #[error("{operation} failed: {message}")]
    Registry {
        /// The registry's domain (`127.0.0.1:5000`, `docker.io`).
        registry: String,
        /// What kiln asked for (`check 127.0.0.1:5000/app:1 in the registry`, `push app:1`).
        operation: String,
        /// What went wrong, without any secret.
        message: String,
        /// Whether trying again may succeed.
        transient: bool,
        /// The cause, scrubbed of the request's secrets.
        #[source]
        source: Option<ErrorSource>,
    },

    /// A registry would not mount a blob from one of its repositories into another (it offered
    /// an upload session instead): [`Registry::copy`](crate::Registry::copy) writes a tag
    /// without uploading any blob, so it stops there.
    #[error(
        "{registry} would not mount blob {blob} from repository {from} into {to}: {reason}; \
         kiln copies tags without uploading blobs"
    )]
    BlobNotMounted {
        /// The registry's domain.
        registry: String,
        /// The blob's digest.
        blob: String,
        /// The repository the blob was to come from (`team/cache`).
        from: String,
        /// The repository it was to be mounted into (`team/app`).
        to: String,
        /// What the registry answered instead, without any secret.
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
        /// The engine client's error, when there is one.
        #[source]
        source: Option<ErrorSource>,
    },

    /// Something kiln itself guarantees did not hold (a task that panicked, a plan missing
    /// what its decision requires): a bug in kiln, not a problem of the input or the engine.
    #[error("{operation} failed: {message} (an internal error of kiln)")]
    Internal {
        /// What kiln was doing.
        operation: String,
        /// Which guarantee did not hold.
        message: String,
        /// The cause, when there is one (a task's `JoinError`).
        #[source]
        source: Option<ErrorSource>,
    },

    /// A cache could not be read or written. Callers degrade to no caching; they do not fail.
    #[error("cache {operation} failed for {path:?}: {source}")]
    Cache {
        /// What was being done ("read", "write", "lock").
        operation: &'static str,
        /// The cache file or directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: ErrorSource,
    },
}

fn build_failure_message(step: Option<&str>, message: &str) -> String {
    match step {
        Some(step) => format!("build failed at {step}: {message}"),
        None => format!("build failed: {message}"),
    }
}

fn overlap_subject(subnet: &str) -> String {
    if subnet.is_empty() {
        "the subnet the daemon chose overlaps a network in use".to_owned()
    } else {
        format!("subnet {subnet} overlaps a network in use")
    }
}

fn holders_text(holders: &[String]) -> String {
    if holders.is_empty() {
        "no holder is known".to_owned()
    } else {
        format!("held by {}", holders.join("; "))
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
    /// A name, an address or a resource is taken: a name conflict, an overlapping subnet, an
    /// exhausted pool, a resource in use.
    Conflict,
    /// Anything else.
    Other,
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidReference(_)
            | Error::InvalidInput { .. }
            | Error::InvalidPath { .. }
            | Error::InvalidFile { .. } => ErrorKind::InvalidInput,
            // A credential helper that cannot be run is the local configuration's fault, a
            // context file that cannot be read the input's.
            Error::Credentials { .. } | Error::Context { .. } => ErrorKind::InvalidInput,
            Error::ImageNotFound { .. }
            | Error::ContainerNotFound { .. }
            | Error::NetworkNotFound { .. } => ErrorKind::NotFound,
            Error::ContainerNameConflict { .. }
            | Error::NetworkNameConflict { .. }
            | Error::PoolOverlap { .. }
            | Error::PoolExhausted { .. }
            | Error::InUse { .. } => ErrorKind::Conflict,
            Error::Unreachable { .. } | Error::Timeout { .. } => ErrorKind::Unreachable,
            Error::BuildFailed { .. } | Error::ClaimFailed { .. } => ErrorKind::BuildFailed,
            Error::AuthRefused { .. } => ErrorKind::AuthRefused,
            Error::Registry { .. }
            | Error::BlobNotMounted { .. }
            | Error::Engine { .. }
            | Error::Internal { .. }
            | Error::Cache { .. } => ErrorKind::Other,
        }
    }

    /// Whether the same request may succeed if tried again unchanged.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unreachable { .. } | Error::Timeout { .. } => true,
            Error::Engine { transient, .. } | Error::Registry { transient, .. } => *transient,
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

    /// Shorthand for [`Error::Engine`] with a permanent failure and no source.
    pub fn engine(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Engine {
            operation: operation.into(),
            message: message.into(),
            transient: false,
            source: None,
        }
    }

    /// Shorthand for [`Error::Internal`] without a source.
    pub fn internal(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Internal {
            operation: operation.into(),
            message: message.into(),
            source: None,
        }
    }

    /// [`Error::Internal`] caused by `source` (a task that panicked or was cancelled), whose
    /// message it repeats.
    pub fn internal_from(
        operation: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Internal {
            operation: operation.into(),
            message: source.to_string(),
            source: Some(ErrorSource::new(source)),
        }
    }

    /// [`Error::Context`] for the I/O error `source` on `path`.
    pub fn context(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Context {
            path: path.into(),
            source: ErrorSource::new(source),
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
    fn clones_keep_kind_message_and_source() {
        let error = Error::context(
            "a/b",
            std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"),
        );
        let copy = error.clone();
        assert_eq!(copy.to_string(), error.to_string());
        assert_eq!(copy.kind(), ErrorKind::InvalidInput);
        let source = std::error::Error::source(&copy).expect("the I/O error is kept");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("the source is the I/O error itself");
        assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn a_credential_helper_problem_is_invalid_input() {
        let error = Error::Credentials {
            registry: "reg:1".into(),
            problem: "the credential helper docker-credential-x cannot be run".into(),
            source: None,
        };
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(!error.is_transient());
        assert_eq!(
            error.to_string(),
            "cannot get the credentials for reg:1: the credential helper docker-credential-x \
             cannot be run"
        );
    }

    #[test]
    fn registry_errors_keep_transience_and_cause() {
        let cause = std::io::Error::other("HTTP 503");
        let error = Error::Registry {
            registry: "127.0.0.1:5000".into(),
            operation: "check 127.0.0.1:5000/app:1 in the registry".into(),
            message: "the registry answered HTTP 503".into(),
            transient: true,
            source: Some(ErrorSource::new(cause)),
        };
        assert!(error.is_transient());
        assert_eq!(error.kind(), ErrorKind::Other);
        let copy = error.clone();
        assert_eq!(
            std::error::Error::source(&copy).map(ToString::to_string),
            Some("HTTP 503".to_owned())
        );
    }

    #[test]
    fn a_refused_mount_names_the_blob_and_both_repositories() {
        let error = Error::BlobNotMounted {
            registry: "reg:5000".into(),
            blob: "sha256:abc".into(),
            from: "bench-cache".into(),
            to: "bench/picoquic".into(),
            reason: "it offered an upload session (HTTP 202)".into(),
        };
        assert_eq!(
            error.to_string(),
            "reg:5000 would not mount blob sha256:abc from repository bench-cache into \
             bench/picoquic: it offered an upload session (HTTP 202); kiln copies tags without \
             uploading blobs"
        );
        assert_eq!(error.kind(), ErrorKind::Other);
        assert!(!error.is_transient());
    }

    #[test]
    fn internal_errors_say_so_and_are_permanent() {
        let error = Error::internal("reuse", "a reuse plan without a record");
        assert_eq!(
            error.to_string(),
            "reuse failed: a reuse plan without a record (an internal error of kiln)"
        );
        assert_eq!(error.kind(), ErrorKind::Other);
        assert!(!error.is_transient());
        let joined = Error::internal_from("scan", std::io::Error::other("task panicked"));
        assert!(std::error::Error::source(&joined).is_some());
    }

    #[test]
    fn runtime_errors_name_the_resource() {
        let missing = Error::ContainerNotFound {
            container: "kiln-e1-t-server".into(),
        };
        assert_eq!(missing.to_string(), "container kiln-e1-t-server not found");
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        let overlap = Error::PoolOverlap {
            subnet: "10.213.4.0/24".into(),
            message: "Pool overlaps with other one on this address space".into(),
        };
        assert_eq!(
            overlap.to_string(),
            "subnet 10.213.4.0/24 overlaps a network in use: Pool overlaps with other one on \
             this address space"
        );
        assert_eq!(overlap.kind(), ErrorKind::Conflict);
        assert!(!overlap.is_transient());
        let exhausted = Error::PoolExhausted {
            pool: "10.213.0.0/16".into(),
            holders: vec!["kiln-a (10.213.0.0/24, experiment a, owner dead)".into()],
        };
        assert!(
            exhausted
                .to_string()
                .ends_with("held by kiln-a (10.213.0.0/24, experiment a, owner dead)"),
            "{exhausted}"
        );
        let in_use = Error::InUse {
            what: "network",
            name: "kiln-e1-t".into(),
        };
        assert_eq!(in_use.to_string(), "network kiln-e1-t is in use");
        assert_eq!(
            Error::NetworkNameConflict { name: "n".into() }.kind(),
            ErrorKind::Conflict
        );
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
