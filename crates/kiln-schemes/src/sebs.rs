//! SeBS naming schemes: how the serverless benchmark suite names its images, kept compatible.
//!
//! SeBS (the serverless benchmark suite) names three kinds of image, and kiln names them the
//! same way so that images built by either tool are found and reused by the other:
//!
//! - infrastructure images ([`InfrastructureScheme`]): the build, run and manage images of a
//!   system, `{docker_repository}:{kind}.{system}[.{lang}][.{ver}]-{sebs_version}`, e.g.
//!   `spcleth/serverless-benchmarks:build.aws.python.3.11-1.2.1`;
//! - benchmark images ([`BenchmarkScheme`]): one function image per benchmark, language,
//!   version and architecture, `{docker_repository}:{function tag}`, where the function tag is
//!   `function.{system}.{benchmark}.{lang}-{ver}-{arch}[-{prefix}]-{sebs_version}`;
//! - the copies of benchmark images in a deployment's registry ([`SebsNaming`] with a
//!   [`SebsRegistry`]): ECR on AWS, Artifact Registry on GCP, any registry (OpenWhisk) or
//!   Docker Hub, all with the same function tag.
//!
//! # Architectures
//!
//! SeBS calls its architectures `x64` and `arm64`; Docker says `linux/amd64` and `linux/arm64`
//! and the kernel `x86_64` and `aarch64`. kiln accepts every spelling ([`Platform::parse`]) and
//! prints SeBS's in names ([`sebs_arch`]), so all spellings of one platform give one name.
//!
//! # Validation
//!
//! Every name is checked against the reference grammar ([`ImageRef::parse`]) and is returned
//! as an [`ImageRef`], or an [`Error`] naming the offending input — never an invalid name.
//! Parts that end up in a repository path or a registry host are lowercased (Docker requires
//! lowercase repositories; host names ignore case). Characters the grammar forbids are an
//! error rather than replaced, and names too long for the grammar (255 characters of
//! repository path, 128 of tag) are an error rather than shortened: a rewritten or shortened
//! name would not be the one SeBS itself looks for, and two inputs could silently share one
//! image.

use kiln_core::{Error, ImageRef, Platform, TagInput, TagScheme};
use serde::Serialize;

/// SeBS's name for the architecture of `platform`: `x64` for amd64, `arm64` for arm64, and
/// Docker's architecture name for any other (`s390x`, `ppc64le`, `386`).
///
/// Details that would otherwise let two platforms share one name are kept: a variant is
/// appended (`linux/arm/v7` → `armv7`, `linux/amd64/v3` → `x64v3`) and an operating system
/// other than Linux comes first (`windows/amd64` → `windows-x64`). SeBS itself only knows
/// `x64` and `arm64` on Linux, which come out exactly as SeBS writes them.
pub fn sebs_arch(platform: &Platform) -> String {
    let architecture = match platform.architecture() {
        "amd64" => "x64",
        other => other,
    };
    let mut out = String::new();
    if platform.os() != "linux" {
        out.push_str(platform.os());
        out.push('-');
    }
    out.push_str(architecture);
    if let Some(variant) = platform.variant() {
        out.push_str(variant);
    }
    out
}

/// Parses an architecture as SeBS writes it (`x64`, `arm64`) — or in any spelling
/// [`Platform::parse`] accepts (`x86_64`, `linux/arm64`, `armv7`) — into a [`Platform`].
///
/// `x64`, `arm64` and the `armv5`/`armv6`/`armv7` that [`sebs_arch`] prints read back as the
/// platform they were printed from.
///
/// # Errors
///
/// [`Error::InvalidInput`] when the architecture is unknown.
pub fn parse_sebs_arch(arch: &str) -> Result<Platform, Error> {
    Platform::parse(arch)
}

/// SeBS's infrastructure images:
/// `{docker_repository}:{kind}.{system}[.{lang}][.{ver}]-{sebs_version}`.
///
/// `spcleth/serverless-benchmarks:build.aws.python.3.11-1.2.1` is the `build` image of the
/// `aws` system for Python 3.11, from SeBS 1.2.1;
/// `spcleth/serverless-benchmarks:manage.aws-1.2.1` names no language. As in SeBS, the
/// language version is appended whenever it is given, even without a language
/// (`build.aws.3.11-1.2.1`; the format `[.{lang}[.{ver}]]` would drop it); empty parts count
/// as absent.
///
/// As a [`TagScheme`] it takes the language from its own [`language`](Self::language) and the
/// language version from [`TagInput::version`]; the other fields of the input are not part of
/// SeBS's infrastructure names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfrastructureScheme {
    /// The repository SeBS keeps its images in (`spcleth/serverless-benchmarks`).
    pub docker_repository: String,
    /// The image type: `build`, `run`, `manage`, `dependencies`, ...
    pub kind: String,
    /// The deployment system: `aws`, `azure`, `gcp`, `openwhisk`, `local`, ...
    pub system: String,
    /// The SeBS version the images belong to (`1.2.1`).
    pub sebs_version: String,
    /// The language the images are for (`python`, `nodejs`), when they are for one.
    pub language: Option<String>,
}

impl InfrastructureScheme {
    /// A scheme for the `kind` images of `system` in `docker_repository`.
    pub fn new(
        docker_repository: impl Into<String>,
        kind: impl Into<String>,
        system: impl Into<String>,
        sebs_version: impl Into<String>,
    ) -> Self {
        InfrastructureScheme {
            docker_repository: docker_repository.into(),
            kind: kind.into(),
            system: system.into(),
            sebs_version: sebs_version.into(),
            language: None,
        }
    }

    /// The same scheme for the images of `language`.
    pub fn with_language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// The image for `language` in `version` (either may be absent).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the part when the kind, system, language, version or
    /// SeBS version is empty (where required) or has a character a tag cannot hold;
    /// [`Error::InvalidReference`] when the composed name breaks the reference grammar
    /// (an invalid repository, a tag over 128 characters).
    pub fn image_name(
        &self,
        language: Option<&str>,
        version: Option<&str>,
    ) -> Result<ImageRef, Error> {
        let mut tag = tag_part("SeBS image kind", &self.kind)?.to_owned();
        tag.push('.');
        tag.push_str(tag_part("SeBS system", &self.system)?);
        for part in [
            optional_tag_part("SeBS language", language)?,
            optional_tag_part("SeBS language version", version)?,
        ]
        .into_iter()
        .flatten()
        {
            tag.push('.');
            tag.push_str(part);
        }
        tag.push('-');
        tag.push_str(tag_part("SeBS version", &self.sebs_version)?);
        let repository = self.docker_repository.to_ascii_lowercase();
        parse_composed(&format!("{repository}:{tag}"), &tag, Expected::ANY)
    }
}

impl TagScheme for InfrastructureScheme {
    fn name(&self) -> &'static str {
        "sebs-infrastructure"
    }

    fn image_ref(&self, input: &TagInput) -> Result<ImageRef, Error> {
        self.image_name(self.language.as_deref(), input.version.as_deref())
    }
}

/// SeBS's benchmark images, as built locally:
/// `{docker_repository}:function.{system}.{benchmark}.{lang}-{ver}-{arch}[-{prefix}]-{sebs_version}`.
///
/// `spcleth/serverless-benchmarks:function.aws.110.dynamic-html.python-3.8-x64-1.2.1` is
/// benchmark `110.dynamic-html` for AWS in Python 3.8 on x86-64, from SeBS 1.2.1. The prefix
/// is SeBS's `image_tag_prefix`, left out when absent or empty. The architecture is written
/// the SeBS way ([`sebs_arch`]).
///
/// As a [`TagScheme`], the benchmark is [`TagInput::name`], the language the scheme's own
/// [`language`](Self::language), the language version [`TagInput::version`] and the
/// architecture [`TagInput::platform`]; all four are required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchmarkScheme {
    /// The repository SeBS keeps its images in (`spcleth/serverless-benchmarks`).
    pub docker_repository: String,
    /// The deployment system: `aws`, `azure`, `gcp`, `openwhisk`, `local`, ...
    pub system: String,
    /// The SeBS version the images belong to (`1.2.1`).
    pub sebs_version: String,
    /// SeBS's image tag prefix, inserted before the SeBS version when present.
    pub prefix: Option<String>,
    /// The language of the benchmarks named as a [`TagScheme`] (`python`, `nodejs`).
    pub language: Option<String>,
}

impl BenchmarkScheme {
    /// A scheme for `system`'s benchmark images in `docker_repository`, without a prefix.
    pub fn new(
        docker_repository: impl Into<String>,
        system: impl Into<String>,
        sebs_version: impl Into<String>,
    ) -> Self {
        BenchmarkScheme {
            docker_repository: docker_repository.into(),
            system: system.into(),
            sebs_version: sebs_version.into(),
            prefix: None,
            language: None,
        }
    }

    /// The same scheme with image tag prefix `prefix`.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// The same scheme naming the benchmarks of `language` as a [`TagScheme`].
    pub fn with_language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// The image of `benchmark` in `language` `version` for `arch`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the part when a part is empty or has a character a tag
    /// cannot hold; [`Error::InvalidReference`] when the composed name breaks the reference
    /// grammar (an invalid repository, a tag over 128 characters).
    pub fn image_name(
        &self,
        benchmark: &str,
        language: &str,
        version: &str,
        arch: &Platform,
    ) -> Result<ImageRef, Error> {
        let function = Function::new(benchmark, language, version, arch);
        let tag = function.checked_tag(&self.system, self.prefix.as_deref(), &self.sebs_version)?;
        let repository = self.docker_repository.to_ascii_lowercase();
        parse_composed(&format!("{repository}:{tag}"), &tag, Expected::ANY)
    }
}

impl TagScheme for BenchmarkScheme {
    fn name(&self) -> &'static str {
        "sebs-benchmark"
    }

    fn image_ref(&self, input: &TagInput) -> Result<ImageRef, Error> {
        let function = Function::from_input(input, self.language.as_deref(), self.name())?;
        self.image_name(
            function.benchmark,
            function.language,
            function.version,
            function.platform,
        )
    }
}

/// The registry a SeBS deployment pushes its benchmark images to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SebsRegistry {
    /// AWS Elastic Container Registry:
    /// `{account}.dkr.ecr.{region}.amazonaws.com/sebs-benchmarks-{resources_id}:{tag}`.
    Aws {
        /// The AWS account id (`123456789012`).
        account: String,
        /// The AWS region (`us-east-1`).
        region: String,
        /// SeBS's resources id, which names the deployment's ECR repository.
        resources_id: String,
    },
    /// Google Artifact Registry, one image per benchmark:
    /// `{region}-docker.pkg.dev/{project}/sebs-benchmarks-{resources_id}/{benchmark}:{tag}`.
    Gcp {
        /// The GCP region (`europe-west1`).
        region: String,
        /// The GCP project id (`my-proj`).
        project: String,
        /// SeBS's resources id, which names the deployment's Artifact Registry repository.
        resources_id: String,
    },
    /// Any registry, as OpenWhisk deployments use: `{registry}/{repository}:{tag}`.
    Plain {
        /// The registry host with its port, if any (`localhost:5000`, `registry.example.com`).
        registry: String,
        /// The repository within it (`sebs`, `team/sebs`).
        repository: String,
    },
    /// Docker Hub, where SeBS pushes when no registry is configured: `{repository}:{tag}`.
    DockerHub {
        /// The repository on Docker Hub (`spcleth/serverless-benchmarks`).
        repository: String,
    },
}

impl SebsRegistry {
    /// [`SebsRegistry::Aws`].
    pub fn aws(
        account: impl Into<String>,
        region: impl Into<String>,
        resources_id: impl Into<String>,
    ) -> Self {
        SebsRegistry::Aws {
            account: account.into(),
            region: region.into(),
            resources_id: resources_id.into(),
        }
    }

    /// [`SebsRegistry::Gcp`].
    pub fn gcp(
        region: impl Into<String>,
        project: impl Into<String>,
        resources_id: impl Into<String>,
    ) -> Self {
        SebsRegistry::Gcp {
            region: region.into(),
            project: project.into(),
            resources_id: resources_id.into(),
        }
    }

    /// [`SebsRegistry::Plain`].
    pub fn plain(registry: impl Into<String>, repository: impl Into<String>) -> Self {
        SebsRegistry::Plain {
            registry: registry.into(),
            repository: repository.into(),
        }
    }

    /// [`SebsRegistry::DockerHub`].
    pub fn docker_hub(repository: impl Into<String>) -> Self {
        SebsRegistry::DockerHub {
            repository: repository.into(),
        }
    }
}

/// Where a benchmark image lives in a registry: SeBS's `registry_name` result.
///
/// `uri` is always `{registry}/{repository}[/{benchmark}]:{tag}` — the benchmark only on GCP,
/// where each benchmark is its own image in the Artifact Registry repository — except on
/// Docker Hub, where it is written without the registry.
///
/// Two fields differ from SeBS's OpenWhisk `registry_name`, which returns
/// `{registry}/{repository}` as the repository and the display name `Docker Hub` as the
/// registry: here `repository` is always the repository within `registry`, and Docker Hub is
/// `docker.io`. The `uri` is the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryName {
    /// The registry: `{account}.dkr.ecr.{region}.amazonaws.com` (AWS),
    /// `{region}-docker.pkg.dev/{project}` (GCP, project included as SeBS does),
    /// the registry host (plain) or `docker.io` (Docker Hub).
    pub registry: String,
    /// The repository within the registry, as the registry's API names it:
    /// `sebs-benchmarks-{resources_id}` (AWS, GCP) or the configured repository.
    pub repository: String,
    /// The image tag: the SeBS function tag.
    pub tag: String,
    /// The full, validated reference.
    pub uri: ImageRef,
}

/// SeBS's names for benchmark images in a deployment's registry.
///
/// The tag is SeBS's function tag,
/// `function.{system}.{benchmark}.{lang}-{ver}-{arch}[-{prefix}]-{sebs_version}`, on every
/// registry: SeBS's AWS, GCP and OpenWhisk `registry_name` all take it from the same
/// `benchmark_image_tag`, and that includes the image tag prefix when one is configured.
/// The registry and repository depend on [`SebsRegistry`].
///
/// As a [`TagScheme`] it names [`RegistryName::uri`], with the inputs of [`BenchmarkScheme`];
/// its name tells the registry: `sebs-aws`, `sebs-gcp`, `sebs-registry` or `sebs-docker-hub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SebsNaming {
    /// The deployment system: `aws`, `gcp`, `openwhisk`, ...
    pub system: String,
    /// The SeBS version the images belong to (`1.2.1`).
    pub sebs_version: String,
    /// SeBS's image tag prefix, inserted before the SeBS version when present.
    pub prefix: Option<String>,
    /// The registry the images are pushed to.
    pub registry: SebsRegistry,
    /// The language of the benchmarks named as a [`TagScheme`] (`python`, `nodejs`).
    pub language: Option<String>,
}

impl SebsNaming {
    /// Names for `system`'s images in `registry`, without a prefix.
    pub fn new(
        system: impl Into<String>,
        sebs_version: impl Into<String>,
        registry: SebsRegistry,
    ) -> Self {
        SebsNaming {
            system: system.into(),
            sebs_version: sebs_version.into(),
            prefix: None,
            registry,
            language: None,
        }
    }

    /// The same names with image tag prefix `prefix`.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// The same names for the benchmarks of `language`, as a [`TagScheme`] names them.
    pub fn with_language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// The function tag of `benchmark` in `language` `version` for `arch`, formatted as SeBS
    /// does and not validated: [`SebsNaming::registry_name`] checks it.
    pub fn benchmark_tag(
        &self,
        benchmark: &str,
        language: &str,
        version: &str,
        arch: &Platform,
    ) -> String {
        Function::new(benchmark, language, version, arch).tag(
            &self.system,
            self.prefix.as_deref(),
            &self.sebs_version,
        )
    }

    /// Registry, repository, tag and full reference of `benchmark` in `language` `version`
    /// for `arch`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the part when a tag part is empty or has a character a
    /// tag cannot hold, when an account, region, project or resources id would not stay one
    /// part of the name, or when a plain registry or repository would be read as something
    /// else (`myhost/sebs` is a Docker Hub repository: a registry needs a `.`, a port or to be
    /// `localhost`); [`Error::InvalidReference`] when the composed name breaks the reference
    /// grammar (a bad path component, a repository path over 255 or a tag over 128
    /// characters).
    pub fn registry_name(
        &self,
        benchmark: &str,
        language: &str,
        version: &str,
        arch: &Platform,
    ) -> Result<RegistryName, Error> {
        let function = Function::new(benchmark, language, version, arch);
        let tag = function.checked_tag(&self.system, self.prefix.as_deref(), &self.sebs_version)?;
        let (registry, repository, uri) = match &self.registry {
            SebsRegistry::Aws {
                account,
                region,
                resources_id,
            } => {
                let domain = format!(
                    "{}.dkr.ecr.{}.amazonaws.com",
                    label_part("AWS account", account)?,
                    label_part("AWS region", region)?
                );
                let repository = benchmarks_repository(resources_id)?;
                let uri = parse_composed(
                    &format!("{domain}/{repository}:{tag}"),
                    &tag,
                    Expected::exactly(&domain, &repository),
                )?;
                (domain, repository, uri)
            }
            SebsRegistry::Gcp {
                region,
                project,
                resources_id,
            } => {
                let domain = format!("{}-docker.pkg.dev", label_part("GCP region", region)?);
                let project = component_part("GCP project", project)?;
                let repository = benchmarks_repository(resources_id)?;
                let image = component_part("SeBS benchmark", benchmark)?;
                let path = format!("{project}/{repository}/{image}");
                let uri = parse_composed(
                    &format!("{domain}/{path}:{tag}"),
                    &tag,
                    Expected::exactly(&domain, &path),
                )?;
                (format!("{domain}/{project}"), repository, uri)
            }
            SebsRegistry::Plain {
                registry,
                repository,
            } => {
                let registry = registry.to_ascii_lowercase();
                let repository = repository.to_ascii_lowercase();
                let uri = parse_composed(
                    &format!("{registry}/{repository}:{tag}"),
                    &tag,
                    Expected::exactly(&registry, &repository),
                )?;
                (registry, repository, uri)
            }
            SebsRegistry::DockerHub { repository } => {
                let repository = repository.to_ascii_lowercase();
                let uri =
                    parse_composed(&format!("{repository}:{tag}"), &tag, Expected::DOCKER_HUB)?;
                (uri.domain().to_owned(), repository, uri)
            }
        };
        Ok(RegistryName {
            registry,
            repository,
            tag,
            uri,
        })
    }
}

impl TagScheme for SebsNaming {
    fn name(&self) -> &'static str {
        match self.registry {
            SebsRegistry::Aws { .. } => "sebs-aws",
            SebsRegistry::Gcp { .. } => "sebs-gcp",
            SebsRegistry::Plain { .. } => "sebs-registry",
            SebsRegistry::DockerHub { .. } => "sebs-docker-hub",
        }
    }

    fn image_ref(&self, input: &TagInput) -> Result<ImageRef, Error> {
        let function = Function::from_input(input, self.language.as_deref(), self.name())?;
        let name = self.registry_name(
            function.benchmark,
            function.language,
            function.version,
            function.platform,
        )?;
        Ok(name.uri)
    }
}

/// One benchmark image: the four arguments of SeBS's `registry_name`.
struct Function<'a> {
    benchmark: &'a str,
    language: &'a str,
    version: &'a str,
    platform: &'a Platform,
}

impl<'a> Function<'a> {
    fn new(
        benchmark: &'a str,
        language: &'a str,
        version: &'a str,
        platform: &'a Platform,
    ) -> Self {
        Function {
            benchmark,
            language,
            version,
            platform,
        }
    }

    /// The benchmark image `input` asks for, in `language`, for the scheme called `scheme`: all
    /// four parts are required.
    fn from_input(
        input: &'a TagInput,
        language: Option<&'a str>,
        scheme: &str,
    ) -> Result<Self, Error> {
        let missing = |expected: &str| {
            Error::invalid_input(
                "SeBS benchmark image input",
                &input.name,
                format!("{expected}: the {scheme} scheme names every benchmark image by it"),
            )
        };
        let language = language
            .filter(|language| !language.is_empty())
            .ok_or_else(|| {
                missing("a language (the scheme's language setting, --language: e.g. python)")
            })?;
        let version = input
            .version
            .as_deref()
            .filter(|version| !version.is_empty())
            .ok_or_else(|| {
                missing("a language version (the build's version, --version: e.g. 3.8)")
            })?;
        let platform = input.platform.as_ref().ok_or_else(|| {
            missing("an architecture (the build's platform, --arch: e.g. x64 or arm64)")
        })?;
        Ok(Function::new(&input.name, language, version, platform))
    }

    /// The function tag, formatted as SeBS does, unchecked.
    fn tag(&self, system: &str, prefix: Option<&str>, sebs_version: &str) -> String {
        let mut tag = format!(
            "function.{system}.{}.{}-{}-{}",
            self.benchmark,
            self.language,
            self.version,
            sebs_arch(self.platform)
        );
        if let Some(prefix) = prefix.filter(|prefix| !prefix.is_empty()) {
            tag.push('-');
            tag.push_str(prefix);
        }
        tag.push('-');
        tag.push_str(sebs_version);
        tag
    }

    /// The function tag, after checking each part it is made of.
    fn checked_tag(
        &self,
        system: &str,
        prefix: Option<&str>,
        sebs_version: &str,
    ) -> Result<String, Error> {
        tag_part("SeBS system", system)?;
        tag_part("SeBS benchmark", self.benchmark)?;
        tag_part("SeBS language", self.language)?;
        tag_part("SeBS language version", self.version)?;
        optional_tag_part("SeBS image tag prefix", prefix)?;
        tag_part("SeBS version", sebs_version)?;
        Ok(self.tag(system, prefix, sebs_version))
    }
}

/// Whether `c` may appear in a tag after its first character (`[A-Za-z0-9_.-]`).
fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Checks a required part of a tag: non-empty, tag characters only. Case is kept, as SeBS
/// keeps it.
fn tag_part<'a>(what: &'static str, value: &'a str) -> Result<&'a str, Error> {
    if value.is_empty() {
        return Err(Error::invalid_input(what, value, "a non-empty value"));
    }
    if !value.chars().all(is_tag_char) {
        return Err(Error::invalid_input(
            what,
            value,
            "ASCII letters, digits, '.', '_' and '-' only, as it becomes part of an image tag",
        ));
    }
    Ok(value)
}

/// Checks an optional part of a tag; an empty value counts as absent, as in SeBS.
fn optional_tag_part<'a>(
    what: &'static str,
    value: Option<&'a str>,
) -> Result<Option<&'a str>, Error> {
    value
        .filter(|value| !value.is_empty())
        .map(|value| tag_part(what, value))
        .transpose()
}

/// Lowercases a part that must stay one label of a registry host name (an account id, a
/// region) and checks it: `[a-z0-9]`, with inner `-`.
fn label_part(what: &'static str, value: &str) -> Result<String, Error> {
    if value.is_empty() {
        return Err(Error::invalid_input(what, value, "a non-empty value"));
    }
    let lowered = value.to_ascii_lowercase();
    let is_label = !lowered.starts_with('-')
        && !lowered.ends_with('-')
        && lowered
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !is_label {
        return Err(Error::invalid_input(
            what,
            value,
            "ASCII letters, digits and inner '-' only, as it becomes one label of the \
             registry's host name",
        ));
    }
    Ok(lowered)
}

/// Lowercases a part that must stay one component of a repository path (a project, a
/// benchmark) and checks its characters; the reference grammar checks how separators are used.
fn component_part(what: &'static str, value: &str) -> Result<String, Error> {
    if value.is_empty() {
        return Err(Error::invalid_input(what, value, "a non-empty value"));
    }
    let lowered = value.to_ascii_lowercase();
    if !lowered.chars().all(is_tag_char) {
        return Err(Error::invalid_input(
            what,
            value,
            "ASCII letters, digits, '.', '_' and '-' only, as it becomes one component of a \
             repository path (uppercase is lowercased)",
        ));
    }
    Ok(lowered)
}

/// SeBS's repository for a deployment's benchmark images: `sebs-benchmarks-{resources_id}`.
fn benchmarks_repository(resources_id: &str) -> Result<String, Error> {
    Ok(format!(
        "sebs-benchmarks-{}",
        component_part("SeBS resources id", resources_id)?
    ))
}

/// What a composed name must still say once parsed: the parts it was composed from.
#[derive(Clone, Copy)]
struct Expected<'a> {
    /// The registry domain, when it is known.
    domain: Option<&'a str>,
    /// The repository path, when it is known.
    path: Option<&'a str>,
}

impl<'a> Expected<'a> {
    /// Only the tag is known (a configured repository that may name its own registry).
    const ANY: Expected<'static> = Expected {
        domain: None,
        path: None,
    };
    /// A repository on Docker Hub.
    const DOCKER_HUB: Expected<'static> = Expected {
        domain: Some("docker.io"),
        path: None,
    };

    fn exactly(domain: &'a str, path: &'a str) -> Self {
        Expected {
            domain: Some(domain),
            path: Some(path),
        }
    }
}

/// Parses a composed name and checks that parsing read it the way it was composed: the same
/// tag, no digest, and the expected registry and repository.
fn parse_composed(composed: &str, tag: &str, expected: Expected<'_>) -> Result<ImageRef, Error> {
    let reference = ImageRef::parse(composed)?;
    let kept = reference.tag() == Some(tag)
        && reference.digest().is_none()
        && expected
            .domain
            .is_none_or(|domain| reference.domain() == domain)
        && expected.path.is_none_or(|path| reference.path() == path);
    if kept {
        return Ok(reference);
    }
    let mut reading = format!(
        "registry {:?}, repository {:?}",
        reference.domain(),
        reference.path()
    );
    if let Some(read_tag) = reference.tag() {
        reading.push_str(&format!(", tag {read_tag:?}"));
    }
    if let Some(digest) = reference.digest() {
        reading.push_str(&format!(", digest {digest:?}"));
    }
    let mut wanted = Vec::new();
    if let Some(domain) = expected.domain {
        wanted.push(format!("registry {domain:?}"));
    }
    if let Some(path) = expected.path {
        wanted.push(format!("repository {path:?}"));
    }
    wanted.push(format!("tag {tag:?}"));
    Err(Error::invalid_input(
        "SeBS image name",
        composed,
        format!(
            "a name that reads as {} (a registry needs a '.' or a ':port', or to be localhost; \
             a repository cannot hold ':' or '@'), but Docker reads it as {reading}",
            wanted.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests;
