//! What a bake reports: every cell's outcome, reason, fingerprint, image and timings.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use kiln_base::{Selection, Verification};
use kiln_core::{ErrorKind, Outcome};
use serde::Serialize;

use super::model::CellId;

/// How a cell ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CellOutcome {
    /// Built.
    Built,
    /// An image built from the same inputs was reused.
    Reused,
    /// Pulled from the cache repository instead of building.
    Pulled,
    /// The registry already held it, built from the same inputs.
    Remote,
    /// Its build (or its push to the cache repository) failed.
    Failed,
    /// Not run: a cell it depends on failed.
    Skipped,
    /// Cancelled while it ran, after another cell failed.
    Cancelled,
    /// Never started, after another cell failed.
    NotStarted,
}

impl CellOutcome {
    /// The outcome as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            CellOutcome::Built => "built",
            CellOutcome::Reused => "reused",
            CellOutcome::Pulled => "pulled",
            CellOutcome::Remote => "remote",
            CellOutcome::Failed => "failed",
            CellOutcome::Skipped => "skipped",
            CellOutcome::Cancelled => "cancelled",
            CellOutcome::NotStarted => "not-started",
        }
    }

    /// Whether the cell has its image.
    pub fn succeeded(self) -> bool {
        matches!(
            self,
            CellOutcome::Built | CellOutcome::Reused | CellOutcome::Pulled | CellOutcome::Remote
        )
    }
}

impl From<Outcome> for CellOutcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Built => CellOutcome::Built,
            Outcome::Reused => CellOutcome::Reused,
            Outcome::Remote => CellOutcome::Remote,
            Outcome::Pulled => CellOutcome::Pulled,
        }
    }
}

impl fmt::Display for CellOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference written to a registry and the digest it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    /// The reference (`reg:5000/bench/app:v1`).
    #[serde(rename = "ref")]
    pub reference: String,
    /// The manifest digest.
    pub digest: String,
}

/// One cell's end.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct CellReport {
    /// The cell.
    pub id: CellId,
    /// Its image's name in the file.
    pub image: String,
    /// Its axis values.
    pub axes: BTreeMap<String, String>,
    /// Its human tags.
    pub tags: Vec<String>,
    /// How it ended.
    pub outcome: CellOutcome,
    /// Why, in a sentence (for a failure: the error).
    pub reason: String,
    /// The fingerprint of its inputs, when it was planned.
    pub fingerprint: Option<String>,
    /// The cells it required.
    pub parents: Vec<CellId>,
    /// Its image id (or the registry's digest for `remote`).
    pub image_id: Option<String>,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
    /// The image's size in bytes.
    pub size_bytes: u64,
    /// Its fingerprint tag in the cache repository, when pushed there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached: Option<Written>,
    /// Its human tags as published, when published.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pushed: Vec<Written>,
    /// Its full log, when logs are kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
    /// The shard it belongs to, when sharded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<u32>,
    /// The class of its error, when it failed.
    #[serde(skip)]
    pub error_kind: Option<ErrorKind>,
    /// Warnings of its build.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The base tier chosen for it and why, when its image asks for one by needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<Selection>,
    /// The base tier it builds, when it is a tier's cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// A tier's build checked against its claims (size, platform, probes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

impl CellReport {
    /// The report of `cell`, tagged `tags`, before anything is known of its end.
    pub(crate) fn of(cell: &super::model::Cell, tags: Vec<String>, outcome: CellOutcome) -> Self {
        CellReport {
            id: cell.id.clone(),
            image: cell.image.clone(),
            axes: cell.axes.clone(),
            tags,
            outcome,
            reason: String::new(),
            fingerprint: None,
            parents: cell
                .parents
                .iter()
                .map(|edge| edge.parent.clone())
                .collect(),
            image_id: None,
            duration_ms: 0,
            size_bytes: 0,
            cached: None,
            pushed: Vec::new(),
            log: None,
            shard: None,
            error_kind: None,
            warnings: Vec::new(),
            base: cell.base.clone(),
            tier: cell.tier.as_ref().map(|tier| tier.tier.name.clone()),
            verification: None,
        }
    }
}

/// Counts of outcomes and the bake's wall time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BakeSummary {
    /// Cells by outcome.
    pub outcomes: BTreeMap<String, usize>,
    /// Whether every cell succeeded.
    pub succeeded: bool,
    /// Whether the human tags were published.
    pub published: bool,
    /// Wall time, in milliseconds.
    pub duration_ms: u64,
    /// The folder of the cells' logs, when kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_dir: Option<PathBuf>,
}

/// What a bake did, cell by cell, in dependency order.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct BakeReport {
    /// Every cell in scope.
    pub cells: Vec<CellReport>,
    /// The totals.
    pub summary: BakeSummary,
}

impl BakeReport {
    /// The report of `cells`, with its summary filled in.
    pub(crate) fn new(
        cells: Vec<CellReport>,
        published: bool,
        duration_ms: u64,
        log_dir: Option<PathBuf>,
    ) -> Self {
        let mut outcomes = BTreeMap::new();
        for cell in &cells {
            *outcomes
                .entry(cell.outcome.as_str().to_owned())
                .or_insert(0) += 1;
        }
        let succeeded = cells.iter().all(|cell| cell.outcome.succeeded());
        BakeReport {
            cells,
            summary: BakeSummary {
                outcomes,
                succeeded,
                published,
                duration_ms,
                log_dir,
            },
        }
    }

    /// The cell with id `id`.
    pub fn cell(&self, id: &str) -> Option<&CellReport> {
        self.cells.iter().find(|cell| cell.id.as_str() == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(id: &str, outcome: CellOutcome, reason: &str) -> CellReport {
        CellReport {
            id: CellId::new(id, &BTreeMap::new()),
            image: id.to_owned(),
            axes: BTreeMap::new(),
            tags: vec![format!("reg:5000/bench/{id}:latest")],
            outcome,
            reason: reason.to_owned(),
            fingerprint: Some("ab".repeat(32)),
            parents: Vec::new(),
            image_id: outcome
                .succeeded()
                .then(|| format!("sha256:{}", "cd".repeat(32))),
            duration_ms: 1200,
            size_bytes: 4096,
            cached: None,
            pushed: Vec::new(),
            log: Some(PathBuf::from(format!("/runs/bake-1/{id}.log"))),
            shard: None,
            error_kind: None,
            warnings: Vec::new(),
            base: None,
            tier: None,
            verification: None,
        }
    }

    /// The JSON of `kiln bake --json`, pinned: scripts read these fields.
    #[test]
    fn the_report_json_schema() {
        let mut built = cell(
            "base",
            CellOutcome::Built,
            "no previous build of base is recorded",
        );
        built.cached = Some(Written {
            reference: format!("reg:5000/bench-cache:kiln-{}", "ab".repeat(32)),
            digest: format!("sha256:{}", "ef".repeat(32)),
        });
        built.pushed = vec![Written {
            reference: "reg:5000/bench/base:latest".to_owned(),
            digest: format!("sha256:{}", "ef".repeat(32)),
        }];
        let mut skipped = cell("app", CellOutcome::Skipped, "not built: base failed");
        skipped.parents = vec![CellId::new("base", &BTreeMap::new())];
        skipped.fingerprint = None;
        skipped.log = None;
        let report = BakeReport::new(
            vec![built, skipped],
            false,
            2500,
            Some(PathBuf::from("/runs/bake-1")),
        );
        assert!(!report.summary.succeeded);
        insta::assert_json_snapshot!(report);
    }
}
