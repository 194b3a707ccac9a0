//! The `ContainerRuntime` trait: creating, running, watching and removing containers, and the
//! values it trades (`ContainerSpec` in; `ContainerDetails`, `ExitStatus`, log chunks out).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_core::Stream;
use serde::{Deserialize, Serialize};

pub use crate::container_spec::{ContainerSpec, Mount, NetworkAttachment, PortSpec, Protocol};
use crate::digest::ImageId;
use crate::error::Result;
use crate::resource::{ContainerId, LabelFilter};

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ContainerState {
    /// Created, never started.
    Created,
    /// Running.
    Running,
    /// Paused.
    Paused,
    /// Being restarted by its restart policy.
    Restarting,
    /// Being removed.
    Removing,
    /// Ended (its exit code is known).
    Exited,
    /// Could not be stopped or removed properly.
    Dead,
    /// A state this version of kiln does not know.
    Unknown,
}

impl ContainerState {
    /// Whether the container's process may still run (running, paused or restarting).
    pub fn is_running(self) -> bool {
        matches!(
            self,
            ContainerState::Running | ContainerState::Paused | ContainerState::Restarting
        )
    }
}

/// How a container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExitStatus {
    /// The exit code (128 + the signal when killed: 137 for SIGKILL).
    pub code: i64,
    /// Whether the kernel killed a process of the container for exceeding its memory limit.
    pub oom_killed: bool,
}

impl ExitStatus {
    /// Exit code 0 and no OOM kill.
    pub fn success(self) -> bool {
        self.code == 0 && !self.oom_killed
    }
}

/// A container port published on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublishedPort {
    /// The port inside the container.
    pub container: u16,
    /// Its protocol.
    pub protocol: Protocol,
    /// The host port it is reached on.
    pub host: u16,
}

/// What the engine knows about one container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerDetails {
    /// Its id.
    pub id: ContainerId,
    /// Its name (without Docker's leading `/`).
    pub name: String,
    /// The image it runs.
    pub image_id: ImageId,
    /// Where it is in its life.
    pub state: ContainerState,
    /// The exit code, once it has ended (exited or dead).
    pub exit_code: Option<i64>,
    /// Whether it was OOM-killed.
    pub oom_killed: bool,
    /// When it last started (RFC 3339), if it ever did.
    pub started_at: Option<String>,
    /// When it last ended (RFC 3339), if it ever did.
    pub finished_at: Option<String>,
    /// Its published ports, once it runs.
    pub host_ports: Vec<PublishedPort>,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// The networks it is attached to, by name, with its address on each (if any).
    pub networks: BTreeMap<String, Option<Ipv4Addr>>,
    /// The engine's whole answer (Docker's inspect JSON), as `inspect.json` keeps it. It holds
    /// the container's environment as the engine reports it.
    pub raw: serde_json::Value,
}

impl ContainerDetails {
    /// The host port `container`/`protocol` is published on.
    pub fn host_port(&self, container: u16, protocol: Protocol) -> Option<u16> {
        self.host_ports
            .iter()
            .find(|port| port.container == container && port.protocol == protocol)
            .map(|port| port.host)
    }
}

/// One container of a [`ContainerRuntime::list`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSummary {
    /// Its id.
    pub id: ContainerId,
    /// Its name (without Docker's leading `/`).
    pub name: String,
    /// The image as it was given at creation (reference or id).
    pub image: String,
    /// Where it is in its life.
    pub state: ContainerState,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
}

/// Which logs to read, and how.
///
/// `#[non_exhaustive]`: made with [`LogOptions::new`] (or `default()`) and the builder methods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogOptions {
    /// Keep the stream open and deliver new output until the container ends.
    pub follow: bool,
    /// Prefix every line with its RFC 3339 time and a space.
    pub timestamps: bool,
    /// Only the last lines; `None`: all.
    pub tail: Option<usize>,
}

impl LogOptions {
    /// Everything printed so far, no timestamps, then the stream ends.
    pub fn new() -> Self {
        LogOptions::default()
    }

    /// Follows new output (or not).
    pub fn follow(mut self, follow: bool) -> Self {
        self.follow = follow;
        self
    }

    /// Prefixes timestamps (or not).
    pub fn timestamps(mut self, timestamps: bool) -> Self {
        self.timestamps = timestamps;
        self
    }

    /// Starts with the last `lines` lines.
    pub fn tail(mut self, lines: usize) -> Self {
        self.tail = Some(lines);
        self
    }
}

/// Which stream a log chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    /// Standard output of a container without a terminal.
    Stdout,
    /// Standard error of a container without a terminal.
    Stderr,
    /// The terminal of a container with one (stdout and stderr mixed).
    Console,
}

/// A piece of a container's output, usually one line with its newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    /// Where it was printed.
    pub stream: LogSource,
    /// What was printed.
    pub bytes: Vec<u8>,
}

/// A container's output, chunk by chunk, ending when the output does (or, when following, when
/// the container ends).
pub type LogStream = Pin<Box<dyn Stream<Item = Result<LogChunk>> + Send>>;

/// What [`ContainerRuntime::remove`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Removal {
    /// The container was there and is gone.
    Removed,
    /// There was no such container (nothing to do).
    NotFound,
}

/// An engine that runs containers.
///
/// Object safe: upper layers hold an `Arc<dyn ContainerRuntime>`. Every method is one round of
/// work with the engine. An absent container is [`Error::ContainerNotFound`](crate::Error::ContainerNotFound)
/// except where the answer says otherwise (`inspect`: `None`, `remove`: [`Removal::NotFound`]);
/// an engine that cannot be reached is [`Error::Unreachable`](crate::Error::Unreachable).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ContainerRuntime: Send + Sync + Debug + 'static {
    /// Creates a container (not started). Fails with
    /// [`Error::ContainerNameConflict`](crate::Error::ContainerNameConflict) when the name is
    /// taken, [`Error::ImageNotFound`](crate::Error::ImageNotFound) when the image is absent
    /// (nothing is pulled), [`Error::NetworkNotFound`](crate::Error::NetworkNotFound) when the
    /// network is.
    async fn create(&self, spec: ContainerSpec) -> Result<ContainerId>;

    /// Starts a created (or ended) container; a running one is left as it is.
    async fn start(&self, id: &ContainerId) -> Result<()>;

    /// Sends SIGTERM, waits up to `grace` for the container to end, then kills it; returns once
    /// it has ended. A container that is not running is left as it is. The daemon counts the
    /// grace period in whole seconds (rounded up).
    async fn stop(&self, id: &ContainerId, grace: Duration) -> Result<()>;

    /// Sends SIGKILL. A container that is not running is left as it is.
    async fn kill(&self, id: &ContainerId) -> Result<()>;

    /// Waits until the container is not running and says how it ended (a container never
    /// started: code 0).
    async fn wait(&self, id: &ContainerId) -> Result<ExitStatus>;

    /// Looks a container up; `Ok(None)` when there is no such container.
    async fn inspect(&self, id: &ContainerId) -> Result<Option<ContainerDetails>>;

    /// The container's output, stdout and stderr apart (one console stream with a terminal).
    async fn logs(&self, id: &ContainerId, options: LogOptions) -> Result<LogStream>;

    /// Removes the container (and its anonymous volumes); `force` kills it first if it runs.
    /// A running container without `force` is [`Error::InUse`](crate::Error::InUse).
    async fn remove(&self, id: &ContainerId, force: bool) -> Result<Removal>;

    /// Every container whose labels match `filter`, stopped ones included.
    async fn list(&self, filter: &LabelFilter) -> Result<Vec<ContainerSummary>>;

    /// Runs `argv` in the running container, waits for it and returns its exit code (its
    /// output is discarded): readiness checks. An absent container is
    /// [`Error::ContainerNotFound`](crate::Error::ContainerNotFound); one that does not run is
    /// an engine error.
    async fn exec(&self, id: &ContainerId, argv: Vec<String>) -> Result<i64>;
}

/// A shared container runtime handle.
pub type DynContainerRuntime = Arc<dyn ContainerRuntime>;

/// Forwards every method to the runtime behind a pointer (`Arc<R>`, `Box<R>`, either of
/// `dyn ContainerRuntime`), so that a shared or boxed runtime is a runtime.
macro_rules! forward_container_runtime {
    ($pointer:ident) => {
        #[async_trait]
        impl<R: ContainerRuntime + ?Sized> ContainerRuntime for $pointer<R> {
            async fn create(&self, spec: ContainerSpec) -> Result<ContainerId> {
                (**self).create(spec).await
            }

            async fn start(&self, id: &ContainerId) -> Result<()> {
                (**self).start(id).await
            }

            async fn stop(&self, id: &ContainerId, grace: Duration) -> Result<()> {
                (**self).stop(id, grace).await
            }

            async fn kill(&self, id: &ContainerId) -> Result<()> {
                (**self).kill(id).await
            }

            async fn wait(&self, id: &ContainerId) -> Result<ExitStatus> {
                (**self).wait(id).await
            }

            async fn inspect(&self, id: &ContainerId) -> Result<Option<ContainerDetails>> {
                (**self).inspect(id).await
            }

            async fn logs(&self, id: &ContainerId, options: LogOptions) -> Result<LogStream> {
                (**self).logs(id, options).await
            }

            async fn remove(&self, id: &ContainerId, force: bool) -> Result<Removal> {
                (**self).remove(id, force).await
            }

            async fn list(&self, filter: &LabelFilter) -> Result<Vec<ContainerSummary>> {
                (**self).list(filter).await
            }

            async fn exec(&self, id: &ContainerId, argv: Vec<String>) -> Result<i64> {
                (**self).exec(id, argv).await
            }
        }
    };
}

forward_container_runtime!(Arc);
forward_container_runtime!(Box);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_options_start_empty_and_builders_set_them() {
        assert_eq!(
            LogOptions::new(),
            LogOptions {
                follow: false,
                timestamps: false,
                tail: None
            }
        );
        let options = LogOptions::new().follow(true).timestamps(true).tail(5);
        assert!(options.follow && options.timestamps);
        assert_eq!(options.tail, Some(5));
    }

    #[test]
    fn a_spec_hides_its_environment_values() {
        let spec = ContainerSpec::new("kiln-e-t-s", "app:1")
            .command(["serve", "--port", "80"])
            .env("TOKEN", "s3cret")
            .label("dev.kiln.managed", "true")
            .port(PortSpec::udp(4443).on_host(14443))
            .mount(Mount::bind("/data", "/data").read_only(true))
            .network(NetworkAttachment::new("net").alias("server"))
            .memory_bytes(16 << 20)
            .tty(true);
        let printed = format!("{spec:?}");
        assert!(printed.contains("TOKEN"), "{printed}");
        assert!(!printed.contains("s3cret"), "{printed}");
        assert_eq!(spec.ports[0].protocol.to_string(), "udp");
        assert_eq!(spec.ports[0].host, Some(14443));
        assert_eq!(spec.command, ["serve", "--port", "80"]);
    }

    #[cfg(feature = "mock")]
    #[tokio::test]
    async fn the_mock_answers_as_told() {
        let mut mock = MockContainerRuntime::new();
        mock.expect_wait().returning(|_| {
            Ok(ExitStatus {
                code: 3,
                oom_killed: false,
            })
        });
        mock.expect_logs().returning(|_, _| {
            let chunk = LogChunk {
                stream: LogSource::Stderr,
                bytes: b"boom\n".to_vec(),
            };
            let stream: LogStream = Box::pin(OneChunk(Some(Ok(chunk))));
            Ok(stream)
        });
        let runtime: DynContainerRuntime = Arc::new(mock);
        let id = ContainerId::parse(&"e".repeat(64)).unwrap();
        assert_eq!(runtime.wait(&id).await.unwrap().code, 3);
        let mut logs = runtime.logs(&id, LogOptions::new()).await.unwrap();
        let first = std::future::poll_fn(|cx| logs.as_mut().poll_next(cx)).await;
        assert_eq!(first.unwrap().unwrap().bytes, b"boom\n");
    }

    /// A stream of at most one item.
    #[cfg(feature = "mock")]
    struct OneChunk(Option<Result<LogChunk>>);

    #[cfg(feature = "mock")]
    impl Stream for OneChunk {
        type Item = Result<LogChunk>;

        fn poll_next(
            self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.get_mut().0.take())
        }
    }

    #[test]
    fn states_tell_whether_the_process_runs() {
        assert!(ContainerState::Running.is_running());
        assert!(!ContainerState::Exited.is_running());
        assert!(!ContainerState::Created.is_running());
        assert_eq!(
            serde_json::to_string(&ContainerState::Exited).unwrap(),
            "\"exited\""
        );
        assert!(
            ExitStatus {
                code: 0,
                oom_killed: false
            }
            .success()
        );
        assert!(
            !ExitStatus {
                code: 0,
                oom_killed: true
            }
            .success()
        );
    }
}
