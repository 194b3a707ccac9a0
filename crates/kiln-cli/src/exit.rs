//! Exit codes: the documented contract between kiln and the scripts that call it.

use kiln::{Error, ErrorKind};

/// Success; for `exists`: the image exists.
pub const SUCCESS: u8 = 0;
/// A negative answer (`exists`: the image is absent).
pub const NEGATIVE: u8 = 1;
/// Invalid input: a bad reference, platform, mode, missing Dockerfile or context, a context file
/// that cannot be read, bad config, a bad `DOCKER_HOST` or Docker context, a cache directory
/// that cannot be used (`KILN_CACHE_DIR`), registry credentials that cannot be read (a
/// credential helper missing or failing).
pub const INVALID_INPUT: u8 = 2;
/// The daemon or registry cannot be reached.
pub const UNREACHABLE: u8 = 3;
/// The build failed: a Dockerfile step failed or the daemon refused.
pub const BUILD_FAILED: u8 = 4;
/// Authentication refused.
pub const AUTH_REFUSED: u8 = 5;

/// What kind of command failed, which decides the code of errors that fit no class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// A command that changes images (build, push, pull): an engine refusal is a failed build.
    Mutating,
    /// A command that only asks (exists, doctor): an engine refusal means no answer.
    Query,
    /// A command that moves one named image (push, pull): as [`CommandKind::Mutating`], except
    /// that the image being absent (locally for a push, in the registry for a pull) is invalid
    /// input — the command named an image that does not exist.
    Transfer,
}

/// The exit code for `error` raised by a command of `kind`.
pub fn code_for(error: &Error, kind: CommandKind) -> u8 {
    match error.kind() {
        ErrorKind::InvalidInput => INVALID_INPUT,
        ErrorKind::Unreachable => UNREACHABLE,
        ErrorKind::BuildFailed => BUILD_FAILED,
        ErrorKind::AuthRefused => AUTH_REFUSED,
        ErrorKind::NotFound if kind == CommandKind::Query => NEGATIVE,
        ErrorKind::NotFound if kind == CommandKind::Transfer => INVALID_INPUT,
        _ => match (error, kind) {
            // Builds degrade a cache failure to a warning; only the cache commands fail on it.
            (Error::Cache { .. }, _) => INVALID_INPUT,
            (_, CommandKind::Mutating | CommandKind::Transfer) => BUILD_FAILED,
            (_, CommandKind::Query) => UNREACHABLE,
        },
    }
}

/// The name of an error's class in JSON output.
pub fn kind_name(error: &Error) -> &'static str {
    if matches!(error, Error::Cache { .. }) {
        return "invalid_input";
    }
    match error.kind() {
        ErrorKind::InvalidInput => "invalid_input",
        ErrorKind::Unreachable => "unreachable",
        ErrorKind::BuildFailed => "build_failed",
        ErrorKind::AuthRefused => "auth_refused",
        ErrorKind::NotFound => "not_found",
        _ => "engine",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_contract() {
        let invalid = Error::invalid_input("platform", "linux/sparc99", "a platform");
        assert_eq!(code_for(&invalid, CommandKind::Mutating), INVALID_INPUT);
        let down = Error::Unreachable {
            endpoint: "unix:///x".into(),
            reason: "refused".into(),
        };
        assert_eq!(code_for(&down, CommandKind::Query), UNREACHABLE);
        let failed = Error::BuildFailed {
            step: None,
            message: "x".into(),
            log_tail: vec![],
        };
        assert_eq!(code_for(&failed, CommandKind::Mutating), BUILD_FAILED);
        let refused = Error::engine("build", "no space left on device");
        assert_eq!(code_for(&refused, CommandKind::Mutating), BUILD_FAILED);
        assert_eq!(code_for(&refused, CommandKind::Query), UNREACHABLE);
        let unreadable = Error::context("x", std::io::Error::other("denied"));
        assert_eq!(code_for(&unreadable, CommandKind::Mutating), INVALID_INPUT);
        assert_eq!(kind_name(&unreadable), "invalid_input");
        let cache = Error::Cache {
            operation: "lock",
            path: "/proc/kiln".into(),
            source: std::io::Error::other("read-only").into(),
        };
        assert_eq!(code_for(&cache, CommandKind::Query), INVALID_INPUT);
        assert_eq!(kind_name(&cache), "invalid_input");
        let no_helper = Error::Credentials {
            registry: "reg:1".into(),
            problem: "the credential helper docker-credential-x cannot be run".into(),
            source: None,
        };
        assert_eq!(code_for(&no_helper, CommandKind::Query), INVALID_INPUT);
        assert_eq!(kind_name(&no_helper), "invalid_input");
        let registry = Error::Registry {
            registry: "reg:1".into(),
            operation: "check reg:1/app:1 in the registry".into(),
            message: "the registry answered HTTP 500".into(),
            transient: true,
            source: None,
        };
        assert_eq!(code_for(&registry, CommandKind::Query), UNREACHABLE);
        assert_eq!(code_for(&registry, CommandKind::Mutating), BUILD_FAILED);
        let absent = Error::ImageNotFound {
            image: "reg:1/app:1".into(),
        };
        assert_eq!(code_for(&absent, CommandKind::Transfer), INVALID_INPUT);
        assert_eq!(code_for(&absent, CommandKind::Query), NEGATIVE);
        let bug = Error::internal("reuse", "a reuse plan without a record");
        assert_eq!(code_for(&bug, CommandKind::Mutating), BUILD_FAILED);
    }
}
