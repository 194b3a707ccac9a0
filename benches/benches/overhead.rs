//! kiln's own overhead over a bare bollard build call of the same context with the same builder.
//!
//! Three ways to build the same 2,000-file (~20 MB) context, the daemon's layer cache off so
//! the daemon does the same work each time:
//! - `bare bollard`: `Docker::build_image` with the context archived in memory;
//! - `kiln engine`: kiln-docker's `DockerEngine::build` (walk, streamed archive, events);
//! - `kiln`: `Kiln::build_image` with `force` (plan, fingerprint, stat index, records too).
//!
//! The three run in rotating order, round after round, and each built image is removed before
//! the next run (outside the timing): criterion's one-bench-after-the-other order let the
//! daemon's growing storage bias whichever ran last. Prints a Markdown table of medians.
//!
//! `cargo bench -p kiln-benches --bench overhead` (needs the daemon; `KILN_BENCH_ROUNDS`, default 12).

#![expect(
    clippy::disallowed_methods,
    reason = "the bench compares with the Docker CLI"
)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptionsBuilder, BuilderVersion};
use futures_util::StreamExt;
use kiln::{BuildSpec, BuilderChoice, Kiln};
use kiln_benches::{CorpusSpec, ensure_corpus};
use kiln_context::PreparedContext;
use kiln_core::{BuildRequest, BuilderKind, EventSink, ImageEngine, ImageRef, ProcessEnv};
use kiln_docker::DockerEngine;

/// 2,000 files of ~10 KiB (about 20 MB): enough for the walk and archive to count, small
/// enough that a build takes well under a few seconds.
const CONTEXT: CorpusSpec = CorpusSpec {
    files: 2_000,
    mean_bytes: 10 * 1024,
    per_dir: 100,
};

fn archive(dir: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder
        .append_dir_all(".", dir)
        .expect("archive the context");
    builder.into_inner().expect("finish the archive")
}

async fn bare_build(docker: &Docker, dir: &Path, tag: &str, buildkit: bool) {
    let body = archive(dir);
    let mut options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(tag)
        .rm(true)
        .nocache(true)
        .buildargs(&HashMap::<String, String>::new());
    options = if buildkit {
        options
            .version(BuilderVersion::BuilderBuildKit)
            .session(&format!("bench-{}", std::process::id()))
    } else {
        options.version(BuilderVersion::BuilderV1)
    };
    let mut stream =
        docker.build_image(options.build(), None, Some(bollard::body_full(body.into())));
    while let Some(item) = stream.next().await {
        item.expect("the bare build succeeds");
    }
}

async fn engine_build(engine: &DockerEngine, dir: &Path, tag: &str, buildkit: bool) {
    let context = PreparedContext::prepare(dir, None).expect("prepare the context");
    let request = BuildRequest {
        dockerfile: "Dockerfile".into(),
        context: Arc::new(context),
        tags: vec![ImageRef::parse(tag).unwrap()],
        build_args: BTreeMap::new(),
        target: None,
        platform: None,
        labels: BTreeMap::new(),
        builder: if buildkit {
            BuilderKind::Buildkit
        } else {
            BuilderKind::Classic
        },
        no_cache: true,
        cache_from: Vec::new(),
        registry_credentials: Vec::new(),
        events: EventSink::discard(),
    };
    engine
        .build(request)
        .await
        .expect("the engine build succeeds");
}

fn remove(tag: &str) {
    let _ = Command::new("docker")
        .args(["rmi", "-f", tag])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[allow(clippy::print_stdout, clippy::print_stderr)] // a benchmark's report
fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let Ok(docker) = Docker::connect_with_local_defaults() else {
        eprintln!("skipping the overhead bench: no Docker client");
        return;
    };
    if runtime.block_on(docker.ping()).is_err() {
        eprintln!("skipping the overhead bench: no Docker daemon");
        return;
    }
    let rounds: usize = kiln_core::Env::var(&ProcessEnv, "KILN_BENCH_ROUNDS")
        .and_then(|value| value.parse().ok())
        .unwrap_or(12);
    let dir = std::env::temp_dir().join("kiln-bench-overhead-context");
    ensure_corpus(&dir, CONTEXT).expect("corpus");
    let cache = tempfile::tempdir().unwrap();
    let kiln = Kiln::builder().cache_dir(cache.path()).build().unwrap();
    let engine = DockerEngine::from_env(&ProcessEnv).unwrap();

    println!("| builder | bare bollard | kiln engine | kiln | kiln / bare |");
    println!("|---|---|---|---|---|");
    for (name, buildkit) in [("classic", false), ("buildkit", true)] {
        let mut spec = BuildSpec::new("kiln-bench-overhead", &dir);
        spec.tags = vec![ImageRef::parse("kiln-bench-overhead:kiln").unwrap()];
        spec.force = true;
        spec.no_cache = true;
        spec.builder = if buildkit {
            BuilderChoice::Buildkit
        } else {
            BuilderChoice::Classic
        };
        let mut samples: [Vec<Duration>; 3] = Default::default();
        for round in 0..=rounds {
            for offset in 0..3 {
                let way = (round + offset) % 3;
                let tag = format!("kiln-bench-overhead:{way}");
                let started = Instant::now();
                runtime.block_on(async {
                    match way {
                        0 => bare_build(&docker, &dir, &tag, buildkit).await,
                        1 => engine_build(&engine, &dir, &tag, buildkit).await,
                        _ => {
                            kiln.build_image(&spec)
                                .await
                                .expect("the kiln build succeeds");
                        }
                    }
                });
                let elapsed = started.elapsed();
                // Round 0 warms every path up and is not counted.
                if round > 0 {
                    samples[way].push(elapsed);
                }
                remove(&tag);
                remove("kiln-bench-overhead:kiln");
            }
            eprintln!("{name}: round {round} of {rounds}");
        }
        let medians: Vec<Duration> = samples.iter_mut().map(|s| median(s)).collect();
        println!(
            "| {name} | {:.0} ms | {:.0} ms | {:.0} ms | {:.3}× |",
            medians[0].as_secs_f64() * 1000.0,
            medians[1].as_secs_f64() * 1000.0,
            medians[2].as_secs_f64() * 1000.0,
            medians[2].as_secs_f64() / medians[0].as_secs_f64()
        );
    }
}
