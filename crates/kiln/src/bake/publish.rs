//! Publishing after all succeeded: each human tag written as a copy of the cell's manifest in
//! the cache repository (blobs mounted, none uploaded); `--publish-only` for a fleet's shards.

use std::collections::BTreeMap;
use std::time::SystemTime;

use kiln_core::{Error, ImageRef, RegistryOptions, Result};

use super::event::{BakeEvent, BakeEvents};
use super::model::{BakeFile, CellId};
use super::options::BakeOptions;
use super::plan_all::plan_cells;
use super::report::{BakeReport, CellOutcome, CellReport, Written};
use crate::kiln::Kiln;

/// Writes every cell's human tags from its fingerprint tag in the cache repository.
pub(crate) async fn publish(
    kiln: &Kiln,
    cells: &mut [CellReport],
    tags: &BTreeMap<CellId, Vec<ImageRef>>,
    events: &BakeEvents,
) -> Result<()> {
    for cell in cells.iter_mut() {
        let Some(cached) = &cell.cached else {
            return Err(Error::internal(
                "publish the bake",
                format!("{} is not in the cache repository", cell.id),
            ));
        };
        let from = ImageRef::parse(&cached.reference)?;
        for tag in tags.get(&cell.id).into_iter().flatten() {
            let credentials = kiln.credentials().resolve(tag.domain()).await?;
            let digest = kiln
                .registry()
                .copy(&from, tag, RegistryOptions::new().credentials(credentials))
                .await?;
            events.emit(BakeEvent::Published {
                tag: tag.familiar(),
                digest: digest.to_string(),
            });
            cell.pushed.push(Written {
                reference: tag.familiar(),
                digest: digest.to_string(),
            });
        }
    }
    Ok(())
}

/// `kiln bake --publish-only`: every cell in `scope` must be in the cache repository under
/// its fingerprint tag; when all are, their human tags are written.
pub(crate) async fn publish_only(
    kiln: &Kiln,
    file: &BakeFile,
    scope: &[usize],
    tags: &BTreeMap<CellId, Vec<ImageRef>>,
    repo: &ImageRef,
    options: &BakeOptions,
    started: SystemTime,
) -> Result<BakeReport> {
    let planned = plan_cells(kiln, file, scope, tags).await?;
    let mut cells = Vec::with_capacity(scope.len());
    for &position in scope {
        let cell = &file.cells[position];
        let fingerprint = planned[&cell.id].plan.fingerprint.to_string();
        let reference = repo.with_tag(&format!("kiln-{fingerprint}"))?;
        let credentials = kiln.credentials().resolve(reference.domain()).await?;
        let found = kiln
            .registry()
            .head(&reference, RegistryOptions::new().credentials(credentials))
            .await?;
        let (outcome, reason, cached) = match found {
            Some(digest) => (
                CellOutcome::Remote,
                format!("in the cache repository as {}", reference.familiar()),
                Some(Written {
                    reference: reference.familiar(),
                    digest: digest.to_string(),
                }),
            ),
            None => (
                CellOutcome::Failed,
                format!(
                    "not in the cache repository: {} is absent (bake every shard first)",
                    reference.familiar()
                ),
                None,
            ),
        };
        options.events.emit(BakeEvent::Finished {
            cell: cell.id.clone(),
            outcome,
            reason: reason.clone(),
        });
        let tags_of_cell = tags
            .get(&cell.id)
            .map(|tags| tags.iter().map(ImageRef::familiar).collect())
            .unwrap_or_default();
        let mut report = CellReport::of(cell, tags_of_cell, outcome);
        report.reason = reason;
        report.fingerprint = Some(fingerprint);
        report.image_id = cached.as_ref().map(|written| written.digest.clone());
        report.cached = cached;
        cells.push(report);
    }
    let all_found = cells.iter().all(|cell| cell.outcome.succeeded());
    if all_found {
        publish(kiln, &mut cells, tags, &options.events).await?;
    }
    let duration_ms = u64::try_from(kiln.since(started).as_millis()).unwrap_or(u64::MAX);
    Ok(BakeReport::new(cells, all_found, duration_ms, None))
}
