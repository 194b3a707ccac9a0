//! One probe run: a container of the built tier running `/bin/sh -c <probe>`, its exit code
//! and last lines read, the container removed whatever happens (also when the caller is
//! cancelled).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use kiln_base::Check;
use kiln_core::managed::MANAGED;
use kiln_core::{ContainerId, ContainerRuntime, ContainerSpec, ImageId, LogOptions};

/// The label that marks a probe's container (`<tier>/<capability>`).
pub(crate) const PROBE_LABEL: &str = "dev.kiln.probe";

/// How long a probe may run.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

/// How many of a failed probe's last lines are kept.
const OUTPUT_LINES: usize = 20;

/// Probe containers made by this process, for unique names.
static PROBES: AtomicU64 = AtomicU64::new(0);

/// Runs `command` (the probe of `capability` in `tier`) in a container of `image`: the check
/// it makes. A container that cannot be made, run or waited for within `timeout` is a failed
/// check that says why.
pub(crate) async fn run(
    containers: Arc<dyn ContainerRuntime>,
    image: &ImageId,
    tier: &str,
    capability: &str,
    command: &str,
    timeout: Duration,
) -> Check {
    let name = format!(
        "kiln-probe-{tier}-{capability}-{}-{}",
        std::process::id(),
        PROBES.fetch_add(1, Ordering::Relaxed)
    );
    let spec = ContainerSpec::new(name, image.as_str())
        .entrypoint(["/bin/sh", "-c"])
        .command([command])
        .label(MANAGED, "true")
        .label(PROBE_LABEL, format!("{tier}/{capability}"));
    let id = match containers.create(spec).await {
        Ok(id) => id,
        Err(error) => {
            return Check::probe_not_run(
                capability,
                command,
                format!("no container could be made: {error}"),
            );
        }
    };
    let guard = Removal {
        containers: Arc::clone(&containers),
        id: Some(id.clone()),
    };
    let check = match run_started(containers.as_ref(), &id, timeout).await {
        Ok(code) => {
            let output = last_lines(containers.as_ref(), &id).await;
            Check::probe(capability, command, code, output)
        }
        Err(problem) => Check::probe_not_run(capability, command, problem),
    };
    guard.remove_now().await;
    check
}

/// Starts `id` and waits for it: its exit code, or why there is none.
async fn run_started(
    containers: &dyn ContainerRuntime,
    id: &ContainerId,
    timeout: Duration,
) -> Result<i64, String> {
    containers
        .start(id)
        .await
        .map_err(|error| format!("the container did not start: {error}"))?;
    match tokio::time::timeout(timeout, containers.wait(id)).await {
        Ok(Ok(status)) if status.oom_killed => Err("the container ran out of memory".to_owned()),
        Ok(Ok(status)) => Ok(status.code),
        Ok(Err(error)) => Err(format!("waiting for the container failed: {error}")),
        Err(_) => Err(format!("did not end within {} s", timeout.as_secs())),
    }
}

/// The last lines `id` printed (stdout and stderr), as far as they can be read.
async fn last_lines(containers: &dyn ContainerRuntime, id: &ContainerId) -> Vec<String> {
    let Ok(mut stream) = containers.logs(id, LogOptions::new()).await else {
        return Vec::new();
    };
    let mut bytes = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        bytes.extend_from_slice(&chunk.bytes);
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(OUTPUT_LINES)..]
        .iter()
        .map(|line| (*line).to_owned())
        .collect()
}

/// Removes the probe's container when dropped before [`Removal::remove_now`] (a cancelled
/// bake): the removal then runs on the runtime in the background.
struct Removal {
    containers: Arc<dyn ContainerRuntime>,
    id: Option<ContainerId>,
}

impl Removal {
    async fn remove_now(mut self) {
        if let Some(id) = self.id.take()
            && let Err(error) = self.containers.remove(&id, true).await
        {
            tracing::warn!(%error, container = %id, "cannot remove a probe's container");
        }
    }
}

impl Drop for Removal {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let containers = Arc::clone(&self.containers);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = containers.remove(&id, true).await;
            });
        }
    }
}
