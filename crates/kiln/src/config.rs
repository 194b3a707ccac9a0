//! Global configuration: a TOML file, then `KILN_*` environment variables over it.
//!
//! The file is `KILN_CONFIG` if set (it must then exist), else `$XDG_CONFIG_HOME/kiln/config.toml`
//! or `~/.config/kiln/config.toml` when present. Unknown keys are errors, so a typo never
//! silently does nothing; errors in the file name its line and column. The yes/no variables
//! take `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off`, empty; anything else is an error.
//!
//! ```toml
//! force_build = false            # KILN_FORCE_BUILD=1
//! no_cache = false               # KILN_NO_CACHE=1
//! target_platform = "linux/arm64" # KILN_TARGET_PLATFORM
//! multi_platform = false         # KILN_MULTI_PLATFORM=1: `kiln build` without --platform builds
//! platforms = ["linux/amd64", "linux/arm64"]  # KILN_PLATFORMS: … these (one index; needs --push)
//! platform_jobs = 2              # KILN_PLATFORM_JOBS: platforms of one build built at once
//! use_buildx = true              # KILN_USE_BUILDX=0: the classic builder unless BuildKit is needed
//! cache_dir = "/var/cache/kiln"  # KILN_CACHE_DIR
//! cache_ttl_secs = 300           # KILN_CACHE_TTL: existence answers stay fresh this long
//! cache_max_size = "512MiB"      # KILN_CACHE_MAX_SIZE: records pruned past it; "off": never
//! registry = "registry.example.com:5000"  # KILN_REGISTRY: prefix of generated image names
//! cache_repo = "registry.example.com:5000/kiln-cache"  # KILN_CACHE_REPO: shared build cache
//! cache_from = ["registry.example.com:5000/app:1"]  # KILN_CACHE_FROM (comma-separated): layer
//!                                # cache sources for BuildKit builds, as --cache-from gives them
//! [build_args]
//! HTTP_PROXY = "http://proxy:3128"
//! [scheme]                       # how generated image names are made (default: panther)
//! name = "sebs-aws"              # see kiln_schemes::SchemeConfig for every scheme's settings
//! language = "python"
//! sebs_version = "1.2.1"
//! account = "123456789012"
//! region = "us-east-1"
//! resources_id = "a1b2c3d4"
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use kiln_core::text::line_and_column;
use kiln_core::{Env, Error, ImageRef, Platform};
use kiln_schemes::SchemeConfig;
use serde::Deserialize;

/// kiln's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Build even when a cached result exists (every build, as `--force` does for one).
    #[serde(default)]
    pub force_build: bool,
    /// Do not use the builder's layer cache.
    #[serde(default)]
    pub no_cache: bool,
    /// Whether BuildKit builds what does not need it: unset, BuildKit where the daemon has it
    /// (as Docker Engine 23 and later do); `false`, the classic builder.
    #[serde(default)]
    pub use_buildx: Option<bool>,
    /// The platform to build for when a build names none; the host's when unset.
    pub target_platform: Option<Platform>,
    /// Build every platform of `platforms` when a build names none (one multi-platform
    /// image, published as an index, so it needs `--push`).
    #[serde(default)]
    pub multi_platform: bool,
    /// The platforms `multi_platform` builds; `linux/amd64` and `linux/arm64` when empty.
    #[serde(default)]
    pub platforms: Vec<Platform>,
    /// How many platforms of one multi-platform build are built at once (at least 1).
    #[serde(default = "default_platform_jobs")]
    pub platform_jobs: usize,
    /// The cache directory; `KILN_CACHE_DIR`, else the XDG cache directory, when unset.
    pub cache_dir: Option<PathBuf>,
    /// How long an "image exists" answer stays fresh, in seconds ("absent": a tenth of it).
    #[serde(default = "default_ttl")]
    pub cache_ttl_secs: u64,
    /// The size the build records are kept under (`500MiB`, `2GiB`, …; `off`: no bound);
    /// 512 MiB when unset. See [`Config::cache_max_bytes`].
    pub cache_max_size: Option<String>,
    /// A registry that generated image names are placed in (`registry/name:tag`).
    pub registry: Option<String>,
    /// The repository used as a build cache shared by machines (see `BuildSpec::cache_repo`).
    pub cache_repo: Option<String>,
    /// Images whose inline layer cache BuildKit builds may reuse (`--cache-from` adds to them).
    #[serde(default)]
    pub cache_from: Vec<String>,
    /// Build args added to every build (a build's own `--build-arg`s win).
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,
    /// The scheme that names images when a build gives no tag, with its settings; checked
    /// when a [`Kiln`](crate::Kiln) is built, after a front end has added its own.
    #[serde(default)]
    pub scheme: SchemeConfig,
}

/// The PANTHER builder's TTL.
const DEFAULT_TTL_SECS: u64 = 300;

fn default_ttl() -> u64 {
    DEFAULT_TTL_SECS
}

/// Two platforms at once: a two-platform build in the time of its slower half.
const DEFAULT_PLATFORM_JOBS: usize = 2;

fn default_platform_jobs() -> usize {
    DEFAULT_PLATFORM_JOBS
}

impl Default for Config {
    fn default() -> Self {
        Config {
            force_build: false,
            no_cache: false,
            use_buildx: None,
            target_platform: None,
            multi_platform: false,
            platforms: Vec::new(),
            platform_jobs: DEFAULT_PLATFORM_JOBS,
            cache_dir: None,
            cache_ttl_secs: DEFAULT_TTL_SECS,
            cache_max_size: None,
            registry: None,
            cache_repo: None,
            cache_from: Vec::new(),
            build_args: BTreeMap::new(),
            scheme: SchemeConfig::default(),
        }
    }
}

impl Config {
    /// Reads the configuration file (if any) and applies the environment over it.
    pub fn load(env: &dyn Env) -> Result<Config, Error> {
        let mut config = match config_file(env)? {
            Some(path) => Config::from_file(&path)?,
            None => Config::default(),
        };
        config.apply_env(env)?;
        Ok(config)
    }

    /// Parses one configuration file.
    pub fn from_file(path: &Path) -> Result<Config, Error> {
        let text = fs::read_to_string(path).map_err(|error| Error::InvalidPath {
            what: "configuration file",
            path: path.to_owned(),
            problem: format!("cannot be read: {error}"),
        })?;
        let config: Config = toml::from_str(&text).map_err(|error| {
            let place = match error.span() {
                Some(span) => {
                    let (line, column) = line_and_column(&text, span.start);
                    format!("{}:{line}:{column}", path.display())
                }
                None => path.display().to_string(),
            };
            Error::invalid_input(
                "configuration file",
                place,
                format!("valid kiln settings: {}", error.message()),
            )
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values that must parse: the cache repository is an image reference, the
    /// cache size a size, and build arg names are what `--build-arg` accepts.
    fn validate(&self) -> Result<(), Error> {
        if let Some(repo) = &self.cache_repo {
            ImageRef::parse(repo)?;
        }
        for source in &self.cache_from {
            ImageRef::parse(source)?;
        }
        if self.platform_jobs == 0 {
            return Err(Error::invalid_input(
                "platform_jobs",
                "0",
                "a number of platforms built at once, at least 1",
            ));
        }
        for name in self.build_args.keys() {
            if !is_build_arg_name(name) {
                return Err(Error::invalid_input(
                    "build arg name in [build_args]",
                    name.clone(),
                    "a NAME as --build-arg takes it: not empty, not starting with a digit, \
                     without spaces or '='",
                ));
            }
        }
        self.cache_max_bytes()?;
        Ok(())
    }

    /// The size bound of the build records in bytes: `cache_max_size` parsed, the default
    /// when unset, `None` when it is `off`.
    pub fn cache_max_bytes(&self) -> Result<Option<u64>, Error> {
        match self.cache_max_size.as_deref().map(str::trim) {
            None => Ok(Some(kiln_cache::prune::DEFAULT_MAX_BYTES)),
            Some("off") => Ok(None),
            Some(size) => kiln_cache::prune::parse_size("cache_max_size", size).map(Some),
        }
    }

    /// The platforms a build that names none is built for: every configured one when
    /// `multi_platform` is on (at least two), else none (the single target platform rules).
    pub fn default_platforms(&self) -> Vec<Platform> {
        if !self.multi_platform {
            return Vec::new();
        }
        if self.platforms.len() > 1 {
            return self.platforms.clone();
        }
        vec![Platform::linux_amd64(), Platform::linux_arm64()]
    }

    /// The layer cache sources of `cache_from`, parsed.
    pub fn cache_from(&self) -> Result<Vec<ImageRef>, Error> {
        self.cache_from
            .iter()
            .map(|source| ImageRef::parse(source).map_err(Error::from))
            .collect()
    }

    /// The cache repository, parsed.
    pub fn cache_repo(&self) -> Result<Option<ImageRef>, Error> {
        self.cache_repo
            .as_deref()
            .map(ImageRef::parse)
            .transpose()
            .map_err(Error::from)
    }

    fn apply_env(&mut self, env: &dyn Env) -> Result<(), Error> {
        if let Some(force) = env_flag(env, "KILN_FORCE_BUILD")? {
            self.force_build = force;
        }
        if let Some(buildx) = env_flag(env, "KILN_USE_BUILDX")? {
            self.use_buildx = Some(buildx);
        }
        if let Some(no_cache) = env_flag(env, "KILN_NO_CACHE")? {
            self.no_cache = no_cache;
        }
        if let Some(platform) = env.var("KILN_TARGET_PLATFORM").filter(|v| !v.is_empty()) {
            self.target_platform = Some(Platform::parse(&platform)?);
        }
        if let Some(multi) = env_flag(env, "KILN_MULTI_PLATFORM")? {
            self.multi_platform = multi;
        }
        if let Some(list) = env.var("KILN_PLATFORMS").filter(|v| !v.is_empty()) {
            self.platforms = list
                .split(',')
                .map(|platform| Platform::parse(platform.trim()))
                .collect::<Result<_, _>>()?;
        }
        if let Some(dir) = env.path("KILN_CACHE_DIR") {
            self.cache_dir = Some(dir);
        }
        if let Some(size) = env.var("KILN_CACHE_MAX_SIZE").filter(|v| !v.is_empty()) {
            if size.trim() != "off" {
                kiln_cache::prune::parse_size("KILN_CACHE_MAX_SIZE", &size)?;
            }
            self.cache_max_size = Some(size);
        }
        if let Some(registry) = env.var("KILN_REGISTRY").filter(|v| !v.is_empty()) {
            self.registry = Some(registry);
        }
        if let Some(repo) = env.var("KILN_CACHE_REPO").filter(|v| !v.is_empty()) {
            self.cache_repo = Some(repo);
        }
        if let Some(list) = env.var("KILN_CACHE_FROM").filter(|v| !v.is_empty()) {
            self.cache_from = list
                .split(',')
                .map(|source| source.trim().to_owned())
                .filter(|source| !source.is_empty())
                .collect();
        }
        if let Some(jobs) = env.var("KILN_PLATFORM_JOBS").filter(|v| !v.is_empty()) {
            self.platform_jobs = jobs.trim().parse().map_err(|_| {
                Error::invalid_input(
                    "KILN_PLATFORM_JOBS",
                    jobs.clone(),
                    "a number of platforms built at once, at least 1",
                )
            })?;
        }
        if let Some(ttl) = env.var("KILN_CACHE_TTL").filter(|v| !v.is_empty()) {
            self.cache_ttl_secs = ttl.parse().map_err(|_| {
                Error::invalid_input("KILN_CACHE_TTL", ttl.clone(), "a number of seconds")
            })?;
        }
        self.validate()
    }
}

/// A yes/no variable: `None` when unset; a value that is neither is an error naming the
/// variable and the values it takes.
fn env_flag(env: &dyn Env, name: &'static str) -> Result<Option<bool>, Error> {
    let Some(value) = env.var(name) else {
        return Ok(None);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(Some(true)),
        "0" | "false" | "no" | "off" | "" => Ok(Some(false)),
        _ => Err(Error::invalid_input(
            name,
            value,
            "1, true, yes or on to enable; 0, false, no, off or empty to disable",
        )),
    }
}

/// Whether `name` is a build arg's NAME as `--build-arg` takes it: not empty, not starting
/// with a digit, without whitespace, control characters or `=`.
pub(crate) fn is_build_arg_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '=')
}

fn config_file(env: &dyn Env) -> Result<Option<PathBuf>, Error> {
    if let Some(path) = env.path("KILN_CONFIG") {
        let problem = if path.is_dir() {
            Some("is a directory; KILN_CONFIG names the configuration file itself")
        } else if !path.exists() {
            Some("does not exist")
        } else if !path.is_file() {
            Some("is not a regular file")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(Error::InvalidPath {
                what: "configuration file (KILN_CONFIG)",
                path,
                problem: problem.to_owned(),
            });
        }
        return Ok(Some(path));
    }
    let default = env
        .path("XDG_CONFIG_HOME")
        .or_else(|| env.path("HOME").map(|home| home.join(".config")))
        .map(|dir| dir.join("kiln").join("config.toml"));
    Ok(default.filter(|path| path.is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_platform_builds_the_configured_platforms() {
        let env = MapEnv::new()
            .with("KILN_MULTI_PLATFORM", "1")
            .with("KILN_PLATFORMS", "linux/amd64, linux/arm64, linux/arm/v7");
        let config = Config::load(&env).unwrap();
        assert_eq!(config.default_platforms().len(), 3);
        assert_eq!(
            Config::default().default_platforms(),
            Vec::<Platform>::new()
        );
        let on = Config {
            multi_platform: true,
            ..Config::default()
        };
        assert_eq!(
            on.default_platforms(),
            [Platform::linux_amd64(), Platform::linux_arm64()]
        );
        let bad = MapEnv::new().with("KILN_PLATFORMS", "linux/amd64,sparc99");
        assert!(
            Config::load(&bad)
                .unwrap_err()
                .to_string()
                .contains("sparc99")
        );
    }
    use kiln_core::MapEnv;

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(
            &path,
            "force_build = true\ntarget_platform = \"arm64\"\n[build_args]\nA = \"1\"\n",
        )
        .unwrap();
        let env = MapEnv::new().with("KILN_CONFIG", path.to_str().unwrap());
        let config = Config::load(&env).unwrap();
        assert!(config.force_build);
        assert_eq!(config.target_platform, Some(Platform::linux_arm64()));
        assert_eq!(config.build_args.get("A").map(String::as_str), Some("1"));

        let env = env
            .with("KILN_FORCE_BUILD", "0")
            .with("KILN_CACHE_DIR", "/c");
        let config = Config::load(&env).unwrap();
        assert!(!config.force_build);
        assert_eq!(config.cache_dir, Some(PathBuf::from("/c")));
    }

    #[test]
    fn the_cache_size_bound_is_configured() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(&path, "cache_max_size = \"2GiB\"\n").unwrap();
        let env = MapEnv::new().with("KILN_CONFIG", path.to_str().unwrap());
        assert_eq!(
            Config::load(&env).unwrap().cache_max_bytes().unwrap(),
            Some(2 << 30)
        );
        let off = env.clone().with("KILN_CACHE_MAX_SIZE", "off");
        assert_eq!(Config::load(&off).unwrap().cache_max_bytes().unwrap(), None);
        let env = env.with("KILN_CACHE_MAX_SIZE", "lots");
        let error = Config::load(&env).unwrap_err();
        assert_eq!(error.kind(), kiln_core::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("KILN_CACHE_MAX_SIZE"), "{error}");
        assert_eq!(
            Config::default().cache_max_bytes().unwrap(),
            Some(kiln_cache::prune::DEFAULT_MAX_BYTES)
        );
        fs::write(&path, "cache_max_size = \"big\"\n").unwrap();
        let env = MapEnv::new().with("KILN_CONFIG", path.to_str().unwrap());
        assert!(Config::load(&env).unwrap_err().to_string().contains("big"));
    }

    #[test]
    fn bad_configuration_is_invalid_input_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(&path, "forse_build = true\n").unwrap();
        let env = MapEnv::new().with("KILN_CONFIG", path.to_str().unwrap());
        let error = Config::load(&env).unwrap_err();
        assert_eq!(error.kind(), kiln_core::ErrorKind::InvalidInput);
        let text = error.to_string();
        assert!(
            text.contains("config.toml") && text.contains("forse_build"),
            "{text}"
        );

        let env = MapEnv::new().with("KILN_CONFIG", "/no/such/kiln.toml");
        assert!(
            Config::load(&env)
                .unwrap_err()
                .to_string()
                .contains("/no/such/kiln.toml")
        );

        let env = MapEnv::new().with("KILN_TARGET_PLATFORM", "linux/sparc99");
        assert!(Config::load(&env).is_err());
    }

    #[test]
    fn a_flag_that_is_neither_yes_nor_no_is_refused() {
        for name in ["KILN_FORCE_BUILD", "KILN_USE_BUILDX", "KILN_NO_CACHE"] {
            let error = Config::load(&MapEnv::new().with(name, "maybe")).unwrap_err();
            assert_eq!(error.kind(), kiln_core::ErrorKind::InvalidInput);
            let text = error.to_string();
            assert!(
                text.starts_with(&format!("invalid {name} \"maybe\"")),
                "{text}"
            );
            assert!(text.contains("1, true, yes or on"), "{text}");
        }
        for (value, expected) in [("YES", true), (" on ", true), ("off", false), ("", false)] {
            let env = MapEnv::new().with("KILN_FORCE_BUILD", value);
            assert_eq!(
                Config::load(&env).unwrap().force_build,
                expected,
                "{value:?}"
            );
        }
    }

    #[test]
    fn file_errors_name_the_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(&path, "no_cache = true\n\n  forse_build = true\n").unwrap();
        let text = Config::from_file(&path).unwrap_err().to_string();
        let place = format!("{}:3:3\"", path.display());
        assert!(text.contains(&place), "{text}");

        fs::write(&path, "cache_ttl_secs = \"ten\"\n").unwrap();
        let text = Config::from_file(&path).unwrap_err().to_string();
        let place = format!("{}:1:18\"", path.display());
        assert!(text.contains(&place), "{text}");

        let env = MapEnv::new().with("KILN_CONFIG", dir.path().to_str().unwrap());
        let text = Config::load(&env).unwrap_err().to_string();
        assert!(text.contains("is a directory"), "{text}");
    }

    #[test]
    fn build_args_from_the_file_are_checked_as_flags_are() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        for name in ["\"1ST\"", "\"A B\"", "\"A=B\"", "\"\""] {
            fs::write(&path, format!("[build_args]\n{name} = \"x\"\n")).unwrap();
            let error = Config::from_file(&path).unwrap_err();
            assert_eq!(error.kind(), kiln_core::ErrorKind::InvalidInput, "{name}");
            let text = error.to_string();
            assert!(text.contains("[build_args]"), "{text}");
        }
        fs::write(&path, "[build_args]\nHTTP_PROXY = \"http://p:3128\"\n").unwrap();
        assert!(Config::from_file(&path).is_ok());
    }

    #[test]
    fn the_scheme_table_chooses_the_scheme() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(
            &path,
            "[scheme]\nname = \"sebs-aws\"\nlanguage = \"python\"\naccount = \"1\"\n",
        )
        .unwrap();
        let config = Config::from_file(&path).unwrap();
        assert_eq!(config.scheme.scheme_name(), "sebs-aws");
        assert_eq!(config.scheme.language.as_deref(), Some("python"));
        let error = config.scheme.scheme().unwrap_err().to_string();
        assert!(
            error.contains("sebs-aws") && error.contains("sebs_version"),
            "{error}"
        );

        fs::write(&path, "[scheme]\nname = \"sebs-aws\"\nacount = \"1\"\n").unwrap();
        let error = Config::from_file(&path).unwrap_err().to_string();
        assert!(error.contains("acount"), "{error}");
    }

    #[test]
    fn platform_jobs_and_cache_sources_are_checked() {
        assert_eq!(Config::default().platform_jobs, 2);
        let env = MapEnv::new().with("KILN_PLATFORM_JOBS", "3").with(
            "KILN_CACHE_FROM",
            "localhost:5000/app:1, localhost:5000/app:2",
        );
        let config = Config::load(&env).unwrap();
        assert_eq!(config.platform_jobs, 3);
        let sources: Vec<String> = config
            .cache_from()
            .unwrap()
            .iter()
            .map(ImageRef::familiar)
            .collect();
        assert_eq!(sources, ["localhost:5000/app:1", "localhost:5000/app:2"]);
        for (name, value) in [
            ("KILN_PLATFORM_JOBS", "0"),
            ("KILN_PLATFORM_JOBS", "many"),
            ("KILN_CACHE_FROM", "Not A Ref"),
        ] {
            let error = Config::load(&MapEnv::new().with(name, value)).unwrap_err();
            assert_eq!(error.kind(), kiln_core::ErrorKind::InvalidInput, "{name}");
            assert!(error.to_string().contains(value), "{error}");
        }
    }

    #[test]
    fn no_file_is_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let env = MapEnv::new().with("HOME", dir.path().to_str().unwrap());
        assert_eq!(Config::load(&env).unwrap(), Config::default());
    }
}
