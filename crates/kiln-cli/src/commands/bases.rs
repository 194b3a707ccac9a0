//! `kiln bases list` and `kiln bases verify`: the tiers of a bake file's catalogue, their
//! claims and references per platform, and what was verified of their builds.

use std::sync::Arc;

use kiln::bake::{BakeFile, BakeOptions};
use kiln::{BasesListing, Env, Platform, TierStatus};

use crate::args::{BasesArgs, BasesCommand};
use crate::bake_display::BakeDisplay;
use crate::commands::bake::run_folder;
use crate::commands::{close, open};
use crate::exit::{BUILD_FAILED, CommandKind, SUCCESS};
use crate::output::Io;

pub(crate) async fn run(args: BasesArgs, quiet: bool, env: Arc<dyn Env>, io: &Io) -> u8 {
    match args.command {
        BasesCommand::List { file, json } => {
            let file = match BakeFile::load(&file) {
                Ok(file) => file,
                Err(error) => return io.error(&error, CommandKind::Query, json),
            };
            let kiln = match open(env, io).await {
                Ok(kiln) => kiln,
                Err(error) => return io.error(&error, CommandKind::Query, json),
            };
            let result = kiln.list_bases(&file).await;
            close(&kiln, io).await;
            match result {
                Ok(listing) => {
                    show(io, &listing, json);
                    SUCCESS
                }
                Err(error) => io.error(&error, CommandKind::Query, json),
            }
        }
        BasesCommand::Verify {
            file,
            platform,
            jobs,
            json,
        } => {
            let platform = match platform.as_deref().map(Platform::parse).transpose() {
                Ok(platform) => platform,
                Err(error) => return io.error(&error, CommandKind::Mutating, json),
            };
            if jobs == Some(0) {
                let error = kiln::Error::invalid_input("-j", "0", "at least 1");
                return io.error(&error, CommandKind::Mutating, json);
            }
            let file = match BakeFile::load(&file) {
                Ok(file) => file,
                Err(error) => return io.error(&error, CommandKind::Mutating, json),
            };
            let kiln = match open(env, io).await {
                Ok(kiln) => kiln,
                Err(error) => return io.error(&error, CommandKind::Mutating, json),
            };
            let display = BakeDisplay::new(io, quiet || json);
            let mut options = BakeOptions::default();
            options.jobs = jobs;
            options.log_dir = Some(run_folder(&kiln));
            options.events = display.events();
            let result = kiln.verify_bases(&file, platform, options).await;
            display.finish();
            close(&kiln, io).await;
            match result {
                Ok(listing) => {
                    show(io, &listing, json);
                    if listing.succeeded() {
                        SUCCESS
                    } else {
                        if !json {
                            failures(io, &listing);
                        }
                        BUILD_FAILED
                    }
                }
                Err(error) => io.error(&error, CommandKind::Mutating, json),
            }
        }
    }
}

fn show(io: &Io, listing: &BasesListing, json: bool) {
    if json {
        io.json(listing);
        return;
    }
    io.out(&format!(
        "catalogue {} (strategy {})",
        listing.catalogue.display(),
        listing.strategy
    ));
    for tier in &listing.tiers {
        let from = tier
            .from
            .as_ref()
            .map(|from| format!(" from {from},"))
            .unwrap_or_default();
        io.out(&format!(
            "{}:{from} up to {}, claims {}",
            tier.name,
            megabytes(tier.max_size_bytes),
            tier.capabilities.join(", ")
        ));
        if !tier.unprobed.is_empty() {
            io.out(&format!("  no probe for {}", tier.unprobed.join(", ")));
        }
        for build in &tier.builds {
            let platform = build
                .platform
                .as_ref()
                .map_or_else(|| "default".to_owned(), ToString::to_string);
            let size = build.size_bytes.map(megabytes).unwrap_or_default();
            let verified = match build.verified.is_empty() {
                true => String::new(),
                false => format!(" (proven: {})", build.verified.join(", ")),
            };
            io.out(&format!(
                "  {platform:<12} {:<32} {:<10} {size:>10}{verified}",
                build.reference,
                status_text(build.status),
            ));
            io.out(&format!("    {}", build.reason));
        }
    }
}

/// `bytes` in the catalogue's unit: `150 MB`, `1.2 MB`.
fn megabytes(bytes: u64) -> String {
    match bytes % 1_000_000 {
        0 => format!("{} MB", bytes / 1_000_000),
        _ => format!("{:.1} MB", bytes as f64 / 1_000_000.0),
    }
}

fn status_text(status: TierStatus) -> &'static str {
    match status {
        TierStatus::Verified => "verified",
        TierStatus::Failed => "failed",
        TierStatus::Unverified => "unverified",
    }
}

fn failures(io: &Io, listing: &BasesListing) {
    for tier in &listing.tiers {
        for build in &tier.builds {
            if build.status == TierStatus::Failed {
                io.err(&format!("error: {}", build.reason));
            }
        }
    }
}
