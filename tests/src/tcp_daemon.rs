//! The live daemon on a loopback TCP port, plain or behind mutual TLS, as `dockerd -H tcp://…
//! [--tlsverify]` would serve it: a proxy from the port to the daemon's unix socket, so kiln's
//! `DOCKER_HOST=tcp://…` and `DOCKER_TLS_VERIFY` paths meet a real daemon.
//!
//! The certificates (a CA, a server certificate for `127.0.0.1`, a client certificate) are made
//! with the `openssl` command; the TLS side is rustls, as a Go daemon would be a non-OpenSSL peer.

#![expect(
    clippy::disallowed_methods,
    reason = "the fixture makes certificates with openssl"
)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use kiln_core::{Env, ProcessEnv};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::runtime::Runtime;
use tokio_rustls::TlsAcceptor;

/// The daemon on a loopback port until dropped.
pub struct TcpDaemon {
    address: SocketAddr,
    certificates: Option<tempfile::TempDir>,
    /// Serves the proxy; dropping it stops the listener and every connection.
    _runtime: Runtime,
}

impl TcpDaemon {
    /// The daemon on a loopback port in plain HTTP (`tcp://127.0.0.1:PORT`).
    pub fn plain() -> Result<TcpDaemon, String> {
        TcpDaemon::start(None)
    }

    /// The daemon behind mutual TLS: clients must present a certificate signed by the fixture's
    /// CA, found with [`TcpDaemon::cert_path`] as `DOCKER_CERT_PATH`.
    pub fn tls() -> Result<TcpDaemon, String> {
        let certificates = tempfile::tempdir().map_err(|error| error.to_string())?;
        make_certificates(certificates.path())?;
        TcpDaemon::start(Some(certificates))
    }

    fn start(certificates: Option<tempfile::TempDir>) -> Result<TcpDaemon, String> {
        let socket = daemon_socket()?;
        let acceptor = match &certificates {
            Some(dir) => Some(tls_acceptor(dir.path())?),
            None => None,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|error| error.to_string())?;
        let listener = runtime
            .block_on(TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
            .map_err(|error| format!("cannot listen on a loopback port: {error}"))?;
        let address = listener.local_addr().map_err(|error| error.to_string())?;
        runtime.spawn(serve(listener, socket, acceptor));
        Ok(TcpDaemon {
            address,
            certificates,
            _runtime: runtime,
        })
    }

    /// `tcp://127.0.0.1:PORT`, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("tcp://{}", self.address)
    }

    /// The directory with the client's `ca.pem`, `cert.pem` and `key.pem`, for
    /// `DOCKER_CERT_PATH` (TLS only).
    pub fn cert_path(&self) -> Option<&Path> {
        self.certificates.as_ref().map(tempfile::TempDir::path)
    }
}

/// The live daemon on a loopback port, plain or with TLS, or `None` (with a printed reason) when
/// the test should skip: no daemon, or one that is not on a unix socket.
///
/// # Panics
///
/// When the test cannot run and `KILN_REQUIRE_DOCKER=1` is set, and whenever the proxy or its
/// certificates cannot be made (a failure, not a reason to skip).
pub fn tcp_daemon_or_skip(test: &str, tls: bool) -> Option<TcpDaemon> {
    crate::live_docker(test)?;
    if let Err(reason) = daemon_socket() {
        if ProcessEnv.flag("KILN_REQUIRE_DOCKER") {
            panic!("{test}: KILN_REQUIRE_DOCKER=1 but {reason}");
        }
        crate::skip(test, &reason);
        return None;
    }
    let daemon = if tls {
        TcpDaemon::tls()
    } else {
        TcpDaemon::plain()
    };
    Some(daemon.unwrap_or_else(|error| panic!("{test}: cannot serve the daemon on TCP: {error}")))
}

/// The unix socket of the daemon the tests use.
pub(crate) fn daemon_socket() -> Result<PathBuf, String> {
    let endpoint = kiln_docker::resolve_endpoint(&ProcessEnv).map_err(|error| error.to_string())?;
    endpoint
        .host
        .strip_prefix("unix://")
        .map(PathBuf::from)
        .ok_or_else(|| format!("the daemon at {} is not on a unix socket", endpoint.host))
}

async fn serve(listener: TcpListener, socket: PathBuf, acceptor: Option<TlsAcceptor>) {
    while let Ok((client, _)) = listener.accept().await {
        let socket = socket.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _ = forward(client, &socket, acceptor).await;
        });
    }
}

/// Copies bytes both ways between one client and a new connection to the daemon.
async fn forward(
    client: TcpStream,
    socket: &Path,
    acceptor: Option<TlsAcceptor>,
) -> std::io::Result<()> {
    let mut daemon = UnixStream::connect(socket).await?;
    match acceptor {
        Some(acceptor) => {
            let mut client = acceptor.accept(client).await?;
            tokio::io::copy_bidirectional(&mut client, &mut daemon).await?;
        }
        None => {
            let mut client = client;
            tokio::io::copy_bidirectional(&mut client, &mut daemon).await?;
        }
    }
    Ok(())
}

/// A rustls server with the fixture's server certificate that requires a client certificate
/// signed by the fixture's CA.
fn tls_acceptor(dir: &Path) -> Result<TlsAcceptor, String> {
    // The provider is given explicitly: the fixture leaves the process's default alone.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let read = |name: &str| -> Result<Vec<CertificateDer<'static>>, String> {
        CertificateDer::pem_file_iter(dir.join(name))
            .and_then(Iterator::collect)
            .map_err(|error| format!("{name}: {error}"))
    };
    let mut roots = RootCertStore::empty();
    for ca in read("ca.pem")? {
        roots.add(ca).map_err(|error| error.to_string())?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|error| error.to_string())?;
    let key = PrivateKeyDer::from_pem_file(dir.join("server-key.pem"))
        .map_err(|error| format!("server-key.pem: {error}"))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(read("server.pem")?, key)
        .map_err(|error| error.to_string())?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Writes `ca.pem`, `server.pem`, `server-key.pem`, `cert.pem` and `key.pem` into `dir`, as the
/// Docker documentation's "protect the daemon socket" steps make them.
fn make_certificates(dir: &Path) -> Result<(), String> {
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).map_err(|error| format!("{name}: {error}"))
    };
    write(
        "server.ext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )?;
    write("client.ext", "extendedKeyUsage=clientAuth\n")?;
    openssl(
        dir,
        "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kiln-ca -keyout ca-key.pem -out ca.pem",
    )?;
    for (name, subject, key, certificate) in [
        ("server", "/CN=127.0.0.1", "server-key.pem", "server.pem"),
        ("client", "/CN=kiln-client", "key.pem", "cert.pem"),
    ] {
        openssl(
            dir,
            &format!("req -newkey rsa:2048 -nodes -subj {subject} -keyout {key} -out {name}.csr"),
        )?;
        openssl(
            dir,
            &format!(
                "x509 -req -days 2 -in {name}.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
                 -extfile {name}.ext -out {certificate}"
            ),
        )?;
    }
    Ok(())
}

/// Runs `openssl` with the words of `arguments` in `dir`.
pub(crate) fn openssl(dir: &Path, arguments: &str) -> Result<(), String> {
    let output = Command::new("openssl")
        .args(arguments.split_whitespace())
        .current_dir(dir)
        .output()
        .map_err(|error| format!("cannot run openssl: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {arguments}: {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
