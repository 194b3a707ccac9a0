//! What a spec resolves to before any I/O: its tags, target platform and effective build mode,
//! and the build args the build receives.

use std::collections::BTreeMap;

use kiln_context::dockerfile::Dockerfile;
use kiln_core::{BuildMode, BuildSpec, Error, ImageRef, Platform, Result, TagInput};

use crate::config::Config;
use crate::kiln::Kiln;

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

/// Resolves tags, target platform (explicit, else configured, else the host's — never a
/// silent default) and the effective build mode of `spec`.
pub(crate) fn resolve(kiln: &Kiln, spec: &BuildSpec, host: &Platform) -> Result<Resolved> {
    for label in spec.labels.keys() {
        check_label(label)?;
    }
    let host = host.clone();
    let target = kiln_platform::resolve_target(
        spec.platform.as_ref(),
        kiln.config().target_platform.as_ref(),
        &host,
    )
    .platform;
    let (build_mode, fallback) = kiln_platform::effective_build_mode(spec.build_mode, &target);
    let tags = if spec.tags.is_empty() {
        let mut input = TagInput::from_spec(spec);
        input.build_mode = build_mode;
        let name = kiln.tag_scheme().image_ref(&input)?;
        match &kiln.config().registry {
            Some(registry) => vec![ImageRef::parse(&format!("{registry}/{}", name.familiar()))?],
            None => vec![name],
        }
    } else {
        build_tags(&spec.tags)?
    };
    Ok(Resolved {
        tags,
        target,
        host,
        build_mode,
        warnings: fallback.into_iter().collect(),
    })
}

/// The tags a build is given, checked: a tag names an image to create, so a reference with a
/// digest (which names an image that already exists) is refused; a tag given twice is kept once,
/// in the order given.
///
/// # Errors
///
/// [`Error::InvalidInput`] naming the first tag with a digest.
pub(crate) fn build_tags(tags: &[ImageRef]) -> Result<Vec<ImageRef>> {
    let mut unique: Vec<ImageRef> = Vec::with_capacity(tags.len());
    for tag in tags {
        if tag.digest().is_some() {
            return Err(Error::invalid_input(
                "--tag",
                tag.familiar(),
                "a name with an optional :tag and no @digest (a digest names an existing image, \
                 not one to build)",
            ));
        }
        if !unique.contains(tag) {
            unique.push(tag.clone());
        }
    }
    Ok(unique)
}

/// The prefix of the labels kiln sets on images itself.
pub(crate) const RESERVED_LABEL_PREFIX: &str = "dev.kiln.";

/// Refuses a label in kiln's own namespace (`dev.kiln.*`), which kiln would overwrite.
///
/// # Errors
///
/// [`Error::InvalidInput`] naming the label.
pub(crate) fn check_label(name: &str) -> Result<()> {
    if name.starts_with(RESERVED_LABEL_PREFIX) {
        return Err(Error::invalid_input(
            "--label",
            name,
            format!("a label outside {RESERVED_LABEL_PREFIX}*, which kiln sets itself"),
        ));
    }
    Ok(())
}

/// The build args kiln passes: its defaults, then the configuration's, then the spec's (the
/// later win on a name clash).
///
/// kiln's defaults (`BUILD_MODE`, `RUNTIME_MODE`, `VERSION`, `DEPENDENCIES`, `BASE_IMAGE` and the
/// platform args) are passed only where the Dockerfile declares them with `ARG`: an undeclared
/// arg changes nothing in the image, would make the classic builder warn on every build, and
/// would make an irrelevant value part of the fingerprint. Args from the configuration and the
/// spec are always passed.
pub(crate) fn build_args(
    config: &Config,
    spec: &BuildSpec,
    resolved: &Resolved,
    dockerfile: &Dockerfile,
) -> BTreeMap<String, String> {
    let mut defaults = BTreeMap::new();
    defaults.insert("BUILD_MODE", resolved.build_mode.as_str().to_owned());
    defaults.insert("RUNTIME_MODE", spec.runtime_mode.as_str().to_owned());
    if let Some(version) = &spec.version {
        defaults.insert("VERSION", version.clone());
    }
    defaults.insert(
        "DEPENDENCIES",
        serde_json::to_string(&spec.dependencies).unwrap_or_else(|_| "[]".to_owned()),
    );
    if let Some(base) = &spec.base_image {
        defaults.insert("BASE_IMAGE", base.familiar());
    }
    for name in PLATFORM_ARGS {
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
        defaults.insert(name, value);
    }
    let declared = dockerfile.declared_args();
    let mut args: BTreeMap<String, String> = defaults
        .into_iter()
        .filter(|(name, _)| declared.iter().any(|arg| arg == name))
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    for (name, value) in config.build_args.iter().chain(&spec.build_args) {
        args.insert(name.clone(), value.clone());
    }
    for parent in &spec.parents {
        args.insert(parent.arg.clone(), parent.value());
    }
    args
}
