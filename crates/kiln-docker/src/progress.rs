//! The daemon's push and pull progress messages, decoded without losing what bollard drops:
//! the layer id of each message and the final `aux` with the pushed digest and size.

use kiln_core::{BuildEvent, Error, EventSink};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
struct Message {
    id: Option<String>,
    status: Option<String>,
    #[serde(rename = "progressDetail")]
    progress_detail: Option<Detail>,
    #[serde(rename = "errorDetail")]
    error_detail: Option<ErrorDetail>,
    error: Option<String>,
    aux: Option<Aux>,
}

#[derive(Debug, Default, Deserialize)]
struct Detail {
    current: Option<u64>,
    total: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorDetail {
    message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Aux {
    #[serde(rename = "Digest")]
    digest: Option<String>,
    #[serde(rename = "Size")]
    size: Option<u64>,
}

/// Reassembles the JSON lines of a progress stream and turns them into events.
#[derive(Debug)]
pub(crate) struct ProgressDecoder {
    events: EventSink,
    partial: Vec<u8>,
    /// The manifest digest (from `aux` for pushes, from the `Digest:` status for pulls).
    pub(crate) digest: Option<String>,
    /// The manifest size from `aux`.
    pub(crate) size: Option<u64>,
    /// The daemon's error message, if the operation failed.
    pub(crate) error: Option<String>,
}

impl ProgressDecoder {
    pub(crate) fn new(events: EventSink) -> Self {
        ProgressDecoder {
            events,
            partial: Vec::new(),
            digest: None,
            size: None,
            error: None,
        }
    }

    /// Feeds a chunk of the response body.
    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        self.partial.extend_from_slice(chunk);
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            self.line(&line);
        }
    }

    /// Ends the stream, decoding a last line without a line break.
    pub(crate) fn finish(&mut self) {
        let rest = std::mem::take(&mut self.partial);
        self.line(&rest);
    }

    fn line(&mut self, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let Ok(message) = serde_json::from_slice::<Message>(line) else {
            return;
        };
        self.message(message);
    }

    /// Handles one decoded message (also used for bollard's pull stream).
    pub(crate) fn message_parts(
        &mut self,
        id: Option<String>,
        status: Option<String>,
        current: Option<u64>,
        total: Option<u64>,
    ) {
        self.message(Message {
            id,
            status,
            progress_detail: Some(Detail { current, total }),
            ..Message::default()
        });
    }

    fn message(&mut self, message: Message) {
        if let Some(error) = message
            .error_detail
            .and_then(|detail| detail.message)
            .or(message.error)
        {
            self.error = Some(error);
            return;
        }
        if let Some(aux) = message.aux {
            self.digest = aux.digest.or(self.digest.take());
            self.size = aux.size.or(self.size);
            return;
        }
        let Some(status) = message.status else {
            return;
        };
        if let Some(digest) = status.strip_prefix("Digest: ") {
            self.digest = Some(digest.trim().to_owned());
            return;
        }
        match message.id {
            // Layer lines carry a short id; tag-level lines ("latest: digest: ...") are notes.
            Some(id) if id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) => {
                let detail = message.progress_detail.unwrap_or_default();
                self.events.emit(BuildEvent::Layer {
                    id,
                    status,
                    current: detail.current,
                    total: detail.total,
                });
            }
            _ => self.events.emit(BuildEvent::Note { message: status }),
        }
    }
}

/// The kiln error for a registry operation the daemon reported as failed with `message`.
pub(crate) fn registry_error(registry: &str, operation: &str, image: &str, message: &str) -> Error {
    let lower = message.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|needle| lower.contains(needle));
    if has(&[
        "unauthorized",
        "authentication required",
        "no basic auth credentials",
        "denied",
        "incorrect username or password",
    ]) {
        return Error::AuthRefused {
            registry: registry.to_owned(),
            reason: message.trim().to_owned(),
        };
    }
    // Go's net/http ends the message with `: EOF` when the registry closed the connection
    // before it answered.
    if lower.trim_end().ends_with(": eof") || has(&["unexpected eof"]) {
        return Error::Unreachable {
            endpoint: registry.to_owned(),
            reason: format!(
                "registry connection lost during {operation} {image} ({})",
                message.trim()
            ),
        };
    }
    if has(&[
        "connection refused",
        "no such host",
        "i/o timeout",
        "dial tcp",
        "connection reset",
        "tls handshake timeout",
        "server misbehaving",
    ]) {
        return Error::Unreachable {
            endpoint: registry.to_owned(),
            reason: message.trim().to_owned(),
        };
    }
    if has(&[
        "manifest unknown",
        "not found",
        "does not exist",
        "no such image",
    ]) {
        return Error::ImageNotFound {
            image: image.to_owned(),
        };
    }
    Error::Registry {
        registry: registry.to_owned(),
        operation: format!("{operation} {image}"),
        message: message.trim().to_owned(),
        transient: false,
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::ErrorKind;
    use std::sync::{Arc, Mutex};

    #[test]
    fn a_push_stream_gives_layers_and_the_digest() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let seen = Arc::clone(&seen);
            EventSink::new(move |event| seen.lock().unwrap().push(event.clone()))
        };
        let mut decoder = ProgressDecoder::new(sink);
        let stream = concat!(
            "{\"status\":\"The push refers to repository [127.0.0.1:5000/app]\"}\r\n",
            "{\"status\":\"Preparing\",\"progressDetail\":{},\"id\":\"0123456789ab\"}\r\n",
            "{\"status\":\"Pushing\",\"progressDetail\":{\"current\":512,\"total\":2048},\"progress\":\"[=>  ]\",\"id\":\"0123456789ab\"}\r\n",
            "{\"status\":\"Layer already exists\",\"progressDetail\":{},\"id\":\"ba9876543210\"}\r\n",
            "{\"status\":\"latest: digest: sha256:abc size: 739\"}\r\n",
            "{\"progressDetail\":{},\"aux\":{\"Tag\":\"latest\",\"Digest\":\"sha256:abc\",\"Size\":739}}"
        );
        for chunk in stream.as_bytes().chunks(17) {
            decoder.feed(chunk);
        }
        decoder.finish();
        assert_eq!(decoder.digest.as_deref(), Some("sha256:abc"));
        assert_eq!(decoder.size, Some(739));
        assert!(decoder.error.is_none());
        insta::assert_debug_snapshot!(seen.lock().unwrap().clone());
    }

    #[test]
    fn errors_are_classified() {
        let kind = |message: &str| registry_error("127.0.0.1:5000", "push", "app", message).kind();
        assert_eq!(
            kind("unauthorized: authentication required"),
            ErrorKind::AuthRefused
        );
        assert_eq!(kind("no basic auth credentials"), ErrorKind::AuthRefused);
        assert_eq!(
            kind(
                "Get \"http://127.0.0.1:5000/v2/\": dial tcp 127.0.0.1:5000: connect: connection refused"
            ),
            ErrorKind::Unreachable
        );
        assert_eq!(
            kind("Head \"http://127.0.0.1:5000/v2/app/manifests/v1\": EOF"),
            ErrorKind::Unreachable
        );
        assert_eq!(
            kind("manifest unknown: manifest unknown"),
            ErrorKind::NotFound
        );
        assert_eq!(kind("blob upload invalid"), ErrorKind::Other);
        assert!(matches!(
            registry_error("127.0.0.1:5000", "push", "app", "blob upload invalid"),
            Error::Registry { ref registry, .. } if registry == "127.0.0.1:5000"
        ));
    }

    #[test]
    fn a_failed_stream_keeps_the_message() {
        let mut decoder = ProgressDecoder::new(EventSink::discard());
        decoder.feed(b"{\"errorDetail\":{\"message\":\"unauthorized: authentication required\"},\"error\":\"unauthorized: authentication required\"}\n");
        assert_eq!(
            decoder.error.as_deref(),
            Some("unauthorized: authentication required")
        );
    }
}
