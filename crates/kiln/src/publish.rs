//! Registries in the build flow: skip a build the registry already holds (the SeBS flow, done
//! by fingerprint instead of by name), share builds through a cache repository, and push.

use kiln_core::{
    BuildReport, Credentials, Error, EventSink, FINGERPRINT_LABEL, ImageEngine, ImageId, ImageRef,
    Outcome, PullOptions, PushOptions, Pushed, RegistryOptions, Result,
};

use crate::kiln::Kiln;
use crate::plan::Plan;

/// The cache repository's tag for `plan`'s inputs: `REPO:kiln-<fingerprint>`.
pub(crate) fn cache_tag(repo: &ImageRef, plan: &Plan) -> Result<ImageRef> {
    Ok(repo.with_tag(&format!("kiln-{}", plan.fingerprint))?)
}

/// The cache repository's moving tag for the latest build of `tag`: `REPO:kiln-head-<tag>`,
/// the tag's name made a valid tag (long names end in a hash of the whole name).
pub(crate) fn head_tag(repo: &ImageRef, tag: &ImageRef) -> Result<ImageRef> {
    let name: String = tag
        .familiar()
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '.' | '-' => c,
            _ => '-',
        })
        .collect();
    let name = if name.len() > 100 {
        use sha2::Digest as _;
        let hash = hex::encode(sha2::Sha256::digest(tag.familiar().as_bytes()));
        format!("{}-{}", &name[..80], &hash[..16])
    } else {
        name
    };
    Ok(repo.with_tag(&format!("kiln-head-{name}"))?)
}

async fn credentials_for(kiln: &Kiln, image: &ImageRef) -> Result<Option<Credentials>> {
    kiln.credentials().resolve(image.domain()).await
}

/// When the registry already holds the plan's tag built from the same fingerprint (read from
/// the image config's `dev.kiln.fingerprint` label), the report of a build that need not happen.
pub(crate) async fn already_in_registry(kiln: &Kiln, plan: &Plan) -> Result<Option<BuildReport>> {
    let credentials = credentials_for(kiln, &plan.tag).await?;
    let remote = kiln
        .registry()
        .describe(
            &plan.tag,
            RegistryOptions::new()
                .credentials(credentials)
                .platform(Some(plan.platform.clone())),
        )
        .await?;
    let Some(remote) = remote else {
        return Ok(None);
    };
    let recorded = remote.labels.get(FINGERPRINT_LABEL);
    if recorded.map(String::as_str) != Some(plan.fingerprint.as_str()) {
        return Ok(None);
    }
    let mut report = plan.report(remote.digest.to_string(), Outcome::Remote);
    report.reason = format!(
        "the registry already holds {} built from these inputs ({})",
        plan.tag.familiar(),
        remote.digest
    );
    report.changes.clear();
    Ok(Some(report))
}

/// Pulls `REPO:kiln-<fingerprint>` when the cache repository has it, tags it with the plan's
/// tags, and reports it. `None` when the repository does not have it.
pub(crate) async fn pull_from_cache_repo(
    kiln: &Kiln,
    plan: &Plan,
    repo: &ImageRef,
    events: &EventSink,
) -> Result<Option<BuildReport>> {
    let cached = cache_tag(repo, plan)?;
    let credentials = credentials_for(kiln, &cached).await?;
    if kiln
        .registry()
        .head(
            &cached,
            RegistryOptions::new().credentials(credentials.clone()),
        )
        .await?
        .is_none()
    {
        return Ok(None);
    }
    events.emit(kiln_core::BuildEvent::Note {
        message: format!("pulling {} from the cache repository", cached.familiar()),
    });
    let pulled = kiln
        .engine()
        .pull(
            &cached,
            PullOptions::new()
                .credentials(credentials)
                .events(events.clone()),
        )
        .await?;
    for tag in &plan.tags {
        kiln.engine().tag(&pulled.image_id, tag).await?;
    }
    let size = kiln
        .engine()
        .inspect_id(&pulled.image_id)
        .await?
        .map_or(0, |details| details.size);
    let mut report = plan.report(pulled.image_id.to_string(), Outcome::Pulled);
    report.reason = format!(
        "pulled {} from the cache repository instead of building",
        cached.familiar()
    );
    report.size_bytes = size;
    Ok(Some(report))
}

/// Pushes a freshly built image to the cache repository as `REPO:kiln-<fingerprint>`.
pub(crate) async fn push_to_cache_repo(
    kiln: &Kiln,
    plan: &Plan,
    image_id: &str,
    repo: &ImageRef,
    events: &EventSink,
) -> Result<Pushed> {
    let cached = cache_tag(repo, plan)?;
    let image_id = ImageId::parse(image_id)?;
    kiln.engine().tag(&image_id, &cached).await?;
    let credentials = credentials_for(kiln, &cached).await?;
    let pushed = kiln
        .engine()
        .push(
            &cached,
            PushOptions::new()
                .credentials(credentials.clone())
                .events(events.clone()),
        )
        .await?;
    // The moving tag later builds of the same tag take their layer cache from; a copy inside
    // the registry, so nothing is uploaded twice.
    let head = head_tag(repo, &plan.tag)?;
    if let Err(error) = kiln
        .registry()
        .copy(
            &cached,
            &head,
            RegistryOptions::new().credentials(credentials),
        )
        .await
    {
        events.warn(format!(
            "{error}; later builds will not find their layer cache under {}",
            head.familiar()
        ));
    }
    Ok(Pushed {
        reference: pushed.reference,
        digest: pushed.digest,
    })
}

/// Pushes the plan's primary tag.
pub(crate) async fn push_tag(kiln: &Kiln, tag: &ImageRef, events: &EventSink) -> Result<Pushed> {
    if tag.is_docker_hub() && tag.path().starts_with("library/") {
        return Err(Error::invalid_input(
            "image to push",
            tag.familiar(),
            "a name in a registry you may push to (e.g. registry:5000/name:tag)",
        ));
    }
    let credentials = credentials_for(kiln, tag).await?;
    let options = PushOptions::new()
        .credentials(credentials)
        .events(events.clone());
    let pushed = kiln.engine().push(tag, options).await?;
    Ok(Pushed {
        reference: pushed.reference,
        digest: pushed.digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_tags_are_valid_tags_named_after_the_image() {
        let repo = ImageRef::parse("localhost:5000/kiln-cache").unwrap();
        let tag = ImageRef::parse("localhost:5000/team/app:1.0-debug").unwrap();
        assert_eq!(
            head_tag(&repo, &tag).unwrap().familiar(),
            "localhost:5000/kiln-cache:kiln-head-localhost-5000-team-app-1.0-debug"
        );
        let long = ImageRef::parse(&format!("app:{}", "v".repeat(120))).unwrap();
        let head = head_tag(&repo, &long).unwrap();
        let value = head.tag().unwrap();
        assert!(value.len() <= 128, "{value}");
        let other = ImageRef::parse(&format!("app:{}w", "v".repeat(119))).unwrap();
        assert_ne!(
            head,
            head_tag(&repo, &other).unwrap(),
            "the hash tells them apart"
        );
    }
}
