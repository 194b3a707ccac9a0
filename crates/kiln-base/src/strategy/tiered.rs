//! [`Tiered`]: the tiers tried smallest first, the first that has every need, fits the size
//! limit and is built for the platform taken; the largest only when fallback is allowed.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use super::BaseStrategy;
use crate::catalogue::{Catalogue, Tier};
use crate::error::{Error, Rejection, Result};
use crate::request::{Requirements, Selection, megabytes};

/// The core strategy: walks the catalogue's tiers smallest first and takes the first that fits.
#[derive(Debug, Clone)]
pub struct Tiered {
    catalogue: Arc<Catalogue>,
    allow_fallback: bool,
}

impl Tiered {
    /// Chooses from `catalogue`, without fallback.
    pub fn new(catalogue: Arc<Catalogue>) -> Self {
        Tiered {
            catalogue,
            allow_fallback: false,
        }
    }

    /// When no tier fits, take the largest one built for the platform (and say so).
    pub fn allow_fallback(mut self, allow: bool) -> Self {
        self.allow_fallback = allow;
        self
    }

    /// The constraints `tier` fails for `needs` within `requirements`.
    fn failures(tier: &Tier, needs: &BTreeSet<String>, requirements: &Requirements) -> Vec<String> {
        let mut failed = Vec::new();
        let missing: Vec<&str> = needs
            .iter()
            .filter(|need| !tier.capabilities.contains(*need))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            failed.push(format!("lacks {}", missing.join(", ")));
        }
        if let Some(limit) = requirements.max_size.filter(|limit| tier.max_size > *limit) {
            failed.push(format!(
                "may be {}, over the {} asked",
                megabytes(tier.max_size),
                megabytes(limit)
            ));
        }
        if let Some(platform) = requirements
            .platform
            .as_ref()
            .filter(|platform| !tier.supports(platform))
        {
            failed.push(format!("is not built for {platform}"));
        }
        failed
    }
}

impl fmt::Display for Tiered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.allow_fallback {
            true => "tiered(fallback)",
            false => "tiered",
        })
    }
}

impl BaseStrategy for Tiered {
    fn select(&self, requirements: &Requirements) -> Result<Selection> {
        if !requirements.plugins.is_empty() {
            return Err(Error::PluginsIgnored {
                plugins: requirements.plugins.clone(),
                chain: self.to_string(),
            });
        }
        if let Some(unknown) = requirements
            .needs
            .iter()
            .find(|need| !self.catalogue.knows(need))
        {
            return Err(Error::UnknownCapability {
                capability: unknown.clone(),
                known: self.catalogue.capabilities.clone(),
            });
        }
        let mut reasons = Vec::new();
        let mut needs = requirements.needs.clone();
        let of_mode = self.catalogue.needs_of_mode(requirements.build_mode);
        let added: Vec<&str> = of_mode
            .iter()
            .filter(|need| !needs.contains(*need))
            .map(String::as_str)
            .collect();
        if !added.is_empty() {
            reasons.push(format!(
                "build mode {} needs {}",
                requirements.build_mode.as_str(),
                added.join(", ")
            ));
        }
        needs.extend(of_mode);
        let mut rejections = Vec::new();
        for tier in &self.catalogue.tiers {
            let failed = Tiered::failures(tier, &needs, requirements);
            if failed.is_empty() {
                reasons.extend(rejections.iter().map(|rejection: &Rejection| {
                    format!(
                        "{} skipped: {}",
                        rejection.tier,
                        rejection.failed.join(" and ")
                    )
                }));
                reasons.push(format!(
                    "{}: the smallest tier that {}",
                    tier.name,
                    fits_text(&needs, requirements)
                ));
                let mut selection = Selection::of(&tier.name);
                selection.platform = requirements.platform.clone();
                selection.needs = needs;
                selection.reasons = reasons;
                return Ok(selection);
            }
            rejections.push(Rejection {
                tier: tier.name.clone(),
                failed,
            });
        }
        let largest = self.catalogue.tiers.iter().rev().find(|tier| {
            requirements
                .platform
                .as_ref()
                .is_none_or(|platform| tier.supports(platform))
        });
        match largest {
            Some(tier) if self.allow_fallback => {
                let short: Vec<String> = rejections.iter().map(ToString::to_string).collect();
                reasons.push(format!(
                    "no tier fits ({}); fallback allowed: took the largest, {}",
                    short.join("; "),
                    tier.name
                ));
                let mut selection = Selection::of(&tier.name);
                selection.platform = requirements.platform.clone();
                selection.needs = needs;
                selection.reasons = reasons;
                selection.fallback = true;
                Ok(selection)
            }
            _ => {
                let mut request = requirements.clone();
                request.needs = needs;
                Err(Error::NoTierFits {
                    request: request.to_string(),
                    rejections,
                })
            }
        }
    }

    fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }
}

/// `has networking, cmake, within 300 MB, for linux/amd64` (what is asked), or `is listed
/// first` when nothing is.
fn fits_text(needs: &BTreeSet<String>, requirements: &Requirements) -> String {
    let mut parts = Vec::new();
    if !needs.is_empty() {
        parts.push(format!(
            "has {}",
            needs.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some(limit) = requirements.max_size {
        parts.push(format!("fits {}", megabytes(limit)));
    }
    if let Some(platform) = &requirements.platform {
        parts.push(format!("is built for {platform}"));
    }
    match parts.is_empty() {
        true => "there is (nothing is needed)".to_owned(),
        false => parts.join(", "),
    }
}
