//! The context through BuildKit's session, against the daemon: the daemon keeps its copy of a
//! context between builds and asks only for what changed (`context_sent` counts it), the
//! Dockerfile travels apart (from outside the context too), file types and modes arrive as the
//! classic builder's tar delivers them, and a file that cannot be read is an error naming it.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::sync::Arc;

use kiln_context::PreparedContext;
use kiln_core::{
    BuildRequest, BuilderKind, Error, ErrorKind, EventSink, ImageEngine, ImageRef, ProcessEnv,
};
use kiln_docker::DockerEngine;
use kiln_tests::docker_cli::{image_entries, image_id};
use kiln_tests::output::{json, stderr};
use kiln_tests::{ImageCleanup, kiln, live_docker, unique};
use serde_json::Value;

const DOCKERFILE: &str = "FROM scratch\nARG BUILD_MODE\nCOPY . /ctx/\n";

/// `kiln build CONTEXT --tag TAG --builder buildkit --json ARGS...`: the report.
fn buildkit_build(context: &Path, tag: &str, args: &[&str]) -> Value {
    buildkit_build_and_log(context, tag, args).0
}

/// [`buildkit_build`], and the progress it printed.
fn buildkit_build_and_log(context: &Path, tag: &str, args: &[&str]) -> (Value, String) {
    let mut command = vec![
        "build",
        context.to_str().unwrap(),
        "--tag",
        tag,
        "--builder",
        "buildkit",
        "--json",
    ];
    command.extend(args);
    let output = kiln(&command).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["outcome"], "built", "{report}");
    (report, stderr(&output))
}

/// `(bytes, files)` of the file contents a build sent.
fn sent(report: &Value) -> (u64, u64) {
    let sent = &report["context_sent"];
    (
        sent["bytes"].as_u64().expect("context_sent.bytes"),
        sent["files"].as_u64().expect("context_sent.files"),
    )
}

/// Bytes that stay the same size when one of them changes.
fn pattern(length: usize) -> Vec<u8> {
    (0..length).map(|index| (index % 241) as u8).collect()
}

#[test]
fn only_what_changed_is_sent_again() {
    if live_docker("only_what_changed_is_sent_again").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let big = pattern(200 * 1024 + 17);
    let marker = unique("marker");
    fs::write(dir.path().join("Dockerfile"), DOCKERFILE).unwrap();
    fs::write(dir.path().join("big.bin"), &big).unwrap();
    fs::write(dir.path().join("marker.txt"), &marker).unwrap();
    fs::create_dir(dir.path().join("dir")).unwrap();
    fs::write(dir.path().join("dir/nested.txt"), "nested\n").unwrap();
    let tag = format!("{}:latest", unique("kiln-filesync"));
    let other_mode = format!("{}:debug", unique("kiln-filesync"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    cleanup.add(&other_mode);

    // First build of this directory: the daemon has no copy, and asks for everything — the
    // Dockerfile twice, as a context file and as the `dockerfile` source.
    let first = buildkit_build(dir.path(), &tag, &[]);
    // The third build takes the tag: the first image would be left untagged.
    cleanup.add(first["image_id"].as_str().unwrap());
    let everything = (big.len() + marker.len() + "nested\n".len() + 2 * DOCKERFILE.len()) as u64;
    assert_eq!(sent(&first), (everything, 5), "{first}");
    assert_eq!(first["context_sent"]["context_bytes"], everything);

    // Another build mode of the same context: a real build, and no file data at all.
    let second = buildkit_build(dir.path(), &other_mode, &["--mode", "debug"]);
    assert_ne!(second["fingerprint"], first["fingerprint"]);
    assert_eq!(sent(&second), (0, 0), "{second}");

    // One byte of one file changed: that file alone is sent, and the image has the new byte.
    let mut changed = big.clone();
    changed[1234] ^= 0xff;
    fs::write(dir.path().join("big.bin"), &changed).unwrap();
    let (third, progress) = buildkit_build_and_log(dir.path(), &tag, &[]);
    assert_eq!(sent(&third), (changed.len() as u64, 1), "{third}");
    assert!(
        progress.contains("sent 200.0 KiB of ") && progress.contains("(1 of 5 files;"),
        "the progress says what was sent: {progress}"
    );
    let entries = image_entries(&tag, "ctx/").unwrap();
    let file = entries
        .iter()
        .find(|entry| entry.path == "big.bin")
        .unwrap();
    assert!(file.contents == changed, "the image holds the changed file");
    assert!(
        entries
            .iter()
            .any(|entry| entry.path == "marker.txt" && entry.contents == marker.as_bytes()),
        "the files not sent again are in the image: {entries:?}"
    );
}

#[test]
fn file_types_and_modes_arrive_as_with_the_classic_builder() {
    if live_docker("file_types_and_modes_arrive_as_with_the_classic_builder").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(root.join("Dockerfile"), DOCKERFILE).unwrap();
    fs::write(root.join("marker"), unique("marker")).unwrap();
    fs::write(root.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(root.join("private"), "p").unwrap();
    fs::set_permissions(root.join("private"), fs::Permissions::from_mode(0o600)).unwrap();
    symlink("run.sh", root.join("link")).unwrap();
    symlink("no/such/target", root.join("dangling")).unwrap();
    fs::create_dir_all(root.join("empty/nested-empty")).unwrap();
    fs::create_dir(root.join("closed")).unwrap();
    fs::write(root.join("closed/inside"), "i").unwrap();
    fs::set_permissions(root.join("closed"), fs::Permissions::from_mode(0o700)).unwrap();
    let buildkit_tag = format!("{}:buildkit", unique("kiln-filesync-modes"));
    let classic_tag = format!("{}:classic", unique("kiln-filesync-modes"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&buildkit_tag);
    cleanup.add(&classic_tag);

    buildkit_build(root, &buildkit_tag, &[]);
    let classic = kiln(&[
        "build",
        root.to_str().unwrap(),
        "--tag",
        &classic_tag,
        "--builder",
        "classic",
        "--json",
    ])
    .output()
    .unwrap();
    assert!(classic.status.success(), "{}", stderr(&classic));
    assert!(
        json(&classic).get("context_sent").is_none(),
        "the classic builder takes the whole tar"
    );

    let through_session = image_entries(&buildkit_tag, "ctx/").unwrap();
    let find = |path: &str| {
        through_session
            .iter()
            .find(|entry| entry.path == path)
            .unwrap_or_else(|| panic!("{path} is missing: {through_session:?}"))
    };
    assert_eq!(find("run.sh").mode, 0o755);
    assert_eq!(find("private").mode, 0o600);
    assert_eq!(find("closed/").mode, 0o700);
    assert_eq!(find("link").link.as_deref(), Some("run.sh"));
    assert_eq!(find("dangling").link.as_deref(), Some("no/such/target"));
    find("empty/nested-empty/");
    assert_eq!(find("closed/inside").contents, b"i");
    assert_eq!(
        through_session,
        image_entries(&classic_tag, "ctx/").unwrap(),
        "the same entries, modes, links and contents both ways"
    );
}

#[test]
fn a_dockerfile_outside_the_context_travels_apart() {
    if live_docker("a_dockerfile_outside_the_context_travels_apart").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let context = dir.path().join("ctx");
    fs::create_dir(&context).unwrap();
    fs::write(context.join("data.txt"), unique("data")).unwrap();
    let dockerfile = dir.path().join("build.Dockerfile");
    fs::write(&dockerfile, DOCKERFILE).unwrap();
    let tag = format!("{}:latest", unique("kiln-filesync-outside"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let dockerfile_arg = dockerfile.to_str().unwrap();

    let first = buildkit_build(&context, &tag, &["-f", dockerfile_arg]);
    // The second build takes the tag: the first image would be left untagged.
    cleanup.add(first["image_id"].as_str().unwrap());
    assert_eq!(sent(&first).1, 2, "data.txt and the Dockerfile: {first}");
    let paths: Vec<String> = image_entries(&tag, "ctx/")
        .unwrap()
        .into_iter()
        .map(|entry| entry.path)
        .collect();
    assert_eq!(
        paths,
        ["data.txt"],
        "the Dockerfile is not part of the context"
    );

    // Only the Dockerfile changed: it alone is sent.
    let edited = format!("{DOCKERFILE}LABEL edited=yes\n");
    fs::write(&dockerfile, &edited).unwrap();
    let second = buildkit_build(&context, &tag, &["-f", dockerfile_arg]);
    assert_eq!(sent(&second), (edited.len() as u64, 1), "{second}");
}

#[tokio::test]
async fn a_context_file_that_cannot_be_read_is_named() {
    if live_docker("a_context_file_that_cannot_be_read_is_named").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("Dockerfile"), DOCKERFILE).unwrap();
    fs::write(dir.path().join("kept.txt"), unique("kept")).unwrap();
    fs::write(
        dir.path().join("vanishing.txt"),
        "read when the context was",
    )
    .unwrap();
    let context = PreparedContext::prepare(dir.path(), None).unwrap();
    // Listed, then gone before the daemon asks for it (a file root could read otherwise).
    fs::remove_file(dir.path().join("vanishing.txt")).unwrap();
    let tag = format!("{}:latest", unique("kiln-filesync-unreadable"));
    let mut cleanup = ImageCleanup::new();
    cleanup.add(&tag);
    let engine = DockerEngine::from_env(&ProcessEnv).unwrap();
    let request = BuildRequest {
        dockerfile: "Dockerfile".into(),
        context: Arc::new(context),
        tags: vec![ImageRef::parse(&tag).unwrap()],
        build_args: BTreeMap::new(),
        target: None,
        platform: None,
        labels: BTreeMap::new(),
        builder: BuilderKind::Buildkit,
        no_cache: false,
        cache_from: Vec::new(),
        registry_credentials: Vec::new(),
        events: EventSink::discard(),
    };
    let error = engine.build(request).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
    match &error {
        Error::Context { path, .. } => {
            assert_eq!(
                path,
                &dir.path().canonicalize().unwrap().join("vanishing.txt")
            );
        }
        other => panic!("a context error naming the file, not {other:?}"),
    }
    assert!(error.to_string().contains("vanishing.txt"), "{error}");
    assert!(image_id(&tag).is_none(), "no image was made");
}
