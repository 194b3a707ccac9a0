//! The layer cache across machines: images kiln shares through a cache repository (or pushes)
//! carry BuildKit's inline cache, so a machine whose fingerprint misses still reuses the
//! unchanged steps from the registry, found by itself or named with `--cache-from`.

use std::fs;
use std::path::Path;
use std::process::Output;

use kiln_tests::docker_cli::{prune_build_cache_mentioning, remove_image};
use kiln_tests::images::busybox;
use kiln_tests::output::{json, stderr};
use kiln_tests::registry::{RegistryServer, registry_or_skip};
use kiln_tests::{ImageCleanup, kiln, live_docker, unique};

const USER: &str = "kiln";
const PASSWORD: &str = "layer?cache ü";

fn setup(test: &str) -> Option<RegistryServer> {
    live_docker(test)?;
    registry_or_skip(test, &[(USER, PASSWORD)])
}

/// A context whose slow step comes before the file that changes.
fn context(marker: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM {}\nRUN echo {marker} > /step && sleep 1\nCOPY data.txt /data.txt\n",
            busybox()
        ),
    )
    .unwrap();
    fs::write(dir.path().join("data.txt"), unique("first")).unwrap();
    dir
}

/// `kiln build ARGS --json` with the registry's credentials, as a machine whose cache
/// directory is `cache`.
fn build(cache: &Path, args: &[&str]) -> Output {
    let mut all = vec!["build", "--builder", "buildkit"];
    all.extend_from_slice(args);
    all.push("--json");
    kiln(&all)
        .env("KILN_REGISTRY_USERNAME", USER)
        .env("KILN_REGISTRY_PASSWORD", PASSWORD)
        .env("KILN_CACHE_DIR", cache)
        .output()
        .unwrap()
}

/// Whether the build's log reports the step that prints `marker` as cached.
fn step_was_cached(log: &str, marker: &str) -> bool {
    let lines: Vec<&str> = log.lines().collect();
    lines.iter().enumerate().any(|(at, line)| {
        line.contains("RUN") && line.contains(marker) && {
            lines
                .get(at + 1)
                .is_some_and(|next| next.trim() == "cached")
        }
    })
}

/// Another machine: neither the images nor the daemon's cache of the marked step are left.
fn forget_locally(tags: &[&str], marker: &str) {
    for tag in tags {
        remove_image(tag);
    }
    let pruned = prune_build_cache_mentioning(marker).unwrap();
    assert!(pruned > 0, "the step's cache record was found and pruned");
}

#[test]
fn a_fingerprint_miss_reuses_unchanged_steps_from_the_cache_repository() {
    let test = "a_fingerprint_miss_reuses_unchanged_steps_from_the_cache_repository";
    let Some(registry) = setup(test) else {
        return;
    };
    let cache_repo = registry
        .reference(&unique("kiln-layers"), "latest")
        .familiar_repository();
    let tag = format!("{}:latest", unique("kiln-layered"));
    let marker = unique("slow-step");
    let dir = context(&marker);
    let context = dir.path().to_str().unwrap();
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);

    let first = build(
        tempfile::tempdir().unwrap().path(),
        &[context, "--tag", &tag, "--cache-repo", &cache_repo],
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let first = json(&first);
    assert_eq!(first["outcome"], "built");
    let shared = format!(
        "{cache_repo}:kiln-{}",
        first["fingerprint"].as_str().unwrap()
    );
    cleanup.add(&shared);

    forget_locally(&[&tag, &shared], &marker);
    fs::write(dir.path().join("data.txt"), unique("changed")).unwrap();
    let second = build(
        tempfile::tempdir().unwrap().path(),
        &[context, "--tag", &tag, "--cache-repo", &cache_repo],
    );
    let log = stderr(&second);
    assert!(second.status.success(), "{log}");
    let report = json(&second);
    assert_eq!(report["outcome"], "built", "one file changed: {report}");
    assert_ne!(report["fingerprint"], first["fingerprint"]);
    cleanup.add(format!(
        "{cache_repo}:kiln-{}",
        report["fingerprint"].as_str().unwrap()
    ));
    assert!(log.contains("layer cache from"), "{log}");
    assert!(log.contains(":kiln-head-"), "{log}");
    assert!(
        step_was_cached(&log, &marker),
        "the step before the changed file came from the registry's inline cache:\n{log}"
    );
}

#[test]
fn cache_from_names_a_pushed_image_by_hand() {
    let test = "cache_from_names_a_pushed_image_by_hand";
    let Some(registry) = setup(test) else {
        return;
    };
    let tag = registry.reference(&unique("kiln-pushed"), "v1").familiar();
    let marker = unique("slow-step");
    let dir = context(&marker);
    let context = dir.path().to_str().unwrap();
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);

    let first = build(
        tempfile::tempdir().unwrap().path(),
        &[context, "--tag", &tag, "--push"],
    );
    assert!(first.status.success(), "{}", stderr(&first));

    forget_locally(&[&tag], &marker);
    fs::write(dir.path().join("data.txt"), unique("changed")).unwrap();
    let local = format!("{}:latest", unique("kiln-from-cache"));
    cleanup.add(&local);
    let without = build(
        tempfile::tempdir().unwrap().path(),
        &[context, "--tag", &local],
    );
    assert!(without.status.success(), "{}", stderr(&without));
    assert!(
        !step_was_cached(&stderr(&without), &marker),
        "without a cache source nothing is cached: {}",
        stderr(&without)
    );

    forget_locally(&[&local], &marker);
    let with = build(
        tempfile::tempdir().unwrap().path(),
        &[context, "--tag", &local, "--cache-from", &tag],
    );
    let log = stderr(&with);
    assert!(with.status.success(), "{log}");
    assert!(step_was_cached(&log, &marker), "{log}");
}
