//! The BuildKit session kiln opens itself for a build: `POST /session` upgraded to h2c, then a
//! gRPC server on that connection (the daemon is the client) serving `FileSync` — the context
//! and the Dockerfile, file by file, as the daemon asks — `Auth` and `Health`.
//!
//! The session carries a shared key that is the same for every build of a context directory on
//! this machine: the daemon keeps its copy of a local source under that key and compares what
//! it is sent with it, asking only for files whose size, time, mode or owner changed. bollard's
//! own session serves a fixed set of services, so kiln cannot add `FileSync` to it.
//!
//! - `filesync.rs`: the service and what it serves; `listing.rs`: fsutil's walk order;
//!   `stat.rs`: Go's file modes; `include.rs` + `glob.rs`: include patterns and follow paths;
//!   `sender.rs`: the packet exchange, and the bytes sent; `auth.rs`: `Auth` and `Health`.

mod auth;
mod filesync;
mod glob;
mod include;
mod listing;
mod sender;
mod stat;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bollard_buildkit_proto::health::health_server::HealthServer;
use bollard_buildkit_proto::moby::filesync::v1::auth_server::AuthServer;
use bollard_buildkit_proto::moby::filesync::v1::file_sync_server::FileSyncServer;
use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use kiln_core::{ContextSent, Credentials, Error};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tonic::service::Routes;

use crate::raw::{self, RawEndpoint};

use filesync::FileSyncProvider;
pub(crate) use filesync::ServedDirs;
use sender::Transfer;

/// The gRPC methods the session serves, as the daemon is told of them (it checks for
/// `FileSync/DiffCopy` before it uses local sources: "no local sources enabled" otherwise).
const METHODS: &[&str] = &[
    "/moby.filesync.v1.FileSync/DiffCopy",
    "/moby.filesync.v1.Auth/Credentials",
    "/moby.filesync.v1.Auth/GetTokenAuthority",
    "/grpc.health.v1.Health/Check",
];

/// An open session serving one build's context; closed when dropped.
#[derive(Debug)]
pub(crate) struct Session {
    id: String,
    dirs: Arc<ServedDirs>,
    transfer: Arc<Transfer>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Session {
    /// Opens a session on the daemon at `endpoint` serving `dirs`; the error says why the
    /// daemon could not be reached or refused.
    pub(crate) async fn open(
        endpoint: &RawEndpoint,
        dirs: ServedDirs,
        credentials: Vec<(String, Credentials)>,
    ) -> Result<Session, String> {
        let id = session_id();
        let name = dirs.root().file_name().map_or_else(
            || "context".to_owned(),
            |name| name.to_string_lossy().into_owned(),
        );
        let mut headers = vec![
            ("X-Docker-Expose-Session-Uuid", id.clone()),
            ("X-Docker-Expose-Session-Name", name),
            (
                "X-Docker-Expose-Session-Sharedkey",
                shared_key(&dirs.root().to_string_lossy()),
            ),
        ];
        headers.extend(
            METHODS
                .iter()
                .map(|method| ("X-Docker-Expose-Session-Grpc-Method", (*method).to_owned())),
        );
        let connection = raw::upgrade(endpoint, "/session", "h2c", &headers).await?;
        Ok(Session::serve(connection, id, dirs, credentials))
    }

    /// Serves the session's services on `connection`, where the daemon is the gRPC client.
    /// The connection is served by a task of its own, which ends — closing the connection and
    /// every call on it — when the session is dropped.
    fn serve<T>(
        connection: T,
        id: String,
        dirs: ServedDirs,
        credentials: Vec<(String, Credentials)>,
    ) -> Session
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let dirs = Arc::new(dirs);
        let transfer = Arc::new(Transfer::default());
        let routes = Routes::new(FileSyncServer::new(FileSyncProvider::new(
            Arc::clone(&dirs),
            Arc::clone(&transfer),
        )))
        .add_service(AuthServer::new(auth::SessionAuth::new(credentials)))
        .add_service(HealthServer::new(auth::Serving))
        .prepare();
        let served = http2::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(connection), TowerToHyperService::new(routes));
        let server = tokio::spawn(async move {
            if let Err(error) = served.await {
                tracing::debug!(%error, "the build session ended with an error");
            }
        });
        tracing::debug!(session = %id, root = %dirs.root().display(), "build session open");
        Session {
            id,
            dirs,
            transfer,
            server,
        }
    }

    /// The session id the build request names.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The name the Dockerfile has in the `dockerfile` source.
    pub(crate) fn dockerfile_name(&self) -> &str {
        self.dirs.dockerfile_name()
    }

    /// The first failure on kiln's side (a context file that could not be read), which the
    /// daemon reports only as "error from sender".
    pub(crate) fn failure(&self) -> Option<Error> {
        self.transfer.failure()
    }

    /// The file contents sent so far, out of the context's.
    pub(crate) fn sent(&self) -> ContextSent {
        let (bytes, files) = self.dirs.totals();
        self.transfer.report(bytes, files)
    }
}

/// A session id: unique per process and build.
pub(crate) fn session_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("kiln-{}-{nanos:x}", std::process::id())
}

/// The shared key of every session for the context directory `root` on this machine (its
/// machine id, when it has one, keeps two machines with the same path sharing a daemon apart).
fn shared_key(root: &str) -> String {
    let machine = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    let digest = Sha256::new()
        .chain_update(b"kiln-context\0")
        .chain_update(machine.trim().as_bytes())
        .chain_update(b"\0")
        .chain_update(root.as_bytes())
        .finalize();
    hex::encode(&digest[..16])
}

#[cfg(test)]
mod tests;
