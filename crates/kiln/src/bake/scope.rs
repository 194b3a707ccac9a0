//! Which cells a bake covers (targets and the parents they need, a shard's share) and the
//! tags each cell gets.

use std::collections::{BTreeMap, BTreeSet};

use kiln_core::{Error, ImageRef, Result, TagInput};
use sha2::{Digest, Sha256};

use super::model::{BakeFile, Cell, CellId};
use crate::kiln::Kiln;

/// The axes that name a cell's tag through the scheme; others are appended to the tag.
const SCHEME_AXES: [&str; 5] = ["version", "mode", "runtime_mode", "platform", "tag_version"];

/// The indices (in `file.cells`, so in dependency order) of the cells `targets` name — an
/// image's name names its every cell — and of every cell they need; all cells when `targets`
/// is empty.
///
/// # Errors
///
/// [`Error::InvalidInput`] naming a target that names no cell.
pub(crate) fn select(file: &BakeFile, targets: &[String]) -> Result<Vec<usize>> {
    if targets.is_empty() {
        return Ok((0..file.cells.len()).collect());
    }
    let mut wanted: BTreeSet<CellId> = BTreeSet::new();
    for target in targets {
        let named: Vec<&Cell> = file
            .cells
            .iter()
            .filter(|cell| cell.image == *target || cell.id.as_str() == target)
            .collect();
        if named.is_empty() {
            let images: BTreeSet<&str> =
                file.cells.iter().map(|cell| cell.image.as_str()).collect();
            return Err(Error::invalid_input(
                "bake target",
                target.clone(),
                format!(
                    "an image of {} ({}) or a cell id such as {}",
                    file.path.display(),
                    images.into_iter().collect::<Vec<_>>().join(", "),
                    file.cells.first().map_or("-", |cell| cell.id.as_str())
                ),
            ));
        }
        wanted.extend(named.into_iter().map(|cell| cell.id.clone()));
    }
    Ok(with_ancestors(file, wanted))
}

/// `wanted` and every cell they need, as indices in dependency order.
fn with_ancestors(file: &BakeFile, mut wanted: BTreeSet<CellId>) -> Vec<usize> {
    // Children come after their parents, so one pass from the end reaches every ancestor.
    for cell in file.cells.iter().rev() {
        if wanted.contains(&cell.id) {
            wanted.extend(cell.parents.iter().map(|edge| edge.parent.clone()));
        }
    }
    file.cells
        .iter()
        .enumerate()
        .filter(|(_, cell)| wanted.contains(&cell.id))
        .map(|(index, _)| index)
        .collect()
}

/// The shard (from 1) that owns cell `id` of `count`: a stable hash of the id, so adding a
/// cell moves no other.
pub fn shard_of(id: &CellId, count: u32) -> u32 {
    let digest = Sha256::digest(id.as_str().as_bytes());
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&digest[..8]);
    let count = u64::from(count.max(1));
    // The remainder is below `count`, which came from a u32.
    u32::try_from(u64::from_be_bytes(prefix) % count).unwrap_or(0) + 1
}

/// A shard's cells and the parents they need, as indices in dependency order.
pub(crate) fn shard_scope(file: &BakeFile, scope: &[usize], index: u32, count: u32) -> Vec<usize> {
    let owned: BTreeSet<CellId> = scope
        .iter()
        .map(|&i| &file.cells[i])
        .filter(|cell| shard_of(&cell.id, count) == index)
        .map(|cell| cell.id.clone())
        .collect();
    with_ancestors(file, owned)
}

/// The human tags of every cell: the scheme's name (free axes appended to the tag), or a base
/// tier's reference, in the file's registry, else the configured one.
///
/// # Errors
///
/// [`Error::InvalidInput`] when two cells get the same tag, naming both.
pub(crate) fn cell_tags(kiln: &Kiln, file: &BakeFile) -> Result<BTreeMap<CellId, Vec<ImageRef>>> {
    let registry = kiln.bake_registry(file);
    let mut owners: BTreeMap<String, CellId> = BTreeMap::new();
    let mut tags = BTreeMap::new();
    for cell in &file.cells {
        let tag = cell_tag(kiln, cell, registry.as_deref())?;
        if let Some(other) = owners.insert(tag.familiar(), cell.id.clone()) {
            return Err(Error::invalid_input(
                "bake file",
                file.path.display().to_string(),
                format!(
                    "a different tag for every cell, but {other} and {} are both tagged {} \
                     (add an axis that names them apart, such as tag_version)",
                    cell.id,
                    tag.familiar()
                ),
            ));
        }
        tags.insert(cell.id.clone(), vec![tag]);
    }
    Ok(tags)
}

/// A cell's tag: a base tier's is the catalogue's reference for its platform; any other's
/// comes from the scheme.
fn cell_tag(kiln: &Kiln, cell: &Cell, registry: Option<&str>) -> Result<ImageRef> {
    let name = match &cell.tier {
        Some(tier) => tier.reference.clone(),
        None => {
            let mut input = TagInput::from_spec(&cell.spec);
            for (axis, value) in &cell.axes {
                if !SCHEME_AXES.contains(&axis.as_str()) && !value.is_empty() {
                    input.tag_version = format!("{}-{value}", input.tag_version);
                }
            }
            kiln.tag_scheme().image_ref(&input)?
        }
    };
    match registry {
        Some(registry) => Ok(ImageRef::parse(&format!(
            "{}/{}",
            registry.trim_end_matches('/'),
            name.familiar()
        ))?),
        None => Ok(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_lands_in_one_shard_and_shards_share_the_work() {
        let mut counts = [0usize; 4];
        for n in 0..400 {
            let id = CellId::new(&format!("image{n}"), &BTreeMap::new());
            let shard = shard_of(&id, 4);
            assert!((1..=4).contains(&shard));
            assert_eq!(shard, shard_of(&id, 4), "stable");
            counts[(shard - 1) as usize] += 1;
        }
        assert!(counts.iter().all(|&count| count > 60), "{counts:?}");
    }
}
