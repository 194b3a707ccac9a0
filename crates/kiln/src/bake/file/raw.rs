//! The file as TOML gives it: every table refuses unknown keys, and every value an error may
//! point at keeps its place in the text (`Spanned`).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A string with its place in the file.
pub(super) type Text = Spanned<String>;

/// Axis values by axis name, as `exclude`, `include` and an override's `match` give them.
pub(super) type AxisMap = Spanned<BTreeMap<Text, Text>>;

/// Build args by name; the names keep their place (they are checked), the values need not.
pub(super) type Args = BTreeMap<Text, String>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    /// The format's version; only `1` is read.
    pub(super) version: Option<Spanned<toml::Value>>,
    /// `[defaults]`.
    #[serde(default)]
    pub(super) defaults: RawDefaults,
    /// Every `[[image]]`, in file order.
    #[serde(default, rename = "image")]
    pub(super) images: Vec<RawImage>,
    /// Every `[[test]]`, in file order.
    #[serde(default, rename = "test")]
    pub(super) tests: Vec<RawTest>,
    /// `[bases]`: the catalogue of base tiers and how a tier is chosen.
    pub(super) bases: Option<Spanned<RawBases>>,
}

/// `[bases]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBases {
    /// The catalogue file, relative to the bake file's directory.
    pub(super) catalogue: Text,
    /// The strategy chain, outermost first.
    pub(super) strategies: Option<Spanned<Vec<Text>>>,
    /// Whether the largest tier is taken when none fits.
    #[serde(default)]
    pub(super) allow_fallback: bool,
}

/// An image's `base`: what its base tier must offer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBase {
    #[serde(default)]
    pub(super) needs: Vec<Text>,
    #[serde(default)]
    pub(super) plugins: Vec<Text>,
    pub(super) max_size_mb: Option<Spanned<i64>>,
    #[serde(rename = "as")]
    pub(super) arg: Option<Text>,
}

/// One `[[test]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTest {
    pub(super) name: Text,
    pub(super) timeout: Option<Text>,
    pub(super) network: Option<RawNetwork>,
    #[serde(default, rename = "service")]
    pub(super) services: Vec<RawService>,
}

/// A test's `network`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNetwork {
    /// `"daemon"`, `"pool"` or a CIDR.
    pub(super) subnet: Option<Text>,
}

/// One `[[test.service]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    pub(super) name: Text,
    pub(super) image: Text,
    #[serde(default)]
    pub(super) command: Vec<String>,
    #[serde(default)]
    pub(super) env: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) depends_on: Vec<Text>,
    pub(super) ready: Option<Spanned<RawReady>>,
    #[serde(default)]
    pub(super) verdict: bool,
    #[serde(default)]
    pub(super) ports: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) tty: bool,
    pub(super) memory: Option<Text>,
}

/// A service's `ready`: a log line or a command.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReady {
    pub(super) log: Option<String>,
    pub(super) command: Option<Vec<String>>,
}

/// `[defaults]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub(super) registry: Option<Text>,
    pub(super) cache_repo: Option<Text>,
    #[serde(default)]
    pub(super) platforms: Vec<Text>,
    pub(super) jobs: Option<Spanned<i64>>,
    #[serde(default)]
    pub(super) args: Args,
}

/// One `[[image]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawImage {
    pub(super) name: Text,
    pub(super) context: Text,
    pub(super) dockerfile: Option<Text>,
    #[serde(default)]
    pub(super) args: Args,
    pub(super) target: Option<Text>,
    pub(super) tag_version: Option<Text>,
    #[serde(default)]
    pub(super) requires: Vec<RawRequire>,
    /// The base tier it asks for by needs.
    pub(super) base: Option<Spanned<RawBase>>,
    /// Axis name → its values, in the order given.
    pub(super) matrix: Option<BTreeMap<Text, Spanned<Vec<Text>>>>,
    #[serde(default)]
    pub(super) exclude: Vec<AxisMap>,
    #[serde(default)]
    pub(super) include: Vec<AxisMap>,
    #[serde(default, rename = "override")]
    pub(super) overrides: Vec<RawOverride>,
}

/// One entry of an image's `requires`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRequire {
    pub(super) image: Text,
    #[serde(rename = "as")]
    pub(super) arg: Text,
    #[serde(default)]
    pub(super) same: Vec<Text>,
}

/// One `[[image.override]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOverride {
    #[serde(rename = "match")]
    pub(super) matching: AxisMap,
    #[serde(default)]
    pub(super) args: Args,
}
