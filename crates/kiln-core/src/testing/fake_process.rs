//! What runs inside a fake container: its script on a thread of its own, in real time, and the
//! log stream that reads what it prints.

use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;

use crate::container::{ContainerState, LogChunk, LogOptions, LogSource};
use crate::error::Result;
use crate::resource::ContainerId;
use crate::testing::fake_state::{FakeContainer, KILLED, RuntimeState, Shared};
use crate::testing::script::{Script, Step};

/// How long a container thread sleeps between looks at its state (it is also woken on every
/// change); it ends at the next look once the runtime is dropped.
const POLL: Duration = Duration::from_millis(50);

/// Runs `script` for run `generation` of container `id`.
pub(crate) fn spawn(shared: &Arc<Shared>, id: ContainerId, generation: u64, script: Script) {
    let process = Process {
        shared: Arc::downgrade(shared),
        id,
        generation,
    };
    let id = process.id.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("fake-container-{}", id.short()))
        .spawn(move || process.run(&script));
    if spawned.is_err() {
        // No thread, no process: the container ends as a shell that cannot run its command.
        let mut state = shared.lock();
        if let Ok(container) = state.container(&id) {
            container.exit(127, false);
        }
        shared.notify(&mut state);
    }
}

/// One run of one container.
struct Process {
    shared: Weak<Shared>,
    id: ContainerId,
    generation: u64,
}

/// What waiting ended with.
enum Woken {
    /// The time asked for passed: go on.
    Due,
    /// The run is over (exited, killed, removed, restarted, or the runtime dropped).
    Over,
}

impl Process {
    fn run(&self, script: &Script) {
        let on_term = script.term_handler();
        for step in script.steps() {
            let go_on = match step {
                Step::Stdout(line) => self.print(LogSource::Stdout, line),
                Step::Stderr(line) => self.print(LogSource::Stderr, line),
                Step::Sleep(duration) => matches!(
                    self.pause(Some(Instant::now() + *duration), on_term),
                    Woken::Due
                ),
                Step::Resolve(name) => self.resolve(name),
                Step::ExhaustMemory => self.exhaust_memory(on_term),
                Step::Exit(code) => {
                    self.with(|container, _| container.exit(*code, false));
                    false
                }
                Step::RunUntilStopped => {
                    let _ = self.pause(None, on_term);
                    false
                }
            };
            if !go_on {
                return;
            }
        }
        self.with(|container, _| container.exit(0, false));
    }

    /// Runs `change` on the container if this run is still current, then tells the waiters;
    /// `None` when the run is over.
    fn with<T>(&self, change: impl FnOnce(&mut FakeContainer, &RuntimeState) -> T) -> Option<T> {
        let shared = self.shared.upgrade()?;
        let mut state = shared.lock();
        let mut container = state.containers.remove(&self.id)?;
        let current =
            container.generation == self.generation && container.state == ContainerState::Running;
        let result = current.then(|| change(&mut container, &state));
        state.containers.insert(self.id.clone(), container);
        shared.notify(&mut state);
        result
    }

    fn print(&self, source: LogSource, line: &str) -> bool {
        self.with(|container, _| container.print(source, line))
            .is_some()
    }

    fn resolve(&self, name: &str) -> bool {
        let resolved = self.with(|container, state| {
            let found = state.resolves(&container.endpoints, name);
            if !found {
                container.print(LogSource::Stderr, &format!("ping: bad address '{name}'"));
                container.exit(1, false);
            }
            found
        });
        resolved == Some(true)
    }

    fn exhaust_memory(&self, on_term: Option<&(String, i64)>) -> bool {
        let limited = self.with(|container, _| {
            let limited = container.spec.memory_bytes.is_some();
            if limited {
                container.exit(KILLED, true);
            }
            limited
        });
        if limited == Some(false) {
            // Without a limit it grows until stopped.
            let _ = self.pause(None, on_term);
        }
        false
    }

    /// Waits until `until` (forever with `None`), handling signals: SIGTERM runs `on_term`
    /// when there is one (print its line, exit with its code), else the container is killed
    /// when the grace period ends.
    fn pause(&self, until: Option<Instant>, on_term: Option<&(String, i64)>) -> Woken {
        loop {
            let Some(shared) = self.shared.upgrade() else {
                return Woken::Over;
            };
            let mut state = shared.lock();
            let now = Instant::now();
            let Some(container) = state.containers.get_mut(&self.id) else {
                return Woken::Over;
            };
            if container.generation != self.generation || container.state != ContainerState::Running
            {
                return Woken::Over;
            }
            if let Some(deadline) = container.term_deadline {
                if let Some((line, code)) = on_term {
                    if !line.is_empty() {
                        container.print(LogSource::Stdout, line);
                    }
                    container.exit(*code, false);
                    shared.notify(&mut state);
                    return Woken::Over;
                }
                if deadline <= now {
                    container.exit(KILLED, false);
                    shared.notify(&mut state);
                    return Woken::Over;
                }
            }
            if until.is_some_and(|until| until <= now) {
                return Woken::Due;
            }
            let next = [until, container.term_deadline]
                .into_iter()
                .flatten()
                .min()
                .map_or(POLL, |at| at.saturating_duration_since(now).min(POLL));
            let _ = shared
                .changed
                .wait_timeout(state, next)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

/// A fake container's log, read line by line from `next`.
pub(crate) struct FakeLogStream {
    shared: Arc<Shared>,
    id: ContainerId,
    options: LogOptions,
    next: usize,
    /// Chunks left before an injected early end.
    left: Option<usize>,
}

impl FakeLogStream {
    /// Reads the log of `id`, which holds `lines` lines now.
    pub(crate) fn new(
        shared: Arc<Shared>,
        id: ContainerId,
        options: LogOptions,
        lines: usize,
        end_after: Option<usize>,
    ) -> Self {
        let next = options.tail.map_or(0, |tail| lines.saturating_sub(tail));
        FakeLogStream {
            shared,
            id,
            options,
            next,
            left: end_after,
        }
    }
}

impl Stream for FakeLogStream {
    type Item = Result<LogChunk>;

    fn poll_next(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.left == Some(0) {
            return Poll::Ready(None);
        }
        let shared = Arc::clone(&this.shared);
        let mut state = shared.lock();
        let Some(container) = state.containers.get(&this.id) else {
            return Poll::Ready(None);
        };
        if let Some(line) = container.log.get(this.next) {
            let mut bytes = Vec::new();
            if this.options.timestamps {
                bytes.extend_from_slice(line.time.as_bytes());
                bytes.push(b' ');
            }
            bytes.extend_from_slice(&line.bytes);
            this.next += 1;
            this.left = this.left.map(|left| left - 1);
            return Poll::Ready(Some(Ok(LogChunk {
                stream: line.source,
                bytes,
            })));
        }
        if !this.options.follow || container.state != ContainerState::Running {
            return Poll::Ready(None);
        }
        state.waiters.push(context.waker().clone());
        Poll::Pending
    }
}
