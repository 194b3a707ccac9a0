//! `FakeRuntime`: containers and networks in memory, with faults on demand.
//!
//! A started container runs its [`Script`] on a thread of its own (read back from its argv; a
//! container without one runs until stopped and exits 0 on SIGTERM), in real time, so that
//! sleeps, grace periods and followed logs behave as they do on a daemon. Faults: the daemon
//! unreachable, an overlap answer on the Nth network create, a container that vanishes between a
//! list and the next call, a log stream that ends early.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;

use crate::clock::rfc3339;
use crate::container::{
    ContainerDetails, ContainerRuntime, ContainerSpec, ContainerState, ContainerSummary,
    ExitStatus, LogOptions, LogStream, PublishedPort, Removal,
};
use crate::error::{Error, Result};
use crate::resource::{ContainerId, LabelFilter};
use crate::testing::fake_network::default_networks;
use crate::testing::fake_process::{self, FakeLogStream};
use crate::testing::fake_state::{
    Endpoint, FIRST_EPHEMERAL_PORT, FakeContainer, KILLED, RuntimeState, Shared,
};
use crate::testing::script::Script;

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

    /// The fake runs no process: a [`Script`] argv exits with its first `Exit` step's code
    /// (0 without one), `false` exits 1, anything else 0.
    async fn exec(&self, id: &ContainerId, argv: Vec<String>) -> Result<i64> {
        let mut state = self.shared.lock();
        state.check_reachable()?;
        let container = state.container(id)?;
        if container.state != ContainerState::Running {
            return Err(Error::engine(
                "exec in a container",
                format!("container {} is not running", id.short()),
            ));
        }
        if let Some(script) = Script::from_command(&argv) {
            let code = script.steps().iter().find_map(|step| match step {
                super::script::Step::Exit(code) => Some(*code),
                _ => None,
            });
            return Ok(code.unwrap_or(0));
        }
        Ok(i64::from(
            argv.first().is_some_and(|program| program == "false"),
        ))
    }
}

#[cfg(test)]
mod tests;
