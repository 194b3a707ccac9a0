//! Base tiers once built: each checked against its catalogue's claims — its size within its
//! limit, its platform one of its platforms, each capability's probe exiting 0 in a container
//! of it — and the result recorded in the cache directory beside the build records
//! (`bases/<fingerprint>.json`), so that a reused tier is not probed again. `listing.rs` is
//! `kiln bases list|verify`.

mod listing;
mod probe;

use std::path::PathBuf;

use kiln_base::Verification;
use kiln_cache::dir::{Durability, read_json, write_json};
use kiln_core::{
    BuildEvent, BuildReport, Error, EventSink, Fingerprint, ImageEngine, ImageId, Outcome,
    Platform, Result, rfc3339,
};

pub use listing::{BasesListing, TierBuild, TierListing, TierStatus};

use crate::bake::TierCell;
use crate::kiln::Kiln;

impl Kiln {
    /// Checks the build `built` of `tier` against its claims, or takes the check recorded for
    /// the same image (unless `reprobe`). The verification says whether every claim held; it
    /// is `None` when the image is not here to check (only the registry has it). Progress goes
    /// to `sink`.
    pub(crate) async fn verify_tier(
        &self,
        tier: &TierCell,
        built: &BuildReport,
        reprobe: bool,
        sink: &EventSink,
    ) -> Result<Option<Verification>> {
        if built.outcome == Outcome::Remote {
            sink.emit(BuildEvent::Warning {
                message: format!(
                    "tier {} not verified: only the registry has its image",
                    tier.tier.name
                ),
            });
            return Ok(None);
        }
        let image_id = ImageId::parse(&built.image_id)?;
        let recorded = built.fingerprint.as_ref().and_then(|fingerprint| {
            self.recorded_verification(fingerprint)
                .filter(|recorded| recorded.image_id == image_id.as_str())
        });
        if let Some(recorded) = recorded.filter(|recorded| recorded.passed() && !reprobe) {
            sink.emit(BuildEvent::Note {
                message: format!(
                    "tier {}: claims verified at {} for this image",
                    tier.tier.name, recorded.checked_at
                ),
            });
            return Ok(Some(recorded));
        }
        let details =
            self.engine()
                .inspect_id(&image_id)
                .await?
                .ok_or_else(|| Error::ImageNotFound {
                    image: image_id.to_string(),
                })?;
        let platform = image_platform(&details.os, &details.architecture, details.variant)?;
        let mut verification = Verification::new(
            &tier.tier,
            image_id.as_str(),
            platform,
            details.size,
            rfc3339(self.clock().now()),
        );
        for (capability, command) in &tier.tier.probes {
            let containers = self.runtime()?.containers;
            sink.emit(BuildEvent::Note {
                message: format!(
                    "tier {}: probing {capability} with `{command}`",
                    tier.tier.name
                ),
            });
            let check = probe::run(
                containers,
                &image_id,
                &tier.tier.name,
                capability,
                command,
                probe::PROBE_TIMEOUT,
            )
            .await;
            verification.push(check);
        }
        if let Some(fingerprint) = &built.fingerprint {
            self.record_verification(fingerprint, &verification, sink);
        }
        Ok(Some(verification))
    }

    /// The verification recorded for the tier build of `fingerprint`, if one can be read (an
    /// unreadable one is a warning in the log, and no record).
    pub(crate) fn recorded_verification(&self, fingerprint: &Fingerprint) -> Option<Verification> {
        let path = self.verification_path(fingerprint)?;
        match read_json::<Verification>(&path) {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%error, "cannot read a tier's verification");
                None
            }
        }
    }

    fn record_verification(
        &self,
        fingerprint: &Fingerprint,
        verification: &Verification,
        sink: &EventSink,
    ) {
        let Some(path) = self.verification_path(fingerprint) else {
            return;
        };
        if let Err(error) = write_json(&path, verification, Durability::Flushed) {
            sink.emit(BuildEvent::Warning {
                message: format!("the tier's verification is not recorded: {error}"),
            });
        }
    }

    fn verification_path(&self, fingerprint: &Fingerprint) -> Option<PathBuf> {
        Some(self.records()?.verification_path(fingerprint))
    }
}

/// The error of a verification that failed: the tier and each claim that did not hold.
pub(crate) fn claim_error(verification: &Verification) -> Error {
    let failures: Vec<&kiln_base::Check> = verification.failures().collect();
    Error::ClaimFailed {
        tier: verification.tier.clone(),
        check: failures
            .iter()
            .map(|check| check.describe())
            .collect::<Vec<_>>()
            .join("; "),
        output: failures
            .iter()
            .flat_map(|check| check.output.iter().cloned())
            .collect(),
    }
}

/// The platform an image says it is for.
fn image_platform(os: &str, architecture: &str, variant: Option<String>) -> Result<Platform> {
    let written = match variant.filter(|variant| !variant.is_empty()) {
        Some(variant) => format!("{os}/{architecture}/{variant}"),
        None => format!("{os}/{architecture}"),
    };
    Platform::parse(&written)
}

#[cfg(test)]
mod tests;
