//! `kiln bake` and `kiln plan --all`: the matrix of a bake file, built or planned.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kiln::Env;
use kiln::bake::{BakeFile, BakeOptions, BakeReport, CellOutcome, OnFailure, Publish, Shard};

use crate::args::{BakeArgs, PlanArgs};
use crate::bake_display::BakeDisplay;
use crate::commands::{close, open};
use crate::exit::{AUTH_REFUSED, BUILD_FAILED, CommandKind, SUCCESS};
use crate::output::Io;
use crate::units::human_bytes;

/// The bake file of `kiln plan --all`: `-f`, else `kiln.toml`.
fn plan_file(args: &PlanArgs) -> PathBuf {
    args.build
        .dockerfile
        .clone()
        .unwrap_or_else(|| PathBuf::from("kiln.toml"))
}

pub(crate) async fn plan_all(args: Box<PlanArgs>, env: Arc<dyn Env>, io: &Io) -> u8 {
    let json = args.build.json;
    let shard = match args.shard.as_deref().map(Shard::parse).transpose() {
        Ok(shard) => shard,
        Err(error) => return io.error(&error, CommandKind::Query, json),
    };
    let file = match BakeFile::load(&plan_file(&args)) {
        Ok(file) => file,
        Err(error) => return io.error(&error, CommandKind::Query, json),
    };
    let targets: Vec<String> = match args.build.context.to_str() {
        Some(".") | None => Vec::new(),
        Some(target) => vec![target.to_owned()],
    };
    let kiln = match open(env, io).await {
        Ok(kiln) => kiln,
        Err(error) => return io.error(&error, CommandKind::Query, json),
    };
    let result = kiln.plan_all(&file, &targets, shard, args.build.push).await;
    close(&kiln, io).await;
    let cells = match result {
        Ok(cells) => cells,
        Err(error) => return io.error(&error, CommandKind::Query, json),
    };
    if json {
        io.json(&serde_json::json!({ "cells": cells }));
        return SUCCESS;
    }
    for cell in &cells {
        let shard = cell
            .shard
            .map(|shard| format!(" (shard {shard})"))
            .unwrap_or_default();
        let action = serde_json::to_value(cell.action)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default();
        io.out(&format!("{action:<7} {}{shard}: {}", cell.id, cell.reason));
        if !cell.parents.is_empty() {
            let parents: Vec<&str> = cell.parents.iter().map(|id| id.as_str()).collect();
            io.out(&format!("        after {}", parents.join(", ")));
        }
        if let Some(base) = &cell.base {
            let fallback = if base.fallback { " (fallback)" } else { "" };
            io.out(&format!(
                "        base {}{fallback}: {}",
                base.tier,
                base.reasons.join("; ")
            ));
        }
        for warning in &cell.warnings {
            io.err(&format!("warning: {}: {warning}", cell.id));
        }
    }
    SUCCESS
}

pub(crate) async fn run(args: Box<BakeArgs>, quiet: bool, env: Arc<dyn Env>, io: &Io) -> u8 {
    let json = args.json;
    let options = match options_from(&args, env.as_ref(), io) {
        Ok(options) => options,
        Err(error) => return io.error(&error, CommandKind::Mutating, json),
    };
    let file = match BakeFile::load(&args.file) {
        Ok(file) => file,
        Err(error) => return io.error(&error, CommandKind::Mutating, json),
    };
    let kiln = match open(env, io).await {
        Ok(kiln) => kiln,
        Err(error) => return io.error(&error, CommandKind::Mutating, json),
    };
    let mut options = options;
    let log_dir = args.log_dir.clone().unwrap_or_else(|| run_folder(&kiln));
    options.log_dir = Some(log_dir);
    let display = BakeDisplay::new(io, quiet || json);
    options.events = display.events();
    let result = kiln.bake(&file, options).await;
    display.finish();
    close(&kiln, io).await;
    let report = match result {
        Ok(report) => report,
        Err(error) => return io.error(&error, CommandKind::Mutating, json),
    };
    if json {
        io.json(&report);
    } else {
        print_summary(io, &report);
    }
    exit_code(&report)
}

fn options_from(args: &BakeArgs, env: &dyn Env, io: &Io) -> kiln::Result<BakeOptions> {
    let mut options = BakeOptions::default();
    options.targets = args.targets.clone();
    if args.jobs == Some(0) {
        return Err(kiln::Error::invalid_input("-j", "0", "at least 1"));
    }
    options.jobs = args.jobs;
    options.push = args.push;
    options.publish = Publish::parse(&args.publish)?;
    options.publish_only = args.publish_only;
    options.shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    options.shard_wait = Duration::from_secs(args.shard_wait);
    options.force = args.force;
    let in_ci = env
        .var("CI")
        .is_some_and(|value| !value.is_empty() && value != "false");
    options.on_failure = if args.keep_going {
        OnFailure::KeepGoing
    } else if args.fail_fast {
        OnFailure::FailFast
    } else if in_ci && !io.terminal {
        OnFailure::KeepGoing
    } else {
        OnFailure::FailFast
    };
    Ok(options)
}

/// A new folder for this run's logs under the cache directory (or the temporary directory).
pub(crate) fn run_folder(kiln: &kiln::Kiln) -> PathBuf {
    let root = kiln
        .records()
        .map(|records| records.root().join("runs"))
        .unwrap_or_else(|| std::env::temp_dir().join("kiln-runs"));
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    root.join(format!("bake-{stamp}-{}", std::process::id()))
}

/// 0 when every cell succeeded; 5 when a registry refused credentials; 4 otherwise.
fn exit_code(report: &BakeReport) -> u8 {
    if report.summary.succeeded {
        return SUCCESS;
    }
    let refused = report
        .cells
        .iter()
        .any(|cell| cell.error_kind == Some(kiln::ErrorKind::AuthRefused));
    if refused { AUTH_REFUSED } else { BUILD_FAILED }
}

fn print_summary(io: &Io, report: &BakeReport) {
    let width = report
        .cells
        .iter()
        .map(|cell| cell.id.as_str().len())
        .max()
        .unwrap_or(4)
        .max(4);
    io.out(&format!(
        "{:<width$}  {:<11}  {:>8}  {:>10}  reason",
        "cell", "outcome", "time", "size"
    ));
    for cell in &report.cells {
        let size = if cell.size_bytes > 0 {
            human_bytes(cell.size_bytes)
        } else {
            "-".to_owned()
        };
        io.out(&format!(
            "{:<width$}  {:<11}  {:>7.1}s  {:>10}  {}",
            cell.id.as_str(),
            cell.outcome.as_str(),
            cell.duration_ms as f64 / 1000.0,
            size,
            cell.reason
        ));
    }
    let counts: Vec<String> = report
        .summary
        .outcomes
        .iter()
        .map(|(outcome, count)| format!("{count} {outcome}"))
        .collect();
    let published = if report.summary.published {
        ", human tags published"
    } else {
        ""
    };
    io.out(&format!(
        "{} cells in {:.1}s: {}{published}",
        report.cells.len(),
        report.summary.duration_ms as f64 / 1000.0,
        counts.join(", ")
    ));
    if let Some(dir) = &report.summary.log_dir {
        io.out(&format!("logs: {}", dir.display()));
    }
    let failed = report
        .cells
        .iter()
        .filter(|cell| cell.outcome == CellOutcome::Failed)
        .count();
    if failed > 0 {
        io.err(&format!("error: {failed} cell(s) failed"));
    }
}
