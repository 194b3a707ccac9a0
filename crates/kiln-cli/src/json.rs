//! The JSON objects the commands print with `--json`, one type each. Their field names are a
//! contract with the scripts that read them (README, docs/ARCHITECTURE.md): a snapshot below
//! pins each one.
//!
//! `build` prints a [`kiln::BuildReport`], `plan` a [`kiln::Plan`], `cache stats` a
//! [`kiln::CacheStats`], `cache prune` a [`kiln::PruneReport`], `images ls` a
//! [`kiln::ImageListing`], `images prune` a [`kiln::ImagePruneReport`] and `doctor` a
//! [`kiln::Diagnosis`]; the others are defined here.

use kiln::{Error, ImageRef, Source};
use serde::Serialize;

/// `kiln exists REF --json`: the daemon's (or the cache's) answer.
#[derive(Debug, Serialize)]
pub struct Exists {
    /// The reference asked about.
    #[serde(rename = "ref")]
    pub reference: ImageRef,
    /// Whether the image exists.
    pub exists: bool,
    /// Its id, when it exists.
    pub image_id: Option<String>,
    /// Who answered: `daemon` or `cache`.
    pub source: Source,
    /// Whether the answer is a stale cached one (the daemon is unreachable).
    pub stale: bool,
}

/// `kiln exists REF --remote --json`: the registry's answer.
#[derive(Debug, Serialize)]
pub struct RemoteExists {
    /// The reference asked about.
    #[serde(rename = "ref")]
    pub reference: ImageRef,
    /// Whether the registry holds it.
    pub exists: bool,
    /// Its manifest digest, when it exists.
    pub digest: Option<String>,
    /// The platforms of an image index (empty for a single image).
    pub platforms: Vec<String>,
    /// Always `registry`.
    pub source: &'static str,
}

/// `kiln push REF --json`.
#[derive(Debug, Serialize)]
pub struct Pushed {
    /// The reference pushed.
    #[serde(rename = "ref")]
    pub reference: ImageRef,
    /// The manifest digest the registry stored.
    pub digest: String,
    /// The manifest's size in bytes.
    pub size: u64,
}

/// `kiln pull REF --json`.
#[derive(Debug, Serialize)]
pub struct Pulled {
    /// The reference pulled.
    #[serde(rename = "ref")]
    pub reference: ImageRef,
    /// The manifest digest, when the daemon reported one.
    pub digest: Option<String>,
    /// The local image id.
    pub image_id: String,
}

/// `kiln cache clear --json`.
#[derive(Debug, Serialize)]
pub struct Cleared {
    /// Always `true` (a failure is an error object).
    pub cleared: bool,
    /// The cache directory emptied, if there is one.
    pub dir: Option<String>,
}

/// Any failed command with `--json`: `{"error": {...}}`.
#[derive(Debug, Serialize)]
pub struct Failure {
    /// What went wrong.
    pub error: FailureDetail,
}

/// The error object of a [`Failure`].
#[derive(Debug, Serialize)]
pub struct FailureDetail {
    /// The error's class: `invalid_input`, `unreachable`, `build_failed`, `auth_refused`,
    /// `not_found` or `engine`.
    pub kind: &'static str,
    /// The error in a sentence.
    pub message: String,
    /// The exit code the command returns.
    pub exit_code: u8,
    /// A failed build's step (`null` when the builder named none); absent for other errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<Option<String>>,
    /// A failed build's last output lines; absent for other errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_tail: Option<Vec<String>>,
}

impl Failure {
    /// The object for `error`, of class `kind`, ending the command with `exit_code`.
    pub fn new(error: &Error, kind: &'static str, exit_code: u8) -> Self {
        let (step, log_tail) = match error {
            Error::BuildFailed { step, log_tail, .. } => {
                (Some(step.clone()), Some(log_tail.clone()))
            }
            _ => (None, None),
        };
        Failure {
            error: FailureDetail {
                kind,
                message: error.to_string(),
                exit_code,
                step,
                log_tail,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kiln::{
        BuildMode, BuildReport, BuilderKind, CacheStats, FailedImage, ImageListing,
        ImagePruneReport, KeepReason, KeptImage, KilnImage, LevelStats, Outcome, Platform,
    };

    use super::*;

    fn reference(text: &str) -> ImageRef {
        ImageRef::parse(text).unwrap()
    }

    #[test]
    fn exists_from_the_daemon_and_a_stale_cache() {
        insta::assert_json_snapshot!(
            "exists",
            [
                Exists {
                    reference: reference("app:1"),
                    exists: true,
                    image_id: Some("sha256:0123456789ab".into()),
                    source: Source::Daemon,
                    stale: false,
                },
                Exists {
                    reference: reference("localhost:5000/app:2"),
                    exists: false,
                    image_id: None,
                    source: Source::Cache,
                    stale: true,
                },
            ]
        );
    }

    #[test]
    fn exists_in_the_registry() {
        insta::assert_json_snapshot!(
            "remote_exists",
            RemoteExists {
                reference: reference("localhost:5000/app:1"),
                exists: true,
                digest: Some("sha256:feed".into()),
                platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
                source: "registry",
            }
        );
    }

    #[test]
    fn push_and_pull() {
        insta::assert_json_snapshot!(
            "pushed",
            Pushed {
                reference: reference("localhost:5000/app:1"),
                digest: "sha256:feed".into(),
                size: 528,
            }
        );
        insta::assert_json_snapshot!(
            "pulled",
            Pulled {
                reference: reference("localhost:5000/app:1"),
                digest: Some("sha256:feed".into()),
                image_id: "sha256:beef".into(),
            }
        );
    }

    #[test]
    fn cache_clear_and_stats() {
        insta::assert_json_snapshot!(
            "cleared",
            Cleared {
                cleared: true,
                dir: Some("/home/u/.cache/kiln".into()),
            }
        );
        let level = |entries| LevelStats {
            hits: 3,
            misses: 1,
            hit_rate: Some(0.75),
            entries,
            bytes: 2048,
            age_s: Some(60),
            fresh: entries,
        };
        let stats = CacheStats {
            l1: level(2),
            l2: level(1),
        };
        insta::assert_json_snapshot!("cache_stats", stats);
    }

    #[test]
    fn cache_prune() {
        use kiln::{PruneReason, PruneReport, PrunedRecord};
        let report = PruneReport {
            dry_run: true,
            removed: vec![
                PrunedRecord {
                    fingerprint: "0".repeat(64),
                    tags: vec![],
                    built_at: None,
                    bytes: 12,
                    reason: PruneReason::Corrupt,
                },
                PrunedRecord {
                    fingerprint: "ab".repeat(32),
                    tags: vec!["hello:latest".into()],
                    built_at: Some(1_700_000_000),
                    bytes: 4096,
                    reason: PruneReason::Age,
                },
            ],
            orphans: 1,
            locks: 2,
            locks_held: 1,
            freed_bytes: 4200,
            kept: 3,
            kept_bytes: 9000,
        };
        insta::assert_json_snapshot!("cache_prune", report);
    }

    /// An image of the images snapshots: `seed` repeated makes its id and fingerprint.
    fn kiln_image(seed: char, name: Option<&str>, tags: &[&str], containers: u32) -> KilnImage {
        KilnImage {
            id: kiln_core::ImageId::parse(&format!("sha256:{}", seed.to_string().repeat(64)))
                .unwrap(),
            tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
            name: name.map(str::to_owned),
            fingerprint: kiln::Fingerprint::parse(&seed.to_string().repeat(64)),
            size_bytes: 4096,
            created: 1_700_000_000,
            age_s: 10_800,
            containers,
        }
    }

    #[test]
    fn images_ls() {
        insta::assert_json_snapshot!(
            "images_ls",
            ImageListing {
                images: vec![
                    kiln_image('a', Some("app:latest"), &["app:latest"], 0),
                    kiln_image('b', Some("app:latest"), &[], 2),
                    kiln_image('c', None, &[], 0),
                ],
            }
        );
    }

    #[test]
    fn images_prune() {
        let failed = FailedImage {
            image: kiln_image('d', Some("app:latest"), &[], 0),
            error: "conflict: unable to delete dddddddddddd (must be forced) - image is being \
                    used by stopped container 0123456789ab"
                .into(),
        };
        let report = ImagePruneReport {
            dry_run: false,
            keep: 1,
            removed: vec![kiln_image('e', Some("app:latest"), &[], 0)],
            kept: vec![
                KeptImage {
                    image: kiln_image('a', Some("app:latest"), &["app:latest"], 0),
                    reason: KeepReason::Newest,
                    needed_by: None,
                },
                KeptImage {
                    image: kiln_image('b', Some("app:latest"), &[], 2),
                    reason: KeepReason::InUse,
                    needed_by: None,
                },
                KeptImage {
                    image: kiln_image('f', Some("base:latest"), &[], 0),
                    reason: KeepReason::Needed,
                    needed_by: kiln_core::ImageId::parse(&format!("sha256:{}", "a".repeat(64)))
                        .ok(),
                },
            ],
            failed: vec![failed],
            removed_bytes: 4096,
            records_removed: 1,
            warnings: vec![],
        };
        insta::assert_json_snapshot!("images_prune", report);
    }

    #[test]
    fn a_build_report() {
        let mut report = BuildReport::new(
            reference("hello:latest"),
            "sha256:0123456789abcdef".into(),
            Outcome::Built,
            Platform::linux_amd64(),
        );
        report.reason = "no earlier build of these inputs".into();
        report.builder = BuilderKind::Classic;
        report.builder_reason = "the Dockerfile needs nothing BuildKit offers".into();
        report.build_mode = BuildMode::Default;
        report.size_bytes = 4096;
        report.duration = Duration::from_millis(1500);
        insta::assert_json_snapshot!("build_report", report);
    }

    #[tokio::test]
    async fn a_plan() {
        use std::sync::Arc;

        use kiln::{Config, Kiln, MapEnv, SpecInput};
        use kiln_core::testing::FakeEngine;
        use kiln_platform::FakeProbe;

        let context = tempfile::tempdir().unwrap();
        std::fs::write(
            context.path().join("Dockerfile"),
            "FROM scratch\nCOPY a.txt /\n",
        )
        .unwrap();
        std::fs::write(context.path().join("a.txt"), "a\n").unwrap();
        let cache = tempfile::tempdir().unwrap();
        let kiln = Kiln::builder()
            .engine(FakeEngine::new())
            .env(MapEnv::new())
            .config(Config::default())
            .cache_dir(cache.path())
            .host_probe(Arc::new(FakeProbe::new("x86_64")))
            .build()
            .unwrap();
        let mut input = SpecInput::new(context.path());
        input.name = Some("hello".into());
        let spec = input.validate(&MapEnv::new()).unwrap();
        let plan = kiln.plan(&spec).await.unwrap();
        // The fingerprint covers file modes, which the umask decides: shown as its shape.
        let mut json = serde_json::to_value(&plan).unwrap();
        let fingerprint = json["fingerprint"].as_str().unwrap();
        assert_eq!(fingerprint, plan.fingerprint.to_string());
        assert!(fingerprint.len() == 64 && fingerprint.bytes().all(|b| b.is_ascii_hexdigit()));
        json["fingerprint"] = "[64 hex digits]".into();
        insta::assert_json_snapshot!("plan", json);
    }

    #[test]
    fn failures() {
        let failed = Error::BuildFailed {
            step: Some("Step 2/2 : RUN false".into()),
            message: "returned a non-zero code: 1".into(),
            log_tail: vec!["oops".into()],
        };
        let no_step = Error::BuildFailed {
            step: None,
            message: "the daemon refused".into(),
            log_tail: vec![],
        };
        let invalid = Error::invalid_input("platform", "linux/sparc99", "a platform");
        insta::assert_json_snapshot!(
            "failures",
            [
                Failure::new(&failed, "build_failed", 4),
                Failure::new(&no_step, "build_failed", 4),
                Failure::new(&invalid, "invalid_input", 2),
            ]
        );
    }
}
