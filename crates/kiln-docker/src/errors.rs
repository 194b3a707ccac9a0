//! Mapping bollard's errors to kiln-core's, so no bollard type leaves this crate.

use std::error::Error as StdError;
use std::io;

use bollard::errors::Error as BollardError;
use kiln_core::{Error, ErrorSource};

use crate::ssh::SshFailure;

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

/// The ssh transport's failure behind `error`, if that is what it is (bollard's transparent
/// variants forward `source()` past the error they hold, so the search starts inside them).
fn ssh_failure(error: &BollardError) -> Option<&SshFailure> {
    let root: &(dyn StdError + 'static) = match error {
        BollardError::HyperResponseError { err } => err,
        BollardError::HyperLegacyError { err } => err,
        BollardError::IOError { err } => err,
        other => other,
    };
    SshFailure::find(root)
}

fn is_connection_problem(error: &BollardError) -> bool {
    if ssh_failure(error).is_some() {
        return true;
    }
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

/// The cause that shows a connection to the daemon was lost after it was made (the daemon
/// restarted, crashed or a proxy dropped it): a request or body cut short, a reset or broken
/// pipe, an end of file in the middle of an answer.
fn lost_connection(error: &BollardError) -> Option<String> {
    let root: &(dyn StdError + 'static) = match error {
        BollardError::HyperResponseError { err } => err,
        BollardError::HyperLegacyError { err } => err,
        BollardError::IOError { err } => err,
        _ => return None,
    };
    let mut cause = Some(root);
    while let Some(current) = cause {
        let lost = current.downcast_ref::<hyper::Error>().is_some_and(|hyper| {
            hyper.is_incomplete_message()
                || hyper.is_closed()
                || hyper.is_canceled()
                || hyper.is_body_write_aborted()
        }) || current.downcast_ref::<io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            )
        });
        if lost {
            return Some(current.to_string());
        }
        cause = current.source();
    }
    // bollard hands a failed read of a streamed answer over as an `io::Error` holding only
    // hyper's message.
    match error {
        BollardError::IOError { err } if err.kind() == io::ErrorKind::Other => {
            let text = err.to_string();
            HYPER_LOST_CONNECTION
                .iter()
                .any(|message| text.contains(message))
                .then_some(text)
        }
        _ => None,
    }
}

/// hyper's messages for a connection that ended in the middle of a message.
const HYPER_LOST_CONNECTION: &[&str] = &[
    "error reading a body from connection",
    "error writing a body to connection",
    "connection closed before message completed",
    "connection error",
];

/// Maps a failure of kiln's own request to the daemon at `endpoint` (known only by its text)
/// while doing `operation` on `subject`: a connection that ended in the middle of the exchange is
/// "daemon connection lost", anything else says why the daemon could not be reached.
pub(crate) fn map_raw_error(
    endpoint: &str,
    operation: &str,
    subject: &str,
    reason: String,
) -> Error {
    let connecting = reason.contains("(Connect)");
    let lost = !connecting
        && HYPER_LOST_CONNECTION
            .iter()
            .any(|message| reason.contains(message));
    Error::Unreachable {
        endpoint: endpoint.to_owned(),
        reason: if lost {
            format!("daemon connection lost during {operation} {subject} ({reason})")
        } else {
            reason
        },
    }
}

/// Maps an error from talking to the daemon at `endpoint` while doing `operation` on `subject`.
pub(crate) fn map_error(
    endpoint: &str,
    operation: &str,
    subject: &str,
    error: BollardError,
) -> Error {
    let connecting = matches!(&error, BollardError::HyperLegacyError { err } if err.is_connect());
    if let Some(cause) = lost_connection(&error).filter(|_| !connecting) {
        return Error::Unreachable {
            endpoint: endpoint.to_owned(),
            reason: format!("daemon connection lost during {operation} {subject} ({cause})"),
        };
    }
    if is_connection_problem(&error) {
        let reason = match (&error, ssh_failure(&error)) {
            (_, Some(failure)) => failure.to_string(),
            (BollardError::SocketNotFoundError(path), None) => {
                format!("socket {path} does not exist")
            }
            (other, None) => chain(other),
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
        BollardError::JsonDataError { .. } | BollardError::JsonSerdeError { .. } => Error::Engine {
            operation: format!("{operation} {subject}"),
            message: format!(
                "the daemon at {endpoint} sent an answer that is not the JSON expected ({})",
                chain(&error)
            ),
            transient: false,
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

/// Maps an error of the first request to `endpoint` (`GET /version`): when the endpoint answered at all, its answer — a 404, a page that is not
/// JSON — says it is not a Docker daemon. That is [`Error::Unreachable`] (no daemon there), not
/// the "image not found" a 404 means once a daemon is known to answer.
pub(crate) fn map_first_answer_error(endpoint: &str, error: BollardError) -> Error {
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
    fn a_raw_request_cut_short_is_connection_lost() {
        let lost = map_raw_error(
            "tcp://127.0.0.1:1",
            "push",
            "registry/app:1",
            "client error (SendRequest): connection closed before message completed".to_owned(),
        );
        assert_eq!(lost.kind(), ErrorKind::Unreachable);
        assert!(
            lost.to_string()
                .contains("daemon connection lost during push registry/app:1"),
            "{lost}"
        );
        let refused = map_raw_error(
            "tcp://127.0.0.1:1",
            "push",
            "registry/app:1",
            "client error (Connect): tcp connect error: Connection refused".to_owned(),
        );
        assert!(
            !refused.to_string().contains("connection lost"),
            "{refused}"
        );
    }

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
        let not_found = map_first_answer_error(
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
        let refused = map_first_answer_error(
            "tcp://127.0.0.1:1",
            BollardError::IOError {
                err: io::Error::new(io::ErrorKind::ConnectionRefused, "refused"),
            },
        );
        assert_eq!(refused.kind(), ErrorKind::Unreachable);
        assert!(!refused.to_string().contains("not a Docker daemon"));
    }

    #[test]
    fn a_connection_lost_midway_is_unreachable() {
        for kind in [io::ErrorKind::ConnectionReset, io::ErrorKind::BrokenPipe] {
            let error = map_error(
                "unix:///run/docker.sock",
                "build",
                "app:1",
                BollardError::IOError {
                    err: io::Error::new(kind, "peer went away"),
                },
            );
            assert_eq!(error.kind(), ErrorKind::Unreachable, "{error}");
            assert_eq!(
                error.to_string(),
                "cannot reach unix:///run/docker.sock: daemon connection lost during build \
                 app:1 (peer went away)"
            );
        }
        // What bollard gives when a streamed answer is cut: hyper's message only.
        let cut = map_error(
            "e",
            "build",
            "app:1",
            BollardError::IOError {
                err: io::Error::other("error reading a body from connection"),
            },
        );
        assert_eq!(cut.kind(), ErrorKind::Unreachable, "{cut}");
        let other = map_error(
            "e",
            "build",
            "app:1",
            BollardError::IOError {
                err: io::Error::other("disk on fire"),
            },
        );
        assert_ne!(other.kind(), ErrorKind::Unreachable, "{other}");
    }

    #[tokio::test]
    async fn an_answer_cut_short_is_a_lost_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await.unwrap();
            // Promise a body, send half of it, then hang up.
            let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                          Content-Length: 100\r\n\r\n{\"stream\":";
            socket.write_all(answer.as_bytes()).await.unwrap();
        });
        let docker = bollard::Docker::connect_with_http(
            &format!("tcp://127.0.0.1:{port}"),
            5,
            bollard::API_DEFAULT_VERSION,
        )
        .unwrap();
        let error = docker.version().await.unwrap_err();
        server.await.unwrap();
        let mapped = map_error("tcp://daemon", "ask", "daemon", error);
        assert_eq!(mapped.kind(), ErrorKind::Unreachable, "{mapped}");
        assert!(
            mapped.to_string().contains("daemon connection lost"),
            "{mapped}"
        );
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

    #[test]
    fn an_ssh_failure_is_unreachable_in_its_own_words() {
        let destination = crate::ssh::SshDestination::parse("ssh://root@build-1:2222").unwrap();
        let failure = SshFailure::channel_ended(
            &destination,
            "docker system dial-stdio",
            "bash: line 1: docker: command not found",
        );
        let error = || BollardError::IOError {
            err: io::Error::other(failure.clone()),
        };
        for mapped in [
            map_error("ssh://root@build-1:2222", "inspect", "x", error()),
            map_first_answer_error("ssh://root@build-1:2222", error()),
        ] {
            assert_eq!(mapped.kind(), kiln_core::ErrorKind::Unreachable, "{mapped}");
            assert_eq!(
                mapped.to_string(),
                format!("cannot reach ssh://root@build-1:2222: {failure}")
            );
        }
    }
}
