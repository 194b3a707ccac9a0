//! [`PluginAware`]: adds the needs of the plugins a request names (from the catalogue's one
//! `[plugins]` table) and asks the strategy it wraps.

use std::fmt;

use super::BaseStrategy;
use crate::catalogue::Catalogue;
use crate::error::{Error, Result};
use crate::request::{Requirements, Selection};

/// Wraps `S`: each plugin of the request becomes its needs (an unknown plugin is
/// [`Error::UnknownPlugin`]); `S` chooses for the merged needs.
#[derive(Debug, Clone)]
pub struct PluginAware<S> {
    inner: S,
}

impl<S: BaseStrategy> PluginAware<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        PluginAware { inner }
    }

    /// The strategy it wraps.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: fmt::Display> fmt::Display for PluginAware<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin-aware({})", self.inner)
    }
}

#[deny(clippy::missing_trait_methods)]
impl<S: BaseStrategy> BaseStrategy for PluginAware<S> {
    fn select(&self, requirements: &Requirements) -> Result<Selection> {
        let catalogue = self.inner.catalogue();
        let mut merged = requirements.clone();
        merged.plugins.clear();
        let mut reasons = Vec::new();
        for plugin in &requirements.plugins {
            let Some(needs) = catalogue.plugins.get(plugin) else {
                return Err(Error::UnknownPlugin {
                    plugin: plugin.clone(),
                    known: catalogue.plugins.keys().cloned().collect(),
                });
            };
            reasons.push(match needs.is_empty() {
                true => format!("plugin {plugin} needs nothing"),
                false => format!(
                    "plugin {plugin} needs {}",
                    needs.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            });
            merged.needs.extend(needs.iter().cloned());
        }
        let mut selection = self.inner.select(&merged)?;
        reasons.append(&mut selection.reasons);
        selection.reasons = reasons;
        Ok(selection)
    }

    fn catalogue(&self) -> &Catalogue {
        self.inner.catalogue()
    }
}
