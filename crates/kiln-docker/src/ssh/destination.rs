//! An `ssh://[user@]host[:port][/socket]` Docker host, checked before any process runs.
//!
//! The rules are the Docker CLI's (no password, no query, no fragment; a path names the remote
//! daemon's socket), made stricter where the CLI would pass a bad value on to `ssh`: a port
//! outside 1–65535, an empty user or port, a host or user that `ssh` would read as an option.

use std::fmt;

use kiln_core::Error;

/// What an `ssh://` Docker host looks like, for error messages.
const EXPECTED: &str = "ssh://[user@]host[:port][/path/to/docker.sock] (keys or an ssh-agent \
                        for authentication; no password, query or fragment)";

/// Where kiln's ssh client goes, and which daemon socket the remote `docker` CLI dials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SshDestination {
    /// The login name, when the host names one (else the ssh configuration's).
    pub(crate) user: Option<String>,
    /// The host name or address (an IPv6 address without its brackets).
    pub(crate) host: String,
    /// The port, when the host names one (else the ssh configuration's).
    pub(crate) port: Option<u16>,
    /// The daemon's socket on the remote host, when the host names one (else the remote
    /// `docker` CLI's default).
    pub(crate) socket: Option<String>,
}

impl SshDestination {
    /// Parses an `ssh://` Docker host; every refusal names the value (a password replaced by
    /// `***`) and what was expected.
    pub(crate) fn parse(value: &str) -> Result<SshDestination, Error> {
        let shown = redact_password(value);
        let refuse = |problem: &str| {
            Error::invalid_input(
                "Docker host",
                shown.clone(),
                format!("{EXPECTED}: {problem}"),
            )
        };
        let rest = value
            .strip_prefix("ssh://")
            .ok_or_else(|| refuse("the scheme must be ssh://"))?;
        if has_password(rest) {
            return Err(refuse(
                "a password is not supported (use a key or an ssh-agent)",
            ));
        }
        if rest.contains('?') {
            return Err(refuse("query parameters are not allowed"));
        }
        if rest.contains('#') {
            return Err(refuse("fragments are not allowed"));
        }
        if let Some(bad) = rest.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(refuse(&format!("{bad:?} is not allowed")));
        }
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, ""),
        };
        let (user, host_port) = match authority.rsplit_once('@') {
            Some((user, host_port)) => (Some(user), host_port),
            None => (None, authority),
        };
        let user = match user {
            None => None,
            Some("") => return Err(refuse("the user before @ is empty")),
            Some(name) if name.starts_with('-') || name.contains('@') => {
                return Err(refuse(&format!("{name:?} is not a user name")));
            }
            Some(name) => Some(name.to_owned()),
        };
        let (host, port) = split_port(host_port).map_err(|problem| refuse(&problem))?;
        if host.is_empty() {
            return Err(refuse("the host name is empty"));
        }
        if host.starts_with('-') {
            return Err(refuse(&format!("{host:?} is not a host name")));
        }
        let socket = match path {
            "" | "/" => None,
            socket => Some(socket.to_owned()),
        };
        Ok(SshDestination {
            user,
            host: host.to_owned(),
            port,
            socket,
        })
    }

    /// The remote command that connects its standard input and output to the daemon, as the
    /// Docker CLI runs it.
    pub(crate) fn dial_stdio_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(socket) = &self.socket {
            args.push("--host".to_owned());
            args.push(format!("unix://{socket}"));
        }
        args.extend(["system".to_owned(), "dial-stdio".to_owned()]);
        args
    }
}

impl fmt::Display for SshDestination {
    /// `user@host:port`, as the messages of kiln and ssh name it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// `host[:port]` or `[v6]:port` apart; a port must be 1–65535.
fn split_port(host_port: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| "an IPv6 address needs its closing ]".to_owned())?;
        if !after.is_empty() && !after.starts_with(':') {
            return Err(format!("{after:?} after the address"));
        }
        (host, after.strip_prefix(':'))
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port = match port {
        None => None,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Some(port),
            _ => return Err(format!("the port {text:?} is not a number from 1 to 65535")),
        },
    };
    Ok((host, port))
}

/// Whether the text after `ssh://` holds a password: a `:` before its last `@`. A password may
/// hold any character, so this errs on the side of finding one (a socket path with an `@` after
/// a port is taken for one): a password is never shown, and a host with one is refused anyway.
fn has_password(rest: &str) -> bool {
    rest.rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// `value` with the password of an `ssh://user:password@` host (see [`has_password`]) replaced
/// by `***`, so that it can be shown and kept; any other value unchanged.
pub(crate) fn redact_password(value: &str) -> String {
    match value.strip_prefix("ssh://") {
        Some(rest) if has_password(rest) => {
            let (userinfo, after) = rest.rsplit_once('@').unwrap_or((rest, ""));
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("ssh://{user}:***@{after}")
        }
        _ => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::ErrorKind;

    fn parsed(value: &str) -> SshDestination {
        SshDestination::parse(value).unwrap_or_else(|error| panic!("{value}: {error}"))
    }

    fn refusal(value: &str) -> String {
        let error = SshDestination::parse(value).expect_err(value);
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{value}: {error}");
        error.to_string()
    }

    #[test]
    fn user_host_port_and_socket() {
        let full = parsed("ssh://deploy@build-1.example.com:2222/run/user/1000/docker.sock");
        assert_eq!(full.user.as_deref(), Some("deploy"));
        assert_eq!(full.host, "build-1.example.com");
        assert_eq!(full.port, Some(2222));
        assert_eq!(full.socket.as_deref(), Some("/run/user/1000/docker.sock"));
        assert_eq!(full.to_string(), "deploy@build-1.example.com:2222");
        assert_eq!(
            full.dial_stdio_args(),
            [
                "--host",
                "unix:///run/user/1000/docker.sock",
                "system",
                "dial-stdio"
            ]
        );

        let bare = parsed("ssh://builder");
        assert_eq!(
            bare,
            SshDestination {
                user: None,
                host: "builder".into(),
                port: None,
                socket: None
            }
        );
        assert_eq!(bare.dial_stdio_args(), ["system", "dial-stdio"]);
        assert_eq!(parsed("ssh://builder/").socket, None);

        let v6 = parsed("ssh://root@[::1]:22");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", Some(22)));
        assert_eq!(v6.to_string(), "root@[::1]:22");
        assert_eq!(parsed("ssh://[fe80::1]").port, None);
    }

    #[test]
    fn malformed_hosts_are_refused_naming_the_value() {
        for (value, problem) in [
            ("ssh://", "host name is empty"),
            ("ssh://root@", "host name is empty"),
            ("ssh://@host", "user before @ is empty"),
            ("ssh://host:", "port \"\""),
            ("ssh://host:abc", "port \"abc\""),
            ("ssh://host:0", "port \"0\""),
            ("ssh://host:65536", "port \"65536\""),
            ("ssh://host:+22", "port \"+22\""),
            ("ssh://host?x=1", "query"),
            ("ssh://host#frag", "fragment"),
            ("ssh://ho st", "' ' is not allowed"),
            ("ssh://-oProxyCommand=touch", "not a host name"),
            ("ssh://-lroot@host", "not a user name"),
            ("ssh://[::1", "closing ]"),
            ("ssh://[::1]x", "after the address"),
        ] {
            let message = refusal(value);
            assert!(message.contains(&format!("{value:?}")), "{message}");
            assert!(message.contains(problem), "{value}: {message}");
            assert!(message.contains("ssh://[user@]host[:port]"), "{message}");
        }
    }

    #[test]
    fn a_password_is_refused_without_being_shown() {
        let message = refusal("ssh://deploy:hunter2@host:22/x.sock");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(
            message.contains("ssh://deploy:***@host:22/x.sock"),
            "{message}"
        );
        assert!(message.contains("password is not supported"), "{message}");
        for (value, shown) in [
            ("ssh://a:b:c@h", "ssh://a:***@h"),
            ("ssh://a:p@ss@h", "ssh://a:***@h"),
            ("ssh://a:pa?s#s/x@h:22", "ssh://a:***@h:22"),
            ("ssh://a@h/p@r", "ssh://a@h/p@r"),
            ("ssh://a@h:22", "ssh://a@h:22"),
            ("tcp://a:b@h", "tcp://a:b@h"),
        ] {
            assert_eq!(redact_password(value), shown);
        }
        let message = refusal("ssh://a:pa ss?#@h");
        assert!(!message.contains("pa ss"), "{message}");
        assert!(message.contains("password"), "{message}");
    }
}
