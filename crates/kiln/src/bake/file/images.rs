//! Each `[[image]]` checked on its own: a unique name that can be a repository, a context
//! directory and a readable Dockerfile (with the `ARG`s it declares), build args, and its axes.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use kiln_base::{directory_at, resolve_path as resolve};

use kiln_context::dockerfile::Dockerfile;
use kiln_core::Result;

use super::defaults::{Defaults, read_args};
use super::matrix::{Axes, read_axes};
use super::place::Source;
use super::raw::{RawImage, Text};

/// An image of the file, checked.
#[derive(Debug)]
pub(super) struct Image<'raw> {
    /// The image as written.
    pub(super) raw: &'raw RawImage,
    /// Its name.
    pub(super) name: String,
    /// The context directory.
    pub(super) context: PathBuf,
    /// The Dockerfile given with `dockerfile`, resolved (`None`: the context's `Dockerfile`).
    pub(super) dockerfile: Option<PathBuf>,
    /// The Dockerfile read, for messages.
    pub(super) dockerfile_read: PathBuf,
    /// The build args its Dockerfile declares with `ARG`.
    pub(super) declared_args: Vec<String>,
    /// Its build args (`args`), checked.
    pub(super) args: BTreeMap<String, String>,
    /// Its axes.
    pub(super) axes: Axes,
}

/// Checks every image: names unique, and each image on its own (see [`read`]). Relative
/// paths resolve against `base`, the file's directory.
pub(super) fn read_all<'raw>(
    source: &Source<'_>,
    raw: &'raw [RawImage],
    defaults: &Defaults,
    base: &Path,
) -> Result<Vec<Image<'raw>>> {
    let mut seen: HashMap<&str, &Text> = HashMap::new();
    let mut images = Vec::with_capacity(raw.len());
    for image in raw {
        let name = image.name.get_ref();
        if let Some(first) = seen.insert(name, &image.name) {
            return Err(source.error(
                &image.name.span(),
                format!(
                    "image name {name:?}: expected each name once, but the image at line {} \
                     has it already",
                    source.line(&first.span())
                ),
            ));
        }
        images.push(read(source, image, defaults, base)?);
    }
    Ok(images)
}

/// Checks one image.
fn read<'raw>(
    source: &Source<'_>,
    raw: &'raw RawImage,
    defaults: &Defaults,
    base: &Path,
) -> Result<Image<'raw>> {
    let name = raw.name.get_ref();
    if !is_image_name(name) {
        return Err(source.error(
            &raw.name.span(),
            format!(
                "image name {name:?}: expected lower-case letters, digits, '.', '_' and '-', \
                 starting with a letter or digit (it becomes a repository name)"
            ),
        ));
    }
    let context = resolve_directory(source, base, &raw.context, name)?;
    let dockerfile = raw
        .dockerfile
        .as_ref()
        .map(|given| resolve(&context, given.get_ref()));
    let dockerfile_read = dockerfile
        .clone()
        .unwrap_or_else(|| context.join("Dockerfile"));
    let located_at = raw.dockerfile.as_ref().unwrap_or(&raw.context);
    let text = std::fs::read_to_string(&dockerfile_read).map_err(|error| {
        source.error(
            &located_at.span(),
            format!(
                "image {name}: expected a readable Dockerfile at {}: {error}",
                dockerfile_read.display()
            ),
        )
    })?;
    for (key, value) in [("target", &raw.target), ("tag_version", &raw.tag_version)] {
        if let Some(value) = value
            .as_ref()
            .filter(|value| value.get_ref().trim().is_empty())
        {
            return Err(source.error(
                &value.span(),
                format!(
                    "{key} {:?} of image {name}: expected a name",
                    value.get_ref()
                ),
            ));
        }
    }
    Ok(Image {
        raw,
        name: name.clone(),
        context,
        dockerfile,
        dockerfile_read,
        declared_args: Dockerfile::parse(&text).declared_args(),
        args: read_args(source, &raw.args, &format!("args of image {name}"))?,
        axes: read_axes(source, raw, defaults.platform_axis.as_ref())?,
    })
}

/// Whether `name` can be an image's name: `[a-z0-9][a-z0-9._-]*`.
fn is_image_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// The context `given` of image `image`, resolved against `base`: it must be a directory.
fn resolve_directory(
    source: &Source<'_>,
    base: &Path,
    given: &Text,
    image: &str,
) -> Result<PathBuf> {
    let problem = match directory_at(base, given.get_ref(), "the file's directory") {
        Ok(path) => return Ok(path),
        Err(problem) => problem,
    };
    Err(source.error(
        &given.span(),
        format!(
            "context {:?} of image {image}: expected a directory, but {problem}",
            given.get_ref()
        ),
    ))
}
