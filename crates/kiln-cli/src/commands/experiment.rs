//! `kiln experiment ls|show|logs|rm|gc`: the experiments kiln ran, read from their folders
//! (`rm` and `gc` also remove their resources on the daemon).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln::Env;
use kiln::experiment::catalog::{self, ExperimentEntry};
use kiln::experiment::folder::experiments_root;
use kiln::experiment::gc;
use kiln::experiment::metrics::Metrics;

use crate::args::{ExperimentArgs, ExperimentCommand};
use crate::commands::open;
use crate::exit::{CommandKind, SUCCESS};
use crate::output::Io;

pub(crate) async fn run(args: ExperimentArgs, env: Arc<dyn Env>, io: &Io) -> u8 {
    let json = match &args.command {
        ExperimentCommand::Ls { json }
        | ExperimentCommand::Show { json, .. }
        | ExperimentCommand::Rm { json, .. }
        | ExperimentCommand::Gc { json, .. } => *json,
        ExperimentCommand::Logs { .. } => false,
    };
    let kiln = match open(env, io).await {
        Ok(kiln) => kiln,
        Err(error) => return io.error(&error, CommandKind::Query, json),
    };
    let root = match root(&kiln) {
        Ok(root) => root,
        Err(error) => return io.error(&error, CommandKind::Query, json),
    };
    match args.command {
        ExperimentCommand::Ls { json } => ls(&root, json, io),
        ExperimentCommand::Show { id, json } => match found(&root, &id) {
            Ok(entry) => show(&entry, json, io),
            Err(error) => io.error(&error, CommandKind::Query, json),
        },
        ExperimentCommand::Logs { id, service } => match found(&root, &id) {
            Ok(entry) => logs(&entry, service.as_deref(), io),
            Err(error) => io.error(&error, CommandKind::Query, false),
        },
        ExperimentCommand::Rm { id, json } => {
            let removed = match (found(&root, &id), kiln.runtime()) {
                (Ok(entry), Ok(runtime)) => {
                    gc::remove(&runtime, &entry.info.id, &entry.folder).await
                }
                (Err(error), _) | (_, Err(error)) => Err(error),
            };
            match removed {
                Ok(done) => report_collected(io, &[done], json, "removed"),
                Err(error) => io.error(&error, CommandKind::Mutating, json),
            }
        }
        ExperimentCommand::Gc { dry_run, json } => {
            let collected = match (kiln.runtime(), kiln.records()) {
                (Ok(runtime), Some(records)) => {
                    gc::collect(&runtime, records.root(), dry_run).await
                }
                (Err(error), _) => Err(error),
                (_, None) => Err(no_cache_dir()),
            };
            match collected {
                Ok(done) => report_collected(
                    io,
                    &done,
                    json,
                    if dry_run {
                        "would collect"
                    } else {
                        "collected"
                    },
                ),
                Err(error) => io.error(&error, CommandKind::Mutating, json),
            }
        }
    }
}

fn report_collected(io: &Io, done: &[gc::Collected], json: bool, verb: &str) -> u8 {
    if json {
        io.json(&serde_json::json!({ "experiments": done }));
        return SUCCESS;
    }
    if done.is_empty() {
        io.out("nothing to collect");
    }
    for experiment in done {
        io.out(&format!(
            "{verb} {}: {} containers, {} networks",
            experiment.experiment, experiment.containers, experiment.networks
        ));
    }
    SUCCESS
}

fn no_cache_dir() -> kiln::Error {
    kiln::Error::invalid_input(
        "cache directory",
        "(none)",
        "a cache directory (KILN_CACHE_DIR, or HOME set) where experiments are kept",
    )
}

/// The experiments' folder under the cache directory.
fn root(kiln: &kiln::Kiln) -> kiln::Result<PathBuf> {
    kiln.records()
        .map(|records| experiments_root(records.root()))
        .ok_or_else(no_cache_dir)
}

fn found(root: &Path, id: &str) -> kiln::Result<ExperimentEntry> {
    catalog::find(root, id).ok_or_else(|| {
        kiln::Error::invalid_input(
            "experiment",
            id,
            format!(
                "the id of one experiment in {} (kiln experiment ls lists them)",
                root.display()
            ),
        )
    })
}

fn ls(root: &Path, json: bool, io: &Io) -> u8 {
    let entries = catalog::list(root);
    if json {
        io.json(&serde_json::json!({ "experiments": entries }));
        return SUCCESS;
    }
    if entries.is_empty() {
        io.out(&format!("no experiments in {}", root.display()));
    }
    for entry in &entries {
        let standing = serde_json::to_value(entry.standing)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default();
        let tests: Vec<String> = entry
            .tests
            .iter()
            .map(|(name, result)| format!("{name}: {result}"))
            .collect();
        io.out(&format!(
            "{}  {:<9} {:<11} {}",
            entry.info.id,
            standing,
            entry.info.status,
            tests.join(", ")
        ));
    }
    SUCCESS
}

fn show(entry: &ExperimentEntry, json: bool, io: &Io) -> u8 {
    let metrics = Metrics::load(&entry.folder).ok().flatten();
    if json {
        io.json(&serde_json::json!({ "experiment": entry, "metrics": metrics }));
        return SUCCESS;
    }
    io.out(&format!(
        "{} ({}, {}), folder {}",
        entry.info.id,
        entry.info.status,
        entry.info.created,
        entry.folder.display()
    ));
    let Some(metrics) = metrics else {
        io.out("no metrics.json yet");
        return SUCCESS;
    };
    for build in &metrics.builds {
        io.out(&format!(
            "build {} {}: {}",
            build.cell, build.outcome, build.reason
        ));
    }
    for test in &metrics.tests {
        io.out(&format!(
            "test {}: {} ({} ms, network {})",
            test.name,
            test.result,
            test.duration_ms,
            test.network.as_deref().unwrap_or("-")
        ));
        for container in &test.containers {
            let exit = container
                .exit_code
                .map_or("-".to_owned(), |code| code.to_string());
            let notes = match (container.oom_killed, container.timed_out) {
                (true, _) => " (OOM-killed)",
                (_, true) => " (timed out)",
                _ => "",
            };
            io.out(&format!("  {} exit {exit}{notes}", container.service));
        }
    }
    SUCCESS
}

fn logs(entry: &ExperimentEntry, service: Option<&str>, io: &Io) -> u8 {
    let Ok(Some(metrics)) = Metrics::load(&entry.folder) else {
        io.err("no metrics.json: the experiment kept no logs yet");
        return SUCCESS;
    };
    for test in &metrics.tests {
        for container in &test.containers {
            if service.is_some_and(|wanted| wanted != container.service) {
                continue;
            }
            for log in &container.logs {
                io.out(&format!(
                    "==> {}/{}: {} <==",
                    test.name, container.service, log.path
                ));
                match std::fs::read_to_string(entry.folder.join(&log.path)) {
                    Ok(text) => io.out(text.trim_end()),
                    Err(error) => io.err(&format!("cannot read {}: {error}", log.path)),
                }
            }
        }
    }
    SUCCESS
}
