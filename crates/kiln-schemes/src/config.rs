//! A scheme chosen by name, with its settings as strings: what the CLI's flags and the
//! `[scheme]` table of kiln's configuration file fill in, checked into a [`TagScheme`].

use std::sync::Arc;

use kiln_core::{Error, TagScheme};
use serde::{Deserialize, Serialize};

use crate::panther::PantherScheme;
use crate::sebs::{BenchmarkScheme, InfrastructureScheme, SebsNaming, SebsRegistry};

/// The repository SeBS keeps its images in, the default of the schemes that take a repository.
pub const SEBS_REPOSITORY: &str = "spcleth/serverless-benchmarks";

/// The names of the schemes [`SchemeConfig::name`] accepts; the first is the default.
pub const SCHEME_NAMES: [&str; 7] = [
    "panther",
    "sebs-benchmark",
    "sebs-infrastructure",
    "sebs-aws",
    "sebs-gcp",
    "sebs-registry",
    "sebs-docker-hub",
];

/// Which scheme names images, and its settings.
///
/// Every setting is a string as a user writes it; [`SchemeConfig::scheme`] checks that the
/// chosen scheme has every setting it needs and none it would ignore. The build itself gives
/// what every scheme reads ([`kiln_core::TagInput`]): for SeBS, the benchmark is the build's
/// name, the language version its version and the architecture its platform.
///
/// In kiln's configuration file:
///
/// ```toml
/// [scheme]
/// name = "sebs-aws"
/// language = "python"
/// sebs_version = "1.2.1"
/// account = "123456789012"
/// region = "us-east-1"
/// resources_id = "a1b2c3d4"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SchemeConfig {
    /// The scheme, one of [`SCHEME_NAMES`]; `panther` when unset.
    pub name: Option<String>,
    /// SeBS: the benchmark's language (`python`, `nodejs`).
    pub language: Option<String>,
    /// SeBS: the deployment system (`aws`, `gcp`, `openwhisk`, `local`).
    pub system: Option<String>,
    /// SeBS: the SeBS version the images belong to (`1.2.1`).
    pub sebs_version: Option<String>,
    /// SeBS: the repository of the images (default [`SEBS_REPOSITORY`] where one is optional).
    pub repository: Option<String>,
    /// SeBS: the image tag prefix, inserted before the SeBS version.
    pub tag_prefix: Option<String>,
    /// SeBS infrastructure images: the image kind (`build`, `run`, `manage`).
    pub kind: Option<String>,
    /// SeBS on AWS: the account id.
    pub account: Option<String>,
    /// SeBS on AWS or GCP: the region.
    pub region: Option<String>,
    /// SeBS on AWS or GCP: the resources id that names the deployment's repository.
    pub resources_id: Option<String>,
    /// SeBS on GCP: the project id.
    pub project: Option<String>,
    /// SeBS with any registry (`sebs-registry`): the registry host, with its port if any.
    pub registry_host: Option<String>,
}

/// One setting of a scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Language,
    System,
    SebsVersion,
    Repository,
    TagPrefix,
    Kind,
    Account,
    Region,
    ResourcesId,
    Project,
    RegistryHost,
}

use Field::*;

impl Field {
    const ALL: [Field; 11] = [
        Language,
        System,
        SebsVersion,
        Repository,
        TagPrefix,
        Kind,
        Account,
        Region,
        ResourcesId,
        Project,
        RegistryHost,
    ];

    /// The key in the configuration file.
    fn key(self) -> &'static str {
        match self {
            Language => "language",
            System => "system",
            SebsVersion => "sebs_version",
            Repository => "repository",
            TagPrefix => "tag_prefix",
            Kind => "kind",
            Account => "account",
            Region => "region",
            ResourcesId => "resources_id",
            Project => "project",
            RegistryHost => "registry_host",
        }
    }

    /// What the setting is, with an example.
    fn about(self) -> &'static str {
        match self {
            Language => "the benchmark's language, e.g. python",
            System => "the deployment system, e.g. aws or openwhisk",
            SebsVersion => "the SeBS version, e.g. 1.2.1",
            Repository => "the image repository, e.g. spcleth/serverless-benchmarks",
            TagPrefix => "the image tag prefix, e.g. dev",
            Kind => "the infrastructure image kind, e.g. build",
            Account => "the AWS account id, e.g. 123456789012",
            Region => "the region, e.g. us-east-1",
            ResourcesId => "SeBS's resources id, e.g. a1b2c3d4",
            Project => "the GCP project id, e.g. my-project",
            RegistryHost => "the registry host, e.g. localhost:5000",
        }
    }

    fn value(self, config: &SchemeConfig) -> Option<&str> {
        let value = match self {
            Language => &config.language,
            System => &config.system,
            SebsVersion => &config.sebs_version,
            Repository => &config.repository,
            TagPrefix => &config.tag_prefix,
            Kind => &config.kind,
            Account => &config.account,
            Region => &config.region,
            ResourcesId => &config.resources_id,
            Project => &config.project,
            RegistryHost => &config.registry_host,
        };
        value.as_deref()
    }

    fn slot(self, config: &mut SchemeConfig) -> &mut Option<String> {
        match self {
            Language => &mut config.language,
            System => &mut config.system,
            SebsVersion => &mut config.sebs_version,
            Repository => &mut config.repository,
            TagPrefix => &mut config.tag_prefix,
            Kind => &mut config.kind,
            Account => &mut config.account,
            Region => &mut config.region,
            ResourcesId => &mut config.resources_id,
            Project => &mut config.project,
            RegistryHost => &mut config.registry_host,
        }
    }
}

/// The settings a scheme needs and those it may take.
fn fields(scheme: &str) -> Option<(&'static [Field], &'static [Field])> {
    Some(match scheme {
        "panther" => (&[], &[]),
        "sebs-benchmark" => (&[System, SebsVersion, Language], &[Repository, TagPrefix]),
        "sebs-infrastructure" => (&[Kind, System, SebsVersion], &[Repository, Language]),
        "sebs-aws" => (
            &[SebsVersion, Language, Account, Region, ResourcesId],
            &[TagPrefix],
        ),
        "sebs-gcp" => (
            &[SebsVersion, Language, Region, Project, ResourcesId],
            &[TagPrefix],
        ),
        "sebs-registry" => (
            &[SebsVersion, Language, RegistryHost, Repository],
            &[System, TagPrefix],
        ),
        "sebs-docker-hub" => (&[System, SebsVersion, Language], &[Repository, TagPrefix]),
        _ => return None,
    })
}

/// A setting's value with its name, for the error messages.
struct Settings<'a> {
    scheme: &'a str,
    config: &'a SchemeConfig,
}

impl Settings<'_> {
    /// A required setting; empty counts as missing.
    fn required(&self, field: Field) -> Result<String, Error> {
        match field.value(self.config).filter(|value| !value.is_empty()) {
            Some(value) => Ok(value.to_owned()),
            None => Err(Error::invalid_input(
                "naming scheme",
                self.scheme,
                format!(
                    "a value for {} (--{}: {}): the {} scheme needs it",
                    field.key(),
                    field.key().replace('_', "-"),
                    field.about(),
                    self.scheme
                ),
            )),
        }
    }

    fn optional(&self, field: Field) -> Option<String> {
        field.value(self.config).map(str::to_owned)
    }

    fn or(&self, field: Field, default: &str) -> String {
        self.optional(field).unwrap_or_else(|| default.to_owned())
    }
}

impl SchemeConfig {
    /// Settings for the scheme called `name`, with no setting given yet.
    pub fn named(name: impl Into<String>) -> Self {
        SchemeConfig {
            name: Some(name.into()),
            ..SchemeConfig::default()
        }
    }

    /// The scheme's name: [`SchemeConfig::name`], else `panther`.
    pub fn scheme_name(&self) -> &str {
        self.name.as_deref().unwrap_or(SCHEME_NAMES[0])
    }

    /// Sets every setting `over` gives, its name included; the others stay.
    pub fn overlay(&mut self, over: &SchemeConfig) {
        if over.name.is_some() {
            self.name.clone_from(&over.name);
        }
        for field in Field::ALL {
            if let Some(value) = field.value(over) {
                *field.slot(self) = Some(value.to_owned());
            }
        }
    }

    /// The scheme these settings choose.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the scheme when its name is unknown, when a setting it
    /// needs is missing or empty (naming the setting), or when a setting it does not use is
    /// given (a typo must not silently do nothing). The values themselves are checked when an
    /// image is named, by the scheme.
    pub fn scheme(&self) -> Result<Arc<dyn TagScheme>, Error> {
        let scheme = self.scheme_name();
        let Some((required, optional)) = fields(scheme) else {
            return Err(Error::invalid_input(
                "naming scheme",
                scheme,
                format!("one of {}", SCHEME_NAMES.join(", ")),
            ));
        };
        let settings = Settings {
            scheme,
            config: self,
        };
        for field in required {
            settings.required(*field)?;
        }
        let unused = Field::ALL.into_iter().find(|field| {
            field.value(self).is_some() && !required.contains(field) && !optional.contains(field)
        });
        if let Some(field) = unused {
            let mut takes: Vec<&str> = required.iter().chain(optional).map(|f| f.key()).collect();
            takes.sort_unstable();
            let takes = if takes.is_empty() {
                "no settings".to_owned()
            } else {
                format!("only {}", takes.join(", "))
            };
            return Err(Error::invalid_input(
                "naming scheme",
                scheme,
                format!(
                    "no {} setting: the {scheme} scheme does not use it (it takes {takes})",
                    field.key()
                ),
            ));
        }
        build(&settings)
    }
}

/// The scheme, once its settings are known to be complete.
fn build(settings: &Settings<'_>) -> Result<Arc<dyn TagScheme>, Error> {
    let s = settings;
    let naming = |system: String, registry: SebsRegistry| -> Result<Arc<dyn TagScheme>, Error> {
        let mut naming = SebsNaming::new(system, s.required(SebsVersion)?, registry)
            .with_language(s.required(Language)?);
        naming.prefix = s.optional(TagPrefix);
        Ok(Arc::new(naming))
    };
    match s.scheme {
        "sebs-benchmark" => {
            let mut scheme = BenchmarkScheme::new(
                s.or(Repository, SEBS_REPOSITORY),
                s.required(System)?,
                s.required(SebsVersion)?,
            )
            .with_language(s.required(Language)?);
            scheme.prefix = s.optional(TagPrefix);
            Ok(Arc::new(scheme))
        }
        "sebs-infrastructure" => {
            let mut scheme = InfrastructureScheme::new(
                s.or(Repository, SEBS_REPOSITORY),
                s.required(Kind)?,
                s.required(System)?,
                s.required(SebsVersion)?,
            );
            scheme.language = s.optional(Language);
            Ok(Arc::new(scheme))
        }
        "sebs-aws" => naming(
            "aws".to_owned(),
            SebsRegistry::aws(
                s.required(Account)?,
                s.required(Region)?,
                s.required(ResourcesId)?,
            ),
        ),
        "sebs-gcp" => naming(
            "gcp".to_owned(),
            SebsRegistry::gcp(
                s.required(Region)?,
                s.required(Project)?,
                s.required(ResourcesId)?,
            ),
        ),
        "sebs-registry" => naming(
            s.or(System, "openwhisk"),
            SebsRegistry::plain(s.required(RegistryHost)?, s.required(Repository)?),
        ),
        "sebs-docker-hub" => naming(
            s.required(System)?,
            SebsRegistry::docker_hub(s.or(Repository, SEBS_REPOSITORY)),
        ),
        _ => Ok(Arc::new(PantherScheme)),
    }
}

#[cfg(test)]
mod tests;
