//! BuildKit, platforms and build modes against the real daemon: the builder chosen for a stated
//! reason, an arm64 image whose RUN ran under qemu, a two-platform index in a registry, and the
//! advanced modes' fallback; two platforms built side by side, each printed as one block.

use std::fs;

use kiln_tests::docker_cli::{image_id, inspect_field};
use kiln_tests::images::{busybox, busybox_arm64};
use kiln_tests::output::{json, stderr};
use kiln_tests::registry::registry_or_skip;
use kiln_tests::{ImageCleanup, kiln, live_docker, unique};
use serde_json::Value;

fn context(dockerfile: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    fs::write(dir.path().join("data.txt"), unique("data")).unwrap();
    dir
}

#[test]
fn a_cache_mount_chooses_buildkit_and_classic_is_refused() {
    if live_docker("a_cache_mount_chooses_buildkit_and_classic_is_refused").is_none() {
        return;
    }
    // A unique word in the step keeps BuildKit's own layer cache from skipping it.
    let word = unique("cached-run");
    let dir = context(&format!(
        "FROM {}\nRUN --mount=type=cache,target=/cache echo {word} >> /cache/log && cat /cache/log\nCOPY data.txt /\n",
        busybox()
    ));
    let tag = format!("{}:latest", unique("kiln-bk"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let path = dir.path().to_str().unwrap();

    let output = kiln(&["build", path, "--tag", &tag, "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["builder"], "buildkit");
    let reason = report["builder_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("line 2: RUN --mount=type=cache"),
        "{reason}"
    );
    assert_eq!(image_id(&tag).as_deref(), report["image_id"].as_str());
    assert!(
        stderr(&output).contains("cached-run"),
        "RUN output is shown: {}",
        stderr(&output)
    );

    let classic = kiln(&[
        "build",
        path,
        "--tag",
        &tag,
        "--builder",
        "classic",
        "--json",
    ])
    .output()
    .unwrap();
    assert_eq!(classic.status.code(), Some(2), "{}", stderr(&classic));
    let message = json(&classic)["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("line 2") && message.contains("RUN --mount"),
        "{message}"
    );
}

#[test]
fn a_buildkit_failure_names_the_step() {
    if live_docker("a_buildkit_failure_names_the_step").is_none() {
        return;
    }
    let dir = context(&format!(
        "FROM {}\nRUN --mount=type=cache,target=/c echo {} && echo before-the-end && exit 7\n",
        busybox(),
        unique("fail")
    ));
    let output = kiln(&[
        "build",
        dir.path().to_str().unwrap(),
        "--tag",
        &format!("{}:x", unique("kiln-bkfail")),
        "--json",
    ])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let error = &json(&output)["error"];
    assert!(
        error["step"].as_str().unwrap().contains("RUN --mount"),
        "{error}"
    );
    assert!(
        error["message"].as_str().unwrap().contains("exit code: 7"),
        "{error}"
    );
    assert!(
        error["log_tail"]
            .as_array()
            .unwrap()
            .contains(&Value::from("before-the-end")),
        "{error}"
    );
}

#[test]
fn copy_link_on_this_daemon_says_what_would_make_it_work() {
    if live_docker("copy_link_on_this_daemon_says_what_would_make_it_work").is_none() {
        return;
    }
    let dir = context("FROM scratch\nCOPY --link data.txt /data.txt\n");
    let output = kiln(&[
        "build",
        dir.path().to_str().unwrap(),
        "--tag",
        &format!("{}:x", unique("kiln-link")),
        "--json",
    ])
    .output()
    .unwrap();
    if output.status.success() {
        // A daemon whose built-in frontend knows --link (Engine 23+) simply builds it.
        return;
    }
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let message = json(&output)["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("line 2"), "{message}");
    assert!(message.contains("--link"), "{message}");
    assert!(
        message.contains("# syntax=docker/dockerfile:1.4"),
        "{message}"
    );
}

#[test]
fn an_arm64_image_runs_its_steps_under_qemu() {
    if live_docker("an_arm64_image_runs_its_steps_under_qemu").is_none() {
        return;
    }
    let Some(base) = busybox_arm64("an_arm64_image_runs_its_steps_under_qemu") else {
        return;
    };
    assert_eq!(
        inspect_field(base, "{{.Architecture}}").as_deref(),
        Some("arm64")
    );
    let dir = context(&format!(
        "FROM {base}\nRUN uname -m > /arch && echo {} machine=$(cat /arch)\n",
        unique("run")
    ));
    let tag = format!("{}:latest", unique("kiln-arm64"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let output = kiln(&[
        "build",
        dir.path().to_str().unwrap(),
        "--platform",
        "linux/arm64",
        "--tag",
        &tag,
        "--json",
    ])
    .output()
    .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["platform"], "linux/arm64");
    assert_eq!(report["builder"], "buildkit");
    assert!(
        stderr(&output).contains("machine=aarch64"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        inspect_field(&tag, "{{.Architecture}}").as_deref(),
        Some("arm64")
    );
}

#[test]
fn two_platforms_are_published_as_one_index() {
    if live_docker("two_platforms_are_published_as_one_index").is_none() {
        return;
    }
    let Some(registry) = registry_or_skip(
        "two_platforms_are_published_as_one_index",
        &[("kiln", "multi?pass")],
    ) else {
        return;
    };
    let dir = context("FROM scratch\nCOPY data.txt /\n");
    let tag = registry.reference(&unique("kiln-multi"), "v1").familiar();
    let mut cleanup = ImageCleanup::new();
    for suffix in ["linux-amd64", "linux-arm64"] {
        cleanup.add(format!("{tag}-{suffix}"));
    }
    let with_credentials = |args: &[&str]| {
        let mut command = kiln(args);
        command
            .env("KILN_REGISTRY_USERNAME", "kiln")
            .env("KILN_REGISTRY_PASSWORD", "multi?pass");
        command.output().unwrap()
    };
    let output = with_credentials(&[
        "build",
        dir.path().to_str().unwrap(),
        "--platform",
        "linux/amd64,linux/arm64",
        "--tag",
        &tag,
        "--push",
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["outcome"], "built");
    assert_eq!(
        report["platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64"])
    );
    let index_digest = report["pushed"]["digest"].as_str().unwrap().to_owned();

    let remote = with_credentials(&["exists", &tag, "--remote", "--json"]);
    assert_eq!(remote.status.code(), Some(0), "{}", stderr(&remote));
    let remote = json(&remote);
    assert_eq!(remote["digest"], index_digest.as_str());
    assert_eq!(
        remote["platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64"])
    );

    let unpushed = kiln(&[
        "build",
        dir.path().to_str().unwrap(),
        "--platform",
        "linux/amd64,linux/arm64",
        "--tag",
        &tag,
    ])
    .output()
    .unwrap();
    assert_eq!(
        unpushed.status.code(),
        Some(2),
        "a multi-platform image needs --push"
    );
}

/// The lines of `log` that contain `needle`, by position.
fn positions(log: &str, needle: &str) -> Vec<usize> {
    log.lines()
        .enumerate()
        .filter(|(_, line)| line.contains(needle))
        .map(|(at, _)| at)
        .collect()
}

#[test]
fn two_platforms_build_side_by_side_and_print_one_block_each() {
    let test = "two_platforms_build_side_by_side_and_print_one_block_each";
    if live_docker(test).is_none() {
        return;
    }
    let Some(arm64) = busybox_arm64(test) else {
        return;
    };
    let Some(registry) = registry_or_skip(test, &[("kiln", "side-by-side")]) else {
        return;
    };
    // One base name per architecture, so one Dockerfile serves both platforms.
    let base = unique("kiln-per-arch");
    let mut cleanup = ImageCleanup::new();
    for (source, arch) in [(busybox(), "amd64"), (arm64, "arm64")] {
        let alias = format!("{base}-{arch}:1");
        let tagged = kiln_tests::docker_cli::docker(&["tag", source, &alias])
            .status()
            .unwrap();
        assert!(tagged.success(), "docker tag {source} {alias}");
        cleanup.add(alias);
    }
    let marker = unique("tick");
    let dir = context(&format!(
        "ARG TARGETARCH\nFROM {base}-${{TARGETARCH}}:1\n\
         RUN for i in 1 2 3 4 5 6; do echo \"{marker} $i $(uname -m)\"; sleep 0.2; done\n"
    ));
    let tag = registry.reference(&unique("kiln-side"), "v1").familiar();
    for suffix in ["linux-amd64", "linux-arm64"] {
        cleanup.add(format!("{tag}-{suffix}"));
    }
    let output = kiln(&[
        "build",
        dir.path().to_str().unwrap(),
        "--platform",
        "linux/amd64,linux/arm64",
        "--tag",
        &tag,
        "--push",
        "--json",
    ])
    .env("KILN_REGISTRY_USERNAME", "kiln")
    .env("KILN_REGISTRY_PASSWORD", "side-by-side")
    .env("KILN_PLATFORM_JOBS", "2")
    .output()
    .unwrap();
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    assert_eq!(json(&output)["outcome"], "built");
    let ticks = |machine: &str| -> Vec<usize> {
        positions(&log, &format!(" {machine}"))
            .into_iter()
            .filter(|&at| log.lines().nth(at).is_some_and(|l| l.contains(&marker)))
            .collect()
    };
    let (amd, arm) = (ticks("x86_64"), ticks("aarch64"));
    assert!(amd.len() >= 6 && arm.len() >= 6, "six ticks each:\n{log}");
    for (mine, theirs) in [(&amd, &arm), (&arm, &amd)] {
        let (first, last) = (mine[0], mine[mine.len() - 1]);
        assert!(
            theirs.iter().all(|at| *at < first || *at > last),
            "one platform's lines interleave with the other's:\n{log}"
        );
    }
}

#[test]
fn advanced_modes_follow_the_target_not_the_host() {
    if live_docker("advanced_modes_follow_the_target_not_the_host").is_none() {
        return;
    }
    let dir = context("FROM scratch\nARG BUILD_MODE\nCOPY data.txt /\n");
    let path = dir.path().to_str().unwrap();
    let name = unique("kiln-modes");
    let plan = |platform: &str| {
        let output = kiln(&[
            "plan",
            path,
            "--name",
            &name,
            "--mode",
            "rel-lto",
            "--platform",
            platform,
            "--json",
        ])
        .output()
        .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        json(&output)
    };
    let arm = plan("linux/arm64");
    assert_eq!(arm["tag"], format!("{name}:latest-linux-arm64"));
    assert_eq!(arm["build_mode"], "");
    let warnings = arm["warnings"].to_string();
    assert!(
        warnings.contains("rel-lto") && warnings.contains("linux/arm64"),
        "{warnings}"
    );
    let amd = plan("linux/amd64");
    assert_eq!(amd["tag"], format!("{name}:latest-rel-lto-linux-amd64"));
    assert_eq!(amd["build_mode"], "rel-lto");
}
