//! The bake file's vocabulary: the matrix's cells, their ids and the edges between them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use kiln_base::{Catalogue, DynStrategy, Selection, Tier};
use kiln_core::{BuildSpec, ImageRef, Platform};
use serde::Serialize;

/// A cell's id: `image[axis=value,…]` with the axes sorted by name, or the image's name alone
/// when it has no axes (`picoquic[mode=debug,platform=linux/arm64,version=v1]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CellId(String);

impl CellId {
    /// The id of the cell of `image` with these axis values.
    pub fn new(image: &str, axes: &BTreeMap<String, String>) -> CellId {
        if axes.is_empty() {
            return CellId(image.to_owned());
        }
        let values = axes
            .iter()
            .map(|(axis, value)| format!("{axis}={value}"))
            .collect::<Vec<_>>()
            .join(",");
        CellId(format!("{image}[{values}]"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CellId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An edge from a parent cell: the child receives the parent's image, pinned by id (or
/// `repo@digest`), in the build arg `arg`, and the parent's fingerprint enters the child's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParentEdge {
    /// The parent cell.
    pub parent: CellId,
    /// The build arg that receives the parent (`BASE_IMAGE`).
    pub arg: String,
    /// The base tier the parent is, when it is one (reasons then say `tier dev changed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
}

/// One image × one combination of axis values: what to build, and what it needs first.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Cell {
    /// The cell's id.
    pub id: CellId,
    /// The name of its `[[image]]` in the file.
    pub image: String,
    /// Its axis values (`version`, `mode`, `runtime_mode`, `platform`, `tag_version` and free
    /// axes), by axis name.
    pub axes: BTreeMap<String, String>,
    /// The build, with every axis, argument and override applied; the parents' build args are
    /// added when the parents are known.
    pub spec: BuildSpec,
    /// The cells it requires, in the order of its `requires` (its base tier's cell last).
    pub parents: Vec<ParentEdge>,
    /// The base tier chosen for it, when its image asks for one by needs (`base = {...}`).
    pub base: Option<Selection>,
    /// What it builds when it is a base tier's cell.
    pub tier: Option<Arc<TierCell>>,
}

/// A base tier's cell: the tier, the platform it is built for and the reference it is
/// tagged with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TierCell {
    /// The tier, as the catalogue describes it.
    pub tier: Tier,
    /// The platform (`None`: the build's default platform).
    pub platform: Option<Platform>,
    /// The reference it is tagged with (`base-dev:linux-amd64`).
    pub reference: ImageRef,
}

/// The file's `[bases]`: the catalogue and the strategy chain that chooses from it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BakeBases {
    /// The catalogue.
    pub catalogue: Arc<Catalogue>,
    /// The chain (`plugin-aware(platform-aware(tiered))` by default).
    pub strategy: DynStrategy,
}

/// The file's `[defaults]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BakeDefaults {
    /// The registry that human tags are published in (`reg:5000/bench`).
    pub registry: Option<String>,
    /// The repository that fingerprint tags (`kiln-<fingerprint>`) go to as cells are built.
    pub cache_repo: Option<ImageRef>,
    /// The platforms of images whose matrix has no `platform` axis.
    pub platforms: Vec<Platform>,
    /// How many builds may run at once (`-j` overrides it).
    pub jobs: Option<usize>,
}

/// A checked `kiln.toml`: its defaults and every cell, parents before children.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BakeFile {
    /// The file it was read from.
    pub path: PathBuf,
    /// Its `[defaults]`.
    pub defaults: BakeDefaults,
    /// Every cell, in dependency order (a parent before each of its children; otherwise in
    /// the file's order of images, then matrix order).
    pub cells: Vec<Cell>,
    /// Its `[[test]]`s, in file order.
    pub tests: Vec<super::test_spec::TestSpec>,
    /// Its `[bases]`, when it has one.
    pub bases: Option<BakeBases>,
}

impl BakeFile {
    /// The cell with id `id`.
    pub fn cell(&self, id: &CellId) -> Option<&Cell> {
        self.cells.iter().find(|cell| &cell.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_their_axes() {
        let axes = BTreeMap::from([
            ("version".to_owned(), "v1".to_owned()),
            ("mode".to_owned(), "debug".to_owned()),
        ]);
        assert_eq!(
            CellId::new("picoquic", &axes).as_str(),
            "picoquic[mode=debug,version=v1]"
        );
        assert_eq!(CellId::new("base", &BTreeMap::new()).as_str(), "base");
    }
}
