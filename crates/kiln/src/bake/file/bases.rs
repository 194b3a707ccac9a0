//! `[bases]` and each image's `base = {...}`: the catalogue loaded and the strategy chain
//! composed, each cell's tier chosen for its platform and build mode, and the tiers it needs
//! (with their parents) made cells of the bake, built first and passed on pinned.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use kiln_base::{Catalogue, ChainOptions, MEGABYTE, Requirements, StrategyKind, Tier};
use kiln_context::dockerfile::Dockerfile;
use kiln_core::{BuildSpec, Error, ImageRef, Platform, Result};
use toml::Spanned;

use super::super::model::{BakeBases, Cell, CellId, ParentEdge, TierCell};
use super::images::Image;
use super::place::{Source, Span};
use super::raw::{RawBase, RawBases};

/// The build arg a tier receives its parent in, and an image its tier in by default.
pub(crate) const BASE_IMAGE_ARG: &str = "BASE_IMAGE";

/// `[bases]`, checked, with where its catalogue is named (for errors about tiers as a whole).
pub(super) struct Bases {
    pub(super) model: BakeBases,
    at: Span,
}

/// Loads the catalogue `[bases]` names (relative to `dir`, the bake file's directory) and
/// composes the strategy chain it gives (outermost first; plugin-aware, platform-aware,
/// tiered by default). The catalogue's own mistakes are reported at their place in it.
pub(super) fn read(
    source: &Source<'_>,
    raw: Option<&Spanned<RawBases>>,
    dir: &Path,
) -> Result<Option<Bases>> {
    let Some(raw) = raw else { return Ok(None) };
    let written = &raw.get_ref().catalogue;
    let path = dir.join(written.get_ref());
    let catalogue = match Catalogue::load(&path) {
        Ok(catalogue) => Arc::new(catalogue),
        Err(kiln_base::Error::Unreadable { problem, .. }) => {
            return Err(source.error(
                &written.span(),
                format!(
                    "catalogue {:?} in [bases]: expected a readable catalogue file at {}: \
                     {problem}",
                    written.get_ref(),
                    path.display()
                ),
            ));
        }
        Err(error) => return Err(error.into()),
    };
    let order = match &raw.get_ref().strategies {
        None => StrategyKind::DEFAULT_CHAIN.to_vec(),
        Some(names) => names
            .get_ref()
            .iter()
            .map(|name| {
                StrategyKind::parse(name.get_ref())
                    .map_err(|error| source.error(&name.span(), format!("[bases] {error}")))
            })
            .collect::<Result<Vec<_>>>()?,
    };
    let options = ChainOptions::new().allow_fallback(raw.get_ref().allow_fallback);
    let strategy =
        kiln_base::compose(Arc::clone(&catalogue), &order, &options).map_err(|error| {
            let at = raw
                .get_ref()
                .strategies
                .as_ref()
                .map_or(raw.span(), Spanned::span);
            source.error(&at, format!("strategies in [bases]: {error}"))
        })?;
    Ok(Some(Bases {
        model: BakeBases {
            catalogue,
            strategy,
        },
        at: written.span(),
    }))
}

/// An image's `base`, checked against the catalogue and the image's Dockerfile.
pub(super) struct BaseRequest<'raw> {
    raw: &'raw Spanned<RawBase>,
    /// Its needs, plugins and size limit (the platform and mode come from each cell).
    requirements: Requirements,
    /// The build arg the tier is passed in.
    arg: String,
}

/// The `base` of `image`, checked: the file has `[bases]`, each need is a capability and each
/// plugin a plugin of the catalogue, the size limit is positive, and the build arg it is
/// passed in (`as`, default `BASE_IMAGE`) is declared by the Dockerfile and used by no
/// `requires` entry.
pub(super) fn request<'raw>(
    source: &Source<'_>,
    image: &Image<'raw>,
    bases: Option<&Bases>,
) -> Result<Option<BaseRequest<'raw>>> {
    let Some(raw) = &image.raw.base else {
        return Ok(None);
    };
    let name = &image.name;
    let Some(bases) = bases else {
        return Err(source.error(
            &raw.span(),
            format!(
                "base of image {name}: expected a [bases] table naming the catalogue of tiers \
                 to choose from"
            ),
        ));
    };
    let catalogue = &bases.model.catalogue;
    let mut requirements = Requirements::new();
    for need in &raw.get_ref().needs {
        if !catalogue.knows(need.get_ref()) {
            return Err(source.error(
                &need.span(),
                format!(
                    "need {:?} in base of image {name}: expected a capability of {} ({})",
                    need.get_ref(),
                    catalogue.path.display(),
                    catalogue.capabilities.join(", ")
                ),
            ));
        }
        requirements = requirements.need(need.get_ref().clone());
    }
    for plugin in &raw.get_ref().plugins {
        if !catalogue.plugins.contains_key(plugin.get_ref()) {
            let known: Vec<&str> = catalogue.plugins.keys().map(String::as_str).collect();
            return Err(source.error(
                &plugin.span(),
                format!(
                    "plugin {:?} in base of image {name}: expected a plugin of {} ({})",
                    plugin.get_ref(),
                    catalogue.path.display(),
                    if known.is_empty() {
                        "it has none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
        requirements = requirements.plugin(plugin.get_ref().clone());
    }
    if let Some(limit) = &raw.get_ref().max_size_mb {
        let bytes = u64::try_from(*limit.get_ref())
            .ok()
            .filter(|megabytes| (1..=u64::MAX / MEGABYTE).contains(megabytes))
            .ok_or_else(|| {
                source.error(
                    &limit.span(),
                    format!(
                        "max_size_mb {} in base of image {name}: expected a positive number \
                         of MB",
                        limit.get_ref()
                    ),
                )
            })?;
        requirements = requirements.max_size(bytes * MEGABYTE);
    }
    let (arg, at) = match &raw.get_ref().arg {
        Some(arg) => (arg.get_ref().clone(), arg.span()),
        None => (BASE_IMAGE_ARG.to_owned(), raw.span()),
    };
    if !image.declared_args.contains(&arg) {
        return Err(source.error(
            &at,
            format!(
                "base of image {name} is passed in build arg {arg}: expected {} to declare it \
                 with ARG (and build FROM ${{{arg}}})",
                image.dockerfile_read.display()
            ),
        ));
    }
    if image
        .raw
        .requires
        .iter()
        .any(|require| require.arg.get_ref() == &arg)
    {
        return Err(source.error(
            &at,
            format!(
                "base of image {name} is passed in build arg {arg}, which a requires entry \
                 passes its parent in already; expected another (as = \"...\")"
            ),
        ));
    }
    Ok(Some(BaseRequest {
        raw,
        requirements,
        arg,
    }))
}

/// Chooses the tier of each of `cells` (an image's) for its platform and build mode, and
/// links it to the tier's cell (made later by [`tier_cells`]).
pub(super) fn choose(
    source: &Source<'_>,
    bases: &Bases,
    request: &BaseRequest<'_>,
    cells: &mut [Cell],
) -> Result<()> {
    let strategy = &bases.model.strategy;
    for cell in cells {
        let mut requirements = request
            .requirements
            .clone()
            .build_mode(cell.spec.build_mode);
        requirements.platform = cell.spec.platform.clone();
        let selection = strategy.select(&requirements).map_err(|error| {
            source.error(
                &request.raw.span(),
                format!("base of cell {}: {error}", cell.id),
            )
        })?;
        let tier = bases.model.catalogue.tier(&selection.tier).ok_or_else(|| {
            Error::internal(
                "choose a base tier",
                format!(
                    "{strategy} chose {}, which the catalogue lacks",
                    selection.tier
                ),
            )
        })?;
        cell.parents.push(ParentEdge {
            parent: tier_cell_id(tier, selection.platform.as_ref()),
            arg: request.arg.clone(),
            tier: Some(tier.name.clone()),
        });
        cell.base = Some(selection);
    }
    Ok(())
}

/// The cells of the tiers `cells` chose, each with its parents, parents first (in the
/// catalogue's order, smallest first). A tier image that is also an image's name is refused.
pub(super) fn tier_cells(
    source: &Source<'_>,
    bases: &Bases,
    cells: &[Cell],
    images: &[Image<'_>],
    cache_repo: Option<&ImageRef>,
) -> Result<Vec<Cell>> {
    let catalogue = &bases.model.catalogue;
    let mut wanted: BTreeSet<(String, Option<Platform>)> = BTreeSet::new();
    for cell in cells {
        let Some(selection) = &cell.base else {
            continue;
        };
        if let Some(tier) = catalogue.tier(&selection.tier) {
            for tier in catalogue.lineage(tier) {
                wanted.insert((tier.name.clone(), selection.platform.clone()));
            }
        }
    }
    let names: HashMap<&str, &Image<'_>> = images
        .iter()
        .map(|image| (image.name.as_str(), image))
        .collect();
    for (tier, _) in &wanted {
        let Some(tier) = catalogue.tier(tier) else {
            continue;
        };
        let repository = tier.image.familiar_repository();
        if let Some(image) = names.get(repository.as_str()) {
            return Err(source.error(
                &bases.at,
                format!(
                    "tier {} of {} builds image {repository}, which is also the name of the \
                     image at line {}; expected names apart (the tier's `image` in the \
                     catalogue, or the image's name)",
                    tier.name,
                    catalogue.path.display(),
                    source.line(&image.raw.name.span())
                ),
            ));
        }
    }
    let wanted: Vec<(String, Option<Platform>)> = wanted.into_iter().collect();
    tier_cells_for(catalogue, &wanted, cache_repo)
}

/// The cells of `wanted` tiers (each with the platform it is built for), parents first in the
/// catalogue's order. Each tier's parent must be among them. A tier with a parent must
/// declare `ARG BASE_IMAGE` in its Dockerfile (the error is at its `from` in the catalogue).
pub(crate) fn tier_cells_for(
    catalogue: &Catalogue,
    wanted: &[(String, Option<Platform>)],
    cache_repo: Option<&ImageRef>,
) -> Result<Vec<Cell>> {
    let mut cells = Vec::new();
    let mut declared: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for tier in &catalogue.tiers {
        let mut platforms: Vec<&Option<Platform>> = wanted
            .iter()
            .filter(|(name, _)| name == &tier.name)
            .map(|(_, platform)| platform)
            .collect();
        platforms.sort();
        platforms.dedup();
        for platform in platforms {
            if tier.from.is_some() && !declared.contains_key(&tier.name) {
                declared.insert(tier.name.clone(), declared_args(catalogue, tier)?);
            }
            cells.push(tier_cell(catalogue, tier, platform.as_ref(), cache_repo));
        }
    }
    for (tier, args) in &declared {
        if let Some(tier) = catalogue
            .tier(tier)
            .filter(|_| !args.iter().any(|arg| arg == BASE_IMAGE_ARG))
        {
            let dockerfile = dockerfile_of(tier);
            return Err(catalogue
                .error_at(
                    tier.from_at.unwrap_or(tier.at),
                    format!(
                        "from {:?} of tier {}: the parent is passed in build arg {BASE_IMAGE_ARG}, \
                         but {} does not declare it; expected ARG {BASE_IMAGE_ARG} and FROM \
                         ${{{BASE_IMAGE_ARG}}}",
                        tier.from.as_deref().unwrap_or_default(),
                        tier.name,
                        dockerfile.display()
                    ),
                )
                .into());
        }
    }
    Ok(cells)
}

/// The Dockerfile of `tier`.
fn dockerfile_of(tier: &Tier) -> std::path::PathBuf {
    tier.dockerfile
        .clone()
        .unwrap_or_else(|| tier.context.join("Dockerfile"))
}

/// The build args `tier`'s Dockerfile declares.
fn declared_args(catalogue: &Catalogue, tier: &Tier) -> Result<Vec<String>> {
    let path = dockerfile_of(tier);
    let text = std::fs::read_to_string(&path).map_err(|error| -> Error {
        catalogue
            .error_at(
                tier.at,
                format!(
                    "tier {}: expected a readable Dockerfile at {}: {error}",
                    tier.name,
                    path.display()
                ),
            )
            .into()
    })?;
    Ok(Dockerfile::parse(&text).declared_args())
}

/// The id of `tier`'s cell for `platform`: its image's name, with the platform as its axis.
pub(crate) fn tier_cell_id(tier: &Tier, platform: Option<&Platform>) -> CellId {
    CellId::new(&tier.image.familiar_repository(), &platform_axis(platform))
}

fn platform_axis(platform: Option<&Platform>) -> BTreeMap<String, String> {
    platform
        .map(|platform| BTreeMap::from([("platform".to_owned(), platform.to_string())]))
        .unwrap_or_default()
}

/// `tier`'s cell for `platform`.
fn tier_cell(
    catalogue: &Catalogue,
    tier: &Tier,
    platform: Option<&Platform>,
    cache_repo: Option<&ImageRef>,
) -> Cell {
    let image = tier.image.familiar_repository();
    let mut spec = BuildSpec::new(image.clone(), tier.context.clone());
    spec.dockerfile = tier.dockerfile.clone();
    spec.platform = platform.cloned();
    spec.cache_repo = cache_repo.cloned();
    let parents = tier
        .from
        .as_deref()
        .and_then(|parent| catalogue.tier(parent))
        .map(|parent| ParentEdge {
            parent: tier_cell_id(parent, platform),
            arg: BASE_IMAGE_ARG.to_owned(),
            tier: Some(parent.name.clone()),
        })
        .into_iter()
        .collect();
    Cell {
        id: tier_cell_id(tier, platform),
        image,
        axes: platform_axis(platform),
        spec,
        parents,
        base: None,
        tier: Some(Arc::new(TierCell {
            tier: tier.clone(),
            platform: platform.cloned(),
            reference: catalogue.reference(tier, platform),
        })),
    }
}
