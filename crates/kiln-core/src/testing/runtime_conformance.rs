//! The behaviour every container and network runtime must show, one named case per function.
//!
//! Cases run [`Script`]s (busybox `sh` on a daemon, read back by [`FakeRuntime`](super::FakeRuntime)),
//! name everything `kiln-conf-<unique>-<case>-<part>`, label it [`LABEL`]`=<unique>`, and remove
//! it when they pass ([`RuntimeTarget::clean_up`]); a live target removes what a failed case
//! left by the same label. [`runtime_conformance_tests!`](crate::runtime_conformance_tests)
//! turns every case of [`container_conformance`](super::container_conformance) and
//! [`network_conformance`](super::network_conformance) into a test of its own.

use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::container::{
    ContainerRuntime, ContainerSpec, LogChunk, LogOptions, LogSource, LogStream,
};
use crate::network::NetworkRuntime;
use crate::resource::{ContainerId, LabelFilter};
pub use crate::testing::conformance::LABEL;
use crate::testing::script::Script;

/// What the runtime cases run against.
#[derive(Debug, Clone)]
pub struct RuntimeTarget {
    /// The container runtime under test.
    pub containers: Arc<dyn ContainerRuntime>,
    /// The network runtime under test (usually the same engine).
    pub networks: Arc<dyn NetworkRuntime>,
    /// An image with busybox's `sh`, `sleep` and `ping` (any name for the fake).
    pub image: String,
    /// Unique to the run: part of every name, and the value of [`LABEL`] on everything made.
    pub unique: String,
}

impl RuntimeTarget {
    /// A target whose one engine runs both containers and networks.
    pub fn new<R>(runtime: R, image: impl Into<String>, unique: impl Into<String>) -> Self
    where
        R: ContainerRuntime + NetworkRuntime + Clone,
    {
        RuntimeTarget {
            containers: Arc::new(runtime.clone()),
            networks: Arc::new(runtime),
            image: image.into(),
            unique: unique.into(),
        }
    }

    /// `kiln-conf-<unique>-<case>-<part>`.
    pub fn name(&self, case: &str, part: &str) -> String {
        format!("kiln-conf-{}-{case}-{part}", self.unique)
    }

    /// A container `part` of `case` running `script`, labelled.
    pub fn spec(&self, case: &str, part: &str, script: &Script) -> ContainerSpec {
        ContainerSpec::new(self.name(case, part), self.image.clone())
            .command(script.command())
            .label(LABEL, self.unique.clone())
    }

    /// Selects what this run made.
    pub fn filter(&self) -> LabelFilter {
        LabelFilter::any().equals(LABEL, self.unique.clone())
    }

    /// Creates and starts the container.
    pub async fn run(&self, spec: ContainerSpec) -> ContainerId {
        let name = spec.name.clone();
        let id = self
            .containers
            .create(spec)
            .await
            .unwrap_or_else(|error| panic!("create {name}: {error}"));
        self.containers
            .start(&id)
            .await
            .unwrap_or_else(|error| panic!("start {name}: {error}"));
        id
    }

    /// Removes every container, then every network, this run made.
    pub async fn clean_up(&self) {
        let containers = self.containers.list(&self.filter()).await;
        for container in containers.unwrap_or_default() {
            let _ = self.containers.remove(&container.id, true).await;
        }
        let networks = self.networks.list_networks(&self.filter()).await;
        for network in networks.unwrap_or_default() {
            let _ = self.networks.remove_network(&network.id).await;
        }
    }

    /// Waits (following the logs) until the container prints a line holding `needle`.
    pub async fn wait_for_line(&self, id: &ContainerId, needle: &str) {
        let mut stream = self
            .containers
            .logs(id, LogOptions::new().follow(true))
            .await
            .expect("follow the logs");
        while let Some(chunk) = next(&mut stream).await {
            let chunk = chunk.expect("a log chunk");
            if String::from_utf8_lossy(&chunk.bytes).contains(needle) {
                return;
            }
        }
        panic!("the container ended without printing {needle:?}");
    }

    /// Every chunk of the container's logs read with `options`.
    pub async fn logs(&self, id: &ContainerId, options: LogOptions) -> Vec<LogChunk> {
        let mut stream = self.containers.logs(id, options).await.expect("logs");
        let mut chunks = Vec::new();
        while let Some(chunk) = next(&mut stream).await {
            chunks.push(chunk.expect("a log chunk"));
        }
        chunks
    }

    /// An id no container has.
    pub fn absent_id(&self) -> ContainerId {
        let hex = hex::encode(Sha256::digest(format!("{} absent", self.unique)));
        ContainerId::parse(&hex).unwrap_or_else(|error| panic!("{error}"))
    }
}

/// The next item of a log stream.
pub async fn next(stream: &mut LogStream) -> Option<crate::error::Result<LogChunk>> {
    std::future::poll_fn(|context| stream.as_mut().poll_next(context)).await
}

/// The lines printed on `source`, in order, without line ends (a terminal's `\r` included).
pub fn lines(chunks: &[LogChunk], source: LogSource) -> Vec<String> {
    let text: Vec<u8> = chunks
        .iter()
        .filter(|chunk| chunk.stream == source)
        .flat_map(|chunk| chunk.bytes.iter().copied())
        .collect();
    String::from_utf8_lossy(&text)
        .lines()
        .map(|line| line.trim_end_matches('\r').to_owned())
        .collect()
}

/// One `#[tokio::test]` per case of the container and network suites, named after the case.
///
/// `$target` is evaluated in each test and gives `Option<T>` where `T` derefs to (or is) a
/// [`RuntimeTarget`] (`None`: skip, after printing why).
#[macro_export]
macro_rules! runtime_conformance_tests {
    ($target:expr) => {
        $crate::runtime_conformance_tests!(
            @cases $target; container_conformance;
            a_container_exits_with_its_code,
            stdout_and_stderr_land_apart,
            a_tty_logs_to_the_console,
            logs_keep_the_tail_and_add_timestamps,
            exceeding_the_memory_limit_is_an_oom_kill,
            stop_sends_sigterm_first,
            stop_kills_after_the_grace_period,
            kill_ends_a_running_container,
            exec_gives_the_exit_code,
            following_logs_sees_later_lines,
            removing_twice_is_removed_then_not_found,
            a_taken_name_is_a_conflict,
            list_selects_by_label,
            an_absent_container_is_not_found,
            ports_are_published_on_ephemeral_host_ports,
        );
        $crate::runtime_conformance_tests!(
            @cases $target; network_conformance;
            a_network_has_its_subnet_gateway_and_labels,
            listing_networks_shows_foreign_ones,
            a_taken_network_name_is_a_conflict,
            aliases_resolve_between_containers,
            a_network_in_use_is_not_removed,
            an_overlapping_subnet_is_a_pool_overlap,
            an_absent_network_is_none,
            invalid_names_and_subnets_are_invalid_input,
        );
    };
    (@cases $target:expr; $module:ident; $($case:ident,)+) => {
        $(
            #[tokio::test]
            async fn $case() {
                let Some(target) = $target else {
                    return;
                };
                $crate::testing::$module::$case(&target).await;
            }
        )+
    };
}
