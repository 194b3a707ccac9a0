//! What [`FakeRuntime`](super::FakeRuntime) holds: its containers (with their logs and
//! endpoints), its networks, the faults waiting to happen, and the futures waiting for a change.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::{Instant, SystemTime};

use sha2::{Digest as _, Sha256};

use crate::clock::rfc3339;
use crate::container::{ContainerSpec, ContainerState, LogSource, PublishedPort};
use crate::digest::ImageId;
use crate::error::{Error, Result};
use crate::resource::{ContainerId, NetworkId};
use crate::testing::fake_network::FakeNetwork;
use crate::testing::script::Script;

/// The exit code of a container killed by SIGKILL.
pub(crate) const KILLED: i64 = 137;
/// The first host port the fake hands out for an ephemeral binding.
pub(crate) const FIRST_EPHEMERAL_PORT: u16 = 32768;

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
