//! Multi-platform images: each platform built (or reused, or found in the registry) and pushed
//! under its own tag, side by side (`platform_jobs` at once), then one image index published
//! under the requested tag.

use kiln_core::{
    BuildReport, BuildSpec, Digest, Error, EventSink, ImageRef, IndexEntry, Outcome, Platform,
    Pushed, RegistryOptions, Result, TagInput,
};

use futures_util::{StreamExt, TryStreamExt};

use crate::kiln::Kiln;
use crate::relay::Relay;
use crate::resolve::build_tags;

/// The tag of one platform's image: the index's tag with the platform appended
/// (`app:1` → `app:1-linux-arm64`).
fn platform_tag(index: &ImageRef, platform: &Platform) -> Result<ImageRef> {
    let suffix = platform.to_string().replace('/', "-");
    let tag = format!("{}-{suffix}", index.tag().unwrap_or("latest"));
    Ok(index.with_tag(&tag)?)
}

/// The index's tag: the first explicit tag, else the scheme's name without a platform part.
fn index_tag(kiln: &Kiln, spec: &BuildSpec) -> Result<ImageRef> {
    if let Some(tag) = build_tags(&spec.tags)?.first() {
        return Ok(tag.clone());
    }
    let mut input = TagInput::from_spec(spec);
    input.platform = None;
    let name = kiln.tag_scheme().image_ref(&input)?;
    match &kiln.config().registry {
        Some(registry) => Ok(ImageRef::parse(&format!("{registry}/{}", name.familiar()))?),
        None => Ok(name),
    }
}

/// Builds every platform of `spec` and publishes the index.
pub(crate) async fn run(kiln: &Kiln, spec: &BuildSpec, events: EventSink) -> Result<BuildReport> {
    let list = || {
        spec.platforms
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    if !spec.push {
        return Err(Error::invalid_input(
            "--platform",
            list(),
            "one platform, or --push with several: the daemon keeps one platform per tag, so a \
             multi-platform image exists only as an index in a registry",
        ));
    }
    let started = kiln.clock().now();
    let index = index_tag(kiln, spec)?;
    let jobs = kiln.config().platform_jobs.max(1);
    let relay = Relay::new(spec.platforms.len(), events.clone());
    let index_ref = &index;
    let builds = spec
        .platforms
        .iter()
        .enumerate()
        .map(|(position, platform)| {
            let relay = relay.clone();
            async move {
                let mut one = spec.clone();
                one.platforms.clear();
                one.platform = Some(platform.clone());
                one.tags = vec![platform_tag(index_ref, platform)?];
                let sink = relay.sink(position);
                sink.emit(kiln_core::BuildEvent::Note {
                    message: format!("platform {platform}: {}", one.tags[0].familiar()),
                });
                let report = crate::single::run(kiln, &one, sink).await;
                relay.finish(position);
                report
            }
        });
    // In the platforms' order, at most `jobs` at once; the first failure stops the rest.
    let reports: Vec<BuildReport> = futures_util::stream::iter(builds)
        .buffered(jobs)
        .try_collect()
        .await?;
    let entries = reports
        .iter()
        .map(|report| {
            let digest = match (&report.pushed, report.outcome) {
                (Some(pushed), _) => pushed.digest.clone(),
                // The registry's digest, reported in place of an image id.
                (None, Outcome::Remote) => Digest::parse(&report.image_id)?,
                (None, _) => {
                    return Err(Error::internal(
                        "publish the index",
                        format!("{} was not pushed", report.tag.familiar()),
                    ));
                }
            };
            Ok(IndexEntry {
                digest,
                platform: report.platform.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let credentials = kiln.credentials().resolve(index.domain()).await?;
    let digest = kiln
        .registry()
        .publish_index(
            &index,
            entries,
            RegistryOptions::new().credentials(credentials),
        )
        .await?;

    let outcome = if reports.iter().any(|r| r.outcome == Outcome::Built) {
        Outcome::Built
    } else if reports.iter().all(|r| r.outcome == Outcome::Remote) {
        Outcome::Remote
    } else {
        Outcome::Reused
    };
    let first = &reports[0];
    let mut report = BuildReport::new(
        index.clone(),
        digest.to_string(),
        outcome,
        first.platform.clone(),
    );
    report.tags = vec![index.clone()];
    report.platforms = reports.iter().map(|r| r.platform.clone()).collect();
    report.reason = reports
        .iter()
        .map(|r| format!("{}: {} ({})", r.platform, r.outcome, r.reason))
        .collect::<Vec<_>>()
        .join("; ");
    report.fingerprint = first.fingerprint.clone();
    report.builder = first.builder;
    report.builder_reason = first.builder_reason.clone();
    report.build_mode = first.build_mode;
    report.size_bytes = reports.iter().map(|r| r.size_bytes).sum();
    report.warnings = reports.iter().flat_map(|r| r.warnings.clone()).collect();
    report.changes = reports.iter().flat_map(|r| r.changes.clone()).collect();
    report.pushed = Some(Pushed {
        reference: index,
        digest,
    });
    report.duration = kiln.since(started);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_tags_extend_the_index_tag() {
        let index = ImageRef::parse("reg:5000/app:1").unwrap();
        let tag = platform_tag(&index, &Platform::parse("arm/v7").unwrap()).unwrap();
        assert_eq!(tag.familiar(), "reg:5000/app:1-linux-arm-v7");
    }
}
