//! The facade against mockall mocks, where the order and the failure of calls matter: a daemon
//! that goes away in the middle of a plan, a push refused after a build, a registry that cannot
//! be reached while a build is shared through the cache repository.
//!
//! A mock panics on any call nobody expected, so each test also says which calls must not
//! happen (no build after a failed plan, no second build).

use std::path::Path;
use std::sync::{Arc, Mutex};

use kiln_core::testing::{image_details, image_id};
use kiln_core::{
    BuildSpec, BuiltImage, EngineInfo, Error, ErrorKind, ImageId, ImageRef, MapEnv,
    MockImageEngine, MockRegistry, Outcome, Platform,
};

use super::{amd64_host_with_qemu, write};
use crate::{Config, Kiln};

/// The calls the mocks saw, in order.
#[derive(Clone, Default)]
struct CallLog(Arc<Mutex<Vec<String>>>);

impl CallLog {
    fn note(&self, call: impl Into<String>) {
        self.0.lock().unwrap().push(call.into());
    }

    fn calls(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

fn kiln(engine: MockImageEngine, registry: MockRegistry, cache: &Path) -> Kiln {
    Kiln::builder()
        .engine(engine)
        .registry(registry)
        .env(MapEnv::new())
        .config(Config::default())
        .cache_dir(cache)
        .host_probe(amd64_host_with_qemu())
        .build()
        .unwrap()
}

fn context(dockerfile: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Dockerfile", dockerfile);
    write(dir.path(), "main.c", "int main() {}\n");
    dir
}

fn unreachable() -> Error {
    Error::Unreachable {
        endpoint: "unix:///var/run/docker.sock".into(),
        reason: "connection refused".into(),
    }
}

/// `info` answers (the daemon is up when the plan starts), noted in `log`.
fn answers_info(engine: &mut MockImageEngine, log: &CallLog) {
    let log = log.clone();
    engine.expect_info().times(1).returning(move || {
        log.note("info");
        Ok(EngineInfo {
            version: "20.10.24".into(),
            ..EngineInfo::default()
        })
    });
}

/// `build` succeeds with `id`, and `inspect_id` of it answers, noted in `log`.
fn builds(engine: &mut MockImageEngine, log: &CallLog, id: &ImageId) {
    let (log_build, built) = (log.clone(), id.clone());
    engine.expect_build().times(1).returning(move |_| {
        log_build.note("build");
        Ok(BuiltImage {
            image_id: built.clone(),
            warnings: vec![],
            context_sent: None,
        })
    });
    let (log_inspect, inspected) = (log.clone(), id.clone());
    engine
        .expect_inspect_id()
        .withf(move |asked| *asked == inspected)
        .returning(move |asked| {
            log_inspect.note("inspect_id");
            Ok(Some(image_details(asked.clone(), &Platform::linux_amd64())))
        });
}

#[tokio::test]
async fn a_daemon_lost_in_the_middle_of_a_plan_fails_it_without_building() {
    let log = CallLog::default();
    let mut engine = MockImageEngine::new();
    answers_info(&mut engine, &log);
    // The base image's id is part of the inputs: asking for it is where the daemon goes away.
    let base = ImageRef::parse("base/image:1").unwrap();
    let asked = log.clone();
    engine
        .expect_inspect()
        .withf(move |image| *image == base)
        .times(1)
        .returning(move |_| {
            asked.note("inspect base");
            Err(unreachable())
        });
    engine.expect_build().never();
    let cache = tempfile::tempdir().unwrap();
    let kiln = kiln(engine, MockRegistry::new(), cache.path());
    let context = context("FROM base/image:1\nCOPY . /app/\n");

    let error = kiln
        .build_image(&BuildSpec::new("app", context.path()))
        .await
        .expect_err("the daemon went away");

    assert_eq!(error.kind(), ErrorKind::Unreachable, "{error}");
    assert_eq!(log.calls(), ["info", "inspect base"]);
}

#[tokio::test]
async fn a_push_refused_after_a_build_fails_the_build_and_keeps_the_image() {
    let log = CallLog::default();
    let tag = ImageRef::parse("registry.test:5000/app:1").unwrap();
    let id = image_id("built");
    let mut engine = MockImageEngine::new();
    answers_info(&mut engine, &log);
    builds(&mut engine, &log, &id);
    let (pushed, refused_tag) = (log.clone(), tag.clone());
    engine
        .expect_push()
        .withf(move |image, options| *image == refused_tag && options.credentials.is_none())
        .times(1)
        .returning(move |_, _| {
            pushed.note("push");
            Err(Error::AuthRefused {
                registry: "registry.test:5000".into(),
                reason: "the registry requires credentials and none were given".into(),
            })
        });
    engine.expect_remove().never();
    // Before building, the registry is asked whether it holds these inputs already: it does not.
    let mut registry = MockRegistry::new();
    let asked = log.clone();
    registry.expect_describe().times(1).returning(move |_, _| {
        asked.note("describe");
        Ok(None)
    });
    let cache = tempfile::tempdir().unwrap();
    let kiln = kiln(engine, registry, cache.path());
    let context = context("FROM scratch\nCOPY . /app/\n");
    let mut spec = BuildSpec::new("app", context.path());
    spec.tags = vec![tag];
    spec.push = true;

    let error = kiln
        .build_image(&spec)
        .await
        .expect_err("the push is refused");

    assert_eq!(error.kind(), ErrorKind::AuthRefused, "{error}");
    assert_eq!(
        log.calls(),
        ["info", "describe", "build", "inspect_id", "push"],
        "the push comes after the build, and its refusal removes nothing"
    );
}

#[tokio::test]
async fn a_cache_repository_out_of_reach_leaves_the_build_unshared_not_failed() {
    let log = CallLog::default();
    let repo = ImageRef::parse("registry.test:5000/kiln-cache").unwrap();
    let id = image_id("built");
    let mut engine = MockImageEngine::new();
    answers_info(&mut engine, &log);
    builds(&mut engine, &log, &id);
    let tagged = log.clone();
    let tagged_id = id.clone();
    engine
        .expect_tag()
        .withf(move |source, target| {
            *source == tagged_id && target.tag().is_some_and(|tag| tag.starts_with("kiln-"))
        })
        .times(1)
        .returning(move |_, target| {
            tagged.note(format!("tag {}", target.familiar_repository()));
            Ok(())
        });
    let pushed = log.clone();
    engine.expect_push().times(1).returning(move |_, _| {
        pushed.note("push");
        Err(Error::Unreachable {
            endpoint: "registry.test:5000".into(),
            reason: "dial tcp: connection refused".into(),
        })
    });
    // The cache repository does not hold these inputs yet.
    let mut registry = MockRegistry::new();
    let asked = log.clone();
    registry.expect_head().times(1).returning(move |image, _| {
        asked.note(format!("head {}", image.familiar_repository()));
        Ok(None)
    });
    let cache = tempfile::tempdir().unwrap();
    let kiln = kiln(engine, registry, cache.path());
    let context = context("FROM scratch\nCOPY . /app/\n");
    let mut spec = BuildSpec::new("app", context.path());
    spec.cache_repo = Some(repo.clone());

    let report = kiln
        .build_image(&spec)
        .await
        .expect("the build itself succeeds");

    assert_eq!(report.outcome, Outcome::Built);
    assert_eq!(report.image_id, id.as_str());
    assert!(
        report
            .warnings
            .iter()
            .any(|warning| warning.contains("not shared through registry.test:5000/kiln-cache")),
        "{:?}",
        report.warnings
    );
    assert_eq!(
        log.calls(),
        [
            "info",
            "head registry.test:5000/kiln-cache",
            "build",
            "inspect_id",
            "tag registry.test:5000/kiln-cache",
            "push",
        ]
    );
    // A report that says pushed would lie: nothing reached the registry.
    assert_eq!(report.pushed, None);
}
