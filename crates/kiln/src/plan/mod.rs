//! The plan: fingerprint a spec's inputs and decide to reuse or build, saying why.
//!
//! Split by concern: `scan.rs` reads the context (I/O), `observe.rs` asks the daemon and the
//! records, `decide.rs` decides as a pure function of what was observed, `explain.rs` words
//! the decision. This file puts the inputs manifest together and runs the steps in order.

mod check;
mod decide;
mod explain;
mod observe;
mod scan;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use kiln_context::PreparedContext;
use kiln_context::dockerfile::Dockerfile;
use kiln_context::inputs::hashing::sha256_hex;
use kiln_core::fingerprint::{ArgInput, FINGERPRINT_SCHEMA, InputStats};
use kiln_core::{
    BuildMode, BuildReport, BuildSpec, BuilderKind, Change, Error, ErrorKind, EventSink,
    Fingerprint, ImageEngine, ImageId, ImageRef, InputsManifest, Outcome, ParentInput, Platform,
    Result,
};
use kiln_platform::{Host, Runnable};
use serde::Serialize;

use self::check::{check_base_images_exist, check_dockerfile};
pub(crate) use self::decide::{Reuse, Verdict};
pub(crate) use self::explain::ago;
use self::explain::{explain, needs_history};
use self::observe::{Lookups, changes_since_last, observe, resolve_base_images};
use self::scan::scan;
use crate::builder::{Situation, choose};
use crate::kiln::Kiln;
use crate::resolve::{build_args, resolve};

/// What the plan decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Build the image.
    Build,
    /// Reuse the image recorded for these inputs.
    Reuse,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Build => "build",
            Action::Reuse => "reuse",
        })
    }
}

/// A decision and its explanation, before anything is built.
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// Build or reuse.
    pub action: Action,
    /// Why, in a sentence.
    pub reason: String,
    /// What differs from the last recorded build of the tag.
    pub changes: Vec<Change>,
    /// The fingerprint of the inputs.
    pub fingerprint: Fingerprint,
    /// The primary tag.
    pub tag: ImageRef,
    /// Every tag.
    pub tags: Vec<ImageRef>,
    /// The builder that builds (or built) it.
    pub builder: BuilderKind,
    /// Why that builder.
    pub builder_reason: String,
    /// The target platform.
    pub platform: Platform,
    /// The build mode after any fallback.
    pub build_mode: BuildMode,
    /// The work the fingerprint took.
    pub inputs: InputStats,
    /// The image recorded for these inputs, when reused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<ImageId>,
    /// Warnings collected while planning.
    pub warnings: Vec<String>,
    /// Whether the daemon answered (when not, the decision rests on records and the cache).
    pub daemon: DaemonState,
    #[serde(skip)]
    pub(crate) work: PlanWork,
}

impl Plan {
    /// The report of carrying this plan out: the image `image_id`, reached by `outcome`.
    pub(crate) fn report(&self, image_id: impl Into<String>, outcome: Outcome) -> BuildReport {
        let mut report = BuildReport::new(
            self.tag.clone(),
            image_id.into(),
            outcome,
            self.platform.clone(),
        );
        report.tags = self.tags.clone();
        report.reason = self.reason.clone();
        report.fingerprint = Some(self.fingerprint.clone());
        report.changes = self.changes.clone();
        report.inputs = Some(self.inputs);
        report.builder = self.builder;
        report.builder_reason = self.builder_reason.clone();
        report.build_mode = self.build_mode;
        report.warnings = self.warnings.clone();
        report
    }
}

/// What executing the plan needs, kept out of its JSON.
#[derive(Debug)]
pub(crate) struct PlanWork {
    pub(crate) dockerfile: Dockerfile,
    /// Why the target cannot run on this host, when it cannot (for a failed RUN step).
    pub(crate) emulation_hint: Option<String>,
    pub(crate) context: Arc<PreparedContext>,
    pub(crate) manifest: InputsManifest,
    pub(crate) build_args: BTreeMap<String, String>,
    /// The decision, with the record when it is a reuse.
    pub(crate) verdict: Verdict,
}

impl Kiln {
    /// Decides what building `spec` would do, and why, without building. When the daemon
    /// cannot be reached the decision is made from the records and cached answers, and the
    /// plan says so.
    pub async fn plan(&self, spec: &BuildSpec) -> Result<Plan> {
        if spec.platforms.len() > 1 {
            return Err(kiln_core::Error::invalid_input(
                "--platform",
                spec.platforms
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                "one platform: a plan explains one build (plan each platform on its own)",
            ));
        }
        let redactor = crate::secrets::Redactor::of(spec);
        match plan(self, spec, &EventSink::discard(), PlanMode::Explain).await {
            Ok(mut plan) => {
                plan.warnings = redactor.texts(&plan.warnings);
                Ok(plan)
            }
            Err(error) => Err(redactor.error(error)),
        }
    }
}

/// What the plan is for: a build needs the daemon now; an explanation can do without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlanMode {
    /// Fail as soon as the daemon is known to be unreachable.
    Build,
    /// Decide from records and cached answers when the daemon is unreachable.
    Explain,
}

/// Whether the daemon answered while planning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum DaemonState {
    /// It answered.
    Reachable,
    /// It did not: the decision comes from records and cached answers.
    Unreachable {
        /// Why it could not be reached.
        error: String,
    },
}

/// Plans `spec`: fingerprints its inputs and decides, without building anything.
pub(crate) async fn plan(
    kiln: &Kiln,
    spec: &BuildSpec,
    events: &EventSink,
    mode: PlanMode,
) -> Result<Plan> {
    let host = Host::detect(kiln.host_probe())?;
    let resolved = resolve(kiln, spec, &host.platform)?;
    kiln_docker::build_query::check_build_args(&spec.build_args)?;
    let mut warnings = resolved.warnings.clone();

    // The context is walked and hashed while the daemon is asked whether it is there; a build
    // fails when it is not, once the scan has shown whether the input itself is wrong.
    let scanning = {
        let spec = spec.clone();
        let records = kiln.records().cloned();
        tokio::task::spawn_blocking(move || scan(&spec, records.as_ref()))
    };
    let mut buildkit_available = true;
    let daemon = match kiln.engine().info().await {
        Ok(info) => {
            buildkit_available = info.buildkit;
            DaemonState::Reachable
        }
        Err(error) if mode == PlanMode::Explain && error.kind() == ErrorKind::Unreachable => {
            warnings.push(format!(
                "{error}; deciding from the records and cached answers only"
            ));
            DaemonState::Unreachable {
                error: error.to_string(),
            }
        }
        Err(error) => {
            // Input errors win: a bad context or Dockerfile is reported as such (exit 2) even
            // when the daemon is down. The scan of a missing context ends at once.
            let scanned = scanning
                .await
                .map_err(|error| Error::internal_from("scan the build context", error))??;
            let dockerfile =
                Dockerfile::parse(&String::from_utf8_lossy(scanned.context.dockerfile()));
            check_dockerfile(
                &dockerfile,
                scanned.context.dockerfile_path(),
                spec.target.as_deref(),
            )?;
            return Err(error);
        }
    };
    let online = daemon == DaemonState::Reachable;
    let scanned = scanning
        .await
        .map_err(|error| Error::internal_from("scan the build context", error))??;
    tracing::debug!(
        entries = scanned.inputs.stats.entries,
        hashed = scanned.inputs.stats.hashed_files,
        hashed_bytes = scanned.inputs.stats.hashed_bytes,
        "context scanned"
    );
    warnings.extend(scanned.warnings);
    let lookups = Lookups { kiln, online };

    let dockerfile = Dockerfile::parse(&String::from_utf8_lossy(scanned.context.dockerfile()));
    check_dockerfile(
        &dockerfile,
        scanned.context.dockerfile_path(),
        spec.target.as_deref(),
    )?;
    let builder = choose(Situation {
        choice: spec.builder,
        dockerfile: &dockerfile,
        target: &resolved.target,
        host: &host.platform,
        multi_platform: false,
        use_buildx: kiln.config().use_buildx,
        buildkit_available,
    })?;
    warnings.extend(builder.warnings.iter().cloned());
    warnings.extend(kiln_platform::warning_before_build(&host, &resolved.target));
    let emulation_hint = match host.can_run(&resolved.target) {
        Runnable::No { reason } => Some(reason),
        _ => None,
    };
    let args = build_args(kiln.config(), spec, &resolved, &dockerfile);
    let primary = resolved.tags[0].familiar();
    // A parent's image is in the fingerprint through the parent's fingerprint (below), so
    // its `FROM` is neither resolved nor checked: it may not be built yet.
    let parent_images: Vec<String> = spec.parents.iter().map(ParentInput::value).collect();
    let base_images = resolve_base_images(
        &lookups,
        &dockerfile,
        &args,
        &parent_images,
        &primary,
        &mut warnings,
    )
    .await?;
    if online {
        let path = scanned.context.dockerfile_path();
        let secrets: Vec<&str> = args
            .iter()
            .filter(|(name, _)| spec.secret_args.contains(*name))
            .map(|(_, value)| value.as_str())
            .collect();
        check_base_images_exist(kiln, &dockerfile, &args, &secrets, &base_images, path).await?;
    }
    let secret_key = crate::secrets::secret_key(kiln, spec, &mut warnings)?;
    let manifest = InputsManifest {
        schema: FINGERPRINT_SCHEMA,
        dockerfile: sha256_hex(scanned.context.dockerfile()),
        files: scanned.inputs.files,
        build_args: args
            .iter()
            .map(|(name, value)| {
                let input = match spec.parents.iter().find(|parent| &parent.arg == name) {
                    Some(parent) => ArgInput::new(&parent_input(parent), None),
                    None => ArgInput::new(
                        value,
                        secret_key
                            .as_ref()
                            .filter(|_| spec.secret_args.contains(name)),
                    ),
                };
                (name.clone(), input)
            })
            .collect(),
        target: spec.target.clone(),
        platform: resolved.target.to_string(),
        build_mode: resolved.build_mode.as_str().to_owned(),
        runtime_mode: spec.runtime_mode.as_str().to_owned(),
        builder: builder.kind,
        base_images,
        labels: spec.labels.clone(),
    };
    let fingerprint = manifest.fingerprint();
    let forced = spec.force || kiln.config().force_build;
    let observed = observe(
        &lookups,
        forced,
        &resolved.tags,
        &fingerprint,
        &mut warnings,
    )
    .await?;
    let verdict = decide::decide(observed);
    let history = if needs_history(&verdict) {
        changes_since_last(kiln.records(), &primary, &manifest, &mut warnings)
    } else {
        Vec::new()
    };
    let explanation = explain(&verdict, &primary, history, kiln.clock().now_ms() / 1000);
    tracing::debug!(
        tag = %primary,
        fingerprint = %fingerprint.short(),
        verdict = %verdict_name(&verdict),
        reason = %explanation.reason,
        "decision"
    );
    for warning in &warnings {
        events.warn(warning.clone());
    }
    let (action, image_id) = match &verdict {
        Verdict::Build(_) => (Action::Build, None),
        Verdict::Reuse(reuse) => (Action::Reuse, Some(reuse.record.image_id.clone())),
    };
    Ok(Plan {
        action,
        reason: explanation.reason,
        changes: explanation.changes,
        fingerprint,
        tag: resolved.tags[0].clone(),
        tags: resolved.tags.clone(),
        builder: builder.kind,
        builder_reason: builder.reason,
        platform: resolved.target.clone(),
        build_mode: resolved.build_mode,
        inputs: scanned.inputs.stats,
        image_id,
        warnings,
        daemon,
        work: PlanWork {
            dockerfile,
            emulation_hint,
            context: Arc::new(scanned.context),
            manifest,
            build_args: args,
            verdict,
        },
    })
}

/// What a parent contributes to its child's fingerprint: its own fingerprint.
fn parent_input(parent: &ParentInput) -> String {
    format!("kiln-parent:{}", parent.fingerprint)
}

/// The verdict in one word for logs (the record itself is too long to print).
fn verdict_name(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Build(_) => "build",
        Verdict::Reuse(_) => "reuse",
    }
}
