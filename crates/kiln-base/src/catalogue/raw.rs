//! The catalogue as TOML gives it: every table refuses unknown keys, and every value an error
//! may point at keeps its place in the text (`Spanned`).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A string with its place in the file.
pub(super) type Text = Spanned<String>;

/// A list with its place, of strings with theirs.
pub(super) type TextList = Spanned<Vec<Text>>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCatalogue {
    /// The format's version; only `1` is read.
    pub(super) version: Option<Spanned<toml::Value>>,
    /// The closed vocabulary of capabilities.
    pub(super) capabilities: Option<TextList>,
    /// Every `[[tier]]`, in file order.
    #[serde(default, rename = "tier")]
    pub(super) tiers: Vec<RawTier>,
    /// `[plugins]`: what each plugin needs.
    #[serde(default)]
    pub(super) plugins: BTreeMap<Text, TextList>,
    /// `[modes]`: what each build mode needs (the defaults when absent).
    pub(super) modes: Option<Spanned<BTreeMap<Text, TextList>>>,
}

/// One `[[tier]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTier {
    pub(super) name: Text,
    pub(super) image: Option<Text>,
    pub(super) context: Text,
    pub(super) dockerfile: Option<Text>,
    pub(super) from: Option<Text>,
    #[serde(default)]
    pub(super) capabilities: Vec<Text>,
    pub(super) max_size_mb: Spanned<i64>,
    #[serde(default)]
    pub(super) platforms: Vec<Text>,
    #[serde(default)]
    pub(super) probes: BTreeMap<Text, Text>,
}
