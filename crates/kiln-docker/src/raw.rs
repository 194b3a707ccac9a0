//! A streamed POST to the daemon without bollard, for the one answer bollard loses: the push
//! stream's layer ids and final `aux` (TRAPS.md). Unix sockets and plain TCP only; TLS
//! endpoints go through bollard, with less detail.

use std::path::PathBuf;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyExt, BodyStream, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use hyperlocal::UnixConnector;

/// Where raw requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawEndpoint {
    /// A unix socket.
    Unix(PathBuf),
    /// Plain HTTP to `host:port`.
    Http(String),
}

impl RawEndpoint {
    /// The raw endpoint of a Docker host, unless it needs TLS (or is of another kind).
    pub(crate) fn for_host(host: &str, tls: bool) -> Option<RawEndpoint> {
        if let Some(path) = host.strip_prefix("unix://") {
            return Some(RawEndpoint::Unix(PathBuf::from(path)));
        }
        if tls {
            return None;
        }
        host.strip_prefix("tcp://")
            .or_else(|| host.strip_prefix("http://"))
            .map(|address| RawEndpoint::Http(address.trim_end_matches('/').to_owned()))
    }
}

/// A response: its status and its body as a byte stream.
pub(crate) struct RawResponse {
    pub(crate) status: StatusCode,
    pub(crate) body: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>,
}

impl RawResponse {
    /// The whole body as text (for error responses, which are small).
    pub(crate) async fn text(mut self) -> String {
        let mut text = Vec::new();
        while let Some(Ok(chunk)) = self.body.next().await {
            text.extend_from_slice(&chunk);
        }
        String::from_utf8_lossy(&text).into_owned()
    }
}

/// POSTs to `path_and_query` with `headers` and an empty body; the response body streams.
pub(crate) async fn post(
    endpoint: &RawEndpoint,
    path_and_query: &str,
    headers: &[(&str, String)],
) -> Result<RawResponse, String> {
    let uri: hyper::Uri = match endpoint {
        RawEndpoint::Unix(socket) => hyperlocal::Uri::new(socket, path_and_query).into(),
        RawEndpoint::Http(address) => format!("http://{address}{path_and_query}")
            .parse()
            .map_err(|error| format!("invalid request address: {error}"))?,
    };
    let mut request = Request::builder().method(Method::POST).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = request
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::new()))
        .map_err(|error| error.to_string())?;
    let response = match endpoint {
        RawEndpoint::Unix(_) => {
            Client::builder(TokioExecutor::new())
                .build::<_, Full<Bytes>>(UnixConnector)
                .request(request)
                .await
        }
        RawEndpoint::Http(_) => {
            Client::builder(TokioExecutor::new())
                .build::<_, Full<Bytes>>(HttpConnector::new())
                .request(request)
                .await
        }
    }
    .map_err(|error| crate::errors::chain(&error))?;
    let status = response.status();
    let body = BodyStream::new(response.into_body().map_err(|error| error.to_string()))
        .filter_map(|frame| async move {
            match frame {
                Ok(frame) => frame.into_data().ok().map(Ok),
                Err(error) => Some(Err(error)),
            }
        })
        .boxed();
    Ok(RawResponse { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_of_hosts() {
        assert_eq!(
            RawEndpoint::for_host("unix:///var/run/docker.sock", false),
            Some(RawEndpoint::Unix("/var/run/docker.sock".into()))
        );
        assert_eq!(
            RawEndpoint::for_host("tcp://10.0.0.1:2375", false),
            Some(RawEndpoint::Http("10.0.0.1:2375".into()))
        );
        assert_eq!(RawEndpoint::for_host("tcp://10.0.0.1:2376", true), None);
    }
}
