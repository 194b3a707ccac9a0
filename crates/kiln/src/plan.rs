//! The decision: fingerprint a spec's inputs and decide to reuse or build, saying why.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use kiln_cache::{BuildRecord, ExistenceCache, Lookup, RecordStore};
use kiln_context::PreparedContext;
use kiln_context::dockerfile::Dockerfile;
use kiln_context::inputs::hashing::sha256_hex;
use kiln_context::inputs::stat_index::{self, StatIndex, Timestamp};
use kiln_context::inputs::{ContextInputs, context_inputs};
use kiln_core::fingerprint::{ArgInput, FINGERPRINT_SCHEMA, InputStats};
use kiln_core::{
    BuildMode, BuildReport, BuildSpec, BuilderKind, Change, Error, ErrorKind, EventSink,
    Fingerprint, ImageEngine, ImageId, ImageRef, InputsManifest, Outcome, Platform, Result,
};
use kiln_platform::{Host, Runnable};
use serde::Serialize;

use crate::builder::{Situation, choose};
use crate::kiln::Kiln;
use crate::resolve::{Resolved, build_args, resolve};

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
    pub(crate) record: Option<BuildRecord>,
    /// Tags that must be pointed at the recorded image before it can be reused.
    pub(crate) retag: Vec<ImageRef>,
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
        plan(self, spec, &EventSink::discard(), PlanMode::Explain).await
    }
}

/// The context walked and its inputs computed, on a blocking thread.
struct ScannedContext {
    context: PreparedContext,
    inputs: ContextInputs,
    warnings: Vec<String>,
}

fn scan(spec: &BuildSpec, records: Option<&RecordStore>) -> Result<ScannedContext> {
    let mut warnings = Vec::new();
    let stat_dir = records.map(RecordStore::stat_dir);
    // Taken before the walk: files modified from here on are hashed again next time.
    let scan_started = match &stat_dir {
        Some(dir) => stat_index::file_system_now(dir).unwrap_or_else(|error| {
            warnings.push(format!(
                "stat index disabled: cannot read the file-system clock: {error}"
            ));
            Timestamp::default()
        }),
        None => Timestamp::default(),
    };
    let context = PreparedContext::prepare(&spec.context, spec.dockerfile.as_deref())?;
    let index_path = stat_dir
        .as_deref()
        .map(|dir| stat_index::index_path(dir, context.root()));
    let previous = match &index_path {
        Some(path) => StatIndex::load(path).unwrap_or_else(|error| {
            warnings.push(format!("{error}; hashing every file ({})", path.display()));
            StatIndex::default()
        }),
        None => StatIndex::default(),
    };
    let inputs = context_inputs(&context, &previous, scan_started)?;
    if let (Some(path), Some(index)) = (&index_path, &inputs.new_index)
        && scan_started != Timestamp::default()
        && let Err(error) = index.save(path)
    {
        warnings.push(format!(
            "cannot save the stat index {}: {error}",
            path.display()
        ));
    }
    Ok(ScannedContext {
        context,
        inputs,
        warnings,
    })
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
    let mut warnings = resolved.warnings.clone();

    // The context is walked and hashed while the daemon is asked whether it is there; a build
    // fails at once when it is not, without waiting for the scan.
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
        Err(error) => return Err(error),
    };
    let online = daemon == DaemonState::Reachable;
    let scanned = scanning
        .await
        .map_err(|error| Error::internal_from("scan the build context", error))??;
    warnings.extend(scanned.warnings);
    for socket in scanned.context.skipped_sockets() {
        warnings.push(format!(
            "socket {} left out of the build context",
            socket.display()
        ));
    }
    let lookups = Lookups { kiln, online };

    let dockerfile = Dockerfile::parse(&String::from_utf8_lossy(scanned.context.dockerfile()));
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
    let base_images =
        resolve_base_images(&lookups, &dockerfile, &args, &resolved.tags[0].familiar()).await?;
    let manifest = InputsManifest {
        schema: FINGERPRINT_SCHEMA,
        dockerfile: sha256_hex(scanned.context.dockerfile()),
        files: scanned.inputs.files,
        build_args: args
            .iter()
            .map(|(name, value)| {
                (
                    name.clone(),
                    ArgInput::new(value, spec.secret_args.contains(name)),
                )
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
    let decision = decide(
        &lookups,
        spec,
        &resolved,
        &fingerprint,
        &manifest,
        &mut warnings,
    )
    .await?;
    for warning in &warnings {
        events.warn(warning.clone());
    }
    Ok(Plan {
        action: decision.action,
        reason: decision.reason,
        changes: decision.changes,
        fingerprint,
        tag: resolved.tags[0].clone(),
        tags: resolved.tags.clone(),
        builder: builder.kind,
        builder_reason: builder.reason,
        platform: resolved.target.clone(),
        build_mode: resolved.build_mode,
        inputs: scanned.inputs.stats,
        image_id: decision
            .record
            .as_ref()
            .map(|record| record.image_id.clone()),
        warnings,
        daemon,
        work: PlanWork {
            dockerfile,
            emulation_hint,
            context: Arc::new(scanned.context),
            manifest,
            build_args: args,
            record: decision.record,
            retag: decision.retag,
        },
    })
}

/// Answers about images for a decision: from the engine itself when it is reachable — a
/// decision must not rest on an answer up to a TTL old (someone may have removed the image or
/// rebuilt a base image with the Docker CLI) — and the answer refreshes L1; from L1 alone
/// (fresh or stale) when the engine is unreachable.
struct Lookups<'a> {
    kiln: &'a Kiln,
    online: bool,
}

impl Lookups<'_> {
    /// `Some(Some(id))` present, `Some(None)` absent, `None` unknown.
    async fn image_id(&self, reference: &ImageRef) -> Result<Option<Option<ImageId>>> {
        if self.online {
            let details = self.kiln.engine().inner().inspect(reference).await?;
            let id = details.as_ref().map(|details| details.id.clone());
            self.kiln
                .l1()
                .insert(ExistenceCache::key_for(reference), details)
                .await;
            return Ok(Some(id));
        }
        Ok(known(
            self.kiln
                .l1()
                .lookup(&ExistenceCache::key_for(reference))
                .await,
        ))
    }

    /// `Some(true)` present, `Some(false)` absent, `None` unknown.
    async fn has_image_id(&self, image_id: &ImageId) -> Result<Option<bool>> {
        if self.online {
            let details = self.kiln.engine().inner().inspect_id(image_id).await?;
            let present = details.is_some();
            self.kiln
                .l1()
                .insert(ExistenceCache::key_for_id(image_id), details)
                .await;
            return Ok(Some(present));
        }
        let lookup = self
            .kiln
            .l1()
            .lookup(&ExistenceCache::key_for_id(image_id))
            .await;
        Ok(known(lookup).map(|details| details.is_some()))
    }
}

fn known(lookup: Lookup) -> Option<Option<ImageId>> {
    match lookup {
        Lookup::Fresh(details) | Lookup::Stale(details) => Some(details.map(|details| details.id)),
        Lookup::Unknown => None,
    }
}

/// The manifest of the last build recorded under `tag`, if readable.
fn last_manifest(kiln: &Kiln, tag: &str) -> Option<InputsManifest> {
    let records = kiln.records()?;
    let fingerprint = records.last_for_tag(tag).ok()??;
    records.manifest(&fingerprint).ok()?
}

/// Each `FROM` image → its image id (`None` when the engine lacks it). When the daemon is
/// unreachable and the cache does not know an image, the id recorded by the last build stands
/// in for it.
async fn resolve_base_images(
    lookups: &Lookups<'_>,
    dockerfile: &Dockerfile,
    args: &BTreeMap<String, String>,
    tag: &str,
) -> Result<BTreeMap<String, Option<String>>> {
    let mut previous: Option<Option<InputsManifest>> = None;
    let mut resolved = BTreeMap::new();
    for name in dockerfile.base_images(args) {
        let id = match ImageRef::parse(&name) {
            Ok(reference) => match lookups.image_id(&reference).await? {
                Some(id) => id.map(String::from),
                None => previous
                    .get_or_insert_with(|| last_manifest(lookups.kiln, tag))
                    .as_ref()
                    .and_then(|manifest| manifest.base_images.get(&name).cloned())
                    .flatten(),
            },
            // The builder will reject it with its own message; the fingerprint keeps the text.
            Err(_) => None,
        };
        resolved.insert(name, id);
    }
    Ok(resolved)
}

struct Decision {
    action: Action,
    reason: String,
    changes: Vec<Change>,
    record: Option<BuildRecord>,
    retag: Vec<ImageRef>,
}

impl Decision {
    fn build(reason: String, changes: Vec<Change>) -> Self {
        Decision {
            action: Action::Build,
            reason,
            changes,
            record: None,
            retag: Vec::new(),
        }
    }
}

async fn decide(
    lookups: &Lookups<'_>,
    spec: &BuildSpec,
    resolved: &Resolved,
    fingerprint: &Fingerprint,
    manifest: &InputsManifest,
    warnings: &mut Vec<String>,
) -> Result<Decision> {
    let kiln = lookups.kiln;
    let Some(records) = kiln.records() else {
        return Ok(Decision::build(
            "no cache directory: nothing is recorded".to_owned(),
            Vec::new(),
        ));
    };
    let primary = resolved.tags[0].familiar();
    if spec.force || kiln.config().force_build {
        return Ok(Decision::build(
            "forced: --force (or force_build) bypasses every cache".to_owned(),
            changes_since_last(records, &primary, manifest, warnings),
        ));
    }
    let record = match records.get(fingerprint) {
        Ok(record) => record,
        Err(error) => {
            warnings.push(format!("{error}; treating it as a miss"));
            None
        }
    };
    kiln.count_l2(record.is_some());
    let Some(record) = record else {
        let changes = changes_since_last(records, &primary, manifest, warnings);
        let reason = match changes.as_slice() {
            [] => format!("no record of these inputs for {primary}"),
            [Change::NoPreviousBuild] => format!("no previous build of {primary} is recorded"),
            changes => summarize(changes, &primary),
        };
        return Ok(Decision::build(reason, changes));
    };

    let mut retag = Vec::new();
    let mut unknown = false;
    for tag in &resolved.tags {
        match lookups.image_id(tag).await? {
            Some(current) if current.as_ref() == Some(&record.image_id) => {}
            Some(_) => retag.push(tag.clone()),
            None => unknown = true,
        }
    }
    let image_present = if retag.is_empty() && !unknown {
        Some(true)
    } else {
        lookups.has_image_id(&record.image_id).await?
    };
    if image_present == Some(false) {
        return Ok(Decision::build(
            format!(
                "inputs unchanged, image {} missing",
                record.image_id.short()
            ),
            vec![Change::ImageMissing {
                image_id: record.image_id.to_string(),
            }],
        ));
    }
    let presence = match image_present {
        Some(_) => "present",
        None => "not checked: the daemon is unreachable",
    };
    let mut reason = format!(
        "inputs unchanged since the build {}; image {} {presence}",
        ago(record.built_at),
        record.image_id.short()
    );
    if !retag.is_empty() {
        let names: Vec<String> = retag.iter().map(ImageRef::familiar).collect();
        reason.push_str(&format!(", re-tagging {}", names.join(", ")));
    }
    Ok(Decision {
        action: Action::Reuse,
        reason,
        changes: Vec::new(),
        record: Some(record),
        retag,
    })
}

/// The changes since the last build recorded under `tag`, or `NoPreviousBuild`.
fn changes_since_last(
    records: &RecordStore,
    tag: &str,
    manifest: &InputsManifest,
    warnings: &mut Vec<String>,
) -> Vec<Change> {
    let previous = records.last_for_tag(tag).and_then(|last| match last {
        Some(fingerprint) => records.manifest(&fingerprint),
        None => Ok(None),
    });
    match previous {
        Ok(Some(previous)) => manifest.changes_since(&previous),
        Ok(None) => vec![Change::NoPreviousBuild],
        Err(error) => {
            warnings.push(format!("{error}; cannot explain what changed"));
            vec![Change::NoPreviousBuild]
        }
    }
}

/// "3 changes since the last build of app:latest: file a changed, ...".
fn summarize(changes: &[Change], tag: &str) -> String {
    let shown: Vec<String> = changes.iter().take(3).map(ToString::to_string).collect();
    let more = if changes.len() > 3 {
        format!(" and {} more", changes.len() - 3)
    } else {
        String::new()
    };
    let noun = if changes.len() == 1 {
        "change"
    } else {
        "changes"
    };
    format!(
        "{} {noun} since the last build of {tag}: {}{more}",
        changes.len(),
        shown.join(", ")
    )
}

/// "3 min ago" for a time in seconds since the epoch.
fn ago(then: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let seconds = now.saturating_sub(then);
    match seconds {
        0..=119 => format!("{seconds} s ago"),
        120..=7199 => format!("{} min ago", seconds / 60),
        7200..=172_799 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::fingerprint::How;

    #[test]
    fn summaries_name_the_first_changes() {
        let changes: Vec<Change> = (0..5)
            .map(|n| Change::File {
                path: format!("f{n}"),
                how: How::Changed,
            })
            .collect();
        assert_eq!(
            summarize(&changes, "app:latest"),
            "5 changes since the last build of app:latest: file f0 changed, file f1 changed, \
             file f2 changed and 2 more"
        );
        assert_eq!(
            summarize(&changes[..1], "app:latest"),
            "1 change since the last build of app:latest: file f0 changed"
        );
    }

    #[test]
    fn ages_read_naturally() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(ago(now - 5), "5 s ago");
        assert_eq!(ago(now - 600), "10 min ago");
        assert_eq!(ago(now - 3 * 86_400), "3 days ago");
    }
}
