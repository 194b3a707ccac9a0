//! What a user asks to build (`BuildSpec`) and what kiln answers (`BuildReport`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

use crate::digest::Digest;
use crate::engine::BuilderKind;
use crate::env::Env;
use crate::error::Error;
use crate::fingerprint::{Change, Fingerprint, InputStats};
use crate::mode::{BuildMode, RuntimeMode};
use crate::platform::Platform;
use crate::reference::ImageRef;

/// Which builder the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuilderChoice {
    /// Let kiln decide from the Dockerfile, the platforms and the configuration.
    #[default]
    Auto,
    /// The classic builder.
    Classic,
    /// BuildKit.
    Buildkit,
}

impl BuilderChoice {
    /// Parses `auto`, `classic` or `buildkit`.
    pub fn parse(input: &str) -> Result<Self, Error> {
        match input {
            "auto" => Ok(BuilderChoice::Auto),
            "classic" => Ok(BuilderChoice::Classic),
            "buildkit" => Ok(BuilderChoice::Buildkit),
            _ => Err(Error::invalid_input(
                "builder",
                input,
                "one of \"auto\", \"classic\", \"buildkit\"",
            )),
        }
    }
}

/// Everything that defines one image build.
///
/// Construct with [`BuildSpec::new`] and set the fields you need; the rest have the defaults
/// of the PANTHER builder (tag version `latest`, default build mode, minimal runtime mode).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuildSpec {
    /// The implementation's name (`picoquic`); the repository part of the generated tag.
    pub name: String,
    /// The implementation's version (`rfc9000`), passed as `VERSION` and added to the name.
    pub version: Option<String>,
    /// The build context directory.
    pub context: PathBuf,
    /// The Dockerfile; `CONTEXT/Dockerfile` when unset. May lie outside the context.
    pub dockerfile: Option<PathBuf>,
    /// How to compile (`BUILD_MODE`).
    pub build_mode: BuildMode,
    /// How to run (`RUNTIME_MODE`).
    pub runtime_mode: RuntimeMode,
    /// The user's build args; they override kiln's defaults of the same name.
    pub build_args: BTreeMap<String, String>,
    /// Names of build args whose values are secret: never printed, only hashed.
    pub secret_args: BTreeSet<String>,
    /// The target stage.
    pub target: Option<String>,
    /// Labels for the image.
    pub labels: BTreeMap<String, String>,
    /// The target platform; the host's when unset.
    pub platform: Option<Platform>,
    /// Several target platforms for one multi-platform image (published as an image index, so
    /// it needs `push`); when set, `platform` is ignored.
    pub platforms: Vec<Platform>,
    /// The tag's version part (`latest`).
    pub tag_version: String,
    /// Explicit tags. When set, they replace the tag scheme's name.
    pub tags: Vec<ImageRef>,
    /// The experiment this build belongs to.
    pub experiment: Option<String>,
    /// The builder to use.
    pub builder: BuilderChoice,
    /// The selected base image, passed as `BASE_IMAGE`.
    pub base_image: Option<ImageRef>,
    /// Dependencies, passed as the JSON list `DEPENDENCIES`.
    pub dependencies: Vec<String>,
    /// Build even when a cached result exists.
    pub force: bool,
    /// Do not use the builder's layer cache either.
    pub no_cache: bool,
    /// Push the image to its registry after building (or reusing) it — unless the registry
    /// already holds it built from the same inputs.
    pub push: bool,
    /// A repository used as a build cache shared by machines: `REPO:kiln-<fingerprint>` is
    /// pulled instead of building when present, and pushed after a build.
    pub cache_repo: Option<ImageRef>,
    /// Images whose inline layer cache a BuildKit build may reuse (`--cache-from`); they speed
    /// a build up and never change what it makes, so they stay out of the fingerprint.
    pub cache_from: Vec<ImageRef>,
    /// Images this build receives in build args, built just before it (`kiln bake`'s
    /// `requires`): each parent's fingerprint enters this build's in place of its image id.
    pub parents: Vec<ParentInput>,
}

/// A parent image passed to a build in a build arg, pinned by image id or `repo@digest`.
///
/// The build's fingerprint takes the parent's fingerprint, not its image id: a child's
/// decision can be made before its parent is built, and a parent rebuilt from the same inputs
/// does not rebuild its children.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParentInput {
    /// The build arg that receives the parent (`BASE_IMAGE`).
    pub arg: String,
    /// What the parent is called in reasons (a bake cell's id).
    pub name: String,
    /// The parent's fingerprint.
    pub fingerprint: Fingerprint,
    /// The parent's image id or `repo@digest`; `None` while it is not built yet (a plan).
    pub image: Option<String>,
}

impl ParentInput {
    /// The parent `name` with fingerprint `fingerprint`, passed in `arg`.
    pub fn new(arg: impl Into<String>, name: impl Into<String>, fingerprint: Fingerprint) -> Self {
        ParentInput {
            arg: arg.into(),
            name: name.into(),
            fingerprint,
            image: None,
        }
    }

    /// The value of the build arg while the parent is not built: a stand-in the plan never
    /// resolves, so the decision rests on the fingerprint alone.
    pub fn placeholder(&self) -> String {
        format!("kiln-parent-{}", self.fingerprint.short())
    }

    /// What the build arg receives: the image when known, else [`ParentInput::placeholder`].
    pub fn value(&self) -> String {
        self.image.clone().unwrap_or_else(|| self.placeholder())
    }
}

impl BuildSpec {
    /// A spec for implementation `name` built from `context` with every default.
    pub fn new(name: impl Into<String>, context: impl Into<PathBuf>) -> Self {
        BuildSpec {
            name: name.into(),
            version: None,
            context: context.into(),
            dockerfile: None,
            build_mode: BuildMode::Default,
            runtime_mode: RuntimeMode::Minimal,
            build_args: BTreeMap::new(),
            secret_args: BTreeSet::new(),
            target: None,
            labels: BTreeMap::new(),
            platform: None,
            platforms: Vec::new(),
            tag_version: "latest".to_owned(),
            tags: Vec::new(),
            experiment: None,
            builder: BuilderChoice::Auto,
            base_image: None,
            dependencies: Vec::new(),
            force: false,
            no_cache: false,
            push: false,
            cache_repo: None,
            cache_from: Vec::new(),
            parents: Vec::new(),
        }
    }

    /// The Dockerfile path: the explicit one, or `Dockerfile` in the context.
    pub fn dockerfile_path(&self) -> PathBuf {
        self.dockerfile
            .clone()
            .unwrap_or_else(|| self.context.join("Dockerfile"))
    }
}

/// Parses one `--build-arg`: `NAME=VALUE`, or `NAME` alone to take the value from `env`.
pub fn parse_build_arg(input: &str, env: &dyn Env) -> Result<(String, String), Error> {
    const EXPECTED: &str =
        "NAME=VALUE (or NAME of a set environment variable), NAME without spaces or '='";
    let (name, value) = match input.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (input, None),
    };
    let valid_name = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| !c.is_whitespace() && !c.is_control());
    if !valid_name {
        return Err(Error::invalid_input("--build-arg", input, EXPECTED));
    }
    let value = match value {
        Some(value) => value.to_owned(),
        None => env.var(name).ok_or_else(|| {
            Error::invalid_input(
                "--build-arg",
                input,
                format!("NAME=VALUE, or NAME of a set environment variable, but {name} is not set"),
            )
        })?,
    };
    Ok((name.to_owned(), value))
}

/// How a build request was satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The image was built.
    Built,
    /// A local image built from the same inputs was reused.
    Reused,
    /// The registry already holds the image built from the same inputs.
    Remote,
    /// The image was pulled from the shared cache repository.
    Pulled,
}

impl Outcome {
    /// The outcome's name as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Built => "built",
            Outcome::Reused => "reused",
            Outcome::Remote => "remote",
            Outcome::Pulled => "pulled",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference pushed to a registry, with the digest the registry gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pushed {
    /// The reference pushed.
    #[serde(rename = "ref")]
    pub reference: ImageRef,
    /// The manifest digest.
    pub digest: Digest,
}

/// The answer to a build request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BuildReport {
    /// The primary tag.
    pub tag: ImageRef,
    /// Every tag the image got.
    pub tags: Vec<ImageRef>,
    /// The local image id; for [`Outcome::Remote`], the registry's manifest digest (there is
    /// no local image).
    pub image_id: String,
    /// How the request was satisfied.
    pub outcome: Outcome,
    /// Why, in a sentence.
    pub reason: String,
    /// The fingerprint of the build's inputs, when computed.
    pub fingerprint: Option<Fingerprint>,
    /// What changed since the last recorded build of the tag (empty when reused).
    pub changes: Vec<Change>,
    /// The work the fingerprint took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<InputStats>,
    /// The builder that ran (or would have run) the build.
    pub builder: BuilderKind,
    /// Why that builder.
    pub builder_reason: String,
    /// The target platform.
    pub platform: Platform,
    /// Every platform of a multi-platform image, each built and pushed, under one index.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<Platform>,
    /// The build mode actually used (after any fallback).
    pub build_mode: BuildMode,
    /// Wall time of the whole request.
    #[serde(rename = "duration_ms", serialize_with = "as_millis")]
    pub duration: Duration,
    /// The image's size in bytes.
    pub size_bytes: u64,
    /// Where the image was pushed, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed: Option<Pushed>,
    /// Warnings collected on the way.
    pub warnings: Vec<String>,
}

impl BuildReport {
    /// A report with the given essentials; optional parts start empty.
    pub fn new(tag: ImageRef, image_id: String, outcome: Outcome, platform: Platform) -> Self {
        BuildReport {
            tags: vec![tag.clone()],
            tag,
            image_id,
            outcome,
            reason: String::new(),
            fingerprint: None,
            changes: Vec::new(),
            inputs: None,
            builder: BuilderKind::Classic,
            builder_reason: String::new(),
            platform,
            platforms: Vec::new(),
            build_mode: BuildMode::Default,
            duration: Duration::ZERO,
            size_bytes: 0,
            pushed: None,
            warnings: Vec::new(),
        }
    }
}

fn as_millis<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    #[test]
    fn build_args_parse() {
        let env = MapEnv::new().with("FROM_ENV", "yes");
        let check = |input: &str| parse_build_arg(input, &env);
        assert_eq!(check("A=1").unwrap(), ("A".into(), "1".into()));
        assert_eq!(check("A=").unwrap(), ("A".into(), String::new()));
        assert_eq!(check("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert_eq!(
            check("FROM_ENV").unwrap(),
            ("FROM_ENV".into(), "yes".into())
        );
        for bad in ["=1", "", "A B=1", "1A=2", "\t=x"] {
            let error = check(bad).unwrap_err().to_string();
            assert!(error.contains("--build-arg"), "{bad:?}: {error}");
            assert!(error.contains(&format!("{bad:?}")), "{bad:?}: {error}");
        }
        let error = check("UNSET").unwrap_err().to_string();
        assert!(error.contains("UNSET is not set"), "{error}");
    }

    #[test]
    fn report_serialises_contract_fields() {
        let mut report = BuildReport::new(
            ImageRef::parse("hello:latest").unwrap(),
            "sha256:abc".into(),
            Outcome::Built,
            Platform::linux_amd64(),
        );
        report.duration = Duration::from_millis(1500);
        let json = serde_json::to_value(&report).unwrap();
        for field in [
            "tag",
            "image_id",
            "outcome",
            "reason",
            "fingerprint",
            "builder",
            "builder_reason",
            "platform",
            "duration_ms",
            "size_bytes",
        ] {
            assert!(json.get(field).is_some(), "missing {field}: {json}");
        }
        assert_eq!(json["duration_ms"], 1500);
        assert_eq!(json["outcome"], "built");
        assert_eq!(json["tag"], "hello:latest");
        assert!(json.get("pushed").is_none());
    }

    #[test]
    fn dockerfile_defaults_to_the_context() {
        let spec = BuildSpec::new("x", "/ctx");
        assert_eq!(spec.dockerfile_path(), PathBuf::from("/ctx/Dockerfile"));
    }
}
