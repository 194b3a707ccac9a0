//! The strategies, table-driven: one `check` per concern, many small cases, over PANTHER's four
//! tiers written as a catalogue.

use std::sync::Arc;

use kiln_core::{BuildMode, Platform};

use super::*;
use crate::catalogue::MEGABYTE;

const CATALOGUE: &str = r#"
version = 1
capabilities = ["runtime", "networking", "python", "development", "debugging",
                "compilation", "cmake", "rust", "profiling"]

[[tier]]
name = "runtime"
context = "runtime"
capabilities = ["runtime", "networking"]
max_size_mb = 150
platforms = ["linux/amd64", "linux/arm64"]

[[tier]]
name = "dev"
context = "dev"
from = "runtime"
capabilities = ["+development", "+debugging", "+python"]
max_size_mb = 300

[[tier]]
name = "build"
context = "build"
from = "dev"
capabilities = ["+compilation", "+cmake"]
max_size_mb = 800

[[tier]]
name = "builder"
context = "builder"
from = "build"
capabilities = ["+rust", "+profiling"]
max_size_mb = 1200
platforms = ["linux/amd64"]

[plugins]
picoquic = ["networking", "compilation", "cmake"]
ivy = ["python", "debugging", "compilation"]
quiche = ["rust"]
"#;

pub(crate) fn catalogue() -> Arc<Catalogue> {
    let dir = tempfile::tempdir().unwrap();
    for name in ["runtime", "dev", "build", "builder"] {
        std::fs::create_dir(dir.path().join(name)).unwrap();
    }
    Arc::new(Catalogue::parse(CATALOGUE, &dir.path().join("bases.toml")).unwrap())
}

fn chain(order: &[StrategyKind], fallback: bool) -> DynStrategy {
    compose(
        catalogue(),
        order,
        &ChainOptions::new().allow_fallback(fallback),
    )
    .unwrap()
}

/// The default chain picks `expect` for `requirements`.
#[track_caller]
fn check(requirements: Requirements, expect: &str) {
    let strategy = chain(&StrategyKind::DEFAULT_CHAIN, false);
    match strategy.select(&requirements) {
        Ok(selection) => assert_eq!(
            selection.tier, expect,
            "{requirements}: {:?}",
            selection.reasons
        ),
        Err(error) => panic!("{requirements}: expected {expect}, got {error}"),
    }
}

#[test]
fn the_smallest_tier_that_fits() {
    let amd64 = Platform::linux_amd64;
    check(Requirements::new(), "runtime");
    check(Requirements::new().need("networking"), "runtime");
    check(Requirements::new().need("debugging"), "dev");
    check(Requirements::new().needs(["cmake", "networking"]), "build");
    check(Requirements::new().need("rust"), "builder");
    check(Requirements::new().plugin("picoquic"), "build");
    check(Requirements::new().plugin("ivy"), "build");
    check(
        Requirements::new().plugin("quiche").platform(amd64()),
        "builder",
    );
    check(Requirements::new().build_mode(BuildMode::Debug), "dev");
    check(
        Requirements::new().build_mode(BuildMode::ReleaseStaticPgo),
        "builder",
    );
    check(
        Requirements::new().build_mode(BuildMode::Release),
        "runtime",
    );
    check(
        Requirements::new()
            .need("networking")
            .max_size(150 * MEGABYTE)
            .platform(Platform::linux_arm64()),
        "runtime",
    );
}

/// The default chain refuses `requirements` with a message holding each of `expect`.
#[track_caller]
fn check_refused(requirements: Requirements, expect: &[&str]) {
    let strategy = chain(&StrategyKind::DEFAULT_CHAIN, false);
    let error = strategy.select(&requirements).unwrap_err().to_string();
    for part in expect {
        assert!(error.contains(part), "{error:?} lacks {part:?}");
    }
}

#[test]
fn when_nothing_fits_every_tier_says_why() {
    check_refused(
        Requirements::new()
            .need("compilation")
            .max_size(300 * MEGABYTE),
        &[
            "no base tier fits needs compilation, within 300 MB",
            "runtime lacks compilation",
            "dev lacks compilation",
            "build may be 800 MB, over the 300 MB asked",
            "builder may be 1200 MB, over the 300 MB asked",
        ],
    );
    check_refused(
        Requirements::new()
            .need("rust")
            .platform(Platform::linux_arm64()),
        &["runtime lacks rust", "builder is not built for linux/arm64"],
    );
    check_refused(
        Requirements::new().plugin("quic-go"),
        &[
            "plugin \"quic-go\": expected a plugin of the catalogue's [plugins] table (ivy, picoquic, quiche)",
        ],
    );
    check_refused(
        Requirements::new().need("gpu"),
        &["capability \"gpu\": expected one of the catalogue's capabilities (runtime, networking"],
    );
    check_refused(
        Requirements::new()
            .build_mode(BuildMode::Debug)
            .max_size(150 * MEGABYTE),
        &[
            "needs debugging, build mode debug, within 150 MB",
            "runtime lacks debugging",
        ],
    );
}

#[test]
fn fallback_takes_the_largest_tier_and_says_so() {
    let strategy = chain(&StrategyKind::DEFAULT_CHAIN, true);
    let selection = strategy
        .select(
            &Requirements::new()
                .need("compilation")
                .max_size(300 * MEGABYTE)
                .platform(Platform::linux_amd64()),
        )
        .unwrap();
    assert_eq!(selection.tier, "builder");
    assert!(selection.fallback);
    let said = selection.reasons.join("; ");
    assert!(
        said.contains("no tier fits (runtime lacks compilation;")
            && said.contains("fallback allowed: took the largest, builder"),
        "{said}"
    );
    // Fallback never takes a tier that is not built for the platform.
    let arm = strategy
        .select(
            &Requirements::new()
                .need("rust")
                .platform(Platform::linux_arm64()),
        )
        .unwrap();
    assert_eq!(arm.tier, "build", "the largest built for arm64");
    assert!(arm.fallback);
    // Without fallback, the same request is refused.
    assert!(
        chain(&StrategyKind::DEFAULT_CHAIN, false)
            .select(
                &Requirements::new()
                    .need("rust")
                    .platform(Platform::linux_arm64())
            )
            .is_err()
    );
}

#[test]
fn reasons_read_outermost_first() {
    let strategy = chain(&StrategyKind::DEFAULT_CHAIN, false);
    let selection = strategy
        .select(
            &Requirements::new()
                .plugin("picoquic")
                .build_mode(BuildMode::Debug)
                .platform(Platform::linux_arm64()),
        )
        .unwrap();
    assert_eq!(
        selection.reasons,
        [
            "plugin picoquic needs cmake, compilation, networking",
            "build mode debug needs debugging",
            "runtime skipped: lacks cmake, compilation, debugging",
            "dev skipped: lacks cmake, compilation",
            "build: the smallest tier that has cmake, compilation, debugging, networking, is \
             built for linux/arm64",
            "for linux/arm64: base-build:linux-arm64",
        ]
    );
    assert_eq!(
        selection.reference.unwrap().familiar(),
        "base-build:linux-arm64"
    );
    assert_eq!(selection.platform, Some(Platform::linux_arm64()));
}

#[test]
fn the_platform_step_uses_its_default_platform() {
    let strategy = compose(
        catalogue(),
        &StrategyKind::DEFAULT_CHAIN,
        &ChainOptions::new().default_platform(Platform::linux_arm64()),
    )
    .unwrap();
    let refused = strategy
        .select(&Requirements::new().need("rust"))
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("builder is not built for linux/arm64"),
        "{refused}"
    );
    let chosen = strategy.select(&Requirements::new()).unwrap();
    assert_eq!(chosen.platform, Some(Platform::linux_arm64()));
}

#[test]
fn without_a_plugin_step_plugins_are_refused_not_ignored() {
    let strategy = chain(&[StrategyKind::PlatformAware, StrategyKind::Tiered], false);
    let error = strategy
        .select(&Requirements::new().plugin("picoquic"))
        .unwrap_err();
    assert!(
        matches!(&error, Error::PluginsIgnored { chain, .. } if chain == "tiered"),
        "{error}"
    );
}

#[test]
fn chains_compose_in_the_order_given() {
    let shown = |order: &[StrategyKind]| chain(order, false).to_string();
    assert_eq!(
        shown(&StrategyKind::DEFAULT_CHAIN),
        "plugin-aware(platform-aware(tiered))"
    );
    assert_eq!(
        shown(&[
            StrategyKind::PlatformAware,
            StrategyKind::PluginAware,
            StrategyKind::Tiered
        ]),
        "platform-aware(plugin-aware(tiered))"
    );
    assert_eq!(shown(&[StrategyKind::Tiered]), "tiered");
    assert_eq!(
        chain(&[StrategyKind::Tiered], true).to_string(),
        "tiered(fallback)"
    );
    for bad in [
        vec![],
        vec![StrategyKind::PluginAware],
        vec![StrategyKind::Tiered, StrategyKind::PluginAware],
        vec![
            StrategyKind::PluginAware,
            StrategyKind::PluginAware,
            StrategyKind::Tiered,
        ],
        vec![StrategyKind::Tiered, StrategyKind::Tiered],
    ] {
        let error = compose(catalogue(), &bad, &ChainOptions::new()).unwrap_err();
        assert!(
            matches!(error, Error::InvalidChain { .. }),
            "{bad:?}: {error}"
        );
    }
    assert_eq!(
        StrategyKind::parse("platform-aware").unwrap(),
        StrategyKind::PlatformAware
    );
    assert!(
        StrategyKind::parse("smallest")
            .unwrap_err()
            .to_string()
            .contains("\"smallest\": expected a strategy: plugin-aware, platform-aware or tiered")
    );
}

/// A strategy that ignores platforms: always the largest tier.
#[derive(Debug)]
struct Careless(Arc<Catalogue>);

impl std::fmt::Display for Careless {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("careless")
    }
}

impl BaseStrategy for Careless {
    fn select(&self, _: &Requirements) -> Result<Selection> {
        let largest = self
            .0
            .tiers
            .last()
            .map_or("none", |tier| tier.name.as_str());
        Ok(Selection::of(largest))
    }

    fn catalogue(&self) -> &Catalogue {
        &self.0
    }
}

#[test]
fn the_platform_step_refuses_a_choice_not_built_for_the_platform() {
    let strategy = PlatformAware::new(Careless(catalogue()));
    let error = strategy
        .select(&Requirements::new().platform(Platform::linux_arm64()))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "strategy careless chose tier builder, which the catalogue does not build for \
         linux/arm64; the platform-aware step refuses it"
    );
    let amd64 = strategy
        .select(&Requirements::new().platform(Platform::linux_amd64()))
        .unwrap();
    assert_eq!(
        amd64.reference.unwrap().familiar(),
        "base-builder:linux-amd64"
    );
}

#[test]
fn shared_and_boxed_strategies_are_strategies() {
    fn takes<S: BaseStrategy>(strategy: S) -> String {
        strategy.to_string()
    }
    let shared: Arc<dyn BaseStrategy> = Arc::new(Tiered::new(catalogue()));
    let boxed: Box<dyn BaseStrategy> = Box::new(Tiered::new(catalogue()));
    assert_eq!(takes(Arc::clone(&shared)), "tiered");
    assert_eq!(takes(PluginAware::new(boxed)), "plugin-aware(tiered)");
    assert_eq!(
        PluginAware::new(PlatformAware::new(shared))
            .select(&Requirements::new().plugin("ivy"))
            .unwrap()
            .tier,
        "build"
    );
}
