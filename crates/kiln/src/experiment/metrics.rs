//! `metrics.json` (schema `kiln.experiment/v1`): what an experiment built and ran, rewritten
//! atomically after every phase so that it always parses, also after a crash.

use std::path::Path;

use kiln_core::Result;
use serde::{Deserialize, Serialize};

/// The schema name every `metrics.json` carries.
pub const SCHEMA: &str = "kiln.experiment/v1";

/// One build of the experiment: which cell, which image, and the cache's decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildMetrics {
    /// The bake cell.
    pub cell: String,
    /// The image id (or `repo@digest` for a remote cell).
    pub image_id: Option<String>,
    /// The outcome (`built`, `reused`, …).
    pub outcome: String,
    /// Why.
    pub reason: String,
    /// How long, in milliseconds.
    pub duration_ms: u64,
    /// The image's size.
    pub size_bytes: u64,
    /// The build's log, relative to the folder.
    pub log: Option<String>,
}

/// One container of a test.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerMetrics {
    /// The service.
    pub service: String,
    /// The container's name.
    pub name: String,
    /// The image id it ran, joining it to its build.
    pub image_id: Option<String>,
    /// When it started and ended (RFC 3339).
    pub started: Option<String>,
    /// When it ended.
    pub ended: Option<String>,
    /// How long it ran, in milliseconds.
    pub duration_ms: Option<u64>,
    /// Its exit code.
    pub exit_code: Option<i64>,
    /// Whether the kernel killed it for memory.
    pub oom_killed: bool,
    /// Whether the test's timeout stopped it.
    pub timed_out: bool,
    /// Its log files, relative to the folder, with their sizes.
    pub logs: Vec<LogFile>,
}

/// A log file and its size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogFile {
    /// Relative to the folder.
    pub path: String,
    /// Bytes.
    pub bytes: u64,
}

/// One test.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestMetrics {
    /// Its name.
    pub name: String,
    /// Its network and subnet.
    pub network: Option<String>,
    /// The subnet (CIDR).
    pub subnet: Option<String>,
    /// `passed`, `failed`, `timed-out`, `running`.
    pub result: String,
    /// Its containers.
    pub containers: Vec<ContainerMetrics>,
    /// How long, in milliseconds.
    pub duration_ms: u64,
}

/// What cleanup removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupMetrics {
    /// Containers removed.
    pub containers: usize,
    /// Networks removed.
    pub networks: usize,
}

/// The experiment's totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Cells built (not reused).
    pub built: usize,
    /// Tests run.
    pub tests: usize,
    /// Tests passed.
    pub passed: usize,
    /// Tests that did not pass.
    pub failed: usize,
    /// Wall time from start to the end of the tests, in milliseconds.
    pub duration_ms: u64,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    /// [`SCHEMA`].
    pub schema: String,
    /// The experiment.
    pub experiment: String,
    /// The phase it reached (`building`, `running`, `cleaning`, `done`, `interrupted`).
    pub phase: String,
    /// Its builds.
    pub builds: Vec<BuildMetrics>,
    /// Its tests.
    pub tests: Vec<TestMetrics>,
    /// Its cleanup.
    pub cleanup: CleanupMetrics,
    /// Its totals, once its tests ended.
    #[serde(default)]
    pub totals: Totals,
}

impl Metrics {
    /// The metrics of a new experiment.
    pub fn new(experiment: &str) -> Metrics {
        Metrics {
            schema: SCHEMA.to_owned(),
            experiment: experiment.to_owned(),
            phase: "building".to_owned(),
            builds: Vec::new(),
            tests: Vec::new(),
            cleanup: CleanupMetrics::default(),
            totals: Totals::default(),
        }
    }

    /// The metrics of test `name`, made when first asked for.
    pub fn test_mut(&mut self, name: &str) -> &mut TestMetrics {
        let index = match self.tests.iter().position(|test| test.name == name) {
            Some(index) => index,
            None => {
                self.tests.push(TestMetrics {
                    name: name.to_owned(),
                    result: "running".to_owned(),
                    ..TestMetrics::default()
                });
                self.tests.len() - 1
            }
        };
        &mut self.tests[index]
    }

    /// Rewrites `metrics.json` in `folder` atomically.
    pub fn save(&self, folder: &Path) -> Result<()> {
        kiln_cache::dir::write_json(
            &folder.join("metrics.json"),
            self,
            kiln_cache::dir::Durability::Synced,
        )
    }

    /// Reads `metrics.json` in `folder`.
    pub fn load(folder: &Path) -> Result<Option<Metrics>> {
        kiln_cache::dir::read_json(&folder.join("metrics.json"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_round_trip_with_their_schema() {
        let folder = tempfile::tempdir().unwrap();
        let mut metrics = Metrics::new("x");
        metrics.tests.push(TestMetrics {
            name: "handshake".to_owned(),
            result: "passed".to_owned(),
            ..TestMetrics::default()
        });
        metrics.save(folder.path()).unwrap();
        let read = Metrics::load(folder.path()).unwrap().unwrap();
        assert_eq!(read, metrics);
        let raw: serde_json::Value =
            serde_json::from_slice(&std::fs::read(folder.path().join("metrics.json")).unwrap())
                .unwrap();
        assert_eq!(raw["schema"], SCHEMA);
    }
}
