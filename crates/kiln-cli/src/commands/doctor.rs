//! `kiln doctor`: what kiln can see — the daemon, where it came from, the host platform.

use std::sync::Arc;

use kiln::{Env, ImageEngine, resolve_endpoint};
use serde_json::{Value, json};

use crate::args::DoctorArgs;
use crate::commands::open;
use crate::exit::{SUCCESS, UNREACHABLE};
use crate::output::Io;

pub(crate) async fn run(args: DoctorArgs, env: Arc<dyn Env>, io: &Io) -> u8 {
    let endpoint = resolve_endpoint(env.as_ref());
    let kiln = open(Arc::clone(&env), io).await;
    let daemon = match &kiln {
        Ok(kiln) => kiln.engine().info().await,
        Err(error) => Err(error.clone()),
    };
    let host = kiln_platform::detect_host();
    let buildx = kiln_platform::buildx_version();

    let mut report = json!({
        "kiln_version": kiln::VERSION,
        "host_platform": host.as_ref().map(|host| host.platform.to_string()).ok(),
        "buildx": buildx,
        "binfmt": host.as_ref().map(|host| host.binfmt.to_string()).ok(),
        "emulators": host.as_ref().map(|host| {
            host.emulators
                .iter()
                .map(|emulator| json!({
                    "name": emulator.name,
                    "platform": emulator.platform.to_string(),
                    "enabled": emulator.enabled,
                    "fix_binary": emulator.fix_binary,
                }))
                .collect::<Vec<_>>()
        }).unwrap_or_default(),
    });
    report["daemon"] = match (&endpoint, &daemon) {
        (Ok(endpoint), Ok(info)) => json!({
            "reachable": true,
            "endpoint": endpoint.host,
            "source": endpoint.source.to_string(),
            "version": info.version,
            "api_version": info.api_version,
            "os": info.os,
            "architecture": info.architecture,
            "buildkit": info.buildkit,
        }),
        (endpoint, daemon) => json!({
            "reachable": false,
            "endpoint": endpoint.as_ref().map(|e| e.host.clone()).ok(),
            "source": endpoint.as_ref().map(|e| e.source.to_string()).ok(),
            "error": daemon.as_ref().err().map(ToString::to_string)
                .or_else(|| endpoint.as_ref().err().map(ToString::to_string)),
        }),
    };
    let reachable = daemon.is_ok();
    if let Ok(kiln) = &kiln {
        let stats = kiln.cache_stats().await.ok();
        report["cache"] = json!({
            "dir": kiln.records().map(|records| records.root().display().to_string()),
            "mode": if reachable { "normal" } else { "cache-only" },
            "l1_answers": stats.as_ref().map(|s| s.l1.entries),
            "l1_fresh": stats.as_ref().map(|s| s.l1.fresh),
            "l2_records": stats.as_ref().map(|s| s.l2.entries),
        });
    }
    if args.json {
        io.json(&report);
    } else {
        print_human(io, &report);
    }
    if reachable { SUCCESS } else { UNREACHABLE }
}

fn print_human(io: &Io, report: &Value) {
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    let daemon = &report["daemon"];
    io.out(&format!("kiln          {}", text(&report["kiln_version"])));
    io.out(&format!("host          {}", text(&report["host_platform"])));
    let emulators: Vec<String> = report["emulators"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|emulator| emulator["enabled"] == true)
        .map(|emulator| {
            format!(
                "{} ({})",
                text(&emulator["platform"]),
                text(&emulator["name"])
            )
        })
        .collect();
    io.out(&format!(
        "emulators     {} — {}",
        if emulators.is_empty() {
            "none".to_owned()
        } else {
            emulators.join(", ")
        },
        text(&report["binfmt"])
    ));
    io.out(&format!(
        "buildx        {}",
        match &report["buildx"] {
            serde_json::Value::Null =>
                "not installed (not needed: kiln uses the daemon's BuildKit)".to_owned(),
            other => text(other),
        }
    ));
    io.out(&format!(
        "daemon        {} (from {})",
        text(&daemon["endpoint"]),
        text(&daemon["source"])
    ));
    if daemon["reachable"] == true {
        io.out(&format!(
            "  version     {} (API {}), {}/{}",
            text(&daemon["version"]),
            text(&daemon["api_version"]),
            text(&daemon["os"]),
            text(&daemon["architecture"])
        ));
        io.out(&format!("  buildkit    {}", text(&daemon["buildkit"])));
    } else {
        io.out(&format!("  unreachable {}", text(&daemon["error"])));
    }
    let cache = &report["cache"];
    if !cache.is_null() {
        io.out(&format!("cache         {}", text(&cache["dir"])));
        io.out(&format!(
            "  mode        {}: {} existence answers ({} fresh), {} build records",
            text(&cache["mode"]),
            text(&cache["l1_answers"]),
            text(&cache["l1_fresh"]),
            text(&cache["l2_records"])
        ));
    }
}
