//! `DockerEngine`: kiln's `ImageEngine` over the Docker Engine API (bollard).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{ImageInspect, SystemVersion};
use bollard::query_parameters::{
    CreateImageOptionsBuilder, RemoveImageOptionsBuilder, TagImageOptionsBuilder,
};
use futures_util::StreamExt;
use kiln_core::{
    BuildRequest, BuiltImage, Credentials, Digest, EngineInfo, Env, Error, EventSink, ImageDetails,
    ImageEngine, ImageFilter, ImageId, ImageRef, ImageSummary, Platform, PullOptions, Pulled,
    PushOptions, PushedImage, RemoveOptions, Result,
};
use tokio::sync::OnceCell;

use crate::endpoint::{Endpoint, resolve_endpoint};
use crate::errors::{map_error, map_first_answer_error, map_raw_error};
use crate::progress::{ProgressDecoder, registry_error};
use crate::raw::{self, RawEndpoint};
use crate::registry_auth;
use crate::ssh::{SSH_REQUEST_BASE, SshDestination, SshOptions, SshTransport, redact_password};

/// How long kiln waits for the daemon's first answer before calling it unreachable (for an
/// `ssh://` host: how long ssh waits for the TCP connection and the server's greeting, in whole
/// seconds).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long the first answer of a daemon over ssh may take in all: the ssh handshake and login,
/// the remote `docker` CLI's start and the daemon's answer.
pub const SSH_FIRST_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// The request timeout for everything but builds.
const REQUEST_TIMEOUT_SECS: u64 = 120;
/// The slowest upload rate a build's request timeout allows for, in bytes per second.
const SLOWEST_UPLOAD: u64 = 4 * 1024 * 1024;

/// The Docker daemon as an [`ImageEngine`].
///
/// Construction does no I/O. The first call asks the daemon's version with a short timeout
/// ([`DEFAULT_CONNECT_TIMEOUT`]) so that an unreachable daemon is reported in about a second;
/// once connected the client is shared by every call (it is cheap to clone and thread-safe),
/// and the version answer is kept for [`ImageEngine::info`].
pub struct DockerEngine {
    endpoint: Endpoint,
    base: std::result::Result<Connection, Error>,
    ready: OnceCell<(Docker, SystemVersion)>,
    connect_timeout: Duration,
}

/// The client of an endpoint kiln can talk to, and where kiln's own requests go.
struct Connection {
    docker: Docker,
    raw: RawEndpoint,
}

impl Drop for DockerEngine {
    /// Ends the ssh master of an `ssh://` host now, whatever else still holds its transport.
    fn drop(&mut self) {
        self.close_ssh();
    }
}

impl fmt::Debug for DockerEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerEngine")
            .field("endpoint", &self.endpoint.host)
            .field("source", &self.endpoint.source)
            .field("connected", &self.ready.initialized())
            .finish()
    }
}

impl DockerEngine {
    /// An engine for the daemon the environment points at (`DOCKER_HOST`, Docker context, default).
    pub fn from_env(env: &dyn Env) -> Result<Self> {
        Ok(Self::new(resolve_endpoint(env)?))
    }

    /// An engine for `endpoint`.
    pub fn new(mut endpoint: Endpoint) -> Self {
        endpoint.host = redact_password(&endpoint.host);
        let base = client_for(&endpoint, DEFAULT_CONNECT_TIMEOUT);
        DockerEngine {
            endpoint,
            base,
            ready: OnceCell::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Changes how long the first call waits for the daemon (for an `ssh://` host: how long
    /// ssh waits for the TCP connection, rounded up to whole seconds; the whole first answer
    /// may take up to [`SSH_FIRST_ANSWER_TIMEOUT`] or this timeout, whichever is longer).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        if self.endpoint.is_ssh() {
            self.close_ssh();
            self.base = client_for(&self.endpoint, timeout);
        }
        self
    }

    fn close_ssh(&self) {
        if let Ok(Connection {
            raw: RawEndpoint::Ssh(transport),
            ..
        }) = &self.base
        {
            transport.close();
        }
    }

    /// The endpoint this engine talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub(crate) fn map(&self, operation: &str, subject: &str, error: BollardError) -> Error {
        map_error(&self.endpoint.host, operation, subject, error)
    }

    /// The connected client, once the daemon has answered `GET /version`.
    pub(crate) async fn client(&self) -> Result<&Docker> {
        Ok(&self.connected().await?.0)
    }

    /// The client and the daemon's version answer, asked once per engine.
    ///
    /// bollard's `negotiate_version` would ask `GET /version` a second time (on Engine 20.10 the
    /// daemon runs `runc --version` and `docker-init --version` to answer it, about 5 ms each
    /// time), and the API version it sets changes no request: bollard 0.21 sends every path
    /// without the `/vX.Y` prefix, which the daemon serves at its own newest version.
    async fn connected(&self) -> Result<&(Docker, SystemVersion)> {
        self.ready
            .get_or_try_init(|| async {
                let base = match &self.base {
                    Ok(connection) => connection.docker.clone(),
                    Err(error) => return Err(error.clone()),
                };
                let deadline = self.first_answer_timeout();
                match tokio::time::timeout(deadline, base.version()).await {
                    Ok(Ok(version)) if version.api_version.is_some() => Ok((base, version)),
                    Ok(Ok(_)) => Err(Error::Unreachable {
                        endpoint: self.endpoint.host.clone(),
                        reason: "the endpoint answered, but is not a Docker daemon \
                                 (GET /version: no API version); check DOCKER_HOST or the \
                                 Docker context"
                            .to_owned(),
                    }),
                    Ok(Err(error)) => Err(map_first_answer_error(&self.endpoint.host, error)),
                    Err(_) => Err(Error::Unreachable {
                        endpoint: self.endpoint.host.clone(),
                        reason: format!("no answer within {deadline:?}"),
                    }),
                }
            })
            .await
    }

    /// How long the first answer may take: the connect timeout, or over ssh (a handshake, a
    /// login and a remote command before the daemon is reached) at least
    /// [`SSH_FIRST_ANSWER_TIMEOUT`].
    fn first_answer_timeout(&self) -> Duration {
        if self.endpoint.is_ssh() {
            self.connect_timeout.max(SSH_FIRST_ANSWER_TIMEOUT)
        } else {
            self.connect_timeout
        }
    }

    /// Where kiln's own requests go, once the daemon answered.
    pub(crate) async fn raw_endpoint(&self) -> Result<&RawEndpoint> {
        self.client().await?;
        match &self.base {
            Ok(connection) => Ok(&connection.raw),
            Err(error) => Err(error.clone()),
        }
    }
}

fn client_for(endpoint: &Endpoint, connect_timeout: Duration) -> Result<Connection> {
    connect(endpoint, connect_timeout).map(|(docker, raw)| Connection {
        docker: docker.with_request_modifier(registry_auth::reencode),
        raw,
    })
}

fn connect(endpoint: &Endpoint, connect_timeout: Duration) -> Result<(Docker, RawEndpoint)> {
    let host = endpoint.host.as_str();
    if lacks_address(host) {
        return Err(Error::invalid_input(
            "Docker host",
            host,
            "an address after the scheme (unix:///path/to/socket, tcp://host:port)",
        ));
    }
    if host.starts_with("ssh://") {
        return connect_ssh(endpoint, connect_timeout);
    }
    let docker = connect_direct(endpoint)?;
    // Every host `connect_direct` accepts has a raw endpoint: unix, plain TCP, TCP with TLS.
    let raw = RawEndpoint::for_host(host, endpoint.tls.as_ref()).ok_or_else(|| {
        Error::invalid_input(
            "Docker host",
            host,
            "a unix://, tcp://, http://, https:// or ssh:// address",
        )
    })?;
    Ok((docker, raw))
}

/// A daemon over ssh: bollard and kiln's own requests share one [`SshTransport`].
fn connect_ssh(endpoint: &Endpoint, connect_timeout: Duration) -> Result<(Docker, RawEndpoint)> {
    let destination = SshDestination::parse(&endpoint.host)?;
    if let Some(config) = &endpoint.ssh_config
        && !config.is_file()
    {
        return Err(Error::invalid_input(
            "KILN_SSH_CONFIG",
            config.display().to_string(),
            "an ssh client configuration file (read with ssh -F)",
        ));
    }
    let transport = SshTransport::new(
        destination,
        SshOptions {
            config_file: endpoint.ssh_config.clone(),
            connect_timeout,
        },
    );
    let for_bollard = transport.clone();
    let docker = Docker::connect_with_custom_transport(
        move |request: bollard::BollardRequest| {
            let transport = for_bollard.clone();
            async move {
                transport
                    .request(request.map(http_body_util::BodyExt::boxed_unsync))
                    .await
                    .map_err(BollardError::from)
            }
        },
        Some(SSH_REQUEST_BASE),
        REQUEST_TIMEOUT_SECS,
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(|error| map_error(&endpoint.host, "connect to", "daemon", error))?;
    Ok((docker, RawEndpoint::Ssh(transport)))
}

/// A daemon on a unix socket or TCP (plain, or TLS with the endpoint's files).
fn connect_direct(endpoint: &Endpoint) -> Result<Docker> {
    let host = endpoint.host.as_str();
    let version = bollard::API_DEFAULT_VERSION;
    let unreachable = |error: BollardError| map_error(host, "connect to", "daemon", error);
    if let Some(path) = host.strip_prefix("unix://") {
        return Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, version).map_err(unreachable);
    }
    let is_tcp = host.starts_with("tcp://") || host.starts_with("http://");
    if host.starts_with("https://") || (is_tcp && endpoint.tls.is_some()) {
        let Some(tls) = &endpoint.tls else {
            return Err(Error::invalid_input(
                "Docker host",
                host,
                "TLS certificates (DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH) for an https:// host",
            ));
        };
        return Docker::connect_with_ssl(
            host,
            &tls.key,
            &tls.cert,
            &tls.ca,
            REQUEST_TIMEOUT_SECS,
            version,
        )
        .map_err(unreachable);
    }
    if is_tcp {
        return Docker::connect_with_http(host, REQUEST_TIMEOUT_SECS, version).map_err(unreachable);
    }
    Err(Error::invalid_input(
        "Docker host",
        host,
        "a unix://, tcp://, http://, https:// or ssh:// address (npipe:// is not supported)",
    ))
}

/// Whether `host` names a scheme but no socket path or host (`tcp://`, `unix://`, `tcp://:2375`).
fn lacks_address(host: &str) -> bool {
    if let Some(path) = host.strip_prefix("unix://") {
        return path.trim_matches('/').is_empty();
    }
    ["tcp://", "http://", "https://"]
        .iter()
        .filter_map(|scheme| host.strip_prefix(scheme))
        .any(|rest| {
            let authority = rest.split('/').next().unwrap_or_default();
            authority.is_empty() || authority.starts_with(':')
        })
}

/// The request timeout for a build: the daemon answers only after reading the whole context.
pub(crate) fn build_timeout(content_bytes: u64) -> Duration {
    Duration::from_secs(REQUEST_TIMEOUT_SECS + content_bytes / SLOWEST_UPLOAD)
}

/// The details of an inspected image; an id that is not `sha256:<64 hex>` is an engine error.
fn details_from(inspect: ImageInspect) -> Result<ImageDetails> {
    let id = inspect.id.unwrap_or_default();
    let id = ImageId::parse(&id)
        .map_err(|error| Error::engine(format!("inspect {id}"), error.to_string()))?;
    let created = inspect
        .created
        .as_ref()
        .and_then(|created| serde_json::to_value(created).ok())
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default();
    let labels = inspect
        .config
        .and_then(|config| config.labels)
        .map(|labels| labels.into_iter().collect())
        .unwrap_or_default();
    Ok(ImageDetails {
        id,
        repo_tags: inspect.repo_tags.unwrap_or_default(),
        repo_digests: inspect.repo_digests.unwrap_or_default(),
        size: inspect
            .size
            .and_then(|size| u64::try_from(size).ok())
            .unwrap_or(0),
        created,
        os: inspect.os.unwrap_or_default(),
        architecture: inspect.architecture.unwrap_or_default(),
        variant: inspect.variant,
        labels,
    })
}

/// The digest the daemon reported for `operation`, checked.
fn reported_digest(operation: &str, name: &str, digest: &str) -> Result<Digest> {
    Digest::parse(digest)
        .map_err(|error| Error::engine(format!("{operation} {name}"), error.to_string()))
}

#[async_trait]
impl ImageEngine for DockerEngine {
    async fn info(&self) -> Result<EngineInfo> {
        tracing::trace!(endpoint = %self.endpoint.host, "GET /version");
        let version = self.connected().await?.1.clone();
        let api_version = version.api_version.unwrap_or_default();
        let architecture = version.arch.unwrap_or_default();
        let architecture = Platform::parse(&architecture)
            .map(|platform| platform.architecture().to_owned())
            .unwrap_or(architecture);
        let os = version.os.unwrap_or_default();
        let buildkit = os == "linux" && api_at_least(&api_version, 1, 39);
        Ok(EngineInfo {
            endpoint: self.endpoint.host.clone(),
            version: version.version.unwrap_or_default(),
            api_version,
            os,
            architecture,
            buildkit,
        })
    }

    async fn build(&self, request: BuildRequest) -> Result<BuiltImage> {
        self.run_build(request).await
    }

    async fn inspect(&self, image: &ImageRef) -> Result<Option<ImageDetails>> {
        self.inspect_name(&image.familiar()).await
    }

    async fn inspect_id(&self, image_id: &ImageId) -> Result<Option<ImageDetails>> {
        self.inspect_name(image_id.as_str()).await
    }

    async fn tag(&self, source: &ImageId, target: &ImageRef) -> Result<()> {
        tracing::trace!(source = %source.short(), target = %target, "POST /images/{{id}}/tag");
        let source = source.as_str();
        let docker = self.client().await?;
        let mut options = TagImageOptionsBuilder::default().repo(&target.familiar_repository());
        if let Some(tag) = target.tag() {
            options = options.tag(tag);
        }
        docker
            .tag_image(source, Some(options.build()))
            .await
            .map_err(|error| self.map("tag", source, error))
    }

    async fn remove(&self, image: &ImageRef, options: RemoveOptions) -> Result<()> {
        tracing::trace!(%image, force = options.force, "DELETE /images/{{name}}");
        let docker = self.client().await?;
        let name = image.familiar();
        let options = RemoveImageOptionsBuilder::default()
            .force(options.force)
            .build();
        docker
            .remove_image(&name, Some(options), None)
            .await
            .map(|_| ())
            .map_err(|error| self.map("remove", &name, error))
    }

    async fn remove_id(&self, image_id: &ImageId, options: RemoveOptions) -> Result<()> {
        self.remove_by_id(image_id, options).await
    }

    async fn list_images(&self, filter: ImageFilter) -> Result<Vec<ImageSummary>> {
        self.image_summaries(filter).await
    }

    async fn push(&self, image: &ImageRef, options: PushOptions) -> Result<PushedImage> {
        tracing::trace!(
            %image,
            credentials = options.credentials.is_some(),
            "POST /images/{{name}}/push"
        );
        let endpoint = self.raw_endpoint().await?;
        self.push_raw(
            endpoint,
            image,
            options.credentials.as_ref(),
            options.events,
        )
        .await
    }

    async fn pull(&self, image: &ImageRef, options: PullOptions) -> Result<Pulled> {
        let PullOptions {
            credentials,
            events,
            ..
        } = options;
        tracing::trace!(%image, credentials = credentials.is_some(), "POST /images/create");
        let docker = self.client().await?;
        let name = image.familiar();
        let mut options =
            CreateImageOptionsBuilder::default().from_image(&image.familiar_repository());
        if let Some(tag) = image.tag() {
            options = options.tag(tag);
        }
        let auth = registry_auth::bollard_credentials(credentials.as_ref(), image.domain());
        let mut stream = docker.create_image(Some(options.build()), None, auth);
        let mut decoder = ProgressDecoder::new(events);
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    let detail = info.progress_detail.unwrap_or_default();
                    decoder.message_parts(
                        info.id,
                        info.status,
                        detail.current.and_then(|n| u64::try_from(n).ok()),
                        detail.total.and_then(|n| u64::try_from(n).ok()),
                    );
                }
                Err(BollardError::DockerStreamError { error })
                | Err(BollardError::DockerResponseServerError { message: error, .. }) => {
                    return Err(registry_error(image.domain(), "pull", &name, &error));
                }
                Err(error) => return Err(self.map("pull", &name, error)),
            }
        }
        let details = self
            .inspect_name(&name)
            .await?
            .ok_or_else(|| Error::ImageNotFound {
                image: name.clone(),
            })?;
        let digest = match decoder.digest {
            Some(digest) => Some(reported_digest("pull", &name, &digest)?),
            None => None,
        };
        Ok(Pulled {
            reference: image.clone(),
            digest,
            image_id: details.id,
        })
    }
}

impl DockerEngine {
    /// Pushes through kiln's own request, which keeps every layer's id and the final digest.
    async fn push_raw(
        &self,
        endpoint: &RawEndpoint,
        image: &ImageRef,
        credentials: Option<&Credentials>,
        events: EventSink,
    ) -> Result<PushedImage> {
        let name = image.familiar();
        let path = format!(
            "/images/{}/push?tag={}",
            image.familiar_repository(),
            image.tag().unwrap_or("latest")
        );
        let auth = registry_auth::header(credentials, image.domain());
        let unreachable =
            |reason: String| map_raw_error(&self.endpoint.host, "push", &name, reason);
        let mut response = raw::post(endpoint, &path, &[("X-Registry-Auth", auth)])
            .await
            .map_err(unreachable)?;
        if !response.status.is_success() {
            let status = response.status;
            let text = response.text().await;
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|value| value["message"].as_str().map(str::to_owned))
                .unwrap_or(text);
            return Err(if status == hyper::StatusCode::NOT_FOUND {
                Error::ImageNotFound { image: name }
            } else {
                registry_error(image.domain(), "push", &name, &message)
            });
        }
        let mut decoder = ProgressDecoder::new(events);
        while let Some(chunk) = response.body.next().await {
            decoder.feed(&chunk.map_err(unreachable)?);
        }
        decoder.finish();
        if let Some(message) = decoder.error {
            return Err(registry_error(image.domain(), "push", &name, &message));
        }
        let digest = decoder.digest.ok_or_else(|| {
            Error::engine(format!("push {name}"), "the daemon reported no digest")
        })?;
        let digest = reported_digest("push", &name, &digest)?;
        Ok(PushedImage {
            reference: image.clone(),
            digest,
            size: decoder.size.unwrap_or(0),
        })
    }

    /// Inspects an image by anything the daemon resolves (reference or id); 404 is `None`.
    pub(crate) async fn inspect_name(&self, name: &str) -> Result<Option<ImageDetails>> {
        let docker = self.client().await?;
        tracing::trace!(image = name, "GET /images/{{name}}/json");
        match docker.inspect_image(name).await {
            Ok(inspect) => details_from(inspect).map(Some),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                tracing::trace!(image = name, "not found");
                Ok(None)
            }
            Err(error) => Err(self.map("inspect", name, error)),
        }
    }
}

/// Whether an API version string (`1.41`) is at least `major.minor`.
fn api_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version
        .split('.')
        .map(|part| part.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= (major, minor)
}

#[cfg(test)]
mod first_answer_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::EndpointSource;
    use kiln_core::ErrorKind;
    use std::time::Instant;

    fn endpoint(host: &str) -> Endpoint {
        Endpoint::new(host, EndpointSource::DockerHost)
    }

    #[tokio::test]
    async fn a_missing_socket_is_unreachable_at_once() {
        let engine = DockerEngine::new(endpoint("unix:///tmp/kiln-no-such-daemon.sock"));
        let started = Instant::now();
        let error = engine.info().await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unreachable, "{error}");
        assert!(started.elapsed() < Duration::from_secs(2));
        // The failure is not cached as a success, nor does it poison later calls' errors.
        let again = engine
            .inspect(&ImageRef::parse("x").unwrap())
            .await
            .unwrap_err();
        assert_eq!(again.kind(), ErrorKind::Unreachable);
    }

    #[tokio::test]
    async fn a_closed_tcp_port_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let engine = DockerEngine::new(endpoint(&format!("tcp://127.0.0.1:{port}")));
        let error = engine.info().await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unreachable, "{error}");
    }

    #[tokio::test]
    async fn a_silent_daemon_times_out_as_unreachable() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let _accepting = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let engine = DockerEngine::new(endpoint(&format!("tcp://127.0.0.1:{port}")))
            .with_connect_timeout(Duration::from_millis(200));
        let error = engine.info().await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unreachable, "{error}");
        assert!(error.to_string().contains("no answer"), "{error}");
    }

    #[test]
    fn unsupported_hosts_are_invalid_input() {
        for host in [
            "npipe:////./pipe/docker_engine",
            "fd://",
            "ssh://user:pw@host",
        ] {
            let engine = DockerEngine::new(endpoint(host));
            let error = engine.base.as_ref().err().unwrap();
            assert_eq!(error.kind(), ErrorKind::InvalidInput, "{host}: {error}");
            assert!(!error.to_string().contains("pw@"), "{error}");
        }
    }

    #[test]
    fn ssh_hosts_are_checked_before_any_process_runs() {
        let engine = DockerEngine::new(endpoint("ssh://root@host:70000"));
        let error = engine.base.as_ref().err().unwrap().to_string();
        assert!(error.contains("\"ssh://root@host:70000\""), "{error}");
        assert!(engine.base.is_err());
        assert!(
            DockerEngine::new(endpoint("ssh://root@host:2222"))
                .base
                .is_ok()
        );

        let mut missing = endpoint("ssh://root@host");
        missing.ssh_config = Some("/no/such/kiln/ssh_config".into());
        let engine = DockerEngine::new(missing);
        let error = engine.base.as_ref().err().unwrap();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(
            error.to_string().contains("/no/such/kiln/ssh_config"),
            "{error}"
        );
    }

    #[test]
    fn hosts_without_an_address_are_invalid_input() {
        for host in [
            "tcp://",
            "tcp://:2375",
            "http://",
            "https:///x",
            "unix://",
            "unix:///",
        ] {
            let engine = DockerEngine::new(endpoint(host));
            let error = engine.base.as_ref().err().unwrap();
            assert_eq!(error.kind(), ErrorKind::InvalidInput, "{host}: {error}");
            assert!(error.to_string().contains(host), "{error}");
        }
        assert!(
            DockerEngine::new(endpoint("tcp://127.0.0.1:2375"))
                .base
                .is_ok()
        );
    }

    #[test]
    fn api_versions_compare() {
        assert!(api_at_least("1.41", 1, 39));
        assert!(!api_at_least("1.38", 1, 39));
        assert!(api_at_least("2.0", 1, 39));
    }

    #[test]
    fn build_timeout_grows_with_the_context() {
        assert_eq!(build_timeout(0), Duration::from_secs(120));
        assert_eq!(build_timeout(800 * 1024 * 1024), Duration::from_secs(320));
    }
}
