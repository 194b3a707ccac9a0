//! One registry call's context, and how oci-client's errors become kiln's without the secrets.

use std::error::Error as StdError;

use base64::Engine as _;
use kiln_core::{Credentials, Digest, Error, ErrorSource, ImageRef, Result};
use oci_client::errors::{OciDistributionError, OciEnvelope, OciErrorCode};

use super::naming::{is_loopback_registry, oci_reference};

/// One operation on one image, with what error messages need: where, and which secrets to keep
/// out of them.
pub(super) struct Call {
    /// `check 127.0.0.1:5000/app:1 in the registry` — the [`Error::Registry`] operation.
    pub(super) operation: String,
    /// The registry domain, as [`Error::AuthRefused`] names it.
    pub(super) registry: String,
    /// `http://127.0.0.1:5000` — the [`Error::Unreachable`] endpoint.
    pub(super) endpoint: String,
    /// Who asked: `None` for anonymous requests.
    who: Option<Who>,
    /// Strings no message may contain: the password or token, and its Basic encoding.
    secrets: Vec<String>,
}

/// Which kind of credentials a request carried, for messages.
pub(super) enum Who {
    User(String),
    IdentityToken,
}

impl Call {
    pub(super) fn new(verb: &str, image: &ImageRef, credentials: Option<&Credentials>) -> Call {
        let domain = image.domain();
        let scheme = if is_loopback_registry(domain) {
            "http"
        } else {
            "https"
        };
        let mut secrets = Vec::new();
        let who = credentials.map(|credentials| {
            if let Some(password) = credentials.expose_password() {
                secrets.push(password.to_owned());
                let basic = format!("{}:{password}", credentials.username());
                secrets.push(base64::engine::general_purpose::STANDARD.encode(basic));
                Who::User(credentials.username().to_owned())
            } else {
                if let Some(token) = credentials.expose_identity_token() {
                    secrets.push(token.to_owned());
                }
                Who::IdentityToken
            }
        });
        secrets.retain(|secret| !secret.is_empty());
        Call {
            operation: format!("{verb} {image} in the registry"),
            registry: domain.to_owned(),
            endpoint: format!("{scheme}://{}", oci_reference(image).resolve_registry()),
            who,
            secrets,
        }
    }

    /// `text` with every secret of this call replaced by `<redacted>`.
    pub(super) fn redact(&self, text: &str) -> String {
        redact(text, &self.secrets)
    }

    /// A permanent [`Error::Registry`] of this call: `message`, scrubbed of the call's secrets.
    pub(super) fn error(&self, message: &str) -> Error {
        Error::Registry {
            registry: self.registry.clone(),
            operation: self.operation.clone(),
            message: self.redact(message),
            transient: false,
            source: None,
        }
    }

    /// The digest the registry answered, checked.
    pub(super) fn digest(&self, digest: &str) -> Result<Digest> {
        Digest::parse(digest).map_err(|error| {
            self.error_from(
                &format!("the registry answered a malformed digest: {error}"),
                error,
            )
        })
    }

    /// [`Call::error`] caused by `source`.
    pub(super) fn error_from(
        &self,
        message: &str,
        source: impl StdError + Send + Sync + 'static,
    ) -> Error {
        let mut error = self.error(message);
        if let Error::Registry { source: kept, .. } = &mut error {
            *kept = Some(self.shareable(source));
        }
        error
    }

    /// `error` as a cause kiln may keep: itself when no secret of this call appears in it
    /// (its messages or its `Debug`), else a copy of its messages with the secrets replaced.
    pub(super) fn shareable(&self, error: impl StdError + Send + Sync + 'static) -> ErrorSource {
        let messages = messages(&error);
        let debug = format!("{error:?}");
        let leaks = self.secrets.iter().any(|secret| {
            debug.contains(secret.as_str())
                || messages
                    .iter()
                    .any(|message| message.contains(secret.as_str()))
        });
        if !leaks {
            return ErrorSource::new(error);
        }
        let mut redacted: Option<Redacted> = None;
        for message in messages.iter().rev() {
            redacted = Some(Redacted {
                message: self.redact(message),
                source: redacted.map(Box::new),
            });
        }
        match redacted {
            Some(redacted) => ErrorSource::new(redacted),
            None => ErrorSource::new(Redacted {
                message: String::new(),
                source: None,
            }),
        }
    }

    /// Maps an oci-client error: `Ok(())` when it means "no such manifest", else kiln's error,
    /// which keeps `error` (scrubbed of secrets) as its cause when it is a registry error.
    pub(super) fn map_error(&self, error: OciDistributionError) -> Result<()> {
        let class = classify(&error);
        self.map_class(class).map_err(|mut mapped| {
            if let Error::Registry { source, .. } = &mut mapped {
                *source = Some(self.shareable(error));
            }
            mapped
        })
    }

    /// Maps what a failure means: `Ok(())` for "no such manifest", else kiln's error.
    pub(super) fn map_class(&self, class: Class) -> Result<()> {
        match class {
            Class::NotFound => Ok(()),
            Class::AuthRefused(detail) => {
                let mut reason = match &self.who {
                    None => "the registry requires credentials and none were given".to_owned(),
                    Some(Who::User(user)) => {
                        format!("the registry refused the credentials of user {user:?}")
                    }
                    Some(Who::IdentityToken) => {
                        "the registry refused the identity token".to_owned()
                    }
                };
                if !detail.is_empty() {
                    reason.push_str(" (");
                    reason.push_str(&detail);
                    reason.push(')');
                }
                Err(Error::AuthRefused {
                    registry: self.registry.clone(),
                    reason: self.redact(&reason),
                })
            }
            Class::Unreachable(reason) => Err(Error::Unreachable {
                endpoint: self.endpoint.clone(),
                reason: self.redact(&reason),
            }),
            Class::Other { message, transient } => Err(Error::Registry {
                registry: self.registry.clone(),
                operation: self.operation.clone(),
                message: self.redact(&message),
                transient,
                source: None,
            }),
        }
    }
}

/// The messages of `error` and of each of its causes, outermost first.
fn messages(error: &(dyn StdError + 'static)) -> Vec<String> {
    let mut messages = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        messages.push(error.to_string());
        current = error.source();
    }
    messages
}

/// A cause whose messages held a secret of the request: the messages, scrubbed, in their chain.
#[derive(Debug)]
pub(super) struct Redacted {
    message: String,
    source: Option<Box<Redacted>>,
}

impl std::fmt::Display for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Redacted {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

/// `text` with every one of `secrets` replaced by `<redacted>`.
pub(super) fn redact(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), "<redacted>");
        }
    }
    text
}

/// What an oci-client error means to kiln, before the context of the call is added.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Class {
    /// The manifest (or the repository) does not exist.
    NotFound,
    /// Credentials missing or refused; the registry's own words, if any.
    AuthRefused(String),
    /// No connection or no answer in time; why.
    Unreachable(String),
    /// Anything else.
    Other { message: String, transient: bool },
}

pub(super) fn classify(error: &OciDistributionError) -> Class {
    match error {
        OciDistributionError::UnauthorizedError { .. } => {
            Class::AuthRefused("401 Unauthorized".to_owned())
        }
        OciDistributionError::AuthenticationFailure(message) => {
            Class::AuthRefused(format!("token service: {}", message.trim()))
        }
        OciDistributionError::RegistryError { envelope, .. } => classify_envelope(envelope),
        OciDistributionError::ServerError { code, message, .. } => {
            classify_status(*code, message.trim())
        }
        // oci-client turns some answers into reqwest's status errors (a blob `HEAD` answered
        // 401): the status tells what happened, as a `ServerError`'s does.
        OciDistributionError::RequestError(error) => match error.status() {
            Some(status) => classify_status(status.as_u16(), ""),
            None => classify_request_error(error.is_timeout(), error.is_connect(), error),
        },
        other => Class::Other {
            message: other.to_string(),
            transient: false,
        },
    }
}

/// Classifies an HTTP answer with status `code` that was not a success, and the registry's
/// `message` (the body, trimmed; may be empty).
pub(super) fn classify_status(code: u16, message: &str) -> Class {
    match code {
        404 => Class::NotFound,
        401 | 403 => Class::AuthRefused(format!("HTTP {code} {message}").trim().to_owned()),
        408 | 429 | 500.. => Class::Other {
            message: format!("the registry answered HTTP {code}: {message}")
                .trim_end_matches([' ', ':'])
                .to_owned(),
            transient: true,
        },
        _ => Class::Other {
            message: format!("the registry answered HTTP {code}: {message}")
                .trim_end_matches([' ', ':'])
                .to_owned(),
            transient: false,
        },
    }
}

/// Classifies the error codes of a registry's error body (a 4xx answer).
pub(super) fn classify_envelope(envelope: &OciEnvelope) -> Class {
    let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|error| &error.code).collect();
    let messages = envelope
        .errors
        .iter()
        .map(|error| {
            if error.message.is_empty() {
                format!("{:?}", error.code)
            } else {
                error.message.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    if codes.iter().any(|code| {
        matches!(
            code,
            OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown | OciErrorCode::NotFound
        )
    }) {
        Class::NotFound
    } else if codes
        .iter()
        .any(|code| matches!(code, OciErrorCode::Unauthorized | OciErrorCode::Denied))
    {
        Class::AuthRefused(messages)
    } else {
        let transient = codes
            .iter()
            .any(|code| matches!(code, OciErrorCode::Toomanyrequests));
        Class::Other {
            message: format!("the registry refused the request: {messages}"),
            transient,
        }
    }
}

/// Classifies a failed HTTP exchange (`error` is reqwest's, with its `is_timeout()` and
/// `is_connect()`): TLS failures are permanent, connect errors (refused, DNS) and timeouts make
/// the registry unreachable, the rest (a connection cut mid-answer) is transient.
pub(super) fn classify_request_error(
    timeout: bool,
    connect: bool,
    error: &(dyn StdError + 'static),
) -> Class {
    if let Some(tls) = find_tls_error(error) {
        return Class::Other {
            message: format!("the TLS handshake with the registry failed: {tls}"),
            transient: false,
        };
    }
    if timeout {
        return Class::Unreachable(if connect {
            "timed out connecting".to_owned()
        } else {
            "timed out waiting for an answer".to_owned()
        });
    }
    if connect {
        return Class::Unreachable(cause(error));
    }
    Class::Other {
        message: format!("the exchange with the registry failed: {}", cause(error)),
        transient: true,
    }
}

/// The error under `error`: an `io::Error`'s payload (its `source()` skips the payload itself,
/// and hyper wraps rustls errors in two of them), else its source.
pub(super) fn next_cause<'a>(
    error: &'a (dyn StdError + 'static),
) -> Option<&'a (dyn StdError + 'static)> {
    match error.downcast_ref::<std::io::Error>() {
        Some(io) => match io.get_ref() {
            Some(inner) => Some(inner),
            None => io.source(),
        },
        None => error.source(),
    }
}

/// The first rustls error in `error`'s chain.
pub(super) fn find_tls_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        current = next_cause(error);
    }
    None
}

/// Why a request failed, in a few words: the innermost causes of `error` (its own message names
/// the URL, which the endpoint already says), `connection refused` for a refused connection.
pub(super) fn cause(error: &(dyn StdError + 'static)) -> String {
    let mut messages: Vec<String> = Vec::new();
    let mut current = next_cause(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".to_owned(),
                std::io::ErrorKind::ConnectionReset => return "connection reset".to_owned(),
                std::io::ErrorKind::TimedOut => return "timed out".to_owned(),
                _ => {}
            }
        }
        let message = error.to_string();
        if !messages.iter().any(|known| known.contains(&message)) {
            messages.push(message);
        }
        current = next_cause(error);
    }
    match messages.len() {
        0 => error.to_string(),
        // Keep the last two: the layer that failed and its reason.
        count => messages[count.saturating_sub(2)..].join(": "),
    }
}
