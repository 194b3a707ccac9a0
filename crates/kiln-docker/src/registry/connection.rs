//! [`OciRegistry`] and its connections: an oci-client `Client` per operation with kiln's
//! timeouts, plain HTTP for loopback registries, and every operation under a time limit.

use std::time::Duration;

use kiln_core::{Error, Result};
use oci_client::Client;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;

use super::call::Call;
use super::naming::is_loopback_registry;

/// How long connecting to a registry may take before it counts as unreachable.
pub const REGISTRY_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one registry operation (`head`, `describe`: every request it makes, authentication
/// included) may take before the registry counts as unreachable.
pub const REGISTRY_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// kiln's [`Registry`](kiln_core::Registry): asks a registry for manifests and image configs
/// over the distribution API (oci-client), with timeouts fit for a command-line tool.
///
/// Cheap to create and to clone. Every operation makes its own oci-client `Client`: oci-client
/// remembers the first credentials it sees per registry, and kiln may ask one registry with
/// different credentials.
#[derive(Debug, Clone)]
pub struct OciRegistry {
    pub(super) connect_timeout: Duration,
    pub(super) request_timeout: Duration,
}

impl Default for OciRegistry {
    fn default() -> Self {
        OciRegistry::new()
    }
}

impl OciRegistry {
    /// A client with the default timeouts ([`REGISTRY_CONNECT_TIMEOUT`],
    /// [`REGISTRY_REQUEST_TIMEOUT`]).
    pub fn new() -> Self {
        OciRegistry::with_timeouts(REGISTRY_CONNECT_TIMEOUT, REGISTRY_REQUEST_TIMEOUT)
    }

    /// A client that gives up connecting after `connect` and gives up an operation (all its
    /// requests) after `request`.
    pub fn with_timeouts(connect: Duration, request: Duration) -> Self {
        OciRegistry {
            connect_timeout: connect,
            request_timeout: request,
        }
    }

    /// An oci-client `Client` for the registry `domain`: plain HTTP when it is a loopback
    /// registry, HTTPS otherwise.
    pub(super) fn client(&self, domain: &str, call: &Call) -> Result<Client> {
        require_crypto_provider(call)?;
        let protocol = if is_loopback_registry(domain) {
            ClientProtocol::HttpsExcept(vec![domain.to_owned()])
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            connect_timeout: Some(self.connect_timeout),
            read_timeout: Some(self.request_timeout),
            // kiln resolves platforms itself; oci-client must never pick one for it.
            platform_resolver: None,
            user_agent: concat!("kiln/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        Client::try_from(config).map_err(|error| {
            call.error_from(
                &format!("cannot create the registry client: {error}"),
                error,
            )
        })
    }

    /// Runs `operation` under the whole-operation time limit, mapping its errors.
    pub(super) async fn run<T>(
        &self,
        call: &Call,
        operation: impl Future<Output = std::result::Result<T, OciDistributionError>>,
    ) -> Result<Option<T>> {
        // The operation names the image and the registry, never a credential.
        tracing::trace!(operation = %call.operation, endpoint = %call.endpoint, "registry request");
        match tokio::time::timeout(self.request_timeout, operation).await {
            Ok(Ok(value)) => Ok(Some(value)),
            Ok(Err(error)) => call.map_error(error).map(|()| None),
            Err(_) => Err(Error::Unreachable {
                endpoint: call.endpoint.clone(),
                reason: format!("no answer within {:?}", self.request_timeout),
            }),
        }
    }
}

/// Installs rustls's `ring` provider as the process's default, unless one is installed.
///
/// For applications, once at start (the kiln CLI does it in `main`): kiln's libraries never
/// change process-wide state themselves. The registry client needs a process default because
/// oci-client 0.18 builds its reqwest client inside `Client::try_from` and accepts neither a
/// reqwest client nor a rustls configuration, and reqwest built without a bundled provider
/// (`rustls-no-provider`; the workspace's rustls has only `ring`) takes the process default.
/// The other TLS clients kiln makes (the daemon's, in `raw`) are given `ring` explicitly.
pub fn install_default_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may have installed one meanwhile; that one is kept.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Fails `call` with an error saying what to do, instead of letting reqwest panic, when the
/// application installed no rustls provider (see [`install_default_crypto_provider`]).
pub(super) fn require_crypto_provider(call: &Call) -> Result<()> {
    match rustls::crypto::CryptoProvider::get_default() {
        Some(_) => Ok(()),
        None => Err(missing_crypto_provider(call)),
    }
}

/// The error of [`require_crypto_provider`].
pub(super) fn missing_crypto_provider(call: &Call) -> Error {
    Error::internal(
        call.operation.clone(),
        "no rustls crypto provider is installed in this process: an application that talks to \
         registries through kiln calls kiln::install_default_crypto_provider() \
         (kiln_docker::registry's) once at start, as the kiln CLI does",
    )
}
