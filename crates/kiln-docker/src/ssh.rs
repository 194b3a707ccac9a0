//! Docker hosts reached over ssh (`ssh://[user@]host[:port][/socket]`), as the Docker CLI
//! reaches them: the system's OpenSSH client runs `docker system dial-stdio` on the remote
//! host, and each HTTP connection to the daemon is one such command's standard input and
//! output.
//!
//! kiln drives `ssh` through the `openssh` crate (the one bollard's `ssh` feature uses) with one
//! control master per engine, so that only the first connection pays for the handshake, and
//! serves both bollard (as a custom transport) and kiln's own requests (`raw.rs`) from the same
//! pooled hyper client: pushes, and the BuildKit session's upgraded connection, take the same
//! path as every other request.
//!
//! - `destination.rs` — the host parsed and checked (`SshDestination`);
//! - `master.rs` — the control master, its options, started again when it has ended;
//! - `channel.rs` — one `docker system dial-stdio` as a connection, and the connector;
//! - `failure.rs` — `SshFailure`, what `errors.rs` reports as an unreachable daemon.

mod channel;
mod destination;
mod failure;
mod master;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

pub(crate) use destination::{SshDestination, redact_password};
pub(crate) use failure::SshFailure;
pub(crate) use master::SshOptions;

use channel::SshConnector;
use master::Master;

/// The body of every request over ssh (bollard's and kiln's own, boxed alike).
pub(crate) type SshBody = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// The authority requests over ssh name: the channel decides where they go, not the URI.
pub(crate) const SSH_REQUEST_BASE: &str = "http://docker";

/// Requests to one daemon over ssh: a pooled HTTP/1 client whose connections are channels
/// through one control master. Cheap to clone; [`SshTransport::close`] ends the master (the
/// engine calls it when dropped).
#[derive(Clone)]
pub(crate) struct SshTransport {
    destination: Arc<SshDestination>,
    client: Arc<Client<SshConnector, SshBody>>,
    master: Arc<Master>,
}

impl fmt::Debug for SshTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshTransport")
            .field("destination", &self.destination.to_string())
            .finish()
    }
}

impl SshTransport {
    /// A transport to `destination`; nothing runs until the first request.
    pub(crate) fn new(destination: SshDestination, options: SshOptions) -> SshTransport {
        let master = Arc::new(Master::new(destination.clone(), options));
        let connector = SshConnector::new(Arc::clone(&master));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        SshTransport {
            destination: Arc::new(destination),
            client: Arc::new(client),
            master,
        }
    }

    /// Ends the master (`ssh -O exit`) and with it every channel; later requests fail. The
    /// engine calls this when dropped: a clone held by a task that outlives the engine (hyper
    /// finishes connections it started on tasks of its own) must not keep the master running.
    pub(crate) fn close(&self) {
        self.master.close();
    }

    /// Sends `request` (its URI under [`SSH_REQUEST_BASE`]) to the daemon; upgrades (the
    /// BuildKit session) work as on any HTTP/1 connection.
    pub(crate) async fn request(
        &self,
        request: Request<SshBody>,
    ) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
        self.client.request(request).await
    }
}
