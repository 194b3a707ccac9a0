//! `FakeRuntime`: containers and networks in memory, with faults on demand.
//!
//! A started container runs its [`Script`] on a thread of its own (read back from its argv; a
//! container without one runs until stopped and exits 0 on SIGTERM), in real time, so that
//! sleeps, grace periods and followed logs behave as they do on a daemon. Faults: the daemon
//! unreachable, an overlap answer on the Nth network create, a container that vanishes between a
//! list and the next call, a log stream that ends early.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use sha2::{Digest as _, Sha256};

use crate::clock::rfc3339;
use crate::container::{
    ContainerDetails, ContainerRuntime, ContainerSpec, ContainerState, ContainerSummary,
    ExitStatus, LogOptions, LogSource, LogStream, PublishedPort, Removal,
};
use crate::digest::ImageId;
use crate::error::{Error, Result};
use crate::resource::{ContainerId, LabelFilter, NetworkId};
use crate::testing::fake_network::{FakeNetwork, default_networks};
use crate::testing::fake_process::{self, FakeLogStream};
use crate::testing::script::Script;

/// The exit code of a container killed by SIGKILL.
pub(crate) const KILLED: i64 = 137;
/// The first host port the fake hands out for an ephemeral binding.
const FIRST_EPHEMERAL_PORT: u16 = 32768;

/// One line printed by a fake container.
#[derive(Debug, Clone)]
pub(crate) struct LogLine {
    pub(crate) source: LogSource,
    pub(crate) bytes: Vec<u8>,
    pub(crate) time: String,
}

/// A container's place on a network.
#[derive(Debug, Clone, Default)]
pub(crate) struct Endpoint {
    pub(crate) aliases: Vec<String>,
    pub(crate) ipv4: Option<std::net::Ipv4Addr>,
}

/// A fake container.
#[derive(Debug)]
pub(crate) struct FakeContainer {
    pub(crate) id: ContainerId,
    pub(crate) spec: ContainerSpec,
    pub(crate) script: Script,
    pub(crate) image_id: ImageId,
    pub(crate) state: ContainerState,
    pub(crate) exit_code: Option<i64>,
    pub(crate) oom_killed: bool,
    pub(crate) started_at: Option<String>,
    pub(crate) finished_at: Option<String>,
    pub(crate) log: Vec<LogLine>,
    pub(crate) endpoints: BTreeMap<NetworkId, Endpoint>,
    pub(crate) host_ports: Vec<PublishedPort>,
    /// When a SIGTERM was sent: the end of its grace period.
    pub(crate) term_deadline: Option<Instant>,
    /// Counts starts, so that the thread of an earlier run knows it is over.
    pub(crate) generation: u64,
}

impl FakeContainer {
    /// Ends the current run with `code`.
    pub(crate) fn exit(&mut self, code: i64, oom_killed: bool) {
        self.state = ContainerState::Exited;
        self.exit_code = Some(code);
        self.oom_killed = oom_killed;
        self.finished_at = Some(rfc3339(SystemTime::now()));
        self.term_deadline = None;
    }

    /// Appends `line` and a newline to the log, on the console when the container has a tty.
    pub(crate) fn print(&mut self, source: LogSource, line: &str) {
        let source = if self.spec.tty {
            LogSource::Console
        } else {
            source
        };
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        self.log.push(LogLine {
            source,
            bytes,
            time: rfc3339(SystemTime::now()),
        });
    }
}

/// Faults waiting to happen.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// Network creates until the one answered with an overlap (1: the next).
    pub(crate) overlap_in: Option<usize>,
    /// Containers removed right after the next list shows them.
    pub(crate) vanish_after_list: Vec<ContainerId>,
    /// The next log stream ends after this many chunks.
    pub(crate) logs_end_after: Option<usize>,
}

/// Everything the fake holds.
#[derive(Debug, Default)]
pub(crate) struct RuntimeState {
    pub(crate) containers: BTreeMap<ContainerId, FakeContainer>,
    pub(crate) networks: BTreeMap<NetworkId, FakeNetwork>,
    pub(crate) unreachable: bool,
    pub(crate) faults: Faults,
    pub(crate) created: u64,
    pub(crate) next_host_port: u16,
    /// Futures waiting for a change.
    pub(crate) waiters: Vec<Waker>,
}

impl RuntimeState {
    pub(crate) fn check_reachable(&self) -> Result<()> {
        if self.unreachable {
            return Err(Error::Unreachable {
                endpoint: "fake://runtime".into(),
                reason: "the fake runtime is set unreachable".into(),
            });
        }
        Ok(())
    }

    pub(crate) fn container(&mut self, id: &ContainerId) -> Result<&mut FakeContainer> {
        self.containers
            .get_mut(id)
            .ok_or_else(|| Error::ContainerNotFound {
                container: id.to_string(),
            })
    }

    /// A fresh 64-hex id derived from `seed` and a counter.
    pub(crate) fn new_id(&mut self, seed: &str) -> String {
        self.created += 1;
        hex::encode(Sha256::digest(format!("{seed} {}", self.created)))
    }
}

/// The state and the signal that it changed.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    state: Mutex<RuntimeState>,
    pub(crate) changed: Condvar,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, RuntimeState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wakes the container threads and every future waiting for a change.
    pub(crate) fn notify(&self, state: &mut RuntimeState) {
        self.changed.notify_all();
        for waker in state.waiters.drain(..) {
            waker.wake();
        }
    }

    /// Waits until `check` gives a value, looking again after every change.
    pub(crate) async fn until<T>(
        &self,
        mut check: impl FnMut(&mut RuntimeState) -> Option<T>,
    ) -> T {
        std::future::poll_fn(|context| {
            let mut state = self.lock();
            match check(&mut state) {
                Some(value) => Poll::Ready(value),
                None => {
                    state.waiters.push(context.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

/// Containers and networks in memory. Clones share the same state.
#[derive(Debug, Clone)]
pub struct FakeRuntime {
    pub(crate) shared: Arc<Shared>,
}

impl Default for FakeRuntime {
    fn default() -> Self {
        FakeRuntime::new()
    }
}

impl FakeRuntime {
    /// A runtime with the daemon's predefined networks (`bridge`, `host`, `none`) and no
    /// container.
    pub fn new() -> Self {
        let shared = Arc::new(Shared::default());
        {
            let mut state = shared.lock();
            state.next_host_port = FIRST_EPHEMERAL_PORT;
            for network in default_networks() {
                state.networks.insert(network.id.clone(), network);
            }
        }
        FakeRuntime { shared }
    }

    /// Makes every call fail as if the daemon were down (or back up with `false`).
    pub fn set_unreachable(&self, unreachable: bool) {
        self.shared.lock().unreachable = unreachable;
    }

    /// Answers the `nth` network create from now (1: the next) with the daemon's "pool
    /// overlaps" refusal, whatever its subnet.
    pub fn overlap_on_network_create(&self, nth: usize) {
        self.shared.lock().faults.overlap_in = Some(nth.max(1));
    }

    /// Removes `id` right after the next [`ContainerRuntime::list`] has shown it, as if another
    /// process had removed it in between.
    pub fn vanish_after_list(&self, id: &ContainerId) {
        self.shared.lock().faults.vanish_after_list.push(id.clone());
    }

    /// Ends the next log stream after `chunks` chunks, whatever is left.
    pub fn end_logs_early(&self, chunks: usize) {
        self.shared.lock().faults.logs_end_after = Some(chunks);
    }

    /// How many containers exist.
    pub fn container_count(&self) -> usize {
        self.shared.lock().containers.len()
    }

    fn check_name(name: &str) -> Result<()> {
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
            && name.len() > 1
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if valid {
            Ok(())
        } else {
            Err(Error::invalid_input(
                "container name",
                name,
                "[a-zA-Z0-9][a-zA-Z0-9_.-]+",
            ))
        }
    }

    /// Publishes the container's ports: fixed ones as asked, the others on the next free port.
    fn publish_ports(state: &mut RuntimeState, id: &ContainerId) -> Result<()> {
        let mut next = state.next_host_port;
        let container = state.container(id)?;
        container.host_ports = container
            .spec
            .ports
            .iter()
            .map(|port| PublishedPort {
                container: port.container,
                protocol: port.protocol,
                host: port.host.unwrap_or_else(|| {
                    next = next.checked_add(1).unwrap_or(FIRST_EPHEMERAL_PORT);
                    next
                }),
            })
            .collect();
        state.next_host_port = next;
        Ok(())
    }

    fn details(state: &RuntimeState, container: &FakeContainer) -> ContainerDetails {
        let networks: BTreeMap<String, Option<std::net::Ipv4Addr>> = container
            .endpoints
            .iter()
            .filter_map(|(id, endpoint)| {
                let network = state.networks.get(id)?;
                Some((network.name.clone(), endpoint.ipv4))
            })
            .collect();
        let ended = matches!(
            container.state,
            ContainerState::Exited | ContainerState::Dead
        );
        let raw = serde_json::json!({
            "Id": container.id,
            "Name": format!("/{}", container.spec.name),
            "Image": container.image_id,
            "State": {
                "Status": container.state,
                "Running": container.state == ContainerState::Running,
                "OOMKilled": container.oom_killed,
                "ExitCode": container.exit_code.unwrap_or(0),
                "StartedAt": container.started_at,
                "FinishedAt": container.finished_at,
            },
            "Config": {
                "Image": container.spec.image,
                "Cmd": container.spec.command,
                "Labels": container.spec.labels,
                "Tty": container.spec.tty,
            },
            "NetworkSettings": { "Networks": networks },
        });
        ContainerDetails {
            id: container.id.clone(),
            name: container.spec.name.clone(),
            image_id: container.image_id.clone(),
            state: container.state,
            exit_code: if ended { container.exit_code } else { None },
            oom_killed: container.oom_killed,
            started_at: container.started_at.clone(),
            finished_at: container.finished_at.clone(),
            host_ports: container.host_ports.clone(),
            labels: container.spec.labels.clone(),
            networks,
            raw,
        }
    }
}

#[async_trait]
impl ContainerRuntime for FakeRuntime {
    async fn create(&self, spec: ContainerSpec) -> Result<ContainerId> {
        let mut state = self.shared.lock();
        state.check_reachable()?;
        Self::check_name(&spec.name)?;
        if state.containers.values().any(|c| c.spec.name == spec.name) {
            return Err(Error::ContainerNameConflict { name: spec.name });
        }
        let network = spec.network.clone();
        let network_id = match &network {
            Some(attachment) => state.find_network(&attachment.network)?,
            None => state.find_network("bridge")?,
        };
        let (aliases, ipv4) = network.map_or((Vec::new(), None), |a| (a.aliases, a.ipv4));
        let id = ContainerId::parse(&state.new_id(&spec.name))?;
        let ipv4 = state.assign_address(&network_id, ipv4)?;
        let container = FakeContainer {
            id: id.clone(),
            script: Script::from_command(&spec.command)
                .unwrap_or_else(|| Script::new().on_term("", 0).run_until_stopped()),
            image_id: crate::testing::image_id(&spec.image),
            spec,
            state: ContainerState::Created,
            exit_code: None,
            oom_killed: false,
            started_at: None,
            finished_at: None,
            log: Vec::new(),
            endpoints: BTreeMap::from([(network_id, Endpoint { aliases, ipv4 })]),
            host_ports: Vec::new(),
            term_deadline: None,
            generation: 0,
        };
        state.containers.insert(id.clone(), container);
        Ok(id)
    }

    async fn start(&self, id: &ContainerId) -> Result<()> {
        let (script, generation) = {
            let mut state = self.shared.lock();
            state.check_reachable()?;
            if state.container(id)?.state == ContainerState::Running {
                return Ok(());
            }
            Self::publish_ports(&mut state, id)?;
            let container = state.container(id)?;
            container.generation += 1;
            container.state = ContainerState::Running;
            container.exit_code = None;
            container.oom_killed = false;
            container.started_at = Some(rfc3339(SystemTime::now()));
            container.finished_at = None;
            container.term_deadline = None;
            let started = (container.script.clone(), container.generation);
            self.shared.notify(&mut state);
            started
        };
        fake_process::spawn(&self.shared, id.clone(), generation, script);
        Ok(())
    }

    async fn stop(&self, id: &ContainerId, grace: Duration) -> Result<()> {
        {
            let mut state = self.shared.lock();
            state.check_reachable()?;
            let container = state.container(id)?;
            if container.state != ContainerState::Running {
                return Ok(());
            }
            container.term_deadline = Some(Instant::now() + grace);
            self.shared.notify(&mut state);
        }
        self.shared
            .until(|state| {
                let running = state
                    .containers
                    .get(id)
                    .is_some_and(|c| c.state == ContainerState::Running);
                (!running).then_some(())
            })
            .await;
        Ok(())
    }

    async fn kill(&self, id: &ContainerId) -> Result<()> {
        let mut state = self.shared.lock();
        state.check_reachable()?;
        let container = state.container(id)?;
        if container.state == ContainerState::Running {
            container.exit(KILLED, false);
            self.shared.notify(&mut state);
        }
        Ok(())
    }

    async fn wait(&self, id: &ContainerId) -> Result<ExitStatus> {
        {
            let mut state = self.shared.lock();
            state.check_reachable()?;
            state.container(id)?;
        }
        self.shared
            .until(|state| match state.containers.get(id) {
                None => Some(Err(Error::ContainerNotFound {
                    container: id.to_string(),
                })),
                Some(c) if c.state == ContainerState::Running => None,
                Some(c) => Some(Ok(ExitStatus {
                    code: c.exit_code.unwrap_or(0),
                    oom_killed: c.oom_killed,
                })),
            })
            .await
    }

    async fn inspect(&self, id: &ContainerId) -> Result<Option<ContainerDetails>> {
        let state = self.shared.lock();
        state.check_reachable()?;
        Ok(state
            .containers
            .get(id)
            .map(|container| Self::details(&state, container)))
    }

    async fn logs(&self, id: &ContainerId, options: LogOptions) -> Result<LogStream> {
        let mut state = self.shared.lock();
        state.check_reachable()?;
        let lines = state.container(id)?.log.len();
        let end_after = state.faults.logs_end_after.take();
        Ok(Box::pin(FakeLogStream::new(
            Arc::clone(&self.shared),
            id.clone(),
            options,
            lines,
            end_after,
        )))
    }

    async fn remove(&self, id: &ContainerId, force: bool) -> Result<Removal> {
        let mut state = self.shared.lock();
        state.check_reachable()?;
        let Some(container) = state.containers.get(id) else {
            return Ok(Removal::NotFound);
        };
        if container.state == ContainerState::Running && !force {
            return Err(Error::InUse {
                what: "container",
                name: container.spec.name.clone(),
            });
        }
        state.containers.remove(id);
        self.shared.notify(&mut state);
        Ok(Removal::Removed)
    }

    async fn list(&self, filter: &LabelFilter) -> Result<Vec<ContainerSummary>> {
        let mut state = self.shared.lock();
        state.check_reachable()?;
        let listed = state
            .containers
            .values()
            .filter(|c| filter.matches(&c.spec.labels))
            .map(|c| ContainerSummary {
                id: c.id.clone(),
                name: c.spec.name.clone(),
                image: c.spec.image.clone(),
                state: c.state,
                labels: c.spec.labels.clone(),
            })
            .collect();
        for id in std::mem::take(&mut state.faults.vanish_after_list) {
            state.containers.remove(&id);
        }
        self.shared.notify(&mut state);
        Ok(listed)
    }
}

#[cfg(test)]
mod tests;
