//! `kiln bases list` ([`Kiln::list_bases`]): every tier of the catalogue with its claims and,
//! per platform, its reference, its inputs' fingerprint and what was verified of that build;
//! and `kiln bases verify` ([`Kiln::verify_bases`]): the tiers built for one platform (or
//! reused) and every claim checked again.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kiln_base::Verification;
use kiln_core::{Error, ImageRef, Platform, Result};
use serde::Serialize;

use crate::bake::{BakeFile, BakeOptions, CellId, CellOutcome, CellReport, TierCell};
use crate::kiln::Kiln;

/// Where a tier's build stands with its claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TierStatus {
    /// Every claim held for the build of its current inputs.
    Verified,
    /// A claim did not hold, or the build failed.
    Failed,
    /// Not checked for its current inputs (not built, or not verified since).
    Unverified,
}

/// One tier's build for one platform.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct TierBuild {
    /// The platform (`None`: the build's default).
    pub platform: Option<Platform>,
    /// The reference it is tagged with.
    pub reference: String,
    /// Its cell in the bake.
    pub cell: CellId,
    /// The fingerprint of its current inputs.
    pub fingerprint: Option<String>,
    /// Where it stands.
    pub status: TierStatus,
    /// Why, in a sentence.
    pub reason: String,
    /// The capabilities a probe proved for this build.
    pub verified: Vec<String>,
    /// The image checked.
    pub image_id: Option<String>,
    /// Its size in bytes, when checked.
    pub size_bytes: Option<u64>,
    /// Every check made, when it was checked.
    pub verification: Option<Verification>,
}

/// One tier: its claims and its builds.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct TierListing {
    /// Its name.
    pub name: String,
    /// The repository it is tagged in.
    pub image: String,
    /// The tier it is built on.
    pub from: Option<String>,
    /// Every capability it claims.
    pub capabilities: Vec<String>,
    /// The probe of each capability that has one.
    pub probes: BTreeMap<String, String>,
    /// The capabilities it claims without a probe to prove them.
    pub unprobed: Vec<String>,
    /// Its size limit in bytes.
    pub max_size_bytes: u64,
    /// The platforms the catalogue builds it for.
    pub platforms: Vec<Platform>,
    /// Its builds (list: one per platform; verify: the platform verified, if it has it).
    pub builds: Vec<TierBuild>,
}

/// What `kiln bases list|verify` reports.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct BasesListing {
    /// The catalogue file.
    pub catalogue: PathBuf,
    /// The strategy chain (`plugin-aware(platform-aware(tiered))`).
    pub strategy: String,
    /// Every tier, smallest first.
    pub tiers: Vec<TierListing>,
}

impl BasesListing {
    /// Whether no build failed and no claim failed.
    pub fn succeeded(&self) -> bool {
        self.tiers
            .iter()
            .flat_map(|tier| &tier.builds)
            .all(|build| build.status != TierStatus::Failed)
    }
}

impl Kiln {
    /// Every tier of `file`'s catalogue, and for each platform it is built for: its
    /// reference, the fingerprint of its inputs now and the verification recorded for a build
    /// of those inputs. Builds nothing, runs nothing; works without the daemon.
    pub async fn list_bases(&self, file: &BakeFile) -> Result<BasesListing> {
        let bases = bases_of(file)?;
        let wanted: Vec<(String, Option<Platform>)> = bases
            .catalogue
            .tiers
            .iter()
            .flat_map(|tier| {
                tier.platforms
                    .iter()
                    .map(|platform| (tier.name.clone(), Some(platform.clone())))
            })
            .collect();
        let tiers = tier_file(file, &wanted)?;
        let scope: Vec<usize> = (0..tiers.cells.len()).collect();
        let tags = crate::bake::cell_tags(self, &tiers)?;
        let planned = crate::bake::plan_cells(self, &tiers, &scope, &tags).await?;
        let mut builds: BTreeMap<CellId, TierBuild> = BTreeMap::new();
        for cell in &tiers.cells {
            let (Some(tier), Some(done)) = (&cell.tier, planned.get(&cell.id)) else {
                continue;
            };
            let plan = &done.plan;
            let image = plan.image_id.as_ref().map(ToString::to_string);
            let recorded = self
                .recorded_verification(&plan.fingerprint)
                .filter(|recorded| image.as_deref().is_none_or(|id| id == recorded.image_id));
            let (status, reason) = match (&recorded, &image) {
                (Some(recorded), _) if recorded.passed() => (
                    TierStatus::Verified,
                    format!("every claim held at {}", recorded.checked_at),
                ),
                (Some(recorded), _) => (
                    TierStatus::Failed,
                    crate::bases::claim_error(recorded).to_string(),
                ),
                (None, Some(_)) => (
                    TierStatus::Unverified,
                    "built, not verified since (kiln bases verify)".to_owned(),
                ),
                (None, None) => (
                    TierStatus::Unverified,
                    format!("not built: {}", plan.reason),
                ),
            };
            let build = tier_build(
                tier,
                cell.id.clone(),
                &tags[&cell.id],
                Some(plan.fingerprint.to_string()),
                status,
                reason,
                recorded,
            );
            builds.insert(cell.id.clone(), build);
        }
        Ok(listing(file, &tiers, builds))
    }

    /// Builds (or reuses) every tier of `file`'s catalogue that is built for `platform` (else
    /// the target platform: configured, else the host's), parents first, and checks every
    /// claim again — size, platform and each probe in a container. A failed build or claim is
    /// the tier's status, not an error; errors are what stops it from starting.
    pub async fn verify_bases(
        &self,
        file: &BakeFile,
        platform: Option<Platform>,
        mut options: BakeOptions,
    ) -> Result<BasesListing> {
        let bases = bases_of(file)?;
        let platform = match platform {
            Some(platform) => platform,
            None => self.target_platform()?,
        };
        let wanted: Vec<(String, Option<Platform>)> = bases
            .catalogue
            .tiers
            .iter()
            .filter(|tier| tier.supports(&platform))
            .map(|tier| (tier.name.clone(), Some(platform.clone())))
            .collect();
        if wanted.is_empty() {
            return Err(Error::invalid_input(
                "platform",
                platform.to_string(),
                format!(
                    "a platform a tier of {} is built for",
                    bases.catalogue.path.display()
                ),
            ));
        }
        let tiers = tier_file(file, &wanted)?;
        options.targets = Vec::new();
        options.reprobe = true;
        let report = self.bake(&tiers, options).await?;
        let mut builds = BTreeMap::new();
        for cell in &tiers.cells {
            let (Some(tier), Some(ended)) = (&cell.tier, report.cell(cell.id.as_str())) else {
                continue;
            };
            builds.insert(cell.id.clone(), verified_build(tier, ended));
        }
        Ok(listing(file, &tiers, builds))
    }

    /// The platform a build that names none is for: the configured one, else the host's.
    pub(crate) fn target_platform(&self) -> Result<Platform> {
        let host = kiln_platform::Host::detect(self.host_probe())?;
        Ok(kiln_platform::resolve_target(
            None,
            self.config().target_platform.as_ref(),
            &host.platform,
        )
        .platform)
    }
}

/// The build of `tier` as a verifying bake ended.
fn verified_build(tier: &TierCell, ended: &CellReport) -> TierBuild {
    let (status, reason) = match (&ended.verification, ended.outcome) {
        (Some(verification), _) if verification.passed() => (
            TierStatus::Verified,
            format!("{}; every claim held", ended.outcome),
        ),
        (_, CellOutcome::Failed) => (TierStatus::Failed, ended.reason.clone()),
        (Some(verification), _) => (
            TierStatus::Failed,
            crate::bases::claim_error(verification).to_string(),
        ),
        (None, outcome) if outcome.succeeded() => (
            TierStatus::Unverified,
            format!("{outcome}; not checked here"),
        ),
        (None, _) => (TierStatus::Failed, ended.reason.clone()),
    };
    let mut build = tier_build(
        tier,
        ended.id.clone(),
        &[],
        ended.fingerprint.clone(),
        status,
        reason,
        ended.verification.clone(),
    );
    build.reference = ended
        .tags
        .first()
        .cloned()
        .unwrap_or_else(|| tier.reference.familiar());
    build
}

fn tier_build(
    tier: &TierCell,
    cell: CellId,
    tags: &[ImageRef],
    fingerprint: Option<String>,
    status: TierStatus,
    reason: String,
    verification: Option<Verification>,
) -> TierBuild {
    TierBuild {
        platform: tier.platform.clone(),
        reference: tags.first().unwrap_or(&tier.reference).familiar(),
        cell,
        fingerprint,
        status,
        reason,
        verified: verification
            .as_ref()
            .map(|verification| verification.proven().into_iter().collect())
            .unwrap_or_default(),
        image_id: verification
            .as_ref()
            .map(|verification| verification.image_id.clone()),
        size_bytes: verification
            .as_ref()
            .map(|verification| verification.size_bytes),
        verification,
    }
}

fn bases_of(file: &BakeFile) -> Result<&crate::bake::BakeBases> {
    file.bases.as_ref().ok_or_else(|| {
        Error::invalid_input(
            "bake file",
            file.path.display().to_string(),
            "a [bases] table naming a catalogue of base tiers",
        )
    })
}

/// A bake of the `wanted` tier cells alone, with `file`'s defaults.
fn tier_file(file: &BakeFile, wanted: &[(String, Option<Platform>)]) -> Result<BakeFile> {
    let bases = bases_of(file)?;
    let cells =
        crate::bake::tier_cells_for(&bases.catalogue, wanted, file.defaults.cache_repo.as_ref())?;
    Ok(BakeFile {
        path: file.path.clone(),
        defaults: file.defaults.clone(),
        cells,
        tests: Vec::new(),
        bases: file.bases.clone(),
    })
}

fn listing(
    file: &BakeFile,
    tiers: &BakeFile,
    mut builds: BTreeMap<CellId, TierBuild>,
) -> BasesListing {
    let catalogue = match &file.bases {
        Some(bases) => &bases.catalogue,
        None => {
            return BasesListing {
                catalogue: PathBuf::new(),
                strategy: String::new(),
                tiers: Vec::new(),
            };
        }
    };
    let listed = catalogue
        .tiers
        .iter()
        .map(|tier| {
            let mine: Vec<TierBuild> = tiers
                .cells
                .iter()
                .filter(|cell| {
                    cell.tier
                        .as_ref()
                        .is_some_and(|cell_tier| cell_tier.tier.name == tier.name)
                })
                .filter_map(|cell| builds.remove(&cell.id))
                .collect();
            TierListing {
                name: tier.name.clone(),
                image: tier.image.familiar_repository(),
                from: tier.from.clone(),
                capabilities: tier.capabilities.iter().cloned().collect(),
                probes: tier.probes.clone(),
                unprobed: tier
                    .capabilities
                    .iter()
                    .filter(|capability| !tier.probes.contains_key(*capability))
                    .cloned()
                    .collect(),
                max_size_bytes: tier.max_size,
                platforms: tier.platforms.clone(),
                builds: mine,
            }
        })
        .collect();
    BasesListing {
        catalogue: catalogue.path.clone(),
        strategy: file
            .bases
            .as_ref()
            .map(|bases| bases.strategy.to_string())
            .unwrap_or_default(),
        tiers: listed,
    }
}
