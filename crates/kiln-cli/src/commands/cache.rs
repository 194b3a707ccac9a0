//! `kiln cache stats` and `kiln cache clear`.

use std::sync::Arc;

use kiln::{Env, LevelStats};

use crate::args::{CacheArgs, CacheCommand};
use crate::commands::open;
use crate::exit::{CommandKind, SUCCESS};
use crate::json::Cleared;
use crate::output::Io;
use crate::units::human_bytes;

pub(crate) async fn run(args: CacheArgs, env: Arc<dyn Env>, io: &Io) -> u8 {
    let json_output = match &args.command {
        CacheCommand::Stats { json } | CacheCommand::Clear { json } => *json,
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
    }
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
