//! Requests to the daemon without bollard, where bollard cannot do what kiln needs: the push
//! stream's layer ids and final `aux` (docs/ARCHITECTURE.md, "Known daemon behaviour kiln works
//! around"), and the BuildKit session kiln serves itself (`/session` upgraded to h2c, then
//! `POST /build` with an empty body). Unix sockets, plain TCP, TCP with the mutual TLS of
//! `DOCKER_TLS_VERIFY` (the CA of `ca.pem`, the client's `cert.pem` and `key.pem`), and ssh (the
//! engine's own [`SshTransport`], so a push shares the master and the pooled channels of every
//! other request).

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyExt, BodyStream, Full};
use hyper::upgrade::Upgraded;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyperlocal::UnixConnector;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::endpoint::TlsFiles;
use crate::ssh::{SSH_REQUEST_BASE, SshTransport};

/// Where raw requests go.
#[derive(Debug, Clone)]
pub(crate) enum RawEndpoint {
    /// A unix socket.
    Unix(PathBuf),
    /// Plain HTTP to `host:port`.
    Http(String),
    /// HTTPS to `host:port` with a client certificate.
    Https(String, TlsFiles),
    /// Channels through the engine's ssh master.
    Ssh(SshTransport),
}

impl RawEndpoint {
    /// The raw endpoint of a Docker host with its TLS files, if it has any; `None` for hosts of
    /// other kinds (an `ssh://` host's is made with its transport), and for `https://` hosts
    /// without TLS files.
    pub(crate) fn for_host(host: &str, tls: Option<&TlsFiles>) -> Option<RawEndpoint> {
        if let Some(path) = host.strip_prefix("unix://") {
            return Some(RawEndpoint::Unix(PathBuf::from(path)));
        }
        let address = |rest: &str| rest.trim_end_matches('/').to_owned();
        if let Some(rest) = host.strip_prefix("https://") {
            return tls.map(|files| RawEndpoint::Https(address(rest), files.clone()));
        }
        let rest = host
            .strip_prefix("tcp://")
            .or_else(|| host.strip_prefix("http://"))?;
        Some(match tls {
            Some(files) => RawEndpoint::Https(address(rest), files.clone()),
            None => RawEndpoint::Http(address(rest)),
        })
    }
}

/// A rustls client that trusts the CA of `files` and presents their client certificate, as the
/// Docker CLI does with `--tlsverify`.
fn tls_config(files: &TlsFiles) -> Result<rustls::ClientConfig, String> {
    let certificates = |path: &PathBuf| -> Result<Vec<CertificateDer<'static>>, String> {
        CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    for ca in certificates(&files.ca)? {
        roots
            .add(ca)
            .map_err(|error| format!("invalid CA certificate {}: {error}", files.ca.display()))?;
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|error| format!("cannot read {}: {error}", files.key.display()))?;
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(certificates(&files.cert)?, key)
        .map_err(|error| format!("invalid client certificate or key: {error}"))
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
    let request = empty_post(endpoint, path_and_query, headers)?
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::new()))
        .map_err(|error| error.to_string())?;
    let response = send(endpoint, request).await?;
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

/// POSTs to `path_and_query` asking to switch the connection to `protocol` (`h2c` for a
/// BuildKit session); once the daemon answers `101 Switching Protocols`, the connection is
/// the caller's, both ways. Any other answer is an error with the daemon's message.
pub(crate) async fn upgrade(
    endpoint: &RawEndpoint,
    path_and_query: &str,
    protocol: &str,
    headers: &[(&str, String)],
) -> Result<TokioIo<Upgraded>, String> {
    let request = empty_post(endpoint, path_and_query, headers)?
        .header("Connection", "Upgrade")
        .header("Upgrade", protocol)
        .body(Full::new(Bytes::new()))
        .map_err(|error| error.to_string())?;
    let response = send(endpoint, request).await?;
    let status = response.status();
    if status != StatusCode::SWITCHING_PROTOCOLS {
        let text = RawResponse {
            status,
            body: BodyStream::new(response.into_body().map_err(|error| error.to_string()))
                .filter_map(|frame| async move { frame.map(|f| f.into_data().ok()).transpose() })
                .boxed(),
        }
        .text()
        .await;
        return Err(format!(
            "the daemon refused to open {path_and_query} (HTTP {status}): {}",
            text.trim()
        ));
    }
    hyper::upgrade::on(response)
        .await
        .map(TokioIo::new)
        .map_err(|error| crate::errors::chain(&error))
}

/// Checks that the HTTP client takes the URI of a request to `path_and_query` on `endpoint`
/// (`http::Uri` refuses URIs over 64 KiB, and the unix socket's URI would then fail to build).
pub(crate) fn check_uri(
    endpoint: &RawEndpoint,
    path_and_query: &str,
) -> Result<(), hyper::http::uri::InvalidUri> {
    let uri = match endpoint {
        RawEndpoint::Unix(socket) => format!(
            "unix://{}:0{path_and_query}",
            hex::encode(socket.to_string_lossy().as_bytes())
        ),
        RawEndpoint::Http(address) => format!("http://{address}{path_and_query}"),
        RawEndpoint::Https(address, _) => format!("https://{address}{path_and_query}"),
        RawEndpoint::Ssh(_) => format!("{SSH_REQUEST_BASE}{path_and_query}"),
    };
    uri.parse::<hyper::Uri>().map(|_| ())
}

/// A POST request to `path_and_query` on `endpoint` with `headers`, before its body.
fn empty_post(
    endpoint: &RawEndpoint,
    path_and_query: &str,
    headers: &[(&str, String)],
) -> Result<hyper::http::request::Builder, String> {
    let uri: hyper::Uri = match endpoint {
        RawEndpoint::Unix(socket) => hyperlocal::Uri::new(socket, path_and_query).into(),
        RawEndpoint::Http(address) => format!("http://{address}{path_and_query}")
            .parse()
            .map_err(|error| format!("invalid request address: {error}"))?,
        RawEndpoint::Https(address, _) => format!("https://{address}{path_and_query}")
            .parse()
            .map_err(|error| format!("invalid request address: {error}"))?,
        RawEndpoint::Ssh(_) => format!("{SSH_REQUEST_BASE}{path_and_query}")
            .parse()
            .map_err(|error| format!("invalid request address: {error}"))?,
    };
    let mut request = Request::builder().method(Method::POST).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    Ok(request)
}

/// Sends `request` over a new connection to `endpoint`.
async fn send(
    endpoint: &RawEndpoint,
    request: Request<Full<Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>, String> {
    match endpoint {
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
        RawEndpoint::Https(_, files) => {
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls_config(files)?)
                .https_only()
                .enable_http1()
                .build();
            Client::builder(TokioExecutor::new())
                .build::<_, Full<Bytes>>(connector)
                .request(request)
                .await
        }
        RawEndpoint::Ssh(transport) => {
            transport
                .request(request.map(|body| body.map_err(|never| match never {}).boxed_unsync()))
                .await
        }
    }
    .map_err(|error| crate::errors::chain(&error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_tls_files_are_named() {
        let files = TlsFiles {
            ca: "/no/such/dir/ca.pem".into(),
            cert: "/no/such/dir/cert.pem".into(),
            key: "/no/such/dir/key.pem".into(),
        };
        let error = tls_config(&files).unwrap_err();
        assert!(error.contains("/no/such/dir/"), "{error}");
    }

    #[test]
    fn endpoints_of_hosts() {
        let files = TlsFiles {
            ca: "/certs/ca.pem".into(),
            cert: "/certs/cert.pem".into(),
            key: "/certs/key.pem".into(),
        };
        let endpoint = |host: &str, tls: Option<&TlsFiles>| {
            RawEndpoint::for_host(host, tls).map(|endpoint| format!("{endpoint:?}"))
        };
        assert_eq!(
            endpoint("unix:///var/run/docker.sock", None),
            Some(format!(
                "{:?}",
                RawEndpoint::Unix("/var/run/docker.sock".into())
            ))
        );
        assert_eq!(
            endpoint("tcp://10.0.0.1:2375", None),
            Some(format!("{:?}", RawEndpoint::Http("10.0.0.1:2375".into())))
        );
        let https = Some(format!(
            "{:?}",
            RawEndpoint::Https("10.0.0.1:2376".into(), files.clone())
        ));
        assert_eq!(endpoint("tcp://10.0.0.1:2376", Some(&files)), https);
        assert_eq!(endpoint("https://10.0.0.1:2376/", Some(&files)), https);
        assert_eq!(endpoint("https://10.0.0.1:2376", None), None);
        assert_eq!(endpoint("ssh://host", None), None);
    }
}
