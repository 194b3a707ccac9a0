//! Mapping bollard's errors to kiln-core's, so no bollard type leaves this crate.

use std::error::Error as StdError;
use std::io;

use bollard::errors::Error as BollardError;
use kiln_core::{Error, ErrorSource};

/// The message of an error and all its sources, joined: hyper's top-level messages alone
/// ("client error (Connect)") do not say what happened.
pub(crate) fn chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn is_connection_problem(error: &BollardError) -> bool {
    match error {
        BollardError::SocketNotFoundError(_) => true,
        BollardError::HyperLegacyError { err } => err.is_connect(),
        BollardError::IOError { err } => matches!(
            err.kind(),
            io::ErrorKind::ConnectionRefused
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::NotFound
                | io::ErrorKind::NotConnected
                | io::ErrorKind::AddrNotAvailable
        ),
        _ => false,
    }
}

/// Maps an error from talking to the daemon at `endpoint` while doing `operation` on `subject`.
pub(crate) fn map_error(
    endpoint: &str,
    operation: &str,
    subject: &str,
    error: BollardError,
) -> Error {
    if is_connection_problem(&error) {
        let reason = match &error {
            BollardError::SocketNotFoundError(path) => format!("socket {path} does not exist"),
            other => chain(other),
        };
        return Error::Unreachable {
            endpoint: endpoint.to_owned(),
            reason,
        };
    }
    match error {
        BollardError::RequestTimeoutError => Error::Engine {
            operation: format!("{operation} {subject}"),
            message: format!("the daemon at {endpoint} did not answer in time"),
            transient: true,
            source: Some(ErrorSource::new(error)),
        },
        BollardError::DockerResponseServerError {
            status_code: 404, ..
        } => Error::ImageNotFound {
            image: subject.to_owned(),
        },
        BollardError::DockerResponseServerError {
            status_code,
            ref message,
        } => Error::Engine {
            operation: format!("{operation} {subject}"),
            message: format!("{message} (HTTP {status_code})"),
            transient: status_code >= 500,
            source: Some(ErrorSource::new(error)),
        },
        other => Error::Engine {
            operation: format!("{operation} {subject}"),
            message: chain(&other),
            transient: false,
            source: Some(ErrorSource::new(other)),
        },
    }
}

/// Maps an error of the API version negotiation (`GET /version`, the first request to
/// `endpoint`): when the endpoint answered at all, its answer — a 404, a page that is not
/// JSON — says it is not a Docker daemon. That is [`Error::Unreachable`] (no daemon there), not
/// the "image not found" a 404 means once a daemon is known to answer.
pub(crate) fn map_negotiation_error(endpoint: &str, error: BollardError) -> Error {
    if is_connection_problem(&error) || matches!(error, BollardError::RequestTimeoutError) {
        return map_error(endpoint, "connect to", "daemon", error);
    }
    let answer = match &error {
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } => format!("HTTP {status_code}: {}", first_line(message)),
        other => first_line(&chain(other)),
    };
    Error::Unreachable {
        endpoint: endpoint.to_owned(),
        reason: format!(
            "the endpoint answered, but is not a Docker daemon (GET /version: {answer}); \
             check DOCKER_HOST or the Docker context"
        ),
    }
}

/// The first line of `text`, at most 200 characters (an HTML page is not a message).
fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("");
    let mut line: String = line.trim().chars().take(200).collect();
    if line.is_empty() {
        line.push_str("an empty answer");
    }
    line
}

/// bollard #560: a spurious "bytes remaining on stream" error when a stream ends.
pub(crate) fn is_end_of_stream_glitch(error: &BollardError) -> bool {
    chain(error).contains("bytes remaining on stream")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::ErrorKind;

    #[test]
    fn missing_socket_is_unreachable() {
        let error = map_error(
            "unix:///nowhere.sock",
            "ping",
            "daemon",
            BollardError::SocketNotFoundError("/nowhere.sock".into()),
        );
        assert_eq!(error.kind(), ErrorKind::Unreachable);
        assert!(
            error.to_string().contains("/nowhere.sock does not exist"),
            "{error}"
        );
    }

    #[test]
    fn not_found_and_server_errors() {
        let not_found = map_error(
            "e",
            "inspect",
            "x:y",
            BollardError::DockerResponseServerError {
                status_code: 404,
                message: "No such image".into(),
            },
        );
        assert!(matches!(not_found, Error::ImageNotFound { ref image } if image == "x:y"));
        let conflict = map_error(
            "e",
            "remove",
            "x:y",
            BollardError::DockerResponseServerError {
                status_code: 409,
                message: "image is being used".into(),
            },
        );
        assert!(!conflict.is_transient());
        assert!(conflict.to_string().contains("HTTP 409"), "{conflict}");
        let cause = StdError::source(&conflict).expect("the daemon's answer is kept");
        assert!(cause.downcast_ref::<BollardError>().is_some(), "{cause:?}");
    }

    #[test]
    fn an_endpoint_that_is_not_a_daemon_is_unreachable_not_a_missing_image() {
        let not_found = map_negotiation_error(
            "tcp://127.0.0.1:8080",
            BollardError::DockerResponseServerError {
                status_code: 404,
                message: "<html>\n<h1>Not Found</h1>".into(),
            },
        );
        assert_eq!(not_found.kind(), ErrorKind::Unreachable);
        let text = not_found.to_string();
        assert!(text.contains("tcp://127.0.0.1:8080"), "{text}");
        assert!(text.contains("is not a Docker daemon"), "{text}");
        assert!(text.contains("HTTP 404: <html>"), "{text}");
        assert!(!text.contains("Not Found"), "only the first line: {text}");
        let refused = map_negotiation_error(
            "tcp://127.0.0.1:1",
            BollardError::IOError {
                err: io::Error::new(io::ErrorKind::ConnectionRefused, "refused"),
            },
        );
        assert_eq!(refused.kind(), ErrorKind::Unreachable);
        assert!(!refused.to_string().contains("not a Docker daemon"));
    }

    #[test]
    fn refused_io_is_unreachable() {
        let error = map_error(
            "tcp://127.0.0.1:1",
            "ping",
            "daemon",
            BollardError::IOError {
                err: io::Error::new(io::ErrorKind::ConnectionRefused, "refused"),
            },
        );
        assert_eq!(error.kind(), ErrorKind::Unreachable);
    }
}
