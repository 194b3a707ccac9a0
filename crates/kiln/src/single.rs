//! Carrying a plan out: reuse (re-tagging where a tag moved) or build, then record the result.

use std::path::Path;
use std::sync::Arc;

use kiln_cache::{BuildLock, BuildRecord, RECORD_SCHEMA, Role, TryLock};
use kiln_core::{
    BuildEvent, BuildReport, BuildRequest, BuildSpec, EventSink, FINGERPRINT_LABEL, Fingerprint,
    ImageEngine, ImageId, ImageRef, Outcome, Result,
};

use crate::kiln::Kiln;
use crate::plan::{Plan, PlanMode, Reuse, Verdict, plan};
use crate::publish;
use crate::secrets::Redactor;

/// Plans `spec` and carries the plan out.
///
/// Builds of the same fingerprint run once: in this process the callers share one build (and
/// its result or error); across processes a lock per fingerprint makes the later ones wait
/// and then reuse what the first built.
///
/// The values of secret build args are redacted from every event, error and report on the
/// way out: BuildKit writes build args into its step names and error messages.
pub(crate) async fn run(kiln: &Kiln, spec: &BuildSpec, events: EventSink) -> Result<BuildReport> {
    let redactor = Redactor::of(spec);
    match run_redacted(kiln, spec, redactor.sink(events)).await {
        Ok(report) => Ok(redactor.report(report)),
        Err(error) => Err(redactor.error(error)),
    }
}

async fn run_redacted(kiln: &Kiln, spec: &BuildSpec, events: EventSink) -> Result<BuildReport> {
    let started = kiln.clock().now();
    let plan = plan(kiln, spec, &events, PlanMode::Build).await?;
    let span = tracing::Span::current();
    span.record("tag", tracing::field::display(&plan.tag));
    span.record(
        "fingerprint",
        tracing::field::display(plan.fingerprint.short()),
    );
    span.record("builder", tracing::field::display(plan.builder));
    let forced = spec.force || kiln.config().force_build;
    if spec.push
        && !forced
        && let Some(mut report) = publish::already_in_registry(kiln, &plan).await?
    {
        report.duration = kiln.since(started);
        return Ok(report);
    }
    let mut report = match &plan.work.verdict {
        Verdict::Reuse(decision) => reuse(kiln, &plan, decision).await?,
        Verdict::Build(_) => {
            let tags = plan.tags.clone();
            let (shared, role) = kiln
                .builds
                .run(
                    plan.fingerprint.clone(),
                    build_once(kiln, spec, plan, &events),
                )
                .await;
            match role {
                Role::Leader => shared?,
                Role::Follower => {
                    tracing::debug!("shared the build of a concurrent caller with the same inputs");
                    adopt(kiln, shared?, tags).await?
                }
            }
        }
    };
    if spec.push {
        report.pushed = Some(publish::push_tag(kiln, &report.tag, &events).await?);
    }
    report.duration = kiln.since(started);
    Ok(report)
}

/// A concurrent caller's copy of a shared build, made its own: the build was run under the
/// first caller's tags, so this caller's tags are pointed at the image (and recorded) here,
/// and its report names them.
async fn adopt(kiln: &Kiln, shared: BuildReport, tags: Vec<ImageRef>) -> Result<BuildReport> {
    let image_id = ImageId::parse(&shared.image_id)
        .map_err(|error| kiln_core::Error::internal("share a build", error.to_string()))?;
    for tag in tags.iter().filter(|tag| !shared.tags.contains(tag)) {
        kiln.engine().tag(&image_id, tag).await?;
    }
    let mut report = shared;
    if let (Some(records), Some(fingerprint)) = (kiln.records(), &report.fingerprint) {
        for tag in tags.iter().filter(|tag| !report.tags.contains(tag)) {
            if let Err(error) = records.point_tag(&tag.familiar(), fingerprint) {
                report
                    .warnings
                    .push(format!("{error}; the build is not recorded under {tag}"));
            }
        }
    }
    report.tag = tags[0].clone();
    report.tags = tags;
    Ok(report)
}

/// The build arg that makes BuildKit write its layer cache into the image config.
const INLINE_CACHE_ARG: &str = "BUILDKIT_INLINE_CACHE";

/// Where a BuildKit build may find layers to reuse: the spec's `--cache-from` images, the
/// configuration's, and the cache repository's latest build of the same tag when it has one.
async fn cache_sources(
    kiln: &Kiln,
    spec: &BuildSpec,
    plan: &Plan,
    cache_repo: Option<&ImageRef>,
    events: &EventSink,
) -> Result<Vec<ImageRef>> {
    if plan.builder != kiln_core::BuilderKind::Buildkit {
        return Ok(Vec::new());
    }
    let mut sources = spec.cache_from.clone();
    sources.extend(kiln.config().cache_from()?);
    if let Some(repo) = cache_repo {
        let head = publish::head_tag(repo, &plan.tag)?;
        let credentials = kiln.credentials().resolve(head.domain()).await?;
        let options = kiln_core::RegistryOptions::new().credentials(credentials);
        match kiln.registry().head(&head, options).await {
            Ok(Some(_)) => sources.push(head),
            Ok(None) => {}
            Err(error) => events.warn(format!(
                "{error}; building without the layer cache of {}",
                head.familiar()
            )),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    sources.retain(|source| seen.insert(source.familiar()));
    if !sources.is_empty() {
        let names: Vec<String> = sources.iter().map(ImageRef::familiar).collect();
        events.emit(BuildEvent::Note {
            message: format!("layer cache from {}", names.join(", ")),
        });
    }
    Ok(sources)
}

/// The cache repository of a build: the spec's, else the configuration's.
fn cache_repo(kiln: &Kiln, spec: &BuildSpec) -> Result<Option<ImageRef>> {
    match &spec.cache_repo {
        Some(repo) => Ok(Some(repo.clone())),
        None => kiln.config().cache_repo(),
    }
}

/// Builds under the fingerprint's cross-process lock, unless another process built the same
/// inputs while this one waited for the lock, or the cache repository has them.
async fn build_once(
    kiln: &Kiln,
    spec: &BuildSpec,
    plan: Plan,
    events: &EventSink,
) -> Result<BuildReport> {
    let _lock = match kiln.records() {
        Some(records) => lock(records.root(), &plan.fingerprint, events).await,
        None => None,
    };
    let forced = spec.force || kiln.config().force_build;
    if !forced && let Some(report) = built_meanwhile(kiln, &plan).await? {
        return Ok(report);
    }
    let cache_repo = cache_repo(kiln, spec)?;
    if !forced
        && let Some(repo) = &cache_repo
        && let Some(mut report) = publish::pull_from_cache_repo(kiln, &plan, repo, events).await?
    {
        record(kiln, &plan, &mut report, 0, events);
        return Ok(report);
    }
    let mut report = build(kiln, spec, &plan, events).await?;
    if let Some(repo) = &cache_repo {
        match publish::push_to_cache_repo(kiln, &plan, &report.image_id, repo, events).await {
            Ok(pushed) => events.emit(BuildEvent::Note {
                message: format!("shared the build as {}", pushed.reference.familiar()),
            }),
            Err(error) => {
                let warning = format!(
                    "{error}; the build is not shared through {}",
                    repo.familiar()
                );
                events.warn(warning.clone());
                report.warnings.push(warning);
            }
        }
    }
    Ok(report)
}

/// Takes the build lock of `fingerprint`, waiting (and saying so) while another process holds
/// it. A lock that cannot be taken at all is a warning: the build goes on unlocked.
async fn lock(
    cache_dir: &Path,
    fingerprint: &Fingerprint,
    events: &EventSink,
) -> Option<BuildLock> {
    let attempt = match BuildLock::try_acquire(cache_dir, fingerprint) {
        Ok(TryLock::Acquired(lock)) => return Some(lock),
        Ok(TryLock::Busy { holder }) => {
            let who = holder.map_or("another kiln process".to_owned(), |pid| {
                format!("kiln process {pid}")
            });
            tracing::debug!(holder = ?holder, "waiting for the build lock");
            events.emit(BuildEvent::Note {
                message: format!("waiting for {who}, which is building the same inputs"),
            });
            let (dir, fingerprint) = (cache_dir.to_owned(), fingerprint.clone());
            tokio::task::spawn_blocking(move || BuildLock::acquire(&dir, &fingerprint))
                .await
                .unwrap_or_else(|error| {
                    Err(kiln_core::Error::internal_from(
                        "wait for the build lock",
                        error,
                    ))
                })
        }
        Err(error) => Err(error),
    };
    match attempt {
        Ok(lock) => {
            tracing::trace!("build lock taken");
            Some(lock)
        }
        Err(error) => {
            events.warn(format!("{error}; building without the cross-process lock"));
            None
        }
    }
}

/// The reuse report when a record of the plan's fingerprint appeared (and its image exists).
async fn built_meanwhile(kiln: &Kiln, plan: &Plan) -> Result<Option<BuildReport>> {
    let Some(records) = kiln.records() else {
        return Ok(None);
    };
    let Ok(Some(record)) = records.get(&plan.fingerprint) else {
        return Ok(None);
    };
    if kiln.engine().inspect_id(&record.image_id).await?.is_none() {
        return Ok(None);
    }
    for tag in &plan.tags {
        let current = kiln.engine().inspect(tag).await?.map(|details| details.id);
        if current.as_ref() != Some(&record.image_id) {
            kiln.engine().tag(&record.image_id, tag).await?;
        }
    }
    tracing::debug!(image = %record.image_id, "built by another kiln process meanwhile");
    let mut report = plan.report(record.image_id.clone(), Outcome::Reused);
    report.reason = "built by another kiln process while this one waited".to_owned();
    report.changes.clear();
    report.size_bytes = record.size_bytes;
    Ok(Some(report))
}

/// Reuses the image recorded for the plan's inputs, pointing the tags that moved back at it.
async fn reuse(kiln: &Kiln, plan: &Plan, decision: &Reuse) -> Result<BuildReport> {
    let record = &decision.record;
    for tag in &decision.retag {
        kiln.engine().tag(&record.image_id, tag).await?;
    }
    let mut report = plan.report(record.image_id.clone(), Outcome::Reused);
    report.size_bytes = record.size_bytes;
    if let Some(records) = kiln.records() {
        for tag in &decision.retag {
            if let Err(error) = records.point_tag(&tag.familiar(), &plan.fingerprint) {
                report
                    .warnings
                    .push(format!("{error}; the build is not recorded"));
            }
        }
    }
    Ok(report)
}

async fn build(
    kiln: &Kiln,
    spec: &BuildSpec,
    plan: &Plan,
    events: &EventSink,
) -> Result<BuildReport> {
    let build_started = kiln.clock().now();
    let mut labels = spec.labels.clone();
    // The classic builder turns every label into a step of its own (a container and a commit,
    // ~25% of a small build): its images carry the fingerprint only when they leave the
    // machine (pushed, or shared through a cache repository), where the registry check reads
    // it. BuildKit writes labels into the config at no cost.
    if plan.builder == kiln_core::BuilderKind::Buildkit
        || spec.push
        || cache_repo(kiln, spec).ok().flatten().is_some()
    {
        labels.insert(FINGERPRINT_LABEL.to_owned(), plan.fingerprint.to_string());
    }
    let context = Arc::clone(&plan.work.context);
    let mut build_args = plan.work.build_args.clone();
    let cache_repo = cache_repo(kiln, spec)?;
    if plan.builder == kiln_core::BuilderKind::Buildkit && (spec.push || cache_repo.is_some()) {
        // Images that leave the machine carry their layer cache inline, so a machine whose
        // fingerprint misses still reuses the steps that did not change.
        build_args.insert(INLINE_CACHE_ARG.to_owned(), "1".to_owned());
    }
    let cache_from = cache_sources(kiln, spec, plan, cache_repo.as_ref(), events).await?;
    let mut registry_credentials = Vec::new();
    for source in &cache_from {
        let domain = source.domain().to_owned();
        if registry_credentials
            .iter()
            .any(|(known, _)| *known == domain)
        {
            continue;
        }
        if let Some(credentials) = kiln.credentials().resolve(&domain).await? {
            registry_credentials.push((domain, credentials));
        }
    }
    let request = BuildRequest {
        dockerfile: context.dockerfile_name().to_owned(),
        context,
        tags: plan.tags.clone(),
        build_args,
        target: spec.target.clone(),
        platform: spec.platform.clone(),
        labels,
        builder: plan.builder,
        no_cache: spec.no_cache || kiln.config().no_cache,
        cache_from,
        registry_credentials,
        events: events.clone(),
    };
    let built = kiln
        .engine()
        .build(request)
        .await
        .map_err(|error| explain_failure(plan, error))?;
    let size_bytes = kiln
        .engine()
        .inspect_id(&built.image_id)
        .await?
        .map_or(0, |details| details.size);

    let mut report = plan.report(built.image_id.clone(), Outcome::Built);
    report.size_bytes = size_bytes;
    report.warnings.extend(built.warnings);
    report.context_sent = built.context_sent;
    let duration_ms = u64::try_from(kiln.since(build_started).as_millis()).unwrap_or(u64::MAX);
    record(kiln, plan, &mut report, duration_ms, events);
    Ok(report)
}

/// A failed build's error with what kiln knows about why: a Dockerfile feature the daemon's
/// frontend lacks, or a RUN step that could not execute for want of an emulator.
fn explain_failure(plan: &Plan, error: kiln_core::Error) -> kiln_core::Error {
    let error = crate::builder::explain_frontend_failure(&plan.work.dockerfile, error);
    match (error, &plan.work.emulation_hint) {
        (
            kiln_core::Error::BuildFailed {
                step,
                message,
                log_tail,
            },
            Some(hint),
        ) if message.contains("exec format error") => kiln_core::Error::BuildFailed {
            step,
            message: format!("{message} — {hint}"),
            log_tail,
        },
        (error, _) => error,
    }
}

/// Records `report`'s image as the result of `plan`'s inputs (a failure is a warning).
fn record(
    kiln: &Kiln,
    plan: &Plan,
    report: &mut BuildReport,
    duration_ms: u64,
    events: &EventSink,
) {
    let Some(records) = kiln.records() else {
        return;
    };
    let image_id = match ImageId::parse(&report.image_id) {
        Ok(image_id) => image_id,
        Err(error) => return events.warn(format!("{error}; the build is not recorded")),
    };
    let record = BuildRecord {
        schema: RECORD_SCHEMA,
        fingerprint: plan.fingerprint.clone(),
        image_id,
        tags: plan.tags.iter().map(ImageRef::familiar).collect(),
        size_bytes: report.size_bytes,
        built_at: kiln.clock().now_ms() / 1000,
        duration_ms,
        builder: plan.builder,
        platform: plan.platform.to_string(),
    };
    if let Err(error) = records.put(&record, &plan.work.manifest) {
        let warning = format!("{error}; the build is not recorded");
        events.warn(warning.clone());
        report.warnings.push(warning);
    }
}
