//! `kiln cache stats`, `kiln cache clear` and `kiln cache prune`.

use std::sync::Arc;

use kiln::{Env, Error, Kiln, LevelStats, PruneLimits, PruneReport};

use crate::args::{CacheArgs, CacheCommand};
use crate::commands::open;
use crate::exit::{CommandKind, SUCCESS};
use crate::json::Cleared;
use crate::output::Io;
use crate::units::human_bytes;

pub(crate) async fn run(args: CacheArgs, env: Arc<dyn Env>, io: &Io) -> u8 {
    let json_output = match &args.command {
        CacheCommand::Stats { json }
        | CacheCommand::Clear { json }
        | CacheCommand::Prune { json, .. } => *json,
    };
    let kiln = match open(env, io).await {
        Ok(kiln) => kiln,
        Err(error) => return io.error(&error, CommandKind::Query, json_output),
    };
    let dir = kiln
        .records()
        .map(|records| records.root().display().to_string());
    match args.command {
        CacheCommand::Stats { json } => match kiln.cache_stats().await {
            Ok(stats) if json => {
                io.json(&stats);
                SUCCESS
            }
            Ok(stats) => {
                io.out(&format!(
                    "cache directory  {}",
                    dir.as_deref().unwrap_or("(none)")
                ));
                print_level(io, "L1 (existence answers)", &stats.l1);
                print_level(io, "L2 (build records)", &stats.l2);
                SUCCESS
            }
            Err(error) => io.error(&error, CommandKind::Query, json),
        },
        CacheCommand::Clear { json } => match kiln.clear_caches() {
            Ok(()) => {
                if json {
                    io.json(&Cleared { cleared: true, dir });
                } else {
                    io.out(&format!(
                        "cleared {}",
                        dir.as_deref().unwrap_or("(no cache directory)")
                    ));
                }
                SUCCESS
            }
            Err(error) => io.error(&error, CommandKind::Query, json),
        },
        CacheCommand::Prune {
            older_than,
            max_size,
            dry_run,
            json,
        } => {
            let pruned = limits(&kiln, older_than.as_deref(), max_size.as_deref())
                .and_then(|limits| kiln.prune_caches(limits, dry_run));
            match pruned {
                Ok(report) if json => {
                    io.json(&report);
                    SUCCESS
                }
                Ok(report) => {
                    print_pruned(io, &report, kiln.clock().now_ms() / 1000);
                    SUCCESS
                }
                Err(error) => io.error(&error, CommandKind::Query, json),
            }
        }
    }
}

/// The limits given, or the configured size bound when none is.
fn limits(
    kiln: &Kiln,
    older_than: Option<&str>,
    max_size: Option<&str>,
) -> Result<PruneLimits, Error> {
    let older_than_s = older_than
        .map(|age| kiln::prune::parse_age("--older-than", age))
        .transpose()?;
    let max_bytes = max_size
        .map(|size| kiln::prune::parse_size("--max-size", size))
        .transpose()?;
    if older_than_s.is_none() && max_bytes.is_none() {
        return Ok(PruneLimits {
            older_than_s: None,
            max_bytes: kiln.records().and_then(|records| records.max_bytes()),
        });
    }
    Ok(PruneLimits {
        older_than_s,
        max_bytes,
    })
}

fn print_pruned(io: &Io, report: &PruneReport, now_s: u64) {
    let verb = if report.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for record in &report.removed {
        let age = record
            .built_at
            .map_or("age unknown".to_owned(), |built_at| {
                format!("built {} s ago", now_s.saturating_sub(built_at))
            });
        let tags = if record.tags.is_empty() {
            "(no tags)".to_owned()
        } else {
            record.tags.join(", ")
        };
        io.out(&format!(
            "{verb} {} {tags}: {age}, {}, by {}",
            &record.fingerprint[..record.fingerprint.len().min(12)],
            human_bytes(record.bytes),
            record.reason.as_str()
        ));
    }
    io.out(&format!(
        "{verb} {} records, {} orphaned files and {} unused locks ({}); kept {} records ({}); {} locks held by running builds",
        report.removed.len(),
        report.orphans,
        report.locks,
        human_bytes(report.freed_bytes),
        report.kept,
        human_bytes(report.kept_bytes),
        report.locks_held,
    ));
}

fn print_level(io: &Io, name: &str, stats: &LevelStats) {
    let rate = stats
        .hit_rate
        .map_or("-".to_owned(), |rate| format!("{:.1}%", rate * 100.0));
    let age = stats.age_s.map_or("-".to_owned(), |age| format!("{age} s"));
    io.out(name);
    io.out(&format!(
        "  entries {} ({} fresh), {}, oldest {age}",
        stats.entries,
        stats.fresh,
        human_bytes(stats.bytes)
    ));
    io.out(&format!(
        "  hits {}, misses {}, hit rate {rate}",
        stats.hits, stats.misses
    ));
}
