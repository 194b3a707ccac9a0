//! `kiln plan --all`: every cell's decision, its reason and its parents, building nothing.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use kiln_base::Selection;
use kiln_core::{Change, ImageRef, ParentInput, RegistryOptions, Result};
use serde::Serialize;

use super::explain::{self, Changed};
use super::model::{BakeFile, Cell, CellId};
use super::options::Shard;
use super::scope::{cell_tags, select, shard_of, shard_scope};
use crate::kiln::Kiln;
use crate::plan::{Action, Plan};

/// How many cells are planned at once.
const PLANS_AT_ONCE: usize = 8;

/// What baking a cell would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CellAction {
    /// Reuse the image recorded for its inputs.
    Reuse,
    /// Build it.
    Build,
    /// Pull it from the cache repository, which has its inputs.
    Pull,
    /// Nothing to build: the registry holds its tag built from the same inputs.
    Remote,
    /// Wait for the shard that owns it to put it in the cache repository (then build it).
    Blocked,
}

/// One cell's decision.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct CellPlan {
    /// The cell.
    pub id: CellId,
    /// Its image's name in the file.
    pub image: String,
    /// Its axis values.
    pub axes: BTreeMap<String, String>,
    /// What baking it would do.
    pub action: CellAction,
    /// Why, in a sentence; a parent's change is named (`parent base changed: file x changed`).
    pub reason: String,
    /// What differs from its last recorded build.
    pub changes: Vec<Change>,
    /// The cells it requires.
    pub parents: Vec<CellId>,
    /// Its tags.
    pub tags: Vec<String>,
    /// The fingerprint of its inputs.
    pub fingerprint: String,
    /// The shard that owns it, when sharded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<u32>,
    /// Warnings of its plan.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The base tier chosen for it and why, when its image asks for one by needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<Selection>,
    /// The base tier it builds, when it is a tier's cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
}

/// A cell planned, with what its dependants need of it.
pub(crate) struct Planned {
    pub(crate) plan: Plan,
    pub(crate) changed: Changed,
}

impl Kiln {
    /// Decides, for every cell of `file` that `targets` name (all when empty) and the parents
    /// they need, what `kiln bake` would do and why — level by level, building nothing. With
    /// `shard`, the cells of that shard and the parents they need, each with its owner; with
    /// `push`, what `kiln bake --push` would do (a cell whose tag the registry holds, built
    /// from the same inputs, is `remote`).
    pub async fn plan_all(
        &self,
        file: &BakeFile,
        targets: &[String],
        shard: Option<Shard>,
        push: bool,
    ) -> Result<Vec<CellPlan>> {
        let mut scope = select(file, targets)?;
        if let Some(shard) = shard {
            scope = shard_scope(file, &scope, shard.index, shard.count);
        }
        let tags = cell_tags(self, file)?;
        let planned = plan_cells(self, file, &scope, &tags).await?;
        let cache_repo = self.bake_cache_repo(file)?;
        let mut plans = Vec::with_capacity(scope.len());
        for index in scope {
            let cell = &file.cells[index];
            let Planned { plan, changed } = &planned[&cell.id];
            let owner = shard.map(|shard| shard_of(&cell.id, shard.count));
            let (action, reason) = match plan.action {
                Action::Reuse => (CellAction::Reuse, plan.reason.clone()),
                Action::Build => {
                    let in_registry = match self.bake_registry(file) {
                        Some(_) if push => self.registry_holds(plan).await,
                        _ => None,
                    };
                    let in_cache = match &cache_repo {
                        Some(repo) if in_registry.is_none() => {
                            self.cache_repo_has(repo, &plan.fingerprint.to_string())
                                .await
                        }
                        _ => None,
                    };
                    let reason =
                        explain::reason(&plan.reason, &changed.phrases, changed.through_parent);
                    match (in_cache, owner, shard) {
                        (None, _, _) if in_registry.is_some() => {
                            (CellAction::Remote, in_registry.unwrap_or_default())
                        }
                        (Some(reference), _, _) => (
                            CellAction::Pull,
                            format!(
                                "{reason}; the cache repository has it as {}",
                                reference.familiar()
                            ),
                        ),
                        (None, Some(owner), Some(shard)) if owner != shard.index => (
                            CellAction::Blocked,
                            format!(
                                "{reason}; shard {owner}/{} owns it: waits for it in the cache \
                                 repository, then builds it",
                                shard.count
                            ),
                        ),
                        _ => (CellAction::Build, reason),
                    }
                }
            };
            plans.push(CellPlan {
                id: cell.id.clone(),
                image: cell.image.clone(),
                axes: cell.axes.clone(),
                action,
                reason,
                changes: plan.changes.clone(),
                parents: cell
                    .parents
                    .iter()
                    .map(|edge| edge.parent.clone())
                    .collect(),
                tags: tags[&cell.id].iter().map(ImageRef::familiar).collect(),
                fingerprint: plan.fingerprint.to_string(),
                shard: owner,
                warnings: plan.warnings.clone(),
                base: cell.base.clone(),
                tier: cell.tier.as_ref().map(|tier| tier.tier.name.clone()),
            });
        }
        Ok(plans)
    }

    /// The cache repository of a bake: the file's, else the configuration's.
    pub(crate) fn bake_cache_repo(&self, file: &BakeFile) -> Result<Option<ImageRef>> {
        match &file.defaults.cache_repo {
            Some(repo) => Ok(Some(repo.clone())),
            None => self.config().cache_repo(),
        }
    }

    /// The registry human tags are published in: the file's, else the configuration's.
    pub(crate) fn bake_registry(&self, file: &BakeFile) -> Option<String> {
        file.defaults
            .registry
            .clone()
            .or_else(|| self.config().registry.clone())
    }

    /// Why the registry needs no build of `plan` — it holds the plan's tag built from the same
    /// inputs — or `None` (also when it cannot say; the reason is logged).
    pub(crate) async fn registry_holds(&self, plan: &Plan) -> Option<String> {
        match crate::publish::already_in_registry(self, plan).await {
            Ok(found) => found.map(|report| report.reason),
            Err(error) => {
                tracing::debug!(%error, "cannot ask the registry");
                None
            }
        }
    }

    /// `REPO:kiln-<fingerprint>` when the cache repository has it; `None` when it has not or
    /// cannot say (the reason is logged).
    pub(crate) async fn cache_repo_has(
        &self,
        repo: &ImageRef,
        fingerprint: &str,
    ) -> Option<ImageRef> {
        let reference = repo.with_tag(&format!("kiln-{fingerprint}")).ok()?;
        let credentials = match self.credentials().resolve(reference.domain()).await {
            Ok(credentials) => credentials,
            Err(error) => {
                tracing::debug!(%error, "no credentials for the cache repository");
                return None;
            }
        };
        match self
            .registry()
            .head(&reference, RegistryOptions::new().credentials(credentials))
            .await
        {
            Ok(Some(_)) => Some(reference),
            Ok(None) => None,
            Err(error) => {
                tracing::debug!(%error, "cannot ask the cache repository");
                None
            }
        }
    }
}

/// The spec of `cell` with its tags and its parents (fingerprints from `planned`; images
/// when `images` knows them).
pub(crate) fn cell_spec(
    cell: &Cell,
    tags: &BTreeMap<CellId, Vec<ImageRef>>,
    fingerprints: &BTreeMap<CellId, kiln_core::Fingerprint>,
    images: &BTreeMap<CellId, String>,
) -> kiln_core::BuildSpec {
    let mut spec = cell.spec.clone();
    spec.tags = tags.get(&cell.id).cloned().unwrap_or_default();
    spec.parents = cell
        .parents
        .iter()
        .filter_map(|edge| {
            let fingerprint = fingerprints.get(&edge.parent)?.clone();
            let mut parent = ParentInput::new(&edge.arg, edge.parent.to_string(), fingerprint);
            parent.image = images.get(&edge.parent).cloned();
            Some(parent)
        })
        .collect();
    spec
}

/// Plans the cells at `scope` (indices in dependency order), several at once, each after its
/// parents.
pub(crate) async fn plan_cells(
    kiln: &Kiln,
    file: &BakeFile,
    scope: &[usize],
    tags: &BTreeMap<CellId, Vec<ImageRef>>,
) -> Result<BTreeMap<CellId, Planned>> {
    let mut planned: BTreeMap<CellId, Planned> = BTreeMap::new();
    let mut waiting: Vec<usize> = scope.to_vec();
    while !waiting.is_empty() {
        let (ready, blocked): (Vec<usize>, Vec<usize>) = waiting.iter().partition(|&&index| {
            file.cells[index]
                .parents
                .iter()
                .all(|edge| planned.contains_key(&edge.parent))
        });
        if ready.is_empty() {
            // Parents outside the scope cannot happen: scopes include every ancestor.
            return Err(kiln_core::Error::internal(
                "plan the bake",
                format!(
                    "{} waits for a parent outside the bake",
                    file.cells[blocked[0]].id
                ),
            ));
        }
        let fingerprints: BTreeMap<CellId, kiln_core::Fingerprint> = planned
            .iter()
            .map(|(id, done)| (id.clone(), done.plan.fingerprint.clone()))
            .collect();
        let images: BTreeMap<CellId, String> = planned
            .iter()
            .filter_map(|(id, done)| Some((id.clone(), done.plan.image_id.as_ref()?.to_string())))
            .collect();
        let mut wave = FuturesUnordered::new();
        let mut pending = ready.iter();
        loop {
            while wave.len() < PLANS_AT_ONCE {
                let Some(&index) = pending.next() else { break };
                let cell = &file.cells[index];
                let spec = cell_spec(cell, tags, &fingerprints, &images);
                wave.push(async move { (cell, kiln.plan(&spec).await) });
            }
            let Some((cell, plan)) = wave.next().await else {
                break;
            };
            let plan = plan?;
            let changed = changed_of(cell, &plan, &planned);
            planned.insert(cell.id.clone(), Planned { plan, changed });
        }
        waiting = blocked;
    }
    Ok(planned)
}

/// What `plan` changes, for `cell`'s dependants.
fn changed_of(cell: &Cell, plan: &Plan, planned: &BTreeMap<CellId, Planned>) -> Changed {
    let parents: BTreeMap<CellId, Changed> = cell
        .parents
        .iter()
        .filter_map(|edge| {
            Some((
                edge.parent.clone(),
                planned.get(&edge.parent)?.changed.clone(),
            ))
        })
        .collect();
    let (phrases, through_parent) = explain::phrases(cell, &plan.changes, &parents);
    let renewed = plan.action == Action::Build;
    Changed {
        renewed,
        through_parent,
        phrases: if renewed && (through_parent || !phrases.is_empty()) {
            phrases
        } else {
            Vec::new()
        },
    }
}
