//! The [`BaseStrategy`] trait and the strategies that compose by wrapping: [`Tiered`] at the
//! core, [`PlatformAware`] and [`PluginAware`] around it, in the order a configuration gives
//! ([`compose`]).
//!
//! # Order
//!
//! A chain is written outermost first: `["plugin-aware", "platform-aware", "tiered"]` is
//! `PluginAware<PlatformAware<Tiered>>`. Each wrapper changes the request on the way in and
//! the selection on the way out, and always asks the strategy it wraps: no step chooses a tier
//! its inner strategy did not choose.

mod platform;
mod plugin;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
mod tiered;

use std::fmt;
use std::sync::Arc;

use kiln_core::Platform;

pub use platform::PlatformAware;
pub use plugin::PluginAware;
pub use tiered::Tiered;

use crate::catalogue::Catalogue;
use crate::error::{Error, Result};
use crate::request::{Requirements, Selection};

/// Chooses a base tier for a service's requirements.
///
/// Object safe: chains are held as `Box<dyn BaseStrategy>` or `Arc<dyn BaseStrategy>`, which
/// are strategies themselves (and so can be wrapped). `Display` prints the chain
/// (`plugin-aware(platform-aware(tiered))`).
pub trait BaseStrategy: fmt::Debug + fmt::Display + Send + Sync + 'static {
    /// The tier for `requirements`, its reference for the platform (once a platform-aware step
    /// mapped it) and the reasons; or, when no tier fits, [`Error::NoTierFits`] saying for
    /// every tier which constraint failed.
    fn select(&self, requirements: &Requirements) -> Result<Selection>;

    /// The catalogue the strategy chooses from (a wrapper's is its inner strategy's).
    fn catalogue(&self) -> &Catalogue;
}

macro_rules! forward_strategy {
    ($($pointer:ident),*) => {$(
        #[deny(clippy::missing_trait_methods)]
        impl<S: BaseStrategy + ?Sized> BaseStrategy for $pointer<S> {
            fn select(&self, requirements: &Requirements) -> Result<Selection> {
                (**self).select(requirements)
            }

            fn catalogue(&self) -> &Catalogue {
                (**self).catalogue()
            }
        }
    )*};
}

forward_strategy!(Arc, Box);

/// A shared strategy chain.
pub type DynStrategy = Arc<dyn BaseStrategy>;

/// The strategies a configuration may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StrategyKind {
    /// `tiered`: the smallest tier that fits (the core; last in a chain).
    Tiered,
    /// `platform-aware`: narrows to the platform, maps the choice to the platform's reference.
    PlatformAware,
    /// `plugin-aware`: adds the plugins' needs.
    PluginAware,
}

impl StrategyKind {
    /// Every kind, in the default chain's order (outermost first).
    pub const DEFAULT_CHAIN: [StrategyKind; 3] = [
        StrategyKind::PluginAware,
        StrategyKind::PlatformAware,
        StrategyKind::Tiered,
    ];

    /// The name a configuration uses.
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::Tiered => "tiered",
            StrategyKind::PlatformAware => "platform-aware",
            StrategyKind::PluginAware => "plugin-aware",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Result<StrategyKind> {
        Self::DEFAULT_CHAIN
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| Error::InvalidChain {
                given: name.to_owned(),
                expected: "a strategy: plugin-aware, platform-aware or tiered".to_owned(),
            })
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a composed chain is told besides its order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainOptions {
    /// When no tier fits, take the largest one (and say so) instead of failing.
    pub allow_fallback: bool,
    /// The platform a request that names none is for (the platform-aware step's default).
    pub default_platform: Option<Platform>,
}

impl ChainOptions {
    /// No fallback, no default platform.
    pub fn new() -> Self {
        ChainOptions::default()
    }

    /// Fallback to the largest tier allowed (or not).
    pub fn allow_fallback(mut self, allow: bool) -> Self {
        self.allow_fallback = allow;
        self
    }

    /// Requests without a platform are for `platform`.
    pub fn default_platform(mut self, platform: Platform) -> Self {
        self.default_platform = Some(platform);
        self
    }
}

/// The chain `order` names (outermost first) over `catalogue`: `tiered` last and once, each
/// wrapper at most once.
pub fn compose(
    catalogue: Arc<Catalogue>,
    order: &[StrategyKind],
    options: &ChainOptions,
) -> Result<DynStrategy> {
    let given = order
        .iter()
        .map(|kind| kind.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let invalid = |expected: &str| Error::InvalidChain {
        given: given.clone(),
        expected: expected.to_owned(),
    };
    let Some((StrategyKind::Tiered, wrappers)) = order.split_last() else {
        return Err(invalid(
            "tiered last: the wrappers (plugin-aware, platform-aware) come before the core they \
             wrap",
        ));
    };
    for (index, kind) in wrappers.iter().enumerate() {
        if *kind == StrategyKind::Tiered || wrappers[..index].contains(kind) {
            return Err(invalid("each strategy once, tiered last"));
        }
    }
    let mut chain: DynStrategy =
        Arc::new(Tiered::new(catalogue).allow_fallback(options.allow_fallback));
    for kind in wrappers.iter().rev() {
        chain = match kind {
            StrategyKind::PlatformAware => {
                let mut wrapper = PlatformAware::new(chain);
                if let Some(platform) = &options.default_platform {
                    wrapper = wrapper.default_platform(platform.clone());
                }
                Arc::new(wrapper)
            }
            StrategyKind::PluginAware => Arc::new(PluginAware::new(chain)),
            StrategyKind::Tiered => return Err(invalid("each strategy once, tiered last")),
        };
    }
    Ok(chain)
}
