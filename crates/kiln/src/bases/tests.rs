//! Base tiers through bake against the in-memory engine: tiers built once and first, claims
//! checked after the build (size, platform, probes through a recording container runtime),
//! failures named, verifications recorded and reused, a changed tier's dependants rebuilt
//! with the reason, and `list_bases`/`verify_bases`.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kiln_core::testing::{FakeEngine, FakeRuntime};
use kiln_core::{
    ContainerDetails, ContainerId, ContainerRuntime, ContainerSpec, ContainerSummary, Error,
    ExitStatus, LabelFilter, LogChunk, LogOptions, LogSource, LogStream, MapEnv, Platform, Removal,
    Result,
};
use kiln_platform::FakeProbe;

use super::TierStatus;
use crate::bake::{BakeFile, BakeOptions, CellAction, CellOutcome};
use crate::experiment::runtime::Runtime;
use crate::{Config, Kiln};

/// Containers whose command's exit code is looked up in a table (0 when absent); every spec
/// created is kept, and every container is removed or counted as left.
#[derive(Debug, Default)]
struct ProbeRuntime {
    codes: BTreeMap<String, i64>,
    created: Mutex<Vec<ContainerSpec>>,
    live: Mutex<BTreeMap<String, String>>,
}

impl ProbeRuntime {
    fn with_code(mut self, command: &str, code: i64) -> Self {
        self.codes.insert(command.to_owned(), code);
        self
    }

    fn commands(&self) -> Vec<String> {
        self.created
            .lock()
            .unwrap()
            .iter()
            .map(|spec| spec.command.join(" "))
            .collect()
    }

    fn left(&self) -> usize {
        self.live.lock().unwrap().len()
    }

    fn command_of(&self, id: &ContainerId) -> Result<String> {
        self.live
            .lock()
            .unwrap()
            .get(id.as_str())
            .cloned()
            .ok_or_else(|| Error::ContainerNotFound {
                container: id.to_string(),
            })
    }
}

#[async_trait]
impl ContainerRuntime for ProbeRuntime {
    async fn create(&self, spec: ContainerSpec) -> Result<ContainerId> {
        let mut created = self.created.lock().unwrap();
        let id = ContainerId::parse(&format!("{:064x}", created.len() + 1))?;
        assert_eq!(
            spec.entrypoint.as_deref(),
            Some(&["/bin/sh".to_owned(), "-c".to_owned()][..])
        );
        assert_eq!(
            spec.labels.get("dev.kiln.managed").map(String::as_str),
            Some("true")
        );
        self.live
            .lock()
            .unwrap()
            .insert(id.to_string(), spec.command.join(" "));
        created.push(spec);
        Ok(id)
    }

    async fn start(&self, id: &ContainerId) -> Result<()> {
        self.command_of(id).map(|_| ())
    }

    async fn stop(&self, _: &ContainerId, _: Duration) -> Result<()> {
        Ok(())
    }

    async fn kill(&self, _: &ContainerId) -> Result<()> {
        Ok(())
    }

    async fn wait(&self, id: &ContainerId) -> Result<ExitStatus> {
        let command = self.command_of(id)?;
        Ok(ExitStatus {
            code: self.codes.get(&command).copied().unwrap_or(0),
            oom_killed: false,
        })
    }

    async fn inspect(&self, _: &ContainerId) -> Result<Option<ContainerDetails>> {
        Ok(None)
    }

    async fn logs(&self, id: &ContainerId, _: LogOptions) -> Result<LogStream> {
        let command = self.command_of(id)?;
        let chunk = LogChunk {
            stream: LogSource::Stderr,
            bytes: format!("sh: {command}: not found\n").into_bytes(),
        };
        Ok(Box::pin(futures_util::stream::iter([Ok(chunk)])))
    }

    async fn remove(&self, id: &ContainerId, _: bool) -> Result<Removal> {
        Ok(match self.live.lock().unwrap().remove(id.as_str()) {
            Some(_) => Removal::Removed,
            None => Removal::NotFound,
        })
    }

    async fn list(&self, _: &LabelFilter) -> Result<Vec<ContainerSummary>> {
        Ok(Vec::new())
    }

    async fn exec(&self, _: &ContainerId, _: Vec<String>) -> Result<i64> {
        Ok(0)
    }
}

struct Fixture {
    engine: FakeEngine,
    containers: Arc<ProbeRuntime>,
    kiln: Kiln,
    dir: tempfile::TempDir,
    _cache: tempfile::TempDir,
}

const CATALOGUE: &str = r#"version = 1
capabilities = ["runtime", "networking", "debugging", "profiling"]

[[tier]]
name = "runtime"
context = "runtime"
capabilities = ["runtime", "networking"]
max_size_mb = 1
platforms = ["linux/amd64"]
probes = { networking = "nc --help" }

[[tier]]
name = "dev"
context = "dev"
from = "runtime"
capabilities = ["+debugging"]
max_size_mb = 2
probes = { debugging = "gdb --version" }
"#;

const KILN_TOML: &str = r#"version = 1
[bases]
catalogue = "bases/catalogue.toml"

[[image]]
name = "server"
context = "server"
base = { needs = ["networking"] }

[[image]]
name = "tester"
context = "tester"
base = { needs = ["debugging"] }

[[image]]
name = "client"
context = "client"
base = { needs = ["networking"] }
"#;

fn write(root: &Path, path: &str, contents: &str) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

fn fixture(containers: ProbeRuntime) -> Fixture {
    let engine = FakeEngine::new();
    let cache = tempfile::tempdir().unwrap();
    let containers = Arc::new(containers);
    let kiln = Kiln::builder()
        .engine(engine.clone())
        .env(MapEnv::new())
        .config(Config::default())
        .cache_dir(cache.path())
        .host_probe(Arc::new(FakeProbe::new("x86_64")))
        .runtime(Runtime {
            containers: Arc::clone(&containers) as Arc<dyn ContainerRuntime>,
            networks: Arc::new(FakeRuntime::new()),
        })
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "bases/catalogue.toml", CATALOGUE);
    write(root, "bases/runtime/Dockerfile", "FROM scratch\nCOPY . /\n");
    write(root, "bases/runtime/etc/motd", "hello\n");
    write(
        root,
        "bases/dev/Dockerfile",
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY . /\n",
    );
    for image in ["server", "tester", "client"] {
        write(
            root,
            &format!("{image}/Dockerfile"),
            &format!("ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\nLABEL image={image}\n"),
        );
    }
    write(root, "kiln.toml", KILN_TOML);
    Fixture {
        engine,
        containers,
        kiln,
        dir,
        _cache: cache,
    }
}

impl Fixture {
    fn file(&self) -> BakeFile {
        BakeFile::load(&self.dir.path().join("kiln.toml")).unwrap()
    }
}

#[tokio::test]
async fn tiers_build_once_first_and_their_claims_are_checked() {
    let fixture = fixture(ProbeRuntime::default());
    let file = fixture.file();
    let report = fixture
        .kiln
        .bake(&file, BakeOptions::default())
        .await
        .unwrap();
    assert!(report.summary.succeeded, "{report:#?}");
    let outcomes: Vec<(&str, CellOutcome)> = report
        .cells
        .iter()
        .map(|cell| (cell.id.as_str(), cell.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("base-runtime", CellOutcome::Built),
            ("base-dev", CellOutcome::Built),
            ("server", CellOutcome::Built),
            ("tester", CellOutcome::Built),
            ("client", CellOutcome::Built),
        ]
    );
    assert_eq!(
        fixture.engine.calls().build,
        5,
        "each tier once, though two images share one"
    );
    let server = report.cell("server").unwrap();
    assert_eq!(server.base.as_ref().unwrap().tier, "runtime");
    assert_eq!(
        report.cell("tester").unwrap().base.as_ref().unwrap().tier,
        "dev"
    );
    // The tier reached the image as BASE_IMAGE, pinned by the tier image's id.
    let requests = fixture.engine.requests();
    let runtime_id = report
        .cell("base-runtime")
        .unwrap()
        .image_id
        .clone()
        .unwrap();
    let server_request = requests
        .iter()
        .find(|request| {
            request
                .tags
                .iter()
                .any(|tag| tag.familiar() == "server:latest")
        })
        .unwrap();
    assert_eq!(
        server_request.build_args["BASE_IMAGE"],
        format!(
            "kiln-pin/base-runtime:{}",
            runtime_id.trim_start_matches("sha256:")
        )
    );
    // Each tier's probes ran, its own and the inherited one, and no container was left.
    assert_eq!(
        fixture.containers.commands(),
        ["nc --help", "gdb --version", "nc --help"]
    );
    assert_eq!(fixture.containers.left(), 0);
    let verification = report
        .cell("base-dev")
        .unwrap()
        .verification
        .as_ref()
        .unwrap();
    assert!(verification.passed());
    let kinds: Vec<String> = verification
        .checks
        .iter()
        .map(|check| check.claim.clone())
        .collect();
    assert_eq!(
        kinds,
        [
            "size within 2 MB",
            "built for linux/amd64",
            "debugging",
            "networking"
        ]
    );

    // Again: every cell reused, and the recorded verifications stand for the same images.
    let again = fixture
        .kiln
        .bake(&file, BakeOptions::default())
        .await
        .unwrap();
    assert!(
        again
            .cells
            .iter()
            .all(|cell| cell.outcome == CellOutcome::Reused),
        "{again:#?}"
    );
    assert_eq!(fixture.containers.commands().len(), 3, "no probe ran again");
    assert!(
        again
            .cell("base-runtime")
            .unwrap()
            .verification
            .as_ref()
            .is_some_and(|verification| verification.passed())
    );
}

#[tokio::test]
async fn a_failed_probe_fails_the_tier_naming_it_and_skips_its_dependants() {
    let fixture = fixture(ProbeRuntime::default().with_code("gdb --version", 127));
    let options = BakeOptions {
        on_failure: crate::bake::OnFailure::KeepGoing,
        ..BakeOptions::default()
    };
    let report = fixture.kiln.bake(&fixture.file(), options).await.unwrap();
    assert!(!report.summary.succeeded);
    let dev = report.cell("base-dev").unwrap();
    assert_eq!(dev.outcome, CellOutcome::Failed);
    assert_eq!(
        dev.reason,
        "base tier dev does not hold its claim: probe debugging (`gdb --version`): exit code 127"
    );
    assert_eq!(dev.error_kind, Some(kiln_core::ErrorKind::BuildFailed));
    assert!(
        dev.fingerprint.is_some() && dev.image_id.is_some(),
        "the image that failed its claims is named"
    );
    let failed = dev.verification.as_ref().unwrap();
    assert_eq!(failed.failures().count(), 1);
    assert_eq!(
        failed.failures().next().unwrap().output,
        ["sh: gdb --version: not found"]
    );
    assert_eq!(report.cell("tester").unwrap().outcome, CellOutcome::Skipped);
    assert_eq!(report.cell("server").unwrap().outcome, CellOutcome::Built);
    assert_eq!(fixture.containers.left(), 0);
}

#[tokio::test]
async fn a_tier_over_its_size_limit_fails() {
    let fixture = fixture(ProbeRuntime::default());
    write(
        fixture.dir.path(),
        "bases/runtime/big",
        &"x".repeat(1_200_000),
    );
    let report = fixture
        .kiln
        .bake(&fixture.file(), BakeOptions::default())
        .await
        .unwrap();
    let runtime = report.cell("base-runtime").unwrap();
    assert_eq!(runtime.outcome, CellOutcome::Failed);
    assert!(
        runtime
            .reason
            .starts_with("base tier runtime does not hold its claim: size within 1 MB: found 1."),
        "{}",
        runtime.reason
    );
}

#[tokio::test]
async fn a_changed_tier_rebuilds_its_dependants_and_the_plan_names_the_file() {
    let fixture = fixture(ProbeRuntime::default());
    let file = fixture.file();
    fixture
        .kiln
        .bake(&file, BakeOptions::default())
        .await
        .unwrap();
    write(fixture.dir.path(), "bases/runtime/etc/motd", "changed\n");
    let plans = fixture
        .kiln
        .plan_all(&file, &[], None, false)
        .await
        .unwrap();
    let plan_of = |id: &str| plans.iter().find(|plan| plan.id.as_str() == id).unwrap();
    assert_eq!(plan_of("base-runtime").action, CellAction::Build);
    assert_eq!(
        plan_of("base-runtime").reason,
        "1 change since the last build of base-runtime:latest: file etc/motd changed"
    );
    assert_eq!(plan_of("base-runtime").tier.as_deref(), Some("runtime"));
    assert_eq!(
        plan_of("base-dev").reason,
        "tier runtime changed: file etc/motd changed"
    );
    assert_eq!(
        plan_of("server").reason,
        "tier runtime changed: file etc/motd changed"
    );
    assert_eq!(
        plan_of("tester").reason,
        "tier dev changed: tier runtime changed: file etc/motd changed"
    );
    assert_eq!(plan_of("server").base.as_ref().unwrap().tier, "runtime");

    let report = fixture
        .kiln
        .bake(&file, BakeOptions::default())
        .await
        .unwrap();
    assert!(
        report
            .cells
            .iter()
            .all(|cell| cell.outcome == CellOutcome::Built),
        "{report:#?}"
    );
    assert_eq!(
        report.cell("client").unwrap().reason,
        "tier runtime changed: file etc/motd changed"
    );
}

#[tokio::test]
async fn list_and_verify_say_what_was_proven() {
    let fixture = fixture(ProbeRuntime::default());
    let file = fixture.file();
    let listed = fixture.kiln.list_bases(&file).await.unwrap();
    let statuses: Vec<(String, TierStatus)> = listed
        .tiers
        .iter()
        .flat_map(|tier| {
            tier.builds
                .iter()
                .map(|build| (build.reference.clone(), build.status))
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (
                "base-runtime:linux-amd64".to_owned(),
                TierStatus::Unverified
            ),
            ("base-dev:linux-amd64".to_owned(), TierStatus::Unverified),
        ]
    );
    assert_eq!(listed.tiers[1].unprobed, ["runtime"]);

    let verified = fixture
        .kiln
        .verify_bases(&file, None, BakeOptions::default())
        .await
        .unwrap();
    assert!(verified.succeeded());
    let dev = &verified.tiers[1].builds[0];
    assert_eq!(dev.status, TierStatus::Verified);
    assert_eq!(dev.verified, ["debugging", "networking"]);
    assert_eq!(dev.platform, Some(Platform::linux_amd64()));

    let listed = fixture.kiln.list_bases(&file).await.unwrap();
    assert!(
        listed
            .tiers
            .iter()
            .all(|tier| tier.builds[0].status == TierStatus::Verified),
        "{listed:#?}"
    );
    // verify probes again, even for images whose verification is recorded.
    fixture
        .kiln
        .verify_bases(&file, None, BakeOptions::default())
        .await
        .unwrap();
    assert_eq!(fixture.containers.commands().len(), 6);

    let refused = fixture
        .kiln
        .verify_bases(&file, Some(Platform::linux_arm64()), BakeOptions::default())
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("invalid platform \"linux/arm64\": expected a platform a tier of"),
        "{refused}"
    );
}

/// `value` with what varies between runs masked: fingerprints, image ids, times, sizes and
/// the temporary catalogue's path.
fn masked(mut value: serde_json::Value) -> serde_json::Value {
    match &mut value {
        serde_json::Value::Object(map) => {
            for (key, entry) in map.iter_mut() {
                let mask = match key.as_str() {
                    "fingerprint" | "image_id" | "checked_at" | "catalogue" | "size_bytes" => {
                        !entry.is_null()
                    }
                    _ => false,
                };
                if mask {
                    *entry = serde_json::json!(format!("<{key}>"));
                } else {
                    *entry = masked(entry.take());
                }
            }
            if map.get("kind").and_then(|kind| kind.as_str()) == Some("size") {
                map.insert("found".to_owned(), serde_json::json!("<size>"));
            }
        }
        serde_json::Value::Array(items) => {
            for item in items.iter_mut() {
                *item = masked(item.take());
            }
        }
        _ => {}
    }
    value
}

/// The JSON of `kiln bases verify --json` (and `list`, the same shape), pinned: scripts read it.
#[tokio::test]
async fn the_listing_json_schema() {
    let fixture = fixture(ProbeRuntime::default().with_code("gdb --version", 1));
    let verified = fixture
        .kiln
        .verify_bases(&fixture.file(), None, BakeOptions::default())
        .await
        .unwrap();
    assert!(!verified.succeeded());
    insta::assert_json_snapshot!(masked(serde_json::json!(verified)));
}

/// The `base` and `tier` fields `kiln plan --all --json` adds to a cell, pinned.
#[tokio::test]
async fn the_plan_json_names_each_cells_tier() {
    let fixture = fixture(ProbeRuntime::default());
    let plans = fixture
        .kiln
        .plan_all(&fixture.file(), &["tester".to_owned()], None, false)
        .await
        .unwrap();
    insta::assert_json_snapshot!(masked(serde_json::json!(plans)));
}
