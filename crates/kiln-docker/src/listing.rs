//! Listing images with the containers that use them, and removing an image by id.
//!
//! `GET /images/json` reports `Containers: -1` unless the daemon was asked to count (API 1.41
//! has no such question), so the counts come from `GET /containers/json?all=1`, whose
//! `ImageID` names each container's image by id, stopped containers included.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{ContainerSummary, ImageSummary as DockerImageSummary};
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptionsBuilder,
};
use kiln_core::{Error, ImageFilter, ImageId, ImageSummary, RemoveOptions, Result};

use crate::engine::DockerEngine;

/// What the daemon writes in `RepoTags` of an untagged image.
const NO_TAG: &str = "<none>:<none>";

impl DockerEngine {
    /// `GET /images/json` as `filter` asks, with each image's container count.
    pub(crate) async fn image_summaries(&self, filter: ImageFilter) -> Result<Vec<ImageSummary>> {
        let docker = self.client().await?;
        tracing::trace!(
            label = ?filter.label,
            all = filter.intermediates,
            "GET /images/json, GET /containers/json?all=1"
        );
        let mut options = ListImagesOptionsBuilder::default().all(filter.intermediates);
        if let Some(label) = &filter.label {
            options = options.filters(&HashMap::from([("label", vec![label.as_str()])]));
        }
        let images = docker
            .list_images(Some(options.build()))
            .await
            .map_err(|error| self.map("list", "images", error))?;
        let containers = docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default().all(true).build(),
            ))
            .await
            .map_err(|error| self.map("list", "containers", error))?;
        let uses = containers_per_image(&containers);
        images
            .into_iter()
            .map(|image| summary_from(image, &uses))
            .collect()
    }

    /// `DELETE /images/{id}`.
    pub(crate) async fn remove_by_id(
        &self,
        image_id: &ImageId,
        options: RemoveOptions,
    ) -> Result<()> {
        tracing::trace!(image = %image_id.short(), force = options.force, "DELETE /images/{{id}}");
        let docker = self.client().await?;
        let options = RemoveImageOptionsBuilder::default()
            .force(options.force)
            .build();
        docker
            .remove_image(image_id.as_str(), Some(options), None)
            .await
            .map(|_| ())
            .map_err(|error| self.map("remove", image_id.as_str(), error))
    }
}

/// Image id → how many containers (running or stopped) were created from it.
fn containers_per_image(containers: &[ContainerSummary]) -> BTreeMap<String, u32> {
    let mut uses = BTreeMap::new();
    for image in containers
        .iter()
        .filter_map(|container| container.image_id.as_ref())
    {
        *uses.entry(image.clone()).or_insert(0) += 1;
    }
    uses
}

/// kiln's summary of one listed image; an id that is not `sha256:<64 hex>` is an engine error.
fn summary_from(image: DockerImageSummary, uses: &BTreeMap<String, u32>) -> Result<ImageSummary> {
    let id = ImageId::parse(&image.id)
        .map_err(|error| Error::engine(format!("list image {}", image.id), error.to_string()))?;
    let parent = if image.parent_id.is_empty() {
        None
    } else {
        Some(ImageId::parse(&image.parent_id).map_err(|error| {
            Error::engine(format!("list image {}", image.id), error.to_string())
        })?)
    };
    Ok(ImageSummary {
        containers: uses.get(image.id.as_str()).copied().unwrap_or(0),
        id,
        parent,
        tags: image
            .repo_tags
            .into_iter()
            .filter(|tag| tag != NO_TAG)
            .collect(),
        size: u64::try_from(image.size).unwrap_or(0),
        created: u64::try_from(image.created).unwrap_or(0),
        labels: image.labels.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_id(digit: char) -> String {
        format!("sha256:{}", digit.to_string().repeat(64))
    }

    #[test]
    fn summaries_drop_the_untagged_marker_and_count_containers() {
        let containers: Vec<ContainerSummary> = [hex_id('a'), hex_id('a'), hex_id('b')]
            .into_iter()
            .map(|image| ContainerSummary {
                image_id: Some(image),
                ..ContainerSummary::default()
            })
            .collect();
        let uses = containers_per_image(&containers);
        let image = DockerImageSummary {
            id: hex_id('a'),
            parent_id: String::new(),
            repo_tags: vec![NO_TAG.to_owned()],
            created: 1_700_000_000,
            size: 1234,
            shared_size: -1,
            containers: -1,
            labels: HashMap::from([("k".to_owned(), "v".to_owned())]),
            ..DockerImageSummary::default()
        };
        let summary = summary_from(image.clone(), &uses).unwrap();
        assert_eq!(summary.containers, 2);
        assert!(summary.tags.is_empty());
        assert_eq!(summary.parent, None);
        assert_eq!((summary.size, summary.created), (1234, 1_700_000_000));
        assert_eq!(summary.labels.get("k").map(String::as_str), Some("v"));

        let child = DockerImageSummary {
            id: hex_id('c'),
            parent_id: hex_id('a'),
            repo_tags: vec!["app:1".to_owned()],
            ..image
        };
        let summary = summary_from(child, &uses).unwrap();
        assert_eq!(summary.containers, 0);
        assert_eq!(summary.tags, vec!["app:1".to_owned()]);
        assert_eq!(summary.parent.map(|id| id.to_string()), Some(hex_id('a')));

        let broken = DockerImageSummary {
            id: "sha256:short".to_owned(),
            ..DockerImageSummary::default()
        };
        let error = summary_from(broken, &uses).unwrap_err().to_string();
        assert!(error.contains("sha256:short"), "{error}");
    }
}
