//! Decisions and explanations, against the in-memory engine: build, reuse, and why.

mod config_properties;
mod inputs;

use std::fs;
use std::path::Path;
use std::sync::Arc;

use kiln_platform::FakeProbe;

use kiln_core::testing::{FakeEngine, image_id};
use kiln_core::{
    BuildMode, BuildSpec, BuilderChoice, ErrorKind, ImageEngine, ImageRef, MapEnv, Outcome,
    Platform, RemoveOptions, RuntimeMode,
};
use serde_json::{Value, json};

use crate::{Action, Config, Kiln};

mod mocked;

struct Fixture {
    engine: FakeEngine,
    kiln: Kiln,
    context: tempfile::TempDir,
    _cache: tempfile::TempDir,
}

fn fixture() -> Fixture {
    fixture_with(Config::default())
}

/// An amd64 host with qemu registered for arm64, whatever machine runs the tests.
fn amd64_host_with_qemu() -> Arc<FakeProbe> {
    Arc::new(
        FakeProbe::new("x86_64")
            .with_file("/proc/sys/fs/binfmt_misc/status", "enabled\n")
            .with_file(
                "/proc/sys/fs/binfmt_misc/qemu-aarch64",
                "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\n\
                 magic 7f454c460201010000000000000000000200b700\n\
                 mask ffffffffffffff00fffffffffffffffffeffffff\n",
            ),
    )
}

fn fixture_with(config: Config) -> Fixture {
    let engine = FakeEngine::new();
    let cache = tempfile::tempdir().unwrap();
    let kiln = Kiln::builder()
        .engine(engine.clone())
        .env(MapEnv::new())
        .config(config)
        .cache_dir(cache.path())
        .host_probe(amd64_host_with_qemu())
        .build()
        .unwrap();
    let context = tempfile::tempdir().unwrap();
    write(context.path(), "Dockerfile", "FROM scratch\nCOPY . /app/\n");
    write(context.path(), "src/deep/nested/main.c", "int main() {}\n");
    write(context.path(), "README.md", "docs\n");
    write(context.path(), ".dockerignore", "*.log\n");
    Fixture {
        engine,
        kiln,
        context,
        _cache: cache,
    }
}

fn write(root: &Path, path: &str, contents: &str) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

impl Fixture {
    fn spec(&self) -> BuildSpec {
        let mut spec = BuildSpec::new("app", self.context.path());
        spec.version = Some("1".into());
        spec
    }

    fn write(&self, path: &str, contents: &str) {
        write(self.context.path(), path, contents);
    }
}

/// The plan as JSON, with what varies between runs (fingerprints, ids, ages) masked.
fn plan_json(plan: &crate::Plan) -> Value {
    let mut value = json!(plan);
    value["fingerprint"] = json!("<fingerprint>");
    // How many files were hashed depends on file-system timing (the racy-timestamp rule).
    value["inputs"]["hashed_files"] = json!("<n>");
    value["inputs"]["hashed_bytes"] = json!("<n>");
    if value.get("image_id").is_some() {
        value["image_id"] = json!("<image id>");
    }
    if let Some(reason) = value["reason"].as_str() {
        let masked = reason
            .split(' ')
            .map(|word| {
                if word.chars().all(|c| c.is_ascii_hexdigit()) && word.len() == 12 {
                    "<id>"
                } else {
                    word
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        value["reason"] = json!(masked);
    }
    for change in value["changes"].as_array_mut().into_iter().flatten() {
        for key in ["old", "new", "image_id"] {
            if change
                .get(key)
                .is_some_and(|v| v.as_str().is_some_and(|s| s.starts_with("sha256:")))
            {
                change[key] = json!("<image id>");
            }
        }
    }
    value
}

#[tokio::test]
async fn build_then_reuse() {
    let f = fixture();
    let first = f.kiln.build_image(&f.spec()).await.unwrap();
    assert_eq!(first.outcome, Outcome::Built);
    assert_eq!(
        first.reason,
        "no previous build of app-1:latest is recorded"
    );
    assert_eq!(first.inputs.unwrap().hashed_files, 4, "{:?}", first.inputs);

    let second = f.kiln.build_image(&f.spec()).await.unwrap();
    assert_eq!(second.outcome, Outcome::Reused);
    assert_eq!(second.image_id, first.image_id);
    assert_eq!(second.fingerprint, first.fingerprint);
    assert!(
        second
            .reason
            .starts_with("inputs unchanged since the build"),
        "{}",
        second.reason
    );
    assert_eq!(f.engine.calls().build, 1, "one build for two requests");
}

#[tokio::test]
async fn a_changed_deep_file_is_named() {
    let f = fixture();
    f.kiln.build_image(&f.spec()).await.unwrap();
    f.write("src/deep/nested/main.c", "int main() { return 1; }\n");
    f.write("src/new.c", "\n");
    let plan = f.kiln.plan(&f.spec()).await.unwrap();
    assert_eq!(plan.action, Action::Build);
    insta::assert_json_snapshot!(plan_json(&plan));
}

#[tokio::test]
async fn an_ignored_file_changes_nothing() {
    let f = fixture();
    f.kiln.build_image(&f.spec()).await.unwrap();
    f.write("debug.log", "noise\n");
    let report = f.kiln.build_image(&f.spec()).await.unwrap();
    assert_eq!(report.outcome, Outcome::Reused);
}

#[tokio::test]
async fn settings_and_args_are_named_never_their_values() {
    let f = fixture();
    let mut spec = f.spec();
    spec.build_args
        .insert("TOKEN".into(), "first-secret".into());
    spec.secret_args.insert("TOKEN".into());
    spec.builder = BuilderChoice::Classic;
    f.kiln.build_image(&spec).await.unwrap();

    spec.builder = BuilderChoice::Auto;
    spec.build_args
        .insert("TOKEN".into(), "second-secret".into());
    spec.build_args.insert("EXTRA".into(), "visible".into());
    spec.runtime_mode = RuntimeMode::Minimal;
    spec.platform = Some(Platform::linux_arm64());
    spec.tags = vec![ImageRef::parse("app-1:latest").unwrap()];
    let plan = f.kiln.plan(&spec).await.unwrap();
    let json = plan_json(&plan);
    let text = json.to_string();
    assert!(
        !text.contains("first-secret") && !text.contains("second-secret"),
        "{text}"
    );
    insta::assert_json_snapshot!(json);
}

#[tokio::test]
async fn a_removed_image_is_rebuilt_with_inputs_unchanged() {
    let f = fixture();
    let built = f.kiln.build_image(&f.spec()).await.unwrap();
    f.engine.set_unreachable(false);
    kiln_core::ImageEngine::remove(&f.engine, &built.tag, RemoveOptions::new().force(true))
        .await
        .unwrap();
    let plan = f.kiln.plan(&f.spec()).await.unwrap();
    assert_eq!(plan.action, Action::Build);
    insta::assert_json_snapshot!(plan_json(&plan));
    let rebuilt = f.kiln.build_image(&f.spec()).await.unwrap();
    assert_eq!(rebuilt.outcome, Outcome::Built);
}

#[tokio::test]
async fn a_moved_tag_is_pointed_back() {
    let f = fixture();
    let built = f.kiln.build_image(&f.spec()).await.unwrap();
    f.engine.insert_image(&built.tag, &image_id("someone-else"));
    let report = f.kiln.build_image(&f.spec()).await.unwrap();
    assert_eq!(report.outcome, Outcome::Reused);
    assert!(
        report.reason.contains("re-tagging app-1:latest"),
        "{}",
        report.reason
    );
    let now = kiln_core::ImageEngine::inspect(&f.engine, &built.tag)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.id.as_str(), built.image_id);
    assert_eq!(f.engine.calls().build, 1);
}

#[tokio::test]
async fn force_bypasses_the_cache_and_still_records() {
    let f = fixture();
    f.kiln.build_image(&f.spec()).await.unwrap();
    let mut spec = f.spec();
    spec.force = true;
    let forced = f.kiln.build_image(&spec).await.unwrap();
    assert_eq!(forced.outcome, Outcome::Built);
    assert!(forced.reason.starts_with("forced"), "{}", forced.reason);
    assert_eq!(f.engine.calls().build, 2);
    let after = f.kiln.build_image(&f.spec()).await.unwrap();
    assert_eq!(after.outcome, Outcome::Reused);

    // multi_platform: a build naming no platform builds every configured one (as one index,
    // so it needs --push); a build naming one is left alone.
    let multi = fixture_with(Config {
        multi_platform: true,
        ..Config::default()
    });
    let refused = multi.kiln.build_image(&multi.spec()).await.unwrap_err();
    assert!(
        refused.to_string().contains("linux/amd64,linux/arm64"),
        "{refused}"
    );
    let mut one = multi.spec();
    one.platform = Some(kiln_core::Platform::linux_amd64());
    multi.kiln.build_image(&one).await.unwrap();

    let configured = fixture_with(Config {
        force_build: true,
        ..Config::default()
    });
    configured
        .kiln
        .build_image(&configured.spec())
        .await
        .unwrap();
    let again = configured
        .kiln
        .build_image(&configured.spec())
        .await
        .unwrap();
    assert_eq!(
        again.outcome,
        Outcome::Built,
        "force_build in the configuration"
    );
}

#[tokio::test]
async fn a_corrupt_record_is_a_miss_with_a_warning() {
    let f = fixture();
    let built = f.kiln.build_image(&f.spec()).await.unwrap();
    let fingerprint = built.fingerprint.unwrap();
    let record = f
        .kiln
        .records()
        .unwrap()
        .root()
        .join("records")
        .join(format!("{fingerprint}.json"));
    fs::write(&record, "{\"truncated").unwrap();
    let report = f.kiln.build_image(&f.spec()).await.unwrap();
    assert_eq!(report.outcome, Outcome::Built);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("treating it as a miss")),
        "{:?}",
        report.warnings
    );
    let healed = f.kiln.build_image(&f.spec()).await.unwrap();
    assert_eq!(
        healed.outcome,
        Outcome::Reused,
        "the rebuild rewrote the record"
    );
}

#[tokio::test]
async fn a_rebuilt_base_image_rebuilds_dependants() {
    let f = fixture();
    f.write(
        "Dockerfile",
        "ARG BASE=base/image:1\nFROM ${BASE}\nCOPY . /app/\n",
    );
    let base = ImageRef::parse("base/image:1").unwrap();
    f.engine.insert_image(&base, &image_id("base-v1"));
    f.kiln.build_image(&f.spec()).await.unwrap();
    assert_eq!(
        f.kiln.build_image(&f.spec()).await.unwrap().outcome,
        Outcome::Reused
    );

    f.engine.insert_image(&base, &image_id("base-v2"));
    let plan = f.kiln.plan(&f.spec()).await.unwrap();
    assert_eq!(plan.action, Action::Build);
    assert_eq!(
        json!(plan.changes),
        json!([{"kind": "base_image_changed", "name": "base/image:1", "old": image_id("base-v1"), "new": image_id("base-v2")}])
    );
}

#[tokio::test]
async fn the_build_mode_fallback_is_part_of_the_inputs() {
    let f = fixture();
    let mut spec = f.spec();
    spec.build_mode = BuildMode::RelLto;
    spec.platform = Some(Platform::linux_arm64());
    let plan = f.kiln.plan(&spec).await.unwrap();
    assert_eq!(plan.build_mode, BuildMode::Default);
    assert_eq!(plan.tag.familiar(), "app-1:latest-linux-arm64");
    assert!(
        plan.warnings.iter().any(|w| w.contains("rel-lto")),
        "{:?}",
        plan.warnings
    );
}

#[tokio::test]
async fn bad_input_and_a_down_engine_build_nothing() {
    let f = fixture();
    let error = f
        .kiln
        .build_image(&BuildSpec::new("x", "/nonexistent/kiln/context"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    f.engine.set_unreachable(true);
    let error = f.kiln.build_image(&f.spec()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unreachable);
    assert_eq!(f.engine.calls().build, 0);
}

#[tokio::test]
async fn bad_input_wins_over_a_down_engine() {
    let f = fixture();
    f.engine.set_unreachable(true);
    let missing = f
        .kiln
        .build_image(&BuildSpec::new("x", "/nonexistent/kiln/context"))
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::InvalidInput, "{missing}");
    f.write("Dockerfile", "RUN true\n");
    let no_from = f.kiln.build_image(&f.spec()).await.unwrap_err();
    assert_eq!(no_from.kind(), ErrorKind::InvalidInput, "{no_from}");
    assert!(no_from.to_string().contains("Dockerfile"), "{no_from}");
    assert_eq!(f.engine.calls().build, 0);
}

/// A kiln whose registry is the fake engine's fake registry, with its own cache directory.
fn with_registry(engine: &FakeEngine, cache: &Path) -> Kiln {
    Kiln::builder()
        .host_probe(amd64_host_with_qemu())
        .engine(engine.clone())
        .registry(engine.clone())
        .env(MapEnv::new())
        .config(Config::default())
        .cache_dir(cache)
        .build()
        .unwrap()
}

#[tokio::test]
async fn push_then_skip_what_the_registry_already_holds() {
    let f = fixture();
    let kiln = with_registry(&f.engine, f._cache.path());
    let mut spec = f.spec();
    spec.tags = vec![ImageRef::parse("registry.test:5000/app:1").unwrap()];
    spec.push = true;
    let first = kiln.build_image(&spec).await.unwrap();
    assert_eq!(first.outcome, Outcome::Built);
    let pushed = first.pushed.clone().expect("pushed");
    assert_eq!(pushed.reference, spec.tags[0]);
    assert_eq!(
        f.engine.registry_image(&spec.tags[0]).map(String::from),
        Some(first.image_id.clone())
    );

    // Another machine: empty caches, no local image.
    let other_cache = tempfile::tempdir().unwrap();
    kiln_core::ImageEngine::remove(&f.engine, &spec.tags[0], RemoveOptions::new().force(true))
        .await
        .unwrap();
    let other = with_registry(&f.engine, other_cache.path());
    let second = other.build_image(&spec).await.unwrap();
    assert_eq!(second.outcome, Outcome::Remote, "{}", second.reason);
    assert_eq!(
        second.image_id,
        pushed.digest.as_str(),
        "the registry's digest stands for the image"
    );
    assert_eq!(f.engine.calls().build, 1);
}

#[tokio::test]
async fn a_cache_repository_shares_builds_between_machines() {
    let f = fixture();
    let repo = ImageRef::parse("registry.test:5000/kiln-cache").unwrap();
    let mut spec = f.spec();
    spec.cache_repo = Some(repo.clone());
    let kiln = with_registry(&f.engine, f._cache.path());
    let built = kiln.build_image(&spec).await.unwrap();
    assert_eq!(built.outcome, Outcome::Built);
    let cached = repo
        .with_tag(&format!("kiln-{}", built.fingerprint.clone().unwrap()))
        .unwrap();
    assert_eq!(
        f.engine.registry_image(&cached).map(String::from),
        Some(built.image_id.clone())
    );

    kiln_core::ImageEngine::remove(&f.engine, &built.tag, RemoveOptions::new().force(true))
        .await
        .unwrap();
    kiln_core::ImageEngine::remove(&f.engine, &cached, RemoveOptions::new().force(true))
        .await
        .unwrap();
    let other_cache = tempfile::tempdir().unwrap();
    let other = with_registry(&f.engine, other_cache.path());
    let pulled = other.build_image(&spec).await.unwrap();
    assert_eq!(pulled.outcome, Outcome::Pulled, "{}", pulled.reason);
    assert_eq!(pulled.image_id, built.image_id);
    assert_eq!(
        f.engine.calls().build,
        1,
        "the second machine pulled instead of building"
    );
    let again = other.build_image(&spec).await.unwrap();
    assert_eq!(again.outcome, Outcome::Reused, "the pull was recorded");
}

#[tokio::test]
async fn refused_registry_credentials_fail_the_push() {
    let f = fixture();
    f.engine
        .require_credentials(kiln_core::Credentials::password("u", "secret-pass"));
    let kiln = with_registry(&f.engine, f._cache.path());
    let mut spec = f.spec();
    spec.tags = vec![ImageRef::parse("registry.test:5000/app:1").unwrap()];
    spec.push = true;
    let error = kiln.build_image(&spec).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AuthRefused);
    assert!(!error.to_string().contains("secret-pass"));
}

/// A kiln with no cache directory: nothing recorded, no cross-process lock — only the
/// in-process single flight can keep concurrent identical builds to one.
fn unrecorded(engine: &FakeEngine) -> Kiln {
    Kiln::builder()
        .host_probe(amd64_host_with_qemu())
        .engine(engine.clone())
        .env(MapEnv::new())
        .config(Config::default())
        .build()
        .unwrap()
}

/// Lets the held build end once `callers` builds share the flight of `fingerprint`.
async fn release_when_joined(
    kiln: &Kiln,
    engine: &FakeEngine,
    fingerprint: &kiln_core::Fingerprint,
    callers: usize,
) {
    while kiln.builds.callers(fingerprint) < callers {
        tokio::task::yield_now().await;
    }
    engine.release_builds();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_builds_share_one_build_and_keep_every_callers_tags() {
    let f = fixture();
    f.engine.hold_builds();
    let tag_sets: Vec<Vec<ImageRef>> = (1..=4)
        .map(|n| {
            vec![
                ImageRef::parse(&format!("app:{n}")).unwrap(),
                ImageRef::parse(&format!("mirror/app:{n}")).unwrap(),
            ]
        })
        .collect();
    let specs: Vec<BuildSpec> = (0..8)
        .map(|i| {
            let mut spec = f.spec();
            spec.tags = tag_sets[i % 4].clone();
            spec
        })
        .collect();
    let fingerprint = f.kiln.plan(&specs[0]).await.unwrap().fingerprint;
    let builds = futures_util::future::join_all(specs.iter().map(|spec| f.kiln.build_image(spec)));
    let release = release_when_joined(&f.kiln, &f.engine, &fingerprint, 8);
    let (reports, ()) = tokio::join!(builds, release);
    assert_eq!(
        f.engine.calls().build,
        1,
        "one engine build for eight callers"
    );
    let reports: Vec<_> = reports.into_iter().map(Result::unwrap).collect();
    let image_id = reports[0].image_id.clone();
    for (report, spec) in reports.iter().zip(&specs) {
        assert_eq!(report.image_id, image_id);
        assert_eq!(
            report.tags, spec.tags,
            "each report names its caller's tags"
        );
        assert_eq!(report.tag, spec.tags[0]);
    }
    for tag in tag_sets.iter().flatten() {
        let details = f.engine.inspect(tag).await.unwrap();
        assert_eq!(
            details.map(|details| details.id),
            Some(kiln_core::ImageId::parse(&image_id).unwrap()),
            "{tag} points at the shared image"
        );
    }
    // Every tag set is recorded: the next build of any of them reuses the image.
    for spec in &specs[..4] {
        let again = f.kiln.build_image(spec).await.unwrap();
        assert_eq!(again.outcome, Outcome::Reused, "{:?}", spec.tags);
    }
    assert_eq!(f.engine.calls().build, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_identical_builds_run_one() {
    let f = fixture();
    let kiln = unrecorded(&f.engine);
    assert!(kiln.records().is_none());
    f.engine.hold_builds();
    let spec = f.spec();
    let fingerprint = kiln.plan(&spec).await.unwrap().fingerprint;
    let builds = futures_util::future::join_all((0..32).map(|_| kiln.build_image(&spec)));
    let release = release_when_joined(&kiln, &f.engine, &fingerprint, 32);
    let (reports, ()) = tokio::join!(builds, release);
    let ids: Vec<String> = reports.into_iter().map(|r| r.unwrap().image_id).collect();
    assert_eq!(
        f.engine.calls().build,
        1,
        "one engine build for 32 requests"
    );
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "every caller gets the shared result"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_builds_share_an_error() {
    let f = fixture();
    let kiln = unrecorded(&f.engine);
    f.engine.fail_builds(Some("disk full"));
    f.engine.hold_builds();
    let spec = f.spec();
    let fingerprint = kiln.plan(&spec).await.unwrap().fingerprint;
    let builds = futures_util::future::join_all((0..8).map(|_| kiln.build_image(&spec)));
    let release = release_when_joined(&kiln, &f.engine, &fingerprint, 8);
    let (reports, ()) = tokio::join!(builds, release);
    assert_eq!(f.engine.calls().build, 1);
    for report in reports {
        let error = report.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::BuildFailed);
        assert!(error.to_string().contains("disk full"), "{error}");
    }
}

#[tokio::test]
async fn cached_existence_answers_reach_the_engine_once() {
    let f = fixture();
    let image = ImageRef::parse("app:cached").unwrap();
    f.engine.insert_image(&image, &image_id("c"));
    for _ in 0..10 {
        assert!(f.kiln.image_exists(&image).await.unwrap());
    }
    assert_eq!(f.engine.calls().inspect, 1);
    let stats = f.kiln.cache_stats().await.unwrap();
    assert_eq!((stats.l1.hits, stats.l1.misses), (9, 1));
}

#[tokio::test]
async fn plans_decide_from_records_when_the_daemon_is_down() {
    let f = fixture();
    let built = f.kiln.build_image(&f.spec()).await.unwrap();
    f.engine.set_unreachable(true);
    let plan = f.kiln.plan(&f.spec()).await.unwrap();
    assert_eq!(plan.action, Action::Reuse);
    assert_eq!(
        plan.image_id.map(String::from),
        Some(built.image_id.clone())
    );
    assert!(matches!(
        plan.daemon,
        crate::DaemonState::Unreachable { .. }
    ));
    let error = f.kiln.build_image(&f.spec()).await.unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::Unreachable,
        "a build needs the daemon"
    );
}

#[tokio::test]
async fn l1_answers_survive_the_process_and_clear_empties_both_levels() {
    let f = fixture();
    let image = ImageRef::parse("app:kept").unwrap();
    f.engine.insert_image(&image, &image_id("k"));
    f.kiln.build_image(&f.spec()).await.unwrap();
    assert!(f.kiln.image_exists(&image).await.unwrap());
    assert_eq!(f.kiln.save_caches().await, None);

    let next = Kiln::builder()
        .host_probe(amd64_host_with_qemu())
        .engine(f.engine.clone())
        .env(MapEnv::new())
        .config(Config::default())
        .cache_dir(f.kiln.records().unwrap().root())
        .build()
        .unwrap();
    assert_eq!(next.load_caches().await, None);
    f.engine.set_unreachable(true);
    let answer = next.image_answer(&image).await.unwrap();
    assert_eq!(answer.source, crate::Source::Cache);
    let stats = next.cache_stats().await.unwrap();
    assert!(stats.l1.entries >= 1 && stats.l2.entries == 1, "{stats:?}");
    assert!(
        stats.l1.hits >= 1,
        "counts of the earlier process are kept: {stats:?}"
    );

    next.clear_caches().unwrap();
    let stats = next.cache_stats().await.unwrap();
    assert_eq!(
        (stats.l1.entries, stats.l2.entries, stats.l1.hits),
        (0, 0, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn default_build_args_and_platform_args() {
    let f = fixture_with(Config {
        build_args: [
            ("FROM_CONFIG".to_owned(), "c".to_owned()),
            ("BUILD_MODE".to_owned(), "config".to_owned()),
        ]
        .into(),
        ..Config::default()
    });
    f.write(
        "Dockerfile",
        "FROM scratch\nARG TARGETARCH\nARG BUILDPLATFORM\nARG BUILD_MODE VERSION\nARG DEPENDENCIES\n",
    );
    let mut spec = f.spec();
    spec.build_mode = BuildMode::Debug;
    spec.platform = Some(Platform::linux_arm64());
    spec.build_args.insert("BUILD_MODE".into(), "custom".into());
    spec.dependencies = vec!["a".into()];
    f.kiln.build_image(&spec).await.unwrap();
    let request = &f.engine.requests()[0];
    let args: Vec<String> = request
        .build_args
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let host = Platform::linux_amd64();
    assert_eq!(
        args,
        [
            format!("BUILDPLATFORM={host}"),
            "BUILD_MODE=custom".to_owned(),
            "DEPENDENCIES=[\"a\"]".to_owned(),
            "FROM_CONFIG=c".to_owned(),
            "TARGETARCH=arm64".to_owned(),
            "VERSION=1".to_owned(),
        ]
    );
    assert!(request.labels.contains_key(crate::FINGERPRINT_LABEL));
    assert!(
        !request.build_args.contains_key("RUNTIME_MODE"),
        "an undeclared default is not passed"
    );
}

#[tokio::test]
async fn times_come_from_the_injected_clock() {
    let f = fixture();
    let start = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let clock = Arc::new(kiln_core::ManualClock::new(start));
    let cache = tempfile::tempdir().unwrap();
    let kiln = Kiln::builder()
        .engine(f.engine.clone())
        .env(MapEnv::new())
        .config(Config::default())
        .cache_dir(cache.path())
        .host_probe(amd64_host_with_qemu())
        .clock(clock.clone())
        .build()
        .unwrap();
    let built = kiln.build_image(&f.spec()).await.unwrap();
    assert_eq!(
        built.duration,
        std::time::Duration::ZERO,
        "the clock did not move"
    );
    let record = kiln
        .records()
        .unwrap()
        .get(built.fingerprint.as_ref().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(record.built_at, 1_700_000_000);
    clock.advance(std::time::Duration::from_secs(600));
    let plan = kiln.plan(&f.spec()).await.unwrap();
    assert!(
        plan.reason.contains("since the build 10 min ago"),
        "{}",
        plan.reason
    );
}
