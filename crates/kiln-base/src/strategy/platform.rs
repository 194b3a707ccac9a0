//! [`PlatformAware`]: narrows a request to one platform, asks the strategy it wraps, refuses a
//! choice the catalogue does not build for that platform, and maps the choice to the tier's
//! reference for it.

use std::fmt;

use kiln_core::Platform;

use super::BaseStrategy;
use crate::catalogue::Catalogue;
use crate::error::{Error, Result};
use crate::request::{Requirements, Selection};

/// Wraps `S`: the request's platform (else the default one) is passed down, so `S` only
/// accepts tiers built for it; `S`'s choice is checked again and mapped to its reference.
/// It never chooses a tier itself.
#[derive(Debug, Clone)]
pub struct PlatformAware<S> {
    inner: S,
    default_platform: Option<Platform>,
}

impl<S: BaseStrategy> PlatformAware<S> {
    /// Wraps `inner`; requests without a platform stay without one.
    pub fn new(inner: S) -> Self {
        PlatformAware {
            inner,
            default_platform: None,
        }
    }

    /// Requests without a platform are for `platform`.
    pub fn default_platform(mut self, platform: Platform) -> Self {
        self.default_platform = Some(platform);
        self
    }

    /// The strategy it wraps.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: fmt::Display> fmt::Display for PlatformAware<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "platform-aware({})", self.inner)
    }
}

#[deny(clippy::missing_trait_methods)]
impl<S: BaseStrategy> BaseStrategy for PlatformAware<S> {
    fn select(&self, requirements: &Requirements) -> Result<Selection> {
        let mut narrowed = requirements.clone();
        if narrowed.platform.is_none() {
            narrowed.platform = self.default_platform.clone();
        }
        let mut selection = self.inner.select(&narrowed)?;
        let catalogue = self.inner.catalogue();
        let Some(tier) = catalogue.tier(&selection.tier) else {
            return Err(Error::PlatformRefused {
                strategy: self.inner.to_string(),
                tier: selection.tier,
                platform: narrowed
                    .platform
                    .map_or_else(|| "any platform".to_owned(), |p| p.to_string()),
            });
        };
        if let Some(platform) = narrowed.platform.as_ref().filter(|p| !tier.supports(p)) {
            return Err(Error::PlatformRefused {
                strategy: self.inner.to_string(),
                tier: selection.tier,
                platform: platform.to_string(),
            });
        }
        let reference = catalogue.reference(tier, narrowed.platform.as_ref());
        selection.reasons.push(match &narrowed.platform {
            Some(platform) => format!("for {platform}: {}", reference.familiar()),
            None => format!("for the build's default platform: {}", reference.familiar()),
        });
        selection.platform = narrowed.platform;
        selection.reference = Some(reference);
        Ok(selection)
    }

    fn catalogue(&self) -> &Catalogue {
        self.inner.catalogue()
    }
}
