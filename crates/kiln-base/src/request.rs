//! What a strategy is asked ([`Requirements`]) and what it answers ([`Selection`]).

use std::collections::BTreeSet;
use std::fmt;

use kiln_core::{BuildMode, ImageRef, Platform};
use serde::Serialize;

use crate::catalogue::MEGABYTE;

/// What a service needs of its base image.
///
/// `#[non_exhaustive]`: made with [`Requirements::new`] and the builder methods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Requirements {
    /// Capabilities the tier must have.
    pub needs: BTreeSet<String>,
    /// The largest size limit acceptable, in bytes.
    pub max_size: Option<u64>,
    /// The platform the base is for (`None`: the build's default platform).
    pub platform: Option<Platform>,
    /// Plugins whose needs the tier must meet too (read by the plugin-aware step).
    pub plugins: Vec<String>,
    /// The build mode of the service (some modes need more, such as `debug` → `debugging`).
    pub build_mode: BuildMode,
}

impl Requirements {
    /// Needs nothing.
    pub fn new() -> Self {
        Requirements::default()
    }

    /// Needs `capability` too.
    pub fn need(mut self, capability: impl Into<String>) -> Self {
        self.needs.insert(capability.into());
        self
    }

    /// Needs each of `capabilities` too.
    pub fn needs<S: Into<String>>(mut self, capabilities: impl IntoIterator<Item = S>) -> Self {
        self.needs.extend(capabilities.into_iter().map(Into::into));
        self
    }

    /// At most `bytes` of size limit.
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// For `platform`.
    pub fn platform(mut self, platform: Platform) -> Self {
        self.platform = Some(platform);
        self
    }

    /// With `plugin`'s needs too.
    pub fn plugin(mut self, plugin: impl Into<String>) -> Self {
        let plugin = plugin.into();
        if !self.plugins.contains(&plugin) {
            self.plugins.push(plugin);
        }
        self
    }

    /// For a service built in `mode`.
    pub fn build_mode(mut self, mode: BuildMode) -> Self {
        self.build_mode = mode;
        self
    }
}

impl fmt::Display for Requirements {
    /// `needs compilation, cmake, plugins picoquic, build mode debug, within 300 MB, for
    /// linux/arm64` (the parts that are given).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.needs.is_empty() {
            parts.push(format!(
                "needs {}",
                self.needs.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if !self.plugins.is_empty() {
            parts.push(format!("plugins {}", self.plugins.join(", ")));
        }
        if self.build_mode != BuildMode::Default {
            parts.push(format!("build mode {}", self.build_mode.as_str()));
        }
        if let Some(bytes) = self.max_size {
            parts.push(format!("within {}", megabytes(bytes)));
        }
        if let Some(platform) = &self.platform {
            parts.push(format!("for {platform}"));
        }
        match parts.is_empty() {
            true => f.write_str("no needs"),
            false => f.write_str(&parts.join(", ")),
        }
    }
}

/// `bytes` as the catalogue writes sizes: `300 MB`, `1.5 MB`.
pub(crate) fn megabytes(bytes: u64) -> String {
    match bytes % MEGABYTE {
        0 => format!("{} MB", bytes / MEGABYTE),
        _ => format!("{:.1} MB", bytes as f64 / MEGABYTE as f64),
    }
}

/// The tier a strategy chose, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Selection {
    /// The tier's name.
    pub tier: String,
    /// The platform it was chosen for (`None`: the build's default platform).
    pub platform: Option<Platform>,
    /// The tier's reference for that platform, once a platform-aware step mapped it.
    pub reference: Option<ImageRef>,
    /// Every capability the choice had to have (needs, plugins' and the build mode's).
    pub needs: BTreeSet<String>,
    /// Why, in sentences, outermost step first.
    pub reasons: Vec<String>,
    /// Whether nothing fit and the largest tier was taken because fallback is allowed.
    pub fallback: bool,
}

impl Selection {
    /// The tier `tier`, with nothing said yet.
    pub fn of(tier: impl Into<String>) -> Self {
        Selection {
            tier: tier.into(),
            platform: None,
            reference: None,
            needs: BTreeSet::new(),
            reasons: Vec::new(),
            fallback: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_say_what_is_given() {
        assert_eq!(Requirements::new().to_string(), "no needs");
        let full = Requirements::new()
            .needs(["cmake", "compilation"])
            .plugin("picoquic")
            .build_mode(BuildMode::Debug)
            .max_size(300 * MEGABYTE)
            .platform(Platform::linux_arm64());
        assert_eq!(
            full.to_string(),
            "needs cmake, compilation, plugins picoquic, build mode debug, within 300 MB, for \
             linux/arm64"
        );
        assert_eq!(megabytes(1_500_000), "1.5 MB");
    }
}
