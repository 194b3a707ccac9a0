//! What went wrong on the way to a daemon over ssh, in a sentence that names the host and, where
//! kiln knows one, the remedy.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use super::destination::SshDestination;

/// A failure of the ssh transport: the master connection could not be made, or a channel to
/// the daemon ended before it answered. `errors.rs` finds it in any error's sources and reports
/// the daemon as unreachable with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SshFailure {
    message: String,
}

impl SshFailure {
    /// The master connection to `destination` failed.
    pub(crate) fn connect(destination: &SshDestination, error: &openssh::Error) -> SshFailure {
        let mut detail = one_line(&crate::errors::chain(error));
        let not_installed = matches!(
            error,
            openssh::Error::Connect(cause) | openssh::Error::Ssh(cause)
                if cause.kind() == io::ErrorKind::NotFound
        );
        if not_installed {
            detail.push_str(" (ssh:// hosts need OpenSSH's ssh client on PATH)");
        }
        SshFailure {
            message: format!("ssh {destination}: {}", with_hint(&detail)),
        }
    }

    /// A channel to `destination` could not be opened.
    pub(crate) fn channel_not_opened(
        destination: &SshDestination,
        error: &openssh::Error,
    ) -> SshFailure {
        SshFailure {
            message: format!(
                "ssh {destination}: cannot open a channel to the daemon: {}",
                crate::errors::chain(error)
            ),
        }
    }

    /// The remote `command` on `destination` ended before the daemon answered, writing `stderr`.
    pub(crate) fn channel_ended(
        destination: &SshDestination,
        command: &str,
        stderr: &str,
    ) -> SshFailure {
        let stderr = one_line(stderr);
        let said = if stderr.is_empty() {
            "without a message".to_owned()
        } else {
            format!("saying: {}", with_hint(&stderr))
        };
        SshFailure {
            message: format!(
                "ssh {destination}: `{command}` ended before the daemon answered, {said}"
            ),
        }
    }

    /// A connection asked for after its engine was dropped (and its master with it).
    pub(crate) fn engine_dropped() -> SshFailure {
        SshFailure {
            message: "the engine of this ssh connection was dropped".to_owned(),
        }
    }

    /// The first `SshFailure` among `error` and its sources, if any.
    pub(crate) fn find<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a SshFailure> {
        let mut cause = Some(error);
        while let Some(current) = cause {
            if let Some(failure) = current.downcast_ref::<SshFailure>() {
                return Some(failure);
            }
            // An `io::Error`'s `source()` skips the error it wraps: go through that one.
            cause = match current.downcast_ref::<io::Error>() {
                Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
                None => current.source(),
            };
        }
        None
    }
}

impl fmt::Display for SshFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for SshFailure {}

/// The lines of `text` (ssh ends its own with `\r\n`), trimmed and joined with `; `.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// `detail` (what ssh or the remote shell said) with what to do about the failures kiln can
/// name: a host key not on record, a login refused, no `docker` on the remote host.
fn with_hint(detail: &str) -> String {
    let hint = if detail.contains("Host key verification failed")
        || detail.contains("host key for") && detail.contains("has changed")
        || detail.contains("No ") && detail.contains("host key is known")
    {
        Some(
            "kiln checks host keys strictly: record the host's key in known_hosts first, \
             e.g. by connecting once with ssh",
        )
    } else if detail.contains("Permission denied") {
        Some(
            "kiln's ssh never prompts: use a key (IdentityFile in the ssh configuration, or \
             KILN_SSH_CONFIG) or an ssh-agent",
        )
    } else if detail.contains("docker: command not found")
        || detail.contains("docker: not found")
        || detail.contains("\"docker\": executable file not found")
    {
        Some("the remote host needs the docker CLI, which kiln runs as `docker system dial-stdio`")
    } else {
        None
    };
    match hint {
        Some(hint) => format!("{detail} ({hint})"),
        None => detail.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn destination() -> SshDestination {
        SshDestination::parse("ssh://deploy@build-1:2222").unwrap()
    }

    #[test]
    fn a_refused_connection_names_the_host() {
        let error = openssh::Error::Connect(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "connect to host build-1 port 2222: Connection refused",
        ));
        let message = SshFailure::connect(&destination(), &error).to_string();
        assert!(
            message.starts_with("ssh deploy@build-1:2222: "),
            "{message}"
        );
        assert!(message.contains("Connection refused"), "{message}");
    }

    #[test]
    fn a_missing_ssh_client_says_so() {
        let error = openssh::Error::Connect(io::Error::from(io::ErrorKind::NotFound));
        let message = SshFailure::connect(&destination(), &error).to_string();
        assert!(message.contains("OpenSSH's ssh client"), "{message}");
    }

    #[test]
    fn known_failures_carry_their_remedy() {
        for (said, remedy) in [
            ("Host key verification failed.", "known_hosts"),
            (
                "deploy@build-1: Permission denied (publickey).",
                "ssh-agent",
            ),
            ("bash: line 1: docker: command not found", "docker CLI"),
        ] {
            let message =
                SshFailure::channel_ended(&destination(), "docker system dial-stdio", said)
                    .to_string();
            assert!(message.contains(said), "{message}");
            assert!(message.contains(remedy), "{said}: {message}");
        }
        let silent = SshFailure::channel_ended(&destination(), "docker system dial-stdio", " \n");
        assert!(
            silent.to_string().ends_with("without a message"),
            "{silent}"
        );
        let lines = SshFailure::channel_ended(&destination(), "docker", "first\r\n\r\nsecond\n");
        assert!(
            lines.to_string().ends_with("saying: first; second"),
            "{lines}"
        );
    }

    #[test]
    fn it_is_found_among_the_sources() {
        let failure = SshFailure::channel_ended(&destination(), "docker", "gone");
        let wrapped = io::Error::other(failure.clone());
        assert_eq!(SshFailure::find(&wrapped), Some(&failure));
        let twice = io::Error::other(io::Error::new(io::ErrorKind::BrokenPipe, failure.clone()));
        assert_eq!(SshFailure::find(&twice), Some(&failure));
        assert_eq!(SshFailure::find(&io::Error::other("plain")), None);
    }
}
