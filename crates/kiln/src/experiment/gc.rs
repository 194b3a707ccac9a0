//! `kiln experiment gc`: the resources of experiments whose owner died (`kill -9`, OOM, power
//! loss) are found by their labels, their containers' logs and state saved into the
//! experiment's folder, then removed — containers, then networks — and the experiment marked
//! `interrupted`. A live experiment (its owner lock held) and a kept one are never touched.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use futures_util::StreamExt;
use kiln_core::managed::{EXPERIMENT, KEEP, SERVICE, TEST, managed_filter};
use kiln_core::{ContainerSummary, LogOptions, LogSource, NetworkDetails, Result};
use serde::Serialize;

use super::catalog::{self, Standing};
use super::folder::experiments_root;
use super::metrics::Metrics;
use super::runtime::Runtime;

/// What `gc` did to one experiment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Collected {
    /// The experiment.
    pub experiment: String,
    /// Containers removed.
    pub containers: usize,
    /// Networks removed.
    pub networks: usize,
    /// Whether its folder was found (its logs saved there and its status set).
    pub folder: bool,
}

/// Collects every dead experiment's resources; returns what went, by experiment. With
/// `dry_run`, nothing is saved or removed.
pub async fn collect(runtime: &Runtime, cache_dir: &Path, dry_run: bool) -> Result<Vec<Collected>> {
    let root = experiments_root(cache_dir);
    let containers = runtime.containers.list(&managed_filter()).await?;
    let networks = runtime.networks.list_networks(&managed_filter()).await?;
    let mut experiments: BTreeSet<String> = BTreeSet::new();
    experiments.extend(
        containers
            .iter()
            .filter_map(|c| c.labels.get(EXPERIMENT).cloned()),
    );
    experiments.extend(
        networks
            .iter()
            .filter_map(|n| n.labels.get(EXPERIMENT).cloned()),
    );
    // Folders of dead experiments that left nothing on the daemon are marked too.
    for entry in catalog::list(&root) {
        if entry.standing == Standing::Orphaned {
            experiments.insert(entry.info.id.clone());
        }
    }
    let mut collected = Vec::new();
    for experiment in experiments {
        let entry = catalog::find(&root, &experiment).filter(|entry| entry.info.id == experiment);
        if entry
            .as_ref()
            .is_some_and(|entry| entry.standing == Standing::Running)
        {
            continue;
        }
        // Resources of experiments without a folder here belong to another host or cache
        // directory; `gc` leaves them to that host.
        let Some(entry) = entry else { continue };
        let mine = |labels: &BTreeMap<String, String>| {
            labels.get(EXPERIMENT) == Some(&experiment)
                && labels.get(KEEP).is_none_or(|keep| keep != "true")
        };
        let its_containers: Vec<&ContainerSummary> =
            containers.iter().filter(|c| mine(&c.labels)).collect();
        let its_networks: Vec<&NetworkDetails> =
            networks.iter().filter(|n| mine(&n.labels)).collect();
        let mut done = Collected {
            experiment: experiment.clone(),
            folder: true,
            ..Collected::default()
        };
        if dry_run {
            done.containers = its_containers.len();
            done.networks = its_networks.len();
            collected.push(done);
            continue;
        }
        for container in its_containers {
            save_container(runtime, &entry.folder, container).await;
            if matches!(
                runtime.containers.remove(&container.id, true).await?,
                kiln_core::Removal::Removed
            ) {
                done.containers += 1;
            }
        }
        for network in its_networks {
            if matches!(
                runtime.networks.remove_network(&network.id).await?,
                kiln_core::NetworkRemoval::Removed
            ) {
                done.networks += 1;
            }
        }
        mark_interrupted(&entry.folder, &done);
        collected.push(done);
    }
    Ok(collected)
}

/// Saves what a dead experiment's container printed and its state into the folder.
async fn save_container(runtime: &Runtime, folder: &Path, container: &ContainerSummary) {
    let test = container.labels.get(TEST).map_or("unknown", String::as_str);
    let service = container
        .labels
        .get(SERVICE)
        .map_or(container.name.as_str(), String::as_str);
    let dir = folder
        .join("tests")
        .join(test)
        .join("containers")
        .join(service);
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    if let Ok(Some(details)) = runtime.containers.inspect(&container.id).await {
        let _ = kiln_cache::dir::write_json(
            &dir.join("inspect.json"),
            &details.raw,
            kiln_cache::dir::Durability::Flushed,
        );
    }
    // The complete output, over what the dead process streamed (it may have missed the end).
    let Ok(mut stream) = runtime
        .containers
        .logs(&container.id, LogOptions::new())
        .await
    else {
        return;
    };
    let mut outputs: BTreeMap<&'static str, Vec<u8>> = BTreeMap::new();
    while let Some(Ok(chunk)) = stream.next().await {
        let file = match chunk.stream {
            LogSource::Stdout => "stdout.log",
            LogSource::Stderr => "stderr.log",
            LogSource::Console => "console.log",
        };
        outputs
            .entry(file)
            .or_default()
            .extend_from_slice(&chunk.bytes);
    }
    for (file, bytes) in outputs {
        let _ = std::fs::write(dir.join(file), bytes);
    }
}

/// Sets the experiment's status to `interrupted` and records the cleanup in its metrics.
fn mark_interrupted(folder: &Path, done: &Collected) {
    if let Ok(Some(mut info)) = super::folder::read_info(folder) {
        "interrupted".clone_into(&mut info.status);
        let _ = kiln_cache::dir::write_json(
            &folder.join("experiment.json"),
            &info,
            kiln_cache::dir::Durability::Synced,
        );
    }
    if let Ok(Some(mut metrics)) = Metrics::load(folder) {
        metrics.phase = "interrupted".to_owned();
        metrics.cleanup.containers += done.containers;
        metrics.cleanup.networks += done.networks;
        let _ = metrics.save(folder);
    }
}

/// Removes experiment `id` whose folder is `folder`: its containers, its networks and the
/// folder itself. A running experiment is refused.
///
/// # Errors
///
/// [`kiln_core::Error::InUse`] when its owner still runs; the daemon's errors.
pub async fn remove(runtime: &Runtime, id: &str, folder: &Path) -> Result<Collected> {
    if super::folder::owner_alive(folder) {
        return Err(kiln_core::Error::InUse {
            what: "experiment",
            name: id.to_owned(),
        });
    }
    let filter = kiln_core::managed::experiment_filter(id);
    let mut done = Collected {
        experiment: id.to_owned(),
        folder: true,
        ..Collected::default()
    };
    for container in runtime.containers.list(&filter).await? {
        if matches!(
            runtime.containers.remove(&container.id, true).await?,
            kiln_core::Removal::Removed
        ) {
            done.containers += 1;
        }
    }
    for network in runtime.networks.list_networks(&filter).await? {
        if matches!(
            runtime.networks.remove_network(&network.id).await?,
            kiln_core::NetworkRemoval::Removed
        ) {
            done.networks += 1;
        }
    }
    std::fs::remove_dir_all(folder).map_err(|error| kiln_core::Error::Cache {
        operation: "remove the experiment folder",
        path: folder.to_owned(),
        source: kiln_core::ErrorSource::boxed(error),
    })?;
    Ok(done)
}
