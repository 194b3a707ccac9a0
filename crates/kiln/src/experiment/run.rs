//! [`Kiln::run_tests`] (`kiln run`): the cells the tests need baked (unchanged ones reused),
//! then each test's services run on a network of its own, in dependency order with readiness,
//! until its verdict services exit or its timeout passes; everything removed at the end.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use kiln_core::{ContainerSpec, Error, NetworkAttachment, PortSpec, Result};
use serde::Serialize;

use super::gc::{Collected, collect};
use super::interrupt::{Interrupt, Level};
use super::logs;
use super::metrics::BuildMetrics;
use super::session::{Experiment, ExperimentOptions, Started};
use crate::bake::{
    BakeFile, BakeOptions, BakeReport, CellOutcome, Readiness, ServiceImage, ServiceSpec, TestSpec,
};
use crate::kiln::Kiln;

/// How often readiness is checked.
const READY_POLL: Duration = Duration::from_millis(100);

/// What `kiln run` is asked.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RunOptions {
    /// The tests to run, by name; all when empty.
    pub tests: Vec<String>,
    /// The experiment's name (`run` when unset).
    pub name: Option<String>,
    /// The experiment's setup (keep, subnet pool).
    pub experiment: ExperimentOptions,
    /// How the cells are baked.
    pub bake: BakeOptions,
    /// Ends the run early (a signal): the tests stop, everything is removed.
    pub interrupt: Interrupt,
    /// How many tests run at once (1 when unset).
    pub jobs: Option<usize>,
    /// Build with records of the experiment's own (in its folder): nothing another experiment
    /// built is reused.
    pub isolated: bool,
}

/// How one test ended.
#[derive(Debug, Clone, Serialize)]
pub struct TestOutcome {
    /// Its name.
    pub name: String,
    /// `passed`, `failed` or `timed-out`.
    pub result: String,
    /// Why, in a sentence.
    pub reason: String,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
}

/// What `kiln run` did.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RunReport {
    /// The experiment's id.
    pub experiment: String,
    /// Its folder.
    pub folder: PathBuf,
    /// What dead experiments `gc` collected first.
    pub collected: Vec<Collected>,
    /// The bake of the cells the tests need.
    pub bake: BakeReport,
    /// Each test's end, in order; empty when a cell failed to build.
    pub tests: Vec<TestOutcome>,
    /// Whether a signal ended it early.
    pub interrupted: bool,
}

impl RunReport {
    /// Whether every cell built and every test passed.
    pub fn passed(&self) -> bool {
        self.bake.summary.succeeded && self.tests.iter().all(|test| test.result == "passed")
    }
}

impl Kiln {
    /// Runs the tests of `file` (those `options` name), after baking what they need.
    pub async fn run_tests(&self, file: &BakeFile, mut options: RunOptions) -> Result<RunReport> {
        let begun = Instant::now();
        let tests = select(file, &options.tests)?;
        let runtime = self.runtime()?;
        let cache_dir = self
            .records()
            .map(|records| records.root().to_owned())
            .ok_or_else(|| {
                Error::invalid_input(
                    "cache directory",
                    "(none)",
                    "a cache directory (KILN_CACHE_DIR, or HOME set) to keep experiments in",
                )
            })?;
        let collected = collect(&runtime, &cache_dir, false).await?;
        options.bake.targets = tests
            .iter()
            .flat_map(|test| test.cells())
            .map(ToString::to_string)
            .collect();
        let name = options.name.clone().unwrap_or_else(|| "run".to_owned());
        let experiment = Experiment::begin(runtime, &cache_dir, &name, options.experiment.clone())?;
        // The cells' logs land in the experiment's folder (each moved to its build's folder).
        let staged_logs = experiment.folder().join("builds").join(".logs");
        if options.bake.log_dir.is_none() {
            options.bake.log_dir = Some(staged_logs.clone());
        }
        let isolated;
        let baker = if options.isolated {
            isolated = self.with_cache_dir(&experiment.folder().join("cache"))?;
            &isolated
        } else {
            self
        };
        let bake = if options.bake.targets.is_empty() {
            BakeReport::new(Vec::new(), false, 0, None)
        } else {
            baker.bake(file, options.bake.clone()).await?
        };
        let builds = bake
            .cells
            .iter()
            .map(|cell| keep_build(experiment.folder(), cell))
            .collect();
        let _ = std::fs::remove_dir(&staged_logs);
        experiment.update_metrics(|metrics| metrics.builds = builds)?;
        let mut outcomes = Vec::new();
        if bake.summary.succeeded {
            // At most `jobs` tests at once, reported in the file's order.
            let jobs = options.jobs.unwrap_or(1).max(1);
            let mut pending = tests.iter().enumerate();
            let mut running = FuturesUnordered::new();
            let mut ended: Vec<(usize, TestOutcome)> = Vec::new();
            loop {
                while running.len() < jobs && options.interrupt.level() == Level::None {
                    let Some((index, test)) = pending.next() else {
                        break;
                    };
                    let (experiment, bake, interrupt) = (&experiment, &bake, &options.interrupt);
                    running.push(async move {
                        (
                            index,
                            self.run_test(experiment, test, bake, interrupt).await,
                        )
                    });
                }
                let Some((index, outcome)) = running.next().await else {
                    break;
                };
                ended.push((index, outcome?));
            }
            ended.sort_by_key(|(index, _)| *index);
            outcomes = ended.into_iter().map(|(_, outcome)| outcome).collect();
        }
        let built = bake
            .cells
            .iter()
            .filter(|cell| cell.outcome == CellOutcome::Built)
            .count();
        let passed = outcomes.iter().filter(|t| t.result == "passed").count();
        let totals = super::metrics::Totals {
            built,
            tests: outcomes.len(),
            passed,
            failed: outcomes.len() - passed,
            duration_ms: u64::try_from(begun.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        experiment.update_metrics(|metrics| metrics.totals = totals)?;
        let report = RunReport {
            experiment: experiment.id().to_owned(),
            folder: experiment.folder().to_owned(),
            collected,
            bake,
            tests: outcomes,
            interrupted: options.interrupt.level() != Level::None,
        };
        let status = match (report.interrupted, report.passed()) {
            (true, _) => "interrupted",
            (false, true) => "passed",
            (false, false) => "failed",
        };
        experiment.finish(status).await?;
        Ok(report)
    }

    async fn run_test(
        &self,
        experiment: &Experiment,
        test: &TestSpec,
        bake: &BakeReport,
        interrupt: &Interrupt,
    ) -> Result<TestOutcome> {
        let started_at = Instant::now();
        let deadline = started_at + test.timeout;
        let network = experiment.create_network(&test.name, &test.subnet).await?;
        let mut running: Vec<(Started, &ServiceSpec)> = Vec::new();
        let mut failure: Option<String> = None;
        for service in &test.services {
            let image = self.service_image(service, bake).await?;
            let spec = container_spec(service, image, &network.name);
            let started = experiment.start(&test.name, &service.name, spec).await?;
            let readiness = tokio::select! {
                ready = ready(experiment.containers(), &started, &service.ready, deadline) => ready,
                () = interrupt.reached(Level::Graceful) => Err("interrupted".to_owned()),
            };
            if let Err(reason) = readiness {
                failure = Some(reason);
                running.push((started, service));
                break;
            }
            running.push((started, service));
        }
        let mut result = "passed";
        let mut reasons = Vec::new();
        let mut waited: Vec<usize> = Vec::new();
        if let Some(reason) = failure {
            result = if reason == "interrupted" {
                "interrupted"
            } else {
                "failed"
            };
            reasons.push(reason);
        } else {
            for (index, (started, service)) in running.iter().enumerate() {
                if !service.verdict {
                    continue;
                }
                waited.push(index);
                let left = deadline.saturating_duration_since(Instant::now());
                let ended = tokio::select! {
                    ended = experiment.wait(started, left) => ended?,
                    () = interrupt.reached(Level::Graceful) => {
                        result = "interrupted";
                        reasons.push("interrupted".to_owned());
                        break;
                    }
                };
                match (ended.timed_out, ended.exit) {
                    (true, _) => {
                        result = "timed-out";
                        reasons.push(format!(
                            "{} still ran after {} s",
                            service.name,
                            test.timeout.as_secs()
                        ));
                    }
                    (false, Some(exit)) if exit.code == 0 && !exit.oom_killed => {}
                    (false, Some(exit)) => {
                        if result == "passed" {
                            result = "failed";
                        }
                        let oom = if exit.oom_killed { " (OOM-killed)" } else { "" };
                        reasons.push(format!("{} exited {}{oom}", service.name, exit.code));
                    }
                    (false, None) => {
                        result = "failed";
                        reasons.push(format!("{} has no exit status", service.name));
                    }
                }
            }
        }
        // What the verdict did not wait for is stopped (and recorded) once it is in.
        for (index, (started, _)) in running.iter().enumerate() {
            if !waited.contains(&index) || result == "interrupted" {
                // A second signal skips the grace: the containers are removed at once.
                tokio::select! {
                    _ = experiment.stop(started) => {}
                    () = interrupt.reached(Level::Immediate) => break,
                }
            }
        }
        let duration_ms = u64::try_from(started_at.elapsed().as_millis()).unwrap_or(u64::MAX);
        let reason = if reasons.is_empty() {
            "every verdict service exited 0".to_owned()
        } else {
            reasons.join("; ")
        };
        experiment.update_metrics(|metrics| {
            let entry = metrics.test_mut(&test.name);
            result.clone_into(&mut entry.result);
            entry.duration_ms = duration_ms;
        })?;
        Ok(TestOutcome {
            name: test.name.clone(),
            result: result.to_owned(),
            reason,
            duration_ms,
        })
    }

    /// The image a service runs: its cell's image id, or its reference (pulled when missing).
    async fn service_image(&self, service: &ServiceSpec, bake: &BakeReport) -> Result<String> {
        match &service.image {
            ServiceImage::Cell(cell) => bake
                .cell(cell.as_str())
                .filter(|report| {
                    report.outcome.succeeded() && report.outcome != CellOutcome::Remote
                })
                .and_then(|report| report.image_id.clone())
                .ok_or_else(|| {
                    Error::internal("run the test", format!("{cell} has no local image"))
                }),
            ServiceImage::Reference(reference) => {
                let image = kiln_core::ImageRef::parse(reference)?;
                if !self.image_exists(&image).await? {
                    self.pull(&image, kiln_core::EventSink::discard()).await?;
                }
                Ok(reference.clone())
            }
        }
    }
}

/// A cell's build in the experiment's folder: `builds/<cell>/build.log` (moved from where
/// the bake wrote it) and `decision.json` (the cache's decision and why); its metrics.
fn keep_build(folder: &std::path::Path, cell: &crate::bake::CellReport) -> BuildMetrics {
    let name = crate::bake::log_name(&cell.id);
    let dir = folder.join("builds").join(name.trim_end_matches(".log"));
    let mut log = None;
    if std::fs::create_dir_all(&dir).is_ok() {
        let decision = serde_json::json!({
            "cell": cell.id, "outcome": cell.outcome, "reason": cell.reason,
            "fingerprint": cell.fingerprint, "image_id": cell.image_id,
            "parents": cell.parents, "tags": cell.tags,
        });
        let _ = kiln_cache::dir::write_json(
            &dir.join("decision.json"),
            &decision,
            kiln_cache::dir::Durability::Flushed,
        );
        let target = dir.join("build.log");
        if let Some(source) = &cell.log
            && (std::fs::rename(source, &target).is_ok() || std::fs::copy(source, &target).is_ok())
        {
            log = dir
                .join("build.log")
                .strip_prefix(folder)
                .ok()
                .map(|path| path.display().to_string());
        }
    }
    BuildMetrics {
        cell: cell.id.to_string(),
        image_id: cell.image_id.clone(),
        outcome: cell.outcome.to_string(),
        reason: cell.reason.clone(),
        duration_ms: cell.duration_ms,
        size_bytes: cell.size_bytes,
        log,
    }
}

/// The container of `service` on `network`, reachable there by the service's name.
fn container_spec(service: &ServiceSpec, image: String, network: &str) -> ContainerSpec {
    let mut spec = ContainerSpec::new("", image)
        .network(NetworkAttachment::new(network).alias(&service.name))
        .tty(service.tty);
    if !service.command.is_empty() {
        spec = spec.command(service.command.iter().cloned());
    }
    for (key, value) in &service.env {
        spec = spec.env(key, value);
    }
    for port in &service.ports {
        let published = PortSpec::tcp(port.container);
        spec = spec.port(match port.host {
            Some(host) => published.on_host(host),
            None => published,
        });
    }
    if let Some(bytes) = service.memory_bytes {
        spec = spec.memory_bytes(bytes);
    }
    spec
}

/// Waits until `started` is ready as `readiness` says, or the deadline passes.
async fn ready(
    containers: &dyn kiln_core::ContainerRuntime,
    started: &Started,
    readiness: &Readiness,
    deadline: Instant,
) -> std::result::Result<(), String> {
    match readiness {
        Readiness::Started => Ok(()),
        Readiness::Log(text) => loop {
            if logs::contains(&started.logs, text) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "not ready: {} never printed {text:?}",
                    started.service
                ));
            }
            tokio::time::sleep(READY_POLL).await;
        },
        Readiness::Command(argv) => loop {
            if let Ok(0) = containers.exec(&started.id, argv.clone()).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "not ready: {}: `{}` never exited 0",
                    started.service,
                    argv.join(" ")
                ));
            }
            tokio::time::sleep(READY_POLL).await;
        },
    }
}

/// The tests `names` names (all when empty), in file order.
fn select<'a>(file: &'a BakeFile, names: &[String]) -> Result<Vec<&'a TestSpec>> {
    if file.tests.is_empty() {
        return Err(Error::invalid_input(
            "bake file",
            file.path.display().to_string(),
            "at least one [[test]] to run",
        ));
    }
    for name in names {
        if !file.tests.iter().any(|test| &test.name == name) {
            return Err(Error::invalid_input(
                "test",
                name.clone(),
                format!(
                    "a test of {} ({})",
                    file.path.display(),
                    file.tests
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(file
        .tests
        .iter()
        .filter(|test| names.is_empty() || names.contains(&test.name))
        .collect())
}
