//! `Kiln::run_tests` on the fakes: a test that passes, one that fails, one that times out —
//! each leaving its folder (metrics, logs, exit codes) and nothing on the runtime.

use std::sync::Arc;

use kiln_core::testing::{FakeEngine, FakeRuntime, Script};
use kiln_core::{ImageRef, MapEnv};

use super::catalog::{self, Standing};
use super::metrics::Metrics;
use super::run::RunOptions;
use super::runtime::Runtime;
use crate::bake::BakeFile;
use crate::kiln::Kiln;

const IMAGE: &str = "local/busybox:1";

struct Fixture {
    kiln: Kiln,
    runtime: Arc<FakeRuntime>,
    cache: tempfile::TempDir,
    files: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let engine = FakeEngine::new();
    engine.insert_image(
        &ImageRef::parse(IMAGE).unwrap(),
        &kiln_core::testing::image_id("busybox"),
    );
    let runtime = Arc::new(FakeRuntime::new());
    let cache = tempfile::tempdir().unwrap();
    let kiln = Kiln::builder()
        .engine(engine)
        .env(MapEnv::new())
        .cache_dir(cache.path())
        .runtime(Runtime::of(Arc::clone(&runtime)))
        .build()
        .unwrap();
    Fixture {
        kiln,
        runtime,
        cache,
        files: tempfile::tempdir().unwrap(),
    }
}

/// A bake file with one test: a server that prints `listening` and runs until stopped, and a
/// verdict client running `client`.
fn file(fixture: &Fixture, client: &Script, timeout: &str) -> BakeFile {
    let server = Script::new()
        .stdout("listening on 7000")
        .run_until_stopped();
    let argv = |script: &Script| serde_json::to_string(&script.command()).unwrap();
    let text = format!(
        r#"version = 1
[[test]]
name = "hello"
timeout = "{timeout}"
  [[test.service]]
  name = "server"
  image = "{IMAGE}"
  command = {server}
  ready = {{ log = "listening" }}
  [[test.service]]
  name = "client"
  image = "{IMAGE}"
  command = {client}
  depends_on = ["server"]
  verdict = true
"#,
        server = argv(&server),
        client = argv(client),
    );
    let path = fixture.files.path().join("kiln.toml");
    std::fs::write(&path, &text).unwrap();
    BakeFile::load(&path).unwrap()
}

#[tokio::test]
async fn a_passing_test_keeps_its_logs_and_leaves_nothing_running() {
    let fixture = fixture();
    let client = Script::new().stdout("asked").stderr("a warning").exit(0);
    let report = fixture
        .kiln
        .run_tests(&file(&fixture, &client, "30s"), RunOptions::default())
        .await
        .unwrap();
    assert!(report.passed(), "{report:#?}");
    assert_eq!(report.tests[0].result, "passed");
    assert_eq!(
        fixture.runtime.container_count(),
        0,
        "every container removed"
    );
    let metrics = Metrics::load(&report.folder).unwrap().unwrap();
    assert_eq!(metrics.phase, "done");
    assert_eq!(metrics.cleanup.containers, 2);
    assert_eq!(metrics.cleanup.networks, 1);
    let client = &metrics.tests[0].containers[1];
    assert_eq!(client.exit_code, Some(0));
    let stdout = std::fs::read_to_string(report.folder.join(&client.logs[0].path)).unwrap();
    let stderr = std::fs::read_to_string(report.folder.join(&client.logs[1].path)).unwrap();
    assert_eq!(stdout.trim(), "asked");
    assert_eq!(stderr.trim(), "a warning");
    let entries = catalog::list(&super::folder::experiments_root(fixture.cache.path()));
    assert_eq!(entries[0].standing, Standing::Ended);
    assert_eq!(entries[0].info.status, "passed");
}

#[tokio::test]
async fn a_failing_verdict_fails_the_test_with_its_exit_code() {
    let fixture = fixture();
    let client = Script::new().stdout("wrong answer").exit(3);
    let report = fixture
        .kiln
        .run_tests(&file(&fixture, &client, "30s"), RunOptions::default())
        .await
        .unwrap();
    assert!(!report.passed());
    assert_eq!(report.tests[0].result, "failed");
    assert!(
        report.tests[0].reason.contains("client exited 3"),
        "{report:#?}"
    );
    let exit: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            report
                .folder
                .join("tests/hello/containers/client/exit.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(exit["exit_code"], 3);
    assert_eq!(fixture.runtime.container_count(), 0);
}

#[tokio::test]
async fn a_verdict_that_runs_past_the_timeout_is_stopped() {
    let fixture = fixture();
    let client = Script::new().run_until_stopped();
    let report = fixture
        .kiln
        .run_tests(&file(&fixture, &client, "1s"), RunOptions::default())
        .await
        .unwrap();
    assert_eq!(report.tests[0].result, "timed-out", "{report:#?}");
    let metrics = Metrics::load(&report.folder).unwrap().unwrap();
    assert!(metrics.tests[0].containers[1].timed_out);
    assert_eq!(fixture.runtime.container_count(), 0);
}

#[tokio::test]
async fn with_two_jobs_two_tests_run_at_once() {
    let fixture = fixture();
    let slow = Script::new()
        .sleep(std::time::Duration::from_millis(800))
        .exit(0);
    let one = file(&fixture, &slow, "30s");
    let mut text = std::fs::read_to_string(&one.path).unwrap();
    let second = text
        .split("[[test]]")
        .nth(1)
        .unwrap()
        .replace("name = \"hello\"", "name = \"again\"");
    text.push_str("[[test]]");
    text.push_str(&second);
    std::fs::write(&one.path, text).unwrap();
    let both = BakeFile::load(&one.path).unwrap();
    let options = RunOptions {
        jobs: Some(2),
        ..RunOptions::default()
    };
    let report = fixture.kiln.run_tests(&both, options).await.unwrap();
    assert!(report.passed(), "{report:#?}");
    let names: Vec<&str> = report.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["hello", "again"], "reported in the file's order");
    let metrics = Metrics::load(&report.folder).unwrap().unwrap();
    let span = |test: usize| {
        let client = &metrics.tests[test].containers[1];
        (
            client.started.clone().unwrap(),
            client.ended.clone().unwrap(),
        )
    };
    let (a, b) = (span(0), span(1));
    assert!(
        a.0 < b.1 && b.0 < a.1,
        "the two clients overlapped: {a:?} {b:?}"
    );
    assert_eq!(fixture.runtime.container_count(), 0);
}

#[tokio::test]
async fn readiness_by_command_waits_for_exit_0() {
    let fixture = fixture();
    let client = Script::new().exit(0);
    for (check, passes) in [("true", true), ("false", false)] {
        let file = file(&fixture, &client, "2s");
        let text = std::fs::read_to_string(&file.path).unwrap().replace(
            "ready = { log = \"listening\" }",
            &format!("ready = {{ command = [\"{check}\"] }}"),
        );
        std::fs::write(&file.path, text).unwrap();
        let file = BakeFile::load(&file.path).unwrap();
        let report = fixture
            .kiln
            .run_tests(&file, RunOptions::default())
            .await
            .unwrap();
        assert_eq!(report.passed(), passes, "{check}: {report:#?}");
        if !passes {
            assert!(
                report.tests[0].reason.contains("`false` never exited 0"),
                "{report:#?}"
            );
        }
    }
    assert_eq!(fixture.runtime.container_count(), 0);
}

#[tokio::test]
async fn an_isolated_run_reuses_nothing_another_run_built() {
    let fixture = fixture();
    let context = fixture.files.path().join("app");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("Dockerfile"), "FROM scratch\nCOPY . /app/\n").unwrap();
    let path = fixture.files.path().join("kiln.toml");
    let text = format!(
        "version = 1\n[[image]]\nname = \"app\"\ncontext = \"app\"\n[[test]]\nname = \"t\"\n  [[test.service]]\n  name = \"main\"\n  image = \"app\"\n  command = {}\n  verdict = true\n",
        serde_json::to_string(&Script::new().exit(0).command()).unwrap()
    );
    std::fs::write(&path, text).unwrap();
    let file = BakeFile::load(&path).unwrap();
    let outcome = |report: &super::run::RunReport| report.bake.cells[0].outcome.to_string();
    let first = fixture
        .kiln
        .run_tests(&file, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(outcome(&first), "built");
    let second = fixture
        .kiln
        .run_tests(&file, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(outcome(&second), "reused");
    let isolated = RunOptions {
        isolated: true,
        ..RunOptions::default()
    };
    let third = fixture.kiln.run_tests(&file, isolated).await.unwrap();
    assert_eq!(
        outcome(&third),
        "built",
        "its own records: nothing to reuse"
    );
    assert!(third.passed(), "{third:#?}");
    assert!(third.folder.join("cache").is_dir());
}

#[tokio::test]
async fn an_overlap_answered_at_the_create_is_retried_on_another_block() {
    let fixture = fixture();
    fixture.runtime.overlap_on_network_create(1);
    let experiment = super::session::Experiment::begin(
        Runtime::of(Arc::clone(&fixture.runtime)),
        fixture.cache.path(),
        "overlap",
        super::session::ExperimentOptions::default(),
    )
    .unwrap();
    let network = experiment
        .create_network("t", &crate::bake::SubnetChoice::Pool)
        .await
        .unwrap();
    let subnet: ipnet::Ipv4Net = network.subnet.unwrap().parse().unwrap();
    assert!(
        super::subnet::SubnetPool::default()
            .range()
            .contains(&subnet)
    );
    let cleanup = experiment.finish("passed").await.unwrap();
    assert_eq!(cleanup.networks, 1);
}

#[tokio::test]
async fn a_clashing_fixed_subnet_names_who_holds_it() {
    let fixture = fixture();
    let begin = |name: &str| {
        super::session::Experiment::begin(
            Runtime::of(Arc::clone(&fixture.runtime)),
            fixture.cache.path(),
            name,
            super::session::ExperimentOptions::default(),
        )
        .unwrap()
    };
    let fixed = crate::bake::SubnetChoice::Fixed("10.77.0.0/24".to_owned());
    let first = begin("first");
    let held = first.create_network("t", &fixed).await.unwrap();
    let second = begin("second");
    let error = second
        .create_network("t", &fixed)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("10.77.0.0/24"), "{error}");
    assert!(
        error.contains(&held.name) && error.contains(first.id()) && error.contains("owner alive"),
        "{error}"
    );
    second.finish("failed").await.unwrap();
    first.finish("passed").await.unwrap();
}
