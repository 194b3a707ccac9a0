//! [`Kiln::bake`]: the cells in dependency order, at most `jobs` at once, a failure handled as
//! asked, every cell ending with an outcome; then the human tags, once all succeeded.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use kiln_core::{Error, Fingerprint, ImageEngine, ImageRef, Result};

use super::cell::{CellEnd, CellJob, log_name};
use super::event::BakeEvent;
use super::explain::Changed;
use super::model::{BakeFile, CellId};
use super::options::{BakeOptions, OnFailure, Publish};
use super::plan_all::cell_spec;
use super::publish::{publish, publish_only};
use super::report::{BakeReport, CellOutcome, CellReport};
use super::scope::{cell_tags, select, shard_of, shard_scope};
use crate::kiln::Kiln;

/// How many cells run at once when neither `-j` nor the file says.
const DEFAULT_JOBS: usize = 2;

impl Kiln {
    /// Bakes the cells of `file` that `options` name: each planned and built (or reused,
    /// pulled, found) after its parents, at most `jobs` at once. A failed cell is an outcome
    /// in the report, not an error; errors are what stops the bake before any cell starts
    /// (an invalid target, an unreachable daemon) or its publishing.
    pub async fn bake(&self, file: &BakeFile, options: BakeOptions) -> Result<BakeReport> {
        let started = self.clock().now();
        let mut scope = select(file, &options.targets)?;
        if let Some(shard) = options.shard {
            scope = shard_scope(file, &scope, shard.index, shard.count);
        }
        let tags = cell_tags(self, file)?;
        let cache_repo = self.bake_cache_repo(file)?;
        let stages = (options.push && options.publish == Publish::AfterAll)
            || options.shard.is_some()
            || options.publish_only;
        let push_to = match (&cache_repo, stages) {
            (Some(repo), true) => Some(repo.clone()),
            (None, true) => {
                return Err(Error::invalid_input(
                    "bake option",
                    if options.shard.is_some() {
                        "--shard"
                    } else {
                        "--push"
                    },
                    "a cache repository to stage built cells in (cache_repo in [defaults] of \
                     the bake file, or KILN_CACHE_REPO), or --publish=as-built",
                ));
            }
            (_, false) => None,
        };
        if let (true, Some(repo)) = (options.publish_only, &push_to) {
            return publish_only(self, file, &scope, &tags, repo, &options, started).await;
        }
        // A daemon that cannot be reached stops the bake before any cell starts.
        self.engine().info().await?;
        if let Some(dir) = &options.log_dir {
            std::fs::create_dir_all(dir).map_err(|error| Error::InvalidPath {
                what: "bake log folder",
                path: dir.clone(),
                problem: format!("cannot be created: {error}"),
            })?;
        }
        let jobs = options
            .jobs
            .or(file.defaults.jobs)
            .unwrap_or(DEFAULT_JOBS)
            .max(1);
        let mut scheduler = Scheduler::default();
        let mut pending: Vec<usize> = scope.clone();
        let mut running = FuturesUnordered::new();
        let mut in_flight: BTreeSet<usize> = BTreeSet::new();
        loop {
            let mut index = 0;
            while index < pending.len() && in_flight.len() < jobs {
                let cell = &file.cells[pending[index]];
                if let Some(failed) = scheduler.failed_parent(cell) {
                    let failed = failed.clone();
                    let position = pending.remove(index);
                    let reason = format!("not built: {failed} failed");
                    scheduler.end_unrun(
                        file,
                        position,
                        CellOutcome::Skipped,
                        reason,
                        &tags,
                        &options,
                    );
                    scheduler.cause.insert(cell.id.clone(), failed);
                    continue;
                }
                if !scheduler.parents_done(cell) {
                    index += 1;
                    continue;
                }
                let position = pending.remove(index);
                let job = CellJob {
                    kiln: self,
                    cell,
                    spec: {
                        let mut spec =
                            cell_spec(cell, &tags, &scheduler.fingerprints, &scheduler.images);
                        spec.force |= options.force;
                        spec.push = options.push && options.publish == Publish::AsBuilt;
                        spec.cache_repo = cache_repo.clone().or(spec.cache_repo);
                        spec
                    },
                    tags: tags.get(&cell.id).cloned().unwrap_or_default(),
                    push_to: push_to.clone(),
                    found_in_registry: options.push
                        && options.publish == Publish::AfterAll
                        && self.bake_registry(file).is_some(),
                    reprobe: options.reprobe,
                    has_children: scope.iter().any(|&other| {
                        file.cells[other]
                            .parents
                            .iter()
                            .any(|edge| edge.parent == cell.id)
                    }),
                    wait_for_owner: options
                        .shard
                        .filter(|shard| shard_of(&cell.id, shard.count) != shard.index)
                        .map(|_| options.shard_wait),
                    parents: scheduler.parent_changes(cell),
                    events: options.events.clone(),
                    log: options
                        .log_dir
                        .as_ref()
                        .map(|dir| dir.join(log_name(&cell.id))),
                };
                options.events.emit(BakeEvent::Started {
                    cell: cell.id.clone(),
                });
                in_flight.insert(position);
                running.push(async move { (position, job.run().await) });
            }
            let Some((position, end)) = running.next().await else {
                break;
            };
            in_flight.remove(&position);
            let failed = !end.report.outcome.succeeded();
            scheduler.finish(file, position, end, &options);
            if failed && options.on_failure == OnFailure::FailFast {
                // Dropping the builds in flight closes their connections: the daemon stops them.
                drop(std::mem::take(&mut running));
                let failed_id = file.cells[position].id.clone();
                for position in std::mem::take(&mut in_flight) {
                    let reason = format!("cancelled: {failed_id} failed");
                    scheduler.end_unrun(
                        file,
                        position,
                        CellOutcome::Cancelled,
                        reason,
                        &tags,
                        &options,
                    );
                }
                for position in std::mem::take(&mut pending) {
                    let reason = format!("not started: {failed_id} failed");
                    scheduler.end_unrun(
                        file,
                        position,
                        CellOutcome::NotStarted,
                        reason,
                        &tags,
                        &options,
                    );
                }
                break;
            }
        }
        // Cells that could never start (none here unless the graph is inconsistent).
        for position in pending {
            let reason = "not started: its parents never finished".to_owned();
            scheduler.end_unrun(
                file,
                position,
                CellOutcome::NotStarted,
                reason,
                &tags,
                &options,
            );
        }
        let mut cells: Vec<CellReport> = scope
            .iter()
            .filter_map(|&position| scheduler.reports.remove(&file.cells[position].id))
            .collect();
        if let Some(shard) = options.shard {
            for cell in &mut cells {
                cell.shard = Some(shard_of(&cell.id, shard.count));
            }
        }
        let all_succeeded = cells.iter().all(|cell| cell.outcome.succeeded());
        let mut published = false;
        if options.push
            && options.publish == Publish::AfterAll
            && options.shard.is_none()
            && all_succeeded
        {
            publish(self, &mut cells, &tags, &options.events).await?;
            published = true;
        }
        let duration_ms = u64::try_from(self.since(started).as_millis()).unwrap_or(u64::MAX);
        Ok(BakeReport::new(
            cells,
            published,
            duration_ms,
            options.log_dir.clone(),
        ))
    }
}

/// What the bake knows of the cells that ended.
#[derive(Default)]
struct Scheduler {
    reports: BTreeMap<CellId, CellReport>,
    fingerprints: BTreeMap<CellId, Fingerprint>,
    images: BTreeMap<CellId, String>,
    changes: BTreeMap<CellId, Changed>,
    /// For a cell that did not succeed: the failed cell that is why.
    cause: BTreeMap<CellId, CellId>,
}

impl Scheduler {
    /// The failed cell that stops `cell`, when one of its parents did not succeed.
    fn failed_parent<'a>(&'a self, cell: &'a super::model::Cell) -> Option<&'a CellId> {
        cell.parents.iter().find_map(|edge| {
            let report = self.reports.get(&edge.parent)?;
            if report.outcome.succeeded() {
                return None;
            }
            Some(self.cause.get(&edge.parent).unwrap_or(&edge.parent))
        })
    }

    fn parents_done(&self, cell: &super::model::Cell) -> bool {
        cell.parents
            .iter()
            .all(|edge| self.images.contains_key(&edge.parent))
    }

    fn parent_changes(&self, cell: &super::model::Cell) -> BTreeMap<CellId, Changed> {
        cell.parents
            .iter()
            .filter_map(|edge| Some((edge.parent.clone(), self.changes.get(&edge.parent)?.clone())))
            .collect()
    }

    fn finish(&mut self, file: &BakeFile, position: usize, end: CellEnd, options: &BakeOptions) {
        let id = file.cells[position].id.clone();
        let CellEnd {
            report,
            changed,
            pinned,
        } = end;
        if report.outcome.succeeded() {
            if let (Some(fingerprint), Some(pinned)) = (&report.fingerprint, pinned) {
                if let Some(fingerprint) = Fingerprint::parse(fingerprint) {
                    self.fingerprints.insert(id.clone(), fingerprint);
                }
                self.images.insert(id.clone(), pinned);
            }
            self.changes.insert(id.clone(), changed);
        }
        options.events.emit(BakeEvent::Finished {
            cell: id.clone(),
            outcome: report.outcome,
            reason: report.reason.clone(),
        });
        self.reports.insert(id, report);
    }

    fn end_unrun(
        &mut self,
        file: &BakeFile,
        position: usize,
        outcome: CellOutcome,
        reason: String,
        tags: &BTreeMap<CellId, Vec<ImageRef>>,
        options: &BakeOptions,
    ) {
        let cell = &file.cells[position];
        let tags = tags
            .get(&cell.id)
            .map(|tags| tags.iter().map(ImageRef::familiar).collect())
            .unwrap_or_default();
        let mut report = CellReport::of(cell, tags, outcome);
        report.reason = reason.clone();
        options.events.emit(BakeEvent::Finished {
            cell: cell.id.clone(),
            outcome,
            reason,
        });
        self.reports.insert(cell.id.clone(), report);
    }
}
