//! `SpecInput`: a build as a front end receives it — strings — validated into a [`BuildSpec`].
//!
//! The CLI, library callers and any other front end give the same strings the same meaning
//! and the same errors: each bad value is an [`Error::InvalidInput`] naming it and what was
//! expected, and a secret build arg's value never appears in one.

use std::fmt;
use std::path::{Path, PathBuf};

use kiln_core::{
    BuildMode, BuildSpec, BuilderChoice, Env, Error, ImageRef, Platform, Result, RuntimeMode,
    parse_build_arg,
};

use crate::resolve::{build_tags, check_label};

/// A build described by strings, as given on a command line or in a file.
///
/// [`SpecInput::new`] gives kiln's defaults; set the fields that were given, then
/// [`SpecInput::validate`] checks every value into a [`BuildSpec`]. Its `Debug` shows secret
/// build args as `NAME=<redacted>`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpecInput {
    /// The build context directory.
    pub context: PathBuf,
    /// The Dockerfile (default: `context/Dockerfile`).
    pub dockerfile: Option<PathBuf>,
    /// The implementation's (or benchmark's) name (default: the context directory's name).
    pub name: Option<String>,
    /// The implementation's version.
    pub version: Option<String>,
    /// The tag's version part.
    pub tag_version: String,
    /// The build mode (`""`, `debug`, `release`, ...).
    pub build_mode: String,
    /// The runtime mode (`minimal`, `debug`, `profile`).
    pub runtime_mode: String,
    /// One platform, or several separated by commas (`linux/amd64,arm64`).
    pub platform: Option<String>,
    /// Build args, `NAME=VALUE` (or `NAME` to take the value from the environment).
    pub build_args: Vec<String>,
    /// Build args whose values are secret, written as `build_args` are.
    pub secret_build_args: Vec<String>,
    /// Image labels, `NAME=VALUE`.
    pub labels: Vec<String>,
    /// The target stage.
    pub target: Option<String>,
    /// Tags to use instead of the generated name.
    pub tags: Vec<String>,
    /// The experiment the build belongs to.
    pub experiment: Option<String>,
    /// The builder: `auto`, `classic` or `buildkit`.
    pub builder: String,
    /// Build even when a cached result exists.
    pub force: bool,
    /// Do not use the builder's layer cache.
    pub no_cache: bool,
    /// Push the image to its registry.
    pub push: bool,
    /// The repository builds are shared through.
    pub cache_repo: Option<String>,
    /// Images whose inline layer cache a BuildKit build may reuse.
    pub cache_from: Vec<String>,
}

impl SpecInput {
    /// A build of `context` with kiln's defaults (tag version `latest`, default build mode,
    /// runtime mode `minimal`, builder `auto`).
    pub fn new(context: impl Into<PathBuf>) -> Self {
        SpecInput {
            context: context.into(),
            dockerfile: None,
            name: None,
            version: None,
            tag_version: "latest".to_owned(),
            build_mode: String::new(),
            runtime_mode: "minimal".to_owned(),
            platform: None,
            build_args: Vec::new(),
            secret_build_args: Vec::new(),
            labels: Vec::new(),
            target: None,
            tags: Vec::new(),
            experiment: None,
            builder: "auto".to_owned(),
            force: false,
            no_cache: false,
            push: false,
            cache_repo: None,
            cache_from: Vec::new(),
        }
    }

    /// Checks every value into a [`BuildSpec`]; build args given as a bare `NAME` are read
    /// from `env`.
    ///
    /// # Errors
    ///
    /// The first bad value, as [`Error::InvalidInput`] (or [`Error::InvalidReference`] for a
    /// tag or the cache repository) naming it; a secret build arg is shown as
    /// `NAME=<redacted>`.
    pub fn validate(&self, env: &dyn Env) -> Result<BuildSpec> {
        let name = match &self.name {
            Some(name) => name.clone(),
            None => default_name(&self.context),
        };
        check_name(&name, self.name.is_none())?;
        let mut spec = BuildSpec::new(name, &self.context);
        spec.dockerfile = self.dockerfile.clone();
        spec.version = self.version.clone();
        spec.tag_version = self.tag_version.clone();
        spec.build_mode = BuildMode::parse(&self.build_mode)?;
        spec.runtime_mode = RuntimeMode::parse(&self.runtime_mode)?;
        if let Some(list) = &self.platform {
            let mut platforms = Platform::parse_list(list)?;
            if platforms.len() == 1 {
                spec.platform = platforms.pop();
            } else {
                spec.platforms = platforms;
            }
        }
        for arg in &self.build_args {
            let (name, value) = parse_build_arg(arg, env)?;
            spec.build_args.insert(name, value);
        }
        for arg in &self.secret_build_args {
            let (name, value) = parse_secret_arg(arg, env)?;
            spec.secret_args.insert(name.clone());
            spec.build_args.insert(name, value);
        }
        for label in &self.labels {
            let (name, value) = parse_label(label)?;
            check_label(name)?;
            spec.labels.insert(name.to_owned(), value.to_owned());
        }
        spec.target = self.target.clone();
        let tags = self
            .tags
            .iter()
            .map(|tag| ImageRef::parse(tag))
            .collect::<Result<Vec<_>, _>>()?;
        spec.tags = build_tags(&tags)?;
        spec.experiment = self.experiment.clone();
        spec.builder = BuilderChoice::parse(&self.builder)?;
        spec.force = self.force;
        spec.no_cache = self.no_cache;
        spec.push = self.push;
        spec.cache_repo = self
            .cache_repo
            .as_deref()
            .map(ImageRef::parse)
            .transpose()?;
        spec.cache_from = self
            .cache_from
            .iter()
            .map(|source| ImageRef::parse(source))
            .collect::<Result<_, _>>()?;
        Ok(spec)
    }
}

impl fmt::Debug for SpecInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secrets: Vec<String> = self.secret_build_args.iter().map(|a| redacted(a)).collect();
        f.debug_struct("SpecInput")
            .field("context", &self.context)
            .field("dockerfile", &self.dockerfile)
            .field("name", &self.name)
            .field("version", &self.version)
            .field("tag_version", &self.tag_version)
            .field("build_mode", &self.build_mode)
            .field("runtime_mode", &self.runtime_mode)
            .field("platform", &self.platform)
            .field("build_args", &self.build_args)
            .field("secret_build_args", &secrets)
            .field("labels", &self.labels)
            .field("target", &self.target)
            .field("tags", &self.tags)
            .field("experiment", &self.experiment)
            .field("builder", &self.builder)
            .field("force", &self.force)
            .field("no_cache", &self.no_cache)
            .field("push", &self.push)
            .field("cache_repo", &self.cache_repo)
            .field("cache_from", &self.cache_from)
            .finish()
    }
}

/// A secret build arg as it may be shown: its name, never its value. Without a name
/// (`=VALUE`) or without `=` (`VALUE` may be the secret given alone) nothing of it is shown.
fn redacted(arg: &str) -> String {
    match arg.split_once('=') {
        Some((name, _)) if !name.is_empty() => format!("{name}=<redacted>"),
        _ => "<redacted>".to_owned(),
    }
}

/// A secret build arg; the error shows its name, never its value.
fn parse_secret_arg(arg: &str, env: &dyn Env) -> Result<(String, String)> {
    parse_build_arg(arg, env).map_err(|_| {
        Error::invalid_input(
            "--secret-build-arg",
            redacted(arg),
            "NAME=VALUE (or NAME of a set environment variable), NAME without spaces; the \
             argument is not shown, it may hold the secret",
        )
    })
}

/// A label, `NAME=VALUE` with a non-empty name.
fn parse_label(label: &str) -> Result<(&str, &str)> {
    label
        .split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| Error::invalid_input("--label", label, "NAME=VALUE"))
}

/// Refuses a name that image names cannot tell apart from others: empty, or with characters
/// outside ASCII (a scheme would replace them, and `名前` and `이름` would share one image).
/// `from_context` says the name is the context directory's, not given.
fn check_name(name: &str, from_context: bool) -> Result<()> {
    if !name.is_empty() && name.is_ascii() && name.chars().any(|c| c.is_ascii_alphanumeric()) {
        return Ok(());
    }
    let expected = if from_context {
        "an ASCII name with a letter or digit: the context directory's name is used when \
         --name is not given, so give --name"
    } else {
        "an ASCII name with a letter or digit"
    };
    Err(Error::invalid_input("--name", name, expected))
}

/// The context directory's name as given: `examples/hello` → `hello`, a symlink `app` → `app`
/// (not its target's name); `.` and `..` → the name of the directory they stand for.
fn default_name(context: &Path) -> String {
    if let Some(name) = context.file_name() {
        return name.to_string_lossy().into_owned();
    }
    let resolved = std::fs::canonicalize(context).unwrap_or_else(|_| context.to_path_buf());
    resolved
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::{ErrorKind, MapEnv};

    fn input() -> SpecInput {
        SpecInput::new("/tmp/ctx")
    }

    #[test]
    fn the_default_name_is_the_context_as_given() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("build-output-7f3a");
        std::fs::create_dir(&target).unwrap();
        let link = dir.path().join("app");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(default_name(&link), "app");
        assert_eq!(default_name(&link.join(".")), "app");
        assert_eq!(default_name(Path::new("examples/hello/")), "hello");
        assert_eq!(default_name(&target.join("..")), default_name(dir.path()));
    }

    #[test]
    fn bad_values_are_named() {
        let mut cases: Vec<(SpecInput, &str)> = Vec::new();
        let mut add = |edit: &dyn Fn(&mut SpecInput), expected| {
            let mut case = input();
            edit(&mut case);
            cases.push((case, expected));
        };
        add(
            &|i| i.build_mode = "turbo".into(),
            "invalid build mode \"turbo\"",
        );
        add(
            &|i| i.runtime_mode = "fast".into(),
            "invalid runtime mode \"fast\"",
        );
        add(
            &|i| i.platform = Some("linux/sparc99".into()),
            "invalid platform \"linux/sparc99\"",
        );
        add(
            &|i| i.build_args = vec!["=x".into()],
            "invalid --build-arg \"=x\"",
        );
        add(&|i| i.labels = vec!["=x".into()], "invalid --label \"=x\"");
        add(
            &|i| i.labels = vec!["novalue".into()],
            "invalid --label \"novalue\"",
        );
        add(
            &|i| i.cache_from = vec!["Bad Source".into()],
            "invalid image reference \"Bad Source\"",
        );
        add(
            &|i| i.tags = vec!["bad tag!".into()],
            "invalid image reference \"bad tag!\"",
        );
        add(
            &|i| i.tags = vec!["library/Upper".into()],
            "invalid image reference \"library/Upper\"",
        );
        add(
            &|i| i.cache_repo = Some("Bad Repo".into()),
            "invalid image reference \"Bad Repo\"",
        );
        add(&|i| i.builder = "fast".into(), "invalid builder \"fast\"");
        add(&|i| i.name = Some(String::new()), "invalid --name \"\"");
        add(&|i| i.name = Some("名前".into()), "invalid --name \"名前\"");
        add(&|i| i.name = Some("café".into()), "invalid --name \"café\"");
        add(&|i| i.name = Some("--".into()), "invalid --name \"--\"");
        add(
            &|i| i.labels = vec!["dev.kiln.fingerprint=x".into()],
            "invalid --label \"dev.kiln.fingerprint\"",
        );
        let digest = format!("sha256:{}", "a".repeat(64));
        add(
            &|i| i.tags = vec![format!("repo@{digest}")],
            "invalid --tag \"repo@sha256:",
        );
        add(
            &|i| i.tags = vec!["ok:1".into(), format!("repo:1@{digest}")],
            "invalid --tag \"repo:1@sha256:",
        );
        for (case, expected) in cases {
            let error = case.validate(&MapEnv::new()).unwrap_err();
            assert!(error.to_string().starts_with(expected), "{case:?}: {error}");
            assert_eq!(error.kind(), ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn secret_args_are_marked_and_never_echoed() {
        let mut secret = input();
        secret.secret_build_args = vec!["TOKEN=hunter2".into()];
        let spec = secret.validate(&MapEnv::new()).unwrap();
        assert!(spec.secret_args.contains("TOKEN"));
        assert_eq!(
            spec.build_args.get("TOKEN").map(String::as_str),
            Some("hunter2")
        );
        secret.secret_build_args = vec!["1BAD=hunter2".into()];
        let error = secret.validate(&MapEnv::new()).unwrap_err().to_string();
        assert!(!error.contains("hunter2"), "{error}");
        assert!(error.contains("1BAD=<redacted>"), "{error}");
        let shown = format!("{secret:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("1BAD=<redacted>"), "{shown}");
        for nameless in ["=hunter2", "hunter2", "hunter 2"] {
            secret.secret_build_args = vec![nameless.into()];
            let error = secret.validate(&MapEnv::new()).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidInput);
            let (text, shown) = (error.to_string(), format!("{secret:?}"));
            assert!(!text.contains("hunter"), "{nameless}: {text}");
            assert!(text.contains("--secret-build-arg"), "{text}");
            assert!(!shown.contains("hunter"), "{nameless}: {shown}");
        }
    }

    #[test]
    fn bare_names_read_the_environment() {
        let mut given = input();
        given.build_args = vec!["PROXY".into()];
        given.secret_build_args = vec!["TOKEN".into()];
        let env = MapEnv::new()
            .with("PROXY", "http://p:3128")
            .with("TOKEN", "s3cret");
        let spec = given.validate(&env).unwrap();
        assert_eq!(spec.build_args["PROXY"], "http://p:3128");
        assert_eq!(spec.build_args["TOKEN"], "s3cret");
        assert!(spec.secret_args.contains("TOKEN"));
        let error = given.validate(&MapEnv::new()).unwrap_err().to_string();
        assert!(error.contains("PROXY"), "{error}");
    }

    #[test]
    fn one_platform_or_several() {
        let mut one = input();
        one.platform = Some("arm64".into());
        let spec = one.validate(&MapEnv::new()).unwrap();
        assert_eq!(spec.platform, Some(Platform::linux_arm64()));
        assert!(spec.platforms.is_empty());

        let mut several = input();
        several.platform = Some("linux/amd64,arm64".into());
        let spec = several.validate(&MapEnv::new()).unwrap();
        assert_eq!(spec.platform, None);
        assert_eq!(
            spec.platforms,
            [Platform::linux_amd64(), Platform::linux_arm64()]
        );
    }

    #[test]
    fn a_context_directory_name_that_cannot_name_an_image_asks_for_name() {
        let dir = tempfile::tempdir().unwrap();
        let context = dir.path().join("名前");
        std::fs::create_dir(&context).unwrap();
        let error = SpecInput::new(&context)
            .validate(&MapEnv::new())
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        let text = error.to_string();
        assert!(text.starts_with("invalid --name \"名前\""), "{text}");
        assert!(text.ends_with("so give --name"), "{text}");
        let mut named = SpecInput::new(&context);
        named.name = Some("namae".into());
        assert_eq!(named.validate(&MapEnv::new()).unwrap().name, "namae");
    }

    #[test]
    fn defaults_and_given_values() {
        let spec = input().validate(&MapEnv::new()).unwrap();
        assert_eq!(spec.name, "ctx");
        assert_eq!(spec.tag_version, "latest");
        assert_eq!(spec.build_mode, BuildMode::Default);
        assert_eq!(spec.runtime_mode, RuntimeMode::Minimal);
        assert_eq!(spec.builder, BuilderChoice::Auto);
        assert!(spec.tags.is_empty() && spec.labels.is_empty());

        let mut given = input();
        given.name = Some("picoquic".into());
        given.labels = vec!["team=net".into(), "empty=".into()];
        given.tags = vec!["app:1".into(), "app:2".into(), "app:1".into()];
        given.cache_repo = Some("localhost:5000/cache".into());
        given.push = true;
        let spec = given.validate(&MapEnv::new()).unwrap();
        assert_eq!(spec.name, "picoquic");
        assert_eq!(spec.labels["team"], "net");
        assert_eq!(spec.labels["empty"], "");
        let tags: Vec<String> = spec.tags.iter().map(ImageRef::familiar).collect();
        assert_eq!(
            tags,
            ["app:1", "app:2"],
            "a repeated tag is kept once, in order"
        );
        assert_eq!(
            spec.cache_repo.map(|r| r.familiar()).as_deref(),
            Some("localhost:5000/cache:latest")
        );
        assert!(spec.push);
    }
}
