//! `POST /build` for a BuildKit build whose context the daemon pulls through kiln's own session
//! (`remote=client-session`, an empty body), with bollard's query and bollard's message type,
//! so the output is followed exactly as bollard's builds are.

use std::io;
use std::pin::Pin;

use bollard::errors::Error as BollardError;
use bollard::models::BuildInfo;
use bollard::query_parameters::BuildImageOptions;
use bytes::{Buf, BytesMut};
use futures_util::{Stream, StreamExt};

use crate::raw::{self, RawEndpoint};

/// The daemon's build output, message by message.
pub(crate) type BuildStream = Pin<Box<dyn Stream<Item = Result<BuildInfo, BollardError>> + Send>>;

/// What stopped the request before the daemon answered.
#[derive(Debug)]
pub(crate) enum PostError {
    /// The query could not be made (too long for a URI, unencodable).
    Query(BollardError),
    /// The daemon could not be reached; the reason as the HTTP client gave it.
    Connection(String),
}

/// Starts the build `options` describes and returns its output. An answer other than success
/// is the stream's one item, `DockerResponseServerError` with the daemon's message.
pub(crate) async fn post(
    endpoint: &RawEndpoint,
    options: BuildImageOptions,
) -> Result<BuildStream, PostError> {
    let query = serde_urlencoded::to_string(&options)
        .map_err(|err| PostError::Query(BollardError::URLEncodedError { err }))?;
    let path = format!("/build?{query}");
    raw::check_uri(endpoint, &path)
        .map_err(|err| PostError::Query(BollardError::InvalidURIError { err }))?;
    let response = raw::post(endpoint, &path, &[])
        .await
        .map_err(PostError::Connection)?;
    if !response.status.is_success() {
        let status_code = response.status.as_u16();
        let text = response.text().await;
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|value| value["message"].as_str().map(str::to_owned))
            .unwrap_or(text);
        let refused = BollardError::DockerResponseServerError {
            status_code,
            message,
        };
        return Ok(futures_util::stream::iter([Err(refused)]).boxed());
    }
    Ok(messages(response.body))
}

/// The JSON messages of a build's output (one per line, however the lines are cut into chunks),
/// a message carrying `errorDetail` turned into `DockerStreamError` as bollard does.
pub(crate) fn messages(
    body: impl Stream<Item = Result<bytes::Bytes, String>> + Send + 'static,
) -> BuildStream {
    let state = (Box::pin(body), BytesMut::new(), false);
    futures_util::stream::unfold(state, |(mut body, mut buffer, mut ended)| async move {
        loop {
            if let Some(end) = buffer.iter().position(|&byte| byte == b'\n') {
                let line = buffer.split_to(end + 1);
                if let Some(message) = decode(&line) {
                    return Some((message, (body, buffer, ended)));
                }
                continue;
            }
            if ended {
                let rest = buffer.split();
                return decode(&rest).map(|message| (message, (body, buffer, ended)));
            }
            match body.next().await {
                Some(Ok(chunk)) => buffer.extend_from_slice(chunk.chunk()),
                Some(Err(reason)) => {
                    ended = true;
                    buffer.clear();
                    let lost = BollardError::IOError {
                        err: io::Error::other(reason),
                    };
                    return Some((Err(lost), (body, buffer, ended)));
                }
                None => ended = true,
            }
        }
    })
    .boxed()
}

/// One line of output as a message; `None` for a blank line.
fn decode(line: &[u8]) -> Option<Result<BuildInfo, BollardError>> {
    let text = line.trim_ascii();
    if text.is_empty() {
        return None;
    }
    Some(
        serde_json::from_slice::<BuildInfo>(text)
            .map_err(|err| BollardError::JsonSerdeError { err })
            .and_then(
                |info| match info.error_detail.as_ref().and_then(|d| d.message.clone()) {
                    Some(error) => Err(BollardError::DockerStreamError { error }),
                    None => Ok(info),
                },
            ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::BuildInfoAux;

    async fn decoded(chunks: &[&str]) -> Vec<Result<BuildInfo, String>> {
        let owned: Vec<Result<bytes::Bytes, String>> = chunks
            .iter()
            .map(|chunk| Ok(bytes::Bytes::copy_from_slice(chunk.as_bytes())))
            .collect();
        messages(futures_util::stream::iter(owned))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .map(|item| item.map_err(|error| error.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn messages_are_split_at_line_ends_wherever_the_chunks_end() {
        let whole = "{\"stream\":\"a\"}\r\n{\"aux\":{\"ID\":\"sha256:1\"}}\r\n";
        for cut in 0..whole.len() {
            let items = decoded(&[&whole[..cut], &whole[cut..]]).await;
            assert_eq!(items.len(), 2, "cut at {cut}: {items:?}");
            assert_eq!(items[0].as_ref().unwrap().stream.as_deref(), Some("a"));
            assert!(
                matches!(
                    &items[1].as_ref().unwrap().aux,
                    Some(BuildInfoAux::Default(id)) if id.id.as_deref() == Some("sha256:1")
                ),
                "cut at {cut}: {items:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_error_detail_is_a_stream_error_and_a_cut_body_an_io_error() {
        let items =
            decoded(&["{\"errorDetail\":{\"message\":\"boom\"},\"error\":\"boom\"}\n"]).await;
        assert_eq!(items.len(), 1);
        assert!(items[0].as_ref().unwrap_err().contains("boom"));

        let cut = messages(futures_util::stream::iter([
            Ok(bytes::Bytes::from_static(b"{\"stream\":\"x\"}\n{\"str")),
            Err("error reading a body from connection".to_owned()),
        ]));
        let items = cut.collect::<Vec<_>>().await;
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        assert!(matches!(&items[1], Err(BollardError::IOError { .. })));
    }

    #[tokio::test]
    async fn a_last_line_without_a_line_end_is_read() {
        let items = decoded(&["{\"stream\":\"a\"}\n{\"stream\":\"b\"}"]).await;
        assert_eq!(items.len(), 2);
    }
}
