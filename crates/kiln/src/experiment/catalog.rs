//! The experiments kept under the cache directory, read from their folders alone — so that
//! `kiln experiment ls` works with the daemon down.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::folder::{ExperimentInfo, folders, owner_alive, read_info};
use super::metrics::Metrics;

/// Where an experiment stands, from its folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    /// Its owner runs.
    Running,
    /// It ended (passed, failed, or interrupted and collected by `gc`).
    Ended,
    /// Its owner died while it ran: `gc` collects it.
    Orphaned,
}

/// One experiment as `ls` shows it.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ExperimentEntry {
    /// What `experiment.json` says.
    #[serde(flatten)]
    pub info: ExperimentInfo,
    /// Where it stands.
    pub standing: Standing,
    /// Its folder.
    pub folder: PathBuf,
    /// Its tests and their results, from `metrics.json`.
    pub tests: Vec<(String, String)>,
}

/// Every experiment under `root`, oldest first; unreadable folders are left out.
pub fn list(root: &Path) -> Vec<ExperimentEntry> {
    folders(root)
        .into_iter()
        .filter_map(|folder| entry(&folder))
        .collect()
}

/// The experiment in `folder`, when its `experiment.json` reads.
pub fn entry(folder: &Path) -> Option<ExperimentEntry> {
    let info = read_info(folder).ok().flatten()?;
    let standing = if owner_alive(folder) {
        Standing::Running
    } else if info.status == "running" {
        Standing::Orphaned
    } else {
        Standing::Ended
    };
    let tests = Metrics::load(folder)
        .ok()
        .flatten()
        .map(|metrics| {
            metrics
                .tests
                .into_iter()
                .map(|test| (test.name, test.result))
                .collect()
        })
        .unwrap_or_default();
    Some(ExperimentEntry {
        info,
        standing,
        folder: folder.to_owned(),
        tests,
    })
}

/// The experiment whose id is `id`, or the only one whose id contains it.
pub fn find(root: &Path, id: &str) -> Option<ExperimentEntry> {
    let all = list(root);
    if let Some(exact) = all.iter().find(|entry| entry.info.id == id) {
        return Some(exact.clone());
    }
    let mut matching = all.into_iter().filter(|entry| entry.info.id.contains(id));
    match (matching.next(), matching.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::folder::ExperimentDir;
    use crate::experiment::labels::Owner;
    use std::time::SystemTime;

    #[test]
    fn running_ended_and_orphaned_are_told_apart() {
        let root = tempfile::tempdir().unwrap();
        let owner = Owner::this_process();
        let live = ExperimentDir::create(root.path(), "live", &owner, SystemTime::now()).unwrap();
        let mut done =
            ExperimentDir::create(root.path(), "done", &owner, SystemTime::now()).unwrap();
        done.set_status("passed").unwrap();
        let orphan =
            ExperimentDir::create(root.path(), "orphan", &owner, SystemTime::now()).unwrap();
        let orphan_id = orphan.id().to_owned();
        drop(orphan); // its owner "dies": the lock goes, the status stays `running`
        drop(done);
        let entries = list(root.path());
        let standing = |name: &str| {
            entries
                .iter()
                .find(|entry| entry.info.name == name)
                .map(|entry| entry.standing)
        };
        assert_eq!(standing("live"), Some(Standing::Running));
        assert_eq!(standing("done"), Some(Standing::Ended));
        assert_eq!(standing("orphan"), Some(Standing::Orphaned));
        assert_eq!(find(root.path(), &orphan_id).unwrap().info.name, "orphan");
        assert!(find(root.path(), "-").is_none(), "ambiguous");
        drop(live);
    }
}
