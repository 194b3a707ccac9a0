//! Property tests of the strategies over arbitrary catalogues and requests: the choice is the
//! smallest tier that fits, a further need never picks a smaller tier, a size limit is never
//! exceeded unless fallback is allowed, the platform step never returns a tier its inner
//! strategy refused, and the plugin step merges needs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use kiln_core::{BuildMode, ImageRef, Platform};
use proptest::prelude::*;

use super::*;
use crate::catalogue::{Location, MEGABYTE, Tier};

const VOCABULARY: [&str; 6] = ["c0", "c1", "c2", "c3", "c4", "c5"];

fn platforms() -> [Platform; 2] {
    [Platform::linux_amd64(), Platform::linux_arm64()]
}

fn set(mask: u8) -> BTreeSet<String> {
    VOCABULARY
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, name)| (*name).to_owned())
        .collect()
}

/// A tier as the property needs it: capabilities (a mask), size in MB, platforms (a mask).
type TierShape = (u8, u64, u8);

fn catalogue(shapes: &[TierShape], plugins: &[u8], debug_needs: u8) -> Arc<Catalogue> {
    let mut tiers: Vec<Tier> = shapes
        .iter()
        .enumerate()
        .map(|(index, &(capabilities, megabytes, platform_mask))| {
            let name = format!("t{index}");
            let platform_mask = if platform_mask & 3 == 0 {
                1
            } else {
                platform_mask
            };
            Tier {
                image: ImageRef::parse(&format!("base-{name}:latest")).unwrap(),
                context: PathBuf::from(&name),
                dockerfile: None,
                from: None,
                capabilities: set(capabilities),
                max_size: megabytes * MEGABYTE,
                platforms: platforms()
                    .into_iter()
                    .enumerate()
                    .filter(|(bit, _)| platform_mask & (1 << bit) != 0)
                    .map(|(_, platform)| platform)
                    .collect(),
                probes: BTreeMap::new(),
                at: Location { line: 1, column: 1 },
                from_at: None,
                name,
            }
        })
        .collect();
    // The reader keeps tiers smallest first; a stable sort keeps file order among equals.
    tiers.sort_by_key(|tier| tier.max_size);
    Arc::new(Catalogue {
        path: PathBuf::from("bases.toml"),
        capabilities: VOCABULARY.map(String::from).to_vec(),
        tiers,
        plugins: plugins
            .iter()
            .enumerate()
            .map(|(index, mask)| (format!("p{index}"), set(*mask)))
            .collect(),
        mode_needs: BTreeMap::from([(BuildMode::Debug, set(debug_needs))]),
    })
}

fn shapes() -> impl Strategy<Value = Vec<TierShape>> {
    prop::collection::vec((0u8..64, 1u64..2000, 0u8..4), 1..7)
}

/// Requirements: needs (a mask), a size limit in MB, a platform, plugins (a mask of p0..p2),
/// debug mode.
type RequestShape = (u8, Option<u64>, Option<bool>, u8, bool);

fn request_shape() -> impl Strategy<Value = RequestShape> {
    (
        0u8..64,
        prop::option::of(1u64..2000),
        prop::option::of(any::<bool>()),
        0u8..8,
        any::<bool>(),
    )
}

fn requirements((needs, limit, arm, plugins, debug): RequestShape) -> Requirements {
    let mut requirements = Requirements::new().needs(set(needs));
    if let Some(limit) = limit {
        requirements = requirements.max_size(limit * MEGABYTE);
    }
    if let Some(arm) = arm {
        requirements = requirements.platform(match arm {
            true => Platform::linux_arm64(),
            false => Platform::linux_amd64(),
        });
    }
    for plugin in 0..3 {
        if plugins & (1 << plugin) != 0 {
            requirements = requirements.plugin(format!("p{plugin}"));
        }
    }
    if debug {
        requirements = requirements.build_mode(BuildMode::Debug);
    }
    requirements
}

/// Whether `tier` meets `requirements` with `needs` (the effective needs).
fn fits(tier: &Tier, needs: &BTreeSet<String>, requirements: &Requirements) -> bool {
    needs.is_subset(&tier.capabilities)
        && requirements
            .max_size
            .is_none_or(|limit| tier.max_size <= limit)
        && requirements
            .platform
            .as_ref()
            .is_none_or(|platform| tier.supports(platform))
}

/// The effective needs of `requirements`: its own, its plugins' and its build mode's.
fn effective(catalogue: &Catalogue, requirements: &Requirements) -> BTreeSet<String> {
    let mut needs = requirements.needs.clone();
    for plugin in &requirements.plugins {
        needs.extend(catalogue.plugins[plugin].iter().cloned());
    }
    needs.extend(catalogue.needs_of_mode(requirements.build_mode));
    needs
}

fn size_of(catalogue: &Catalogue, tier: &str) -> u64 {
    catalogue.tier(tier).map_or(0, |tier| tier.max_size)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_choice_is_the_smallest_tier_that_fits(
        shapes in shapes(),
        plugins in prop::collection::vec(0u8..64, 3),
        debug_needs in 0u8..64,
        request in request_shape(),
    ) {
        let catalogue = catalogue(&shapes, &plugins, debug_needs);
        let requirements = requirements(request);
        let needs = effective(&catalogue, &requirements);
        let chain = compose(Arc::clone(&catalogue), &StrategyKind::DEFAULT_CHAIN, &ChainOptions::new()).unwrap();
        let fitting: Vec<&Tier> = catalogue.tiers.iter().filter(|tier| fits(tier, &needs, &requirements)).collect();
        match chain.select(&requirements) {
            Ok(selection) => {
                let chosen = catalogue.tier(&selection.tier).unwrap();
                prop_assert!(fits(chosen, &needs, &requirements), "{} does not fit", chosen.name);
                prop_assert_eq!(&chosen.name, &fitting[0].name);
                prop_assert!(fitting.iter().all(|tier| tier.max_size >= chosen.max_size));
                prop_assert_eq!(&selection.needs, &needs);
                prop_assert!(!selection.fallback);
            }
            Err(Error::NoTierFits { rejections, .. }) => {
                prop_assert!(fitting.is_empty());
                prop_assert_eq!(rejections.len(), catalogue.tiers.len(), "every tier says why");
                prop_assert!(rejections.iter().all(|rejection| !rejection.failed.is_empty()));
            }
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }

    #[test]
    fn a_further_need_never_picks_a_smaller_tier(
        shapes in shapes(),
        request in request_shape(),
        extra in 0usize..6,
        fallback in any::<bool>(),
    ) {
        let catalogue = catalogue(&shapes, &[0, 0, 0], 0);
        let chain = compose(Arc::clone(&catalogue), &StrategyKind::DEFAULT_CHAIN, &ChainOptions::new().allow_fallback(fallback)).unwrap();
        let before = requirements(request);
        let after = before.clone().need(VOCABULARY[extra]);
        match (chain.select(&before), chain.select(&after)) {
            (Ok(small), Ok(large)) => prop_assert!(
                size_of(&catalogue, &large.tier) >= size_of(&catalogue, &small.tier),
                "{} then {}", small.tier, large.tier
            ),
            (Err(_), Ok(large)) => prop_assert!(false, "fewer needs refused, more got {}", large.tier),
            _ => {}
        }
    }

    #[test]
    fn a_size_limit_is_exceeded_only_by_an_allowed_fallback(
        shapes in shapes(),
        request in request_shape(),
        fallback in any::<bool>(),
    ) {
        let catalogue = catalogue(&shapes, &[1, 2, 4], 8);
        let requirements = requirements(request);
        let chain = compose(Arc::clone(&catalogue), &StrategyKind::DEFAULT_CHAIN, &ChainOptions::new().allow_fallback(fallback)).unwrap();
        if let (Ok(selection), Some(limit)) = (chain.select(&requirements), requirements.max_size)
            && size_of(&catalogue, &selection.tier) > limit
        {
            prop_assert!(fallback && selection.fallback);
            prop_assert!(selection.reasons.iter().any(|reason| reason.contains("fallback allowed")));
        }
    }

    #[test]
    fn the_platform_step_never_returns_a_tier_its_inner_strategy_refused(
        shapes in shapes(),
        request in request_shape(),
        fallback in any::<bool>(),
        careless_pick in 0usize..7,
    ) {
        let catalogue = catalogue(&shapes, &[0, 0, 0], 0);
        let mut requirements = requirements(request);
        requirements.plugins.clear();
        let inner = Tiered::new(Arc::clone(&catalogue)).allow_fallback(fallback);
        let wrapped = PlatformAware::new(inner.clone());
        match wrapped.select(&requirements) {
            Ok(selection) => {
                let inner_choice = inner.select(&requirements);
                prop_assert_eq!(inner_choice.map(|s| s.tier).ok(), Some(selection.tier.clone()));
                if let Some(platform) = &requirements.platform {
                    prop_assert!(catalogue.tier(&selection.tier).unwrap().supports(platform));
                }
                prop_assert!(selection.reference.is_some());
            }
            Err(_) => prop_assert!(inner.select(&requirements).is_err()),
        }
        // An inner strategy that ignores platforms is refused, never bypassed.
        let careless = Picks(Arc::clone(&catalogue), careless_pick % catalogue.tiers.len());
        if let Ok(selection) = PlatformAware::new(careless).select(&requirements)
            && let Some(platform) = &requirements.platform
        {
            prop_assert!(catalogue.tier(&selection.tier).unwrap().supports(platform));
        }
    }

    #[test]
    fn the_plugin_step_merges_needs(
        shapes in shapes(),
        plugins in prop::collection::vec(0u8..64, 3),
        request in request_shape(),
    ) {
        let catalogue = catalogue(&shapes, &plugins, 0);
        let requirements = requirements(request);
        let mut merged = requirements.clone();
        merged.plugins.clear();
        for plugin in &requirements.plugins {
            merged.needs.extend(catalogue.plugins[plugin].iter().cloned());
        }
        let wrapped = PluginAware::new(Tiered::new(Arc::clone(&catalogue)));
        let direct = Tiered::new(Arc::clone(&catalogue));
        match (wrapped.select(&requirements), direct.select(&merged)) {
            (Ok(through), Ok(direct)) => {
                prop_assert_eq!(&through.tier, &direct.tier);
                prop_assert!(merged.needs.is_subset(&through.needs));
                for plugin in &requirements.plugins {
                    let said = format!("plugin {plugin} needs");
                    prop_assert!(through.reasons.iter().any(|reason| reason.starts_with(&said)));
                }
            }
            (Err(_), Err(_)) => {}
            (through, direct) => prop_assert!(false, "{through:?} vs {direct:?}"),
        }
    }
}

/// A strategy that ignores the request: always tier `.1`.
#[derive(Debug)]
struct Picks(Arc<Catalogue>, usize);

impl std::fmt::Display for Picks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "picks({})", self.1)
    }
}

impl BaseStrategy for Picks {
    fn select(&self, _: &Requirements) -> Result<Selection> {
        Ok(Selection::of(self.0.tiers[self.1].name.clone()))
    }

    fn catalogue(&self) -> &Catalogue {
        &self.0
    }
}
