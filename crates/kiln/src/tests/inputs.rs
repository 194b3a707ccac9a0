//! Bad inputs refused before any work, and inputs told apart that once were not.

use kiln_core::{ErrorKind, ImageEngine, ImageRef, Outcome};

use super::fixture;
use crate::Action;

#[tokio::test]
async fn a_tag_with_a_digest_is_refused_before_any_work() {
    let f = fixture();
    let digest = format!("sha256:{}", "a".repeat(64));
    for tag in [format!("repo@{digest}"), format!("repo:1@{digest}")] {
        let mut spec = f.spec();
        spec.tags = vec![ImageRef::parse(&tag).unwrap()];
        let planned = f.kiln.plan(&spec).await.unwrap_err();
        assert_eq!(planned.kind(), ErrorKind::InvalidInput, "{planned}");
        assert!(planned.to_string().contains(&tag), "{planned}");
        let built = f.kiln.build_image(&spec).await.unwrap_err();
        assert_eq!(built.kind(), ErrorKind::InvalidInput, "{built}");
    }
    assert_eq!(f.engine.calls().build, 0);
    let latest = ImageRef::parse("repo:latest").unwrap();
    assert!(f.engine.inspect(&latest).await.unwrap().is_none());
}

#[tokio::test]
async fn a_repeated_tag_is_kept_once() {
    let f = fixture();
    let mut spec = f.spec();
    let one = ImageRef::parse("app:1").unwrap();
    let two = ImageRef::parse("app:2").unwrap();
    spec.tags = vec![one.clone(), two.clone(), one.clone()];
    let report = f.kiln.build_image(&spec).await.unwrap();
    assert_eq!(report.tags, [one, two]);
}

#[tokio::test]
async fn a_renamed_non_utf8_file_name_rebuilds_and_is_named_escaped() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    let f = fixture();
    let root = f.context.path();
    let old = root.join(OsStr::from_bytes(b"bad\xff"));
    let new = root.join(OsStr::from_bytes(b"bad\xfe"));
    std::fs::write(&old, "same contents\n").unwrap();
    let first = f.kiln.build_image(&f.spec()).await.unwrap();
    assert_eq!(first.outcome, Outcome::Built);

    std::fs::rename(&old, &new).unwrap();
    let plan = f.kiln.plan(&f.spec()).await.unwrap();
    assert_eq!(plan.action, Action::Build, "{}", plan.reason);
    let changes: Vec<String> = plan.changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        changes,
        ["file bad\\xfe added", "file bad\\xff removed"],
        "{}",
        plan.reason
    );
    let second = f.kiln.build_image(&f.spec()).await.unwrap();
    assert_eq!(second.outcome, Outcome::Built);
    assert_ne!(second.fingerprint, first.fingerprint);
}

#[tokio::test]
async fn dockerfile_mistakes_are_refused_before_any_upload_naming_the_line() {
    let cases = [
        ("", "Dockerfile", "only blank lines and comments"),
        (
            "# nothing yet\n\n",
            "Dockerfile",
            "only blank lines and comments",
        ),
        ("ARG BASE=alpine\n", "Dockerfile", "a FROM instruction"),
        (
            "FROM scratch\nCOPY . /app/\nFORM x\n",
            "Dockerfile:3",
            "not \"FORM\"",
        ),
        (
            "\nRUN true\nFROM scratch\n",
            "Dockerfile:2",
            "FROM before RUN",
        ),
    ];
    for (text, place, expected) in cases {
        let f = fixture();
        f.write("Dockerfile", text);
        let error = f.kiln.plan(&f.spec()).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
        let message = error.to_string();
        let shown = format!("{}\"", f.context.path().join(place).display());
        assert!(message.contains(&shown), "{text:?}: {message}");
        assert!(message.contains(expected), "{text:?}: {message}");
        let built = f.kiln.build_image(&f.spec()).await.unwrap_err();
        assert_eq!(built.to_string(), message);
        assert_eq!(f.engine.calls().build, 0, "{text:?}");
    }
}

#[tokio::test]
async fn a_missing_target_stage_is_refused_naming_the_stages() {
    let f = fixture();
    f.write("Dockerfile", "FROM scratch AS base\nFROM base AS app\n");
    let mut spec = f.spec();
    spec.target = Some("tset".into());
    let error = f.kiln.build_image(&spec).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
    assert_eq!(
        error.to_string(),
        "invalid --target \"tset\": expected a stage of the Dockerfile (base, app)"
    );
    assert_eq!(f.engine.calls().build, 0);
    spec.target = Some("App".into());
    let built = f.kiln.build_image(&spec).await.unwrap();
    assert_eq!(built.outcome, Outcome::Built);
}

#[tokio::test]
async fn a_label_in_kilns_namespace_is_refused_for_library_callers_too() {
    let f = fixture();
    let mut spec = f.spec();
    spec.labels
        .insert(crate::FINGERPRINT_LABEL.into(), "forged".into());
    let error = f.kiln.build_image(&spec).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
    assert!(
        error.to_string().contains("dev.kiln.fingerprint"),
        "{error}"
    );
    assert_eq!(f.engine.calls().build, 0);
}

#[tokio::test]
async fn a_base_image_neither_local_nor_in_its_registry_is_refused_naming_the_line() {
    let f = fixture();
    let kiln = super::with_registry(&f.engine, f._cache.path());
    f.write(
        "Dockerfile",
        "ARG BASE=registry.test:5000/base:1\nFROM scratch AS tools\nFROM ${BASE}\nCOPY . /app/\n",
    );
    let error = kiln.plan(&f.spec()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
    let text = error.to_string();
    let place = format!("{}:3\"", f.context.path().join("Dockerfile").display());
    assert!(text.contains(&place), "{text}");
    assert!(
        text.contains("registry.test:5000/base:1 is in neither"),
        "{text}"
    );
    let built = kiln.build_image(&f.spec()).await.unwrap_err();
    assert_eq!(built.to_string(), text);
    assert_eq!(f.engine.calls().build, 0);

    // In the registry only: the builder pulls it, so the build goes ahead.
    let base = ImageRef::parse("registry.test:5000/base:1").unwrap();
    f.engine
        .insert_image(&base, &kiln_core::testing::image_id("base"));
    kiln.push(&base, kiln_core::EventSink::discard())
        .await
        .unwrap();
    f.engine
        .remove(&base, kiln_core::RemoveOptions::new().force(true))
        .await
        .unwrap();
    let plan = kiln.plan(&f.spec()).await.unwrap();
    assert_eq!(plan.action, Action::Build);
}
