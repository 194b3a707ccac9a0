//! One build request from spec to report: names, modes, build args, context, engine call.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use kiln_context::PreparedContext;
use kiln_context::dockerfile::Dockerfile;
use kiln_core::{
    BuildMode, BuildReport, BuildRequest, BuildSpec, BuilderChoice, BuilderKind, Error, EventSink,
    ImageRef, Outcome, Platform, Result, TagInput,
};

use crate::kiln::Kiln;

/// Label kiln puts on images built for an experiment.
pub const EXPERIMENT_LABEL: &str = "dev.kiln.experiment";

/// Build args that carry the target and build platforms.
const PLATFORM_ARGS: [&str; 8] = [
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

/// The names and modes a spec resolves to, before any I/O.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) tags: Vec<ImageRef>,
    pub(crate) target: Platform,
    pub(crate) host: Platform,
    pub(crate) build_mode: BuildMode,
    pub(crate) warnings: Vec<String>,
}

/// Resolves tags, target platform and the effective build mode of `spec`.
pub(crate) fn resolve(kiln: &Kiln, spec: &BuildSpec) -> Result<Resolved> {
    let host = kiln_platform::host_platform()?;
    let target = spec.platform.clone().unwrap_or_else(|| host.clone());
    let (build_mode, fallback) = kiln_platform::effective_build_mode(spec.build_mode, &target);
    let tags = if spec.tags.is_empty() {
        let mut input = TagInput::from_spec(spec);
        input.build_mode = build_mode;
        vec![kiln.tag_scheme().image_ref(&input)?]
    } else {
        spec.tags.clone()
    };
    Ok(Resolved {
        tags,
        target,
        host,
        build_mode,
        warnings: fallback.into_iter().collect(),
    })
}

/// The build args kiln passes: its defaults, then the user's, which win on a name clash.
///
/// Platform args are passed only when the Dockerfile declares them: the classic builder does
/// not set them itself.
pub(crate) fn build_args(
    spec: &BuildSpec,
    resolved: &Resolved,
    dockerfile: &Dockerfile,
) -> BTreeMap<String, String> {
    let mut args = BTreeMap::new();
    args.insert(
        "BUILD_MODE".to_owned(),
        resolved.build_mode.as_str().to_owned(),
    );
    args.insert(
        "RUNTIME_MODE".to_owned(),
        spec.runtime_mode.as_str().to_owned(),
    );
    if let Some(version) = &spec.version {
        args.insert("VERSION".to_owned(), version.clone());
    }
    args.insert(
        "DEPENDENCIES".to_owned(),
        serde_json::to_string(&spec.dependencies).unwrap_or_else(|_| "[]".to_owned()),
    );
    if let Some(base) = &spec.base_image {
        args.insert("BASE_IMAGE".to_owned(), base.familiar());
    }
    let declared = dockerfile.declared_args();
    for name in PLATFORM_ARGS {
        if !declared.iter().any(|arg| arg == name) {
            continue;
        }
        let (prefix, platform) = match name.strip_prefix("TARGET") {
            Some(_) => ("TARGET", &resolved.target),
            None => ("BUILD", &resolved.host),
        };
        let value = match &name[prefix.len()..] {
            "PLATFORM" => platform.to_string(),
            "OS" => platform.os().to_owned(),
            "ARCH" => platform.architecture().to_owned(),
            _ => platform.variant().unwrap_or_default().to_owned(),
        };
        args.insert(name.to_owned(), value);
    }
    for (name, value) in &spec.build_args {
        args.insert(name.clone(), value.clone());
    }
    args
}

/// Prepares the context on a blocking thread: walking a large tree must not stall the runtime.
pub(crate) async fn prepare_context(spec: &BuildSpec) -> Result<PreparedContext> {
    let context = spec.context.clone();
    let dockerfile = spec.dockerfile.clone();
    tokio::task::spawn_blocking(move || PreparedContext::prepare(&context, dockerfile.as_deref()))
        .await
        .map_err(|error| Error::engine("prepare build context", error.to_string()))?
        .map_err(Error::from)
}

/// Runs one build.
pub(crate) async fn run(kiln: &Kiln, spec: &BuildSpec, events: EventSink) -> Result<BuildReport> {
    let started = Instant::now();
    let resolved = resolve(kiln, spec)?;
    if spec.builder == BuilderChoice::Buildkit {
        return Err(Error::invalid_input(
            "builder",
            "buildkit",
            "auto or classic (BuildKit builds are not available in this version of kiln)",
        ));
    }
    for warning in &resolved.warnings {
        events.warn(warning.clone());
    }

    // Fail fast when the daemon is down, while the context is walked.
    let preparing = prepare_context(spec);
    let (engine_ready, context) = tokio::join!(kiln.engine().info(), preparing);
    let context = context?;
    engine_ready?;

    let dockerfile = Dockerfile::parse(&String::from_utf8_lossy(context.dockerfile()));
    let mut labels = spec.labels.clone();
    if let Some(experiment) = &spec.experiment {
        labels.insert(EXPERIMENT_LABEL.to_owned(), experiment.clone());
    }
    for socket in context.skipped_sockets() {
        events.warn(format!(
            "socket {} left out of the build context",
            socket.display()
        ));
    }
    let request = BuildRequest {
        dockerfile: context.dockerfile_name().to_owned(),
        context: Arc::new(context),
        tags: resolved.tags.clone(),
        build_args: build_args(spec, &resolved, &dockerfile),
        target: spec.target.clone(),
        platform: spec.platform.clone(),
        labels,
        builder: BuilderKind::Classic,
        no_cache: spec.no_cache,
        events: events.clone(),
    };
    let built = kiln.engine().build(request).await?;
    let size_bytes = match kiln.engine().inspect(&resolved.tags[0]).await? {
        Some(details) => details.size,
        None => 0,
    };

    let mut report = BuildReport::new(
        resolved.tags[0].clone(),
        built.image_id,
        Outcome::Built,
        resolved.target.clone(),
    );
    report.tags = resolved.tags;
    report.reason = "built on request".to_owned();
    report.builder = BuilderKind::Classic;
    report.builder_reason = "the classic builder is the default".to_owned();
    report.build_mode = resolved.build_mode;
    report.size_bytes = size_bytes;
    report.warnings = resolved.warnings;
    report.warnings.extend(built.warnings);
    report.duration = started.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::testing::FakeEngine;
    use kiln_core::{MapEnv, RuntimeMode};

    fn kiln(engine: &FakeEngine) -> Kiln {
        Kiln::builder()
            .engine(engine.clone())
            .env(MapEnv::new())
            .build()
            .unwrap()
    }

    fn context(dockerfile: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
        std::fs::write(dir.path().join("hello.txt"), "hello").unwrap();
        dir
    }

    #[tokio::test]
    async fn builds_with_the_panther_name_and_default_args() {
        let engine = FakeEngine::new();
        let dir = context("FROM scratch\nCOPY hello.txt /\n");
        let mut spec = BuildSpec::new("picoquic", dir.path());
        spec.version = Some("rfc9000".into());
        spec.build_mode = BuildMode::Debug;
        spec.build_args.insert("BUILD_MODE".into(), "custom".into());
        spec.build_args.insert("EXTRA".into(), "1".into());
        spec.experiment = Some("exp-1".into());

        let report = kiln(&engine).build_image(&spec).await.unwrap();
        assert_eq!(report.tag.familiar(), "picoquic-rfc9000:latest-debug");
        assert_eq!(report.outcome, Outcome::Built);
        assert!(report.image_id.starts_with("sha256:"));
        assert!(report.size_bytes > 0);

        let request = &engine.requests()[0];
        let args: Vec<_> = request
            .build_args
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            args,
            [
                "BUILD_MODE=custom",
                "DEPENDENCIES=[]",
                "EXTRA=1",
                "RUNTIME_MODE=minimal",
                "VERSION=rfc9000"
            ]
        );
        assert_eq!(
            request.labels.get(EXPERIMENT_LABEL).map(String::as_str),
            Some("exp-1")
        );
        assert_eq!(request.dockerfile, "Dockerfile");
    }

    #[tokio::test]
    async fn platform_args_only_when_declared() {
        let engine = FakeEngine::new();
        let dir = context("FROM scratch\nARG TARGETARCH\nARG BUILDPLATFORM\n");
        let mut spec = BuildSpec::new("x", dir.path());
        spec.platform = Some(Platform::linux_arm64());
        spec.runtime_mode = RuntimeMode::Profile;
        spec.build_mode = BuildMode::RelLto;
        let report = kiln(&engine).build_image(&spec).await.unwrap();

        assert_eq!(
            report.build_mode,
            BuildMode::Default,
            "rel-lto falls back for arm64"
        );
        assert_eq!(report.tag.familiar(), "x:latest-profile-linux-arm64");
        assert!(
            report.warnings.iter().any(|w| w.contains("rel-lto")),
            "{:?}",
            report.warnings
        );
        let args = &engine.requests()[0].build_args;
        assert_eq!(args.get("TARGETARCH").map(String::as_str), Some("arm64"));
        assert_eq!(
            args.get("BUILDPLATFORM"),
            Some(&kiln_platform::host_platform().unwrap().to_string())
        );
        assert!(!args.contains_key("TARGETOS"));
    }

    #[tokio::test]
    async fn explicit_tags_replace_the_scheme() {
        let engine = FakeEngine::new();
        let dir = context("FROM scratch\n");
        let mut spec = BuildSpec::new("x", dir.path());
        spec.tags = vec![
            ImageRef::parse("a:1").unwrap(),
            ImageRef::parse("b:2").unwrap(),
        ];
        let report = kiln(&engine).build_image(&spec).await.unwrap();
        assert_eq!(report.tag.familiar(), "a:1");
        assert_eq!(report.tags.len(), 2);
        assert_eq!(engine.requests()[0].tags, spec.tags);
    }

    #[tokio::test]
    async fn bad_input_reaches_no_engine() {
        let engine = FakeEngine::new();
        let spec = BuildSpec::new("x", "/nonexistent/kiln/context");
        let error = kiln(&engine).build_image(&spec).await.unwrap_err();
        assert_eq!(error.kind(), kiln_core::ErrorKind::InvalidInput);
        assert_eq!(engine.calls().build, 0);
    }

    #[tokio::test]
    async fn an_unreachable_engine_fails_before_building() {
        let engine = FakeEngine::new();
        engine.set_unreachable(true);
        let dir = context("FROM scratch\n");
        let error = kiln(&engine)
            .build_image(&BuildSpec::new("x", dir.path()))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), kiln_core::ErrorKind::Unreachable);
        assert_eq!(engine.calls().build, 0);
    }
}
