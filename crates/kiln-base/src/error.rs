//! The one error type of kiln-base: an invalid catalogue (with its place), a request no tier
//! fits (with every tier's failed constraints), and requests that name what the catalogue lacks.

use std::fmt;
use std::path::PathBuf;

/// Result alias of kiln-base.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why one tier was not chosen: the constraints it failed, in words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejection {
    /// The tier.
    pub tier: String,
    /// Each constraint it failed (`lacks compilation, cmake`, `is not built for linux/arm64`).
    pub failed: Vec<String>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.tier, self.failed.join(" and "))
    }
}

/// What went wrong, naming the value at fault and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The catalogue says something invalid at a place in it.
    #[error("{}:{line}:{column}: {problem}", path.display())]
    InvalidCatalogue {
        /// The catalogue file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// The column, from 1.
        column: usize,
        /// What is wrong there, naming the value and what was expected.
        problem: String,
    },

    /// The catalogue file cannot be read.
    #[error("base catalogue {}: cannot be read: {problem}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        problem: String,
    },

    /// No tier satisfies the request, and falling back to the largest tier is not allowed.
    #[error(
        "no base tier fits {request}: {}; expected a request some tier satisfies (or \
         allow_fallback, to take the largest tier)",
        rejections_text(rejections)
    )]
    NoTierFits {
        /// The request in words (`needs compilation, cmake within 300 MB for linux/arm64`).
        request: String,
        /// Every tier, smallest first, with the constraints it failed.
        rejections: Vec<Rejection>,
    },

    /// A request names a plugin the catalogue's `[plugins]` table does not have.
    #[error(
        "plugin {plugin:?}: expected a plugin of the catalogue's [plugins] table ({})",
        list(known)
    )]
    UnknownPlugin {
        /// The plugin asked for.
        plugin: String,
        /// The plugins the catalogue has.
        known: Vec<String>,
    },

    /// A request needs a capability outside the catalogue's vocabulary.
    #[error(
        "capability {capability:?}: expected one of the catalogue's capabilities ({})",
        list(known)
    )]
    UnknownCapability {
        /// The capability asked for.
        capability: String,
        /// The catalogue's vocabulary.
        known: Vec<String>,
    },

    /// A request names plugins, but no strategy of the chain reads their needs: they would be
    /// ignored.
    #[error(
        "plugins {} asked for, but strategy {chain} has no plugin-aware step to add their \
         needs; expected plugin-aware in the chain",
        list(plugins)
    )]
    PluginsIgnored {
        /// The plugins asked for.
        plugins: Vec<String>,
        /// The strategy chain, as it prints itself.
        chain: String,
    },

    /// A strategy chain as configured cannot be composed.
    #[error("strategy chain {given:?}: expected {expected}")]
    InvalidChain {
        /// The chain as given.
        given: String,
        /// What a chain must be.
        expected: String,
    },

    /// An inner strategy chose a tier the catalogue does not build for the platform asked for:
    /// the platform-aware wrapper refuses it rather than pass it on.
    #[error(
        "strategy {strategy} chose tier {tier}, which the catalogue does not build for \
         {platform}; the platform-aware step refuses it"
    )]
    PlatformRefused {
        /// The inner strategy, as it prints itself.
        strategy: String,
        /// The tier it chose.
        tier: String,
        /// The platform asked for.
        platform: String,
    },
}

fn list(items: &[String]) -> String {
    match items.is_empty() {
        true => "none".to_owned(),
        false => items.join(", "),
    }
}

fn rejections_text(rejections: &[Rejection]) -> String {
    match rejections.is_empty() {
        true => "the catalogue has no tier".to_owned(),
        false => rejections
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    }
}

impl From<Error> for kiln_core::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidCatalogue {
                path,
                line,
                column,
                problem,
            } => kiln_core::Error::InvalidFile {
                path,
                line,
                column,
                problem,
            },
            Error::Unreadable { path, problem } => kiln_core::Error::InvalidPath {
                what: "base catalogue",
                path,
                problem: format!("cannot be read: {problem}"),
            },
            Error::PlatformRefused { .. } => {
                kiln_core::Error::internal("choose a base tier", error.to_string())
            }
            Error::NoTierFits { ref request, .. } => kiln_core::Error::InvalidInput {
                what: "base request",
                value: request.clone(),
                expected: error.to_string(),
            },
            Error::UnknownPlugin { plugin, known } => kiln_core::Error::InvalidInput {
                what: "plugin",
                value: plugin,
                expected: format!("a plugin of the catalogue ({})", list(&known)),
            },
            Error::UnknownCapability { capability, known } => kiln_core::Error::InvalidInput {
                what: "capability",
                value: capability,
                expected: format!("a capability of the catalogue ({})", list(&known)),
            },
            Error::PluginsIgnored { .. } => kiln_core::Error::InvalidInput {
                what: "base strategy",
                value: error.to_string(),
                expected: "plugin-aware in the chain when plugins are asked for".to_owned(),
            },
            Error::InvalidChain { given, expected } => kiln_core::Error::InvalidInput {
                what: "base strategy chain",
                value: given,
                expected,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catalogue_error_keeps_its_place_in_kiln_core() {
        let error = Error::InvalidCatalogue {
            path: PathBuf::from("bases.toml"),
            line: 4,
            column: 17,
            problem: "capability \"gpu\": expected one of runtime".to_owned(),
        };
        assert_eq!(
            error.to_string(),
            "bases.toml:4:17: capability \"gpu\": expected one of runtime"
        );
        let core: kiln_core::Error = error.into();
        assert_eq!(core.kind(), kiln_core::ErrorKind::InvalidInput);
        assert!(matches!(
            core,
            kiln_core::Error::InvalidFile {
                line: 4,
                column: 17,
                ..
            }
        ));
    }

    #[test]
    fn no_tier_fits_names_every_tier() {
        let error = Error::NoTierFits {
            request: "needs gpu".to_owned(),
            rejections: vec![
                Rejection {
                    tier: "runtime".to_owned(),
                    failed: vec!["lacks gpu".to_owned()],
                },
                Rejection {
                    tier: "dev".to_owned(),
                    failed: vec![
                        "lacks gpu".to_owned(),
                        "is not built for linux/arm64".to_owned(),
                    ],
                },
            ],
        };
        let text = error.to_string();
        assert!(
            text.contains("runtime lacks gpu; dev lacks gpu and is not built for linux/arm64"),
            "{text}"
        );
        let core: kiln_core::Error = error.into();
        assert_eq!(core.kind(), kiln_core::ErrorKind::InvalidInput);
        assert!(core.to_string().contains("dev lacks gpu"), "{core}");
    }
}
