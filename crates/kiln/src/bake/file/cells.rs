//! From a combination of axis values to a cell: its id and its build, with the build args
//! layered (defaults, the image's, free axes, overrides) and each mode one its platform takes.

use std::collections::BTreeMap;

use kiln_core::{BuildMode, BuildSpec, Platform, Result, RuntimeMode};
use kiln_platform::effective_build_mode;

use super::super::model::{Cell, CellId};
use super::axes::AxisKind;
use super::defaults::{Defaults, read_args};
use super::images::Image;
use super::matrix::{Combination, matches, read_axis_map};
use super::place::{Source, Span};
use super::raw::AxisMap;

/// An `[[image.override]]`, checked.
struct Override<'raw> {
    /// The values a cell must have.
    pattern: BTreeMap<String, String>,
    /// Where `match` is written.
    at: &'raw AxisMap,
    /// The build args it sets.
    args: BTreeMap<String, String>,
}

/// The cells of `image`, one per combination. Each override must match one of them.
pub(super) fn build(
    source: &Source<'_>,
    image: &Image<'_>,
    defaults: &Defaults,
    combinations: Vec<Combination>,
) -> Result<Vec<Cell>> {
    let overrides = read_overrides(source, image)?;
    if let Some(unused) = overrides.iter().find(|o| {
        !combinations
            .iter()
            .any(|combination| matches(&o.pattern, &combination.axes))
    }) {
        return Err(source.error(
            &unused.at.span(),
            format!(
                "override match of image {}: expected it to match a cell, but it matches none",
                image.name
            ),
        ));
    }
    combinations
        .into_iter()
        .map(|combination| cell(source, image, defaults, &overrides, combination))
        .collect()
}

/// The image's overrides, in file order.
fn read_overrides<'raw>(source: &Source<'_>, image: &Image<'raw>) -> Result<Vec<Override<'raw>>> {
    image
        .raw
        .overrides
        .iter()
        .map(|raw| {
            Ok(Override {
                pattern: read_axis_map(
                    source,
                    &image.name,
                    &image.axes,
                    &raw.matching,
                    "override match",
                )?,
                at: &raw.matching,
                args: read_args(
                    source,
                    &raw.args,
                    &format!("an override of image {}", image.name),
                )?,
            })
        })
        .collect()
}

/// One cell.
fn cell(
    source: &Source<'_>,
    image: &Image<'_>,
    defaults: &Defaults,
    overrides: &[Override<'_>],
    combination: Combination,
) -> Result<Cell> {
    let id = CellId::new(&image.name, &combination.axes);
    let at = |axis: &str| {
        combination
            .spans
            .get(axis)
            .cloned()
            .unwrap_or_else(|| image.raw.name.span())
    };
    let mut spec = BuildSpec::new(image.name.clone(), image.context.clone());
    spec.dockerfile = image.dockerfile.clone();
    spec.target = image
        .raw
        .target
        .as_ref()
        .map(|target| target.get_ref().clone());
    if let Some(tag_version) = &image.raw.tag_version {
        spec.tag_version = tag_version.get_ref().clone();
    }
    spec.cache_repo = defaults.model.cache_repo.clone();
    let mut args = defaults.args.clone();
    args.extend(image.args.clone());
    for (axis, value) in &combination.axes {
        let invalid = |error: kiln_core::Error| source.error(&at(axis), error.to_string());
        match AxisKind::of(axis) {
            AxisKind::Version => spec.version = (!value.is_empty()).then(|| value.clone()),
            AxisKind::Mode => spec.build_mode = BuildMode::parse(value).map_err(invalid)?,
            AxisKind::RuntimeMode => {
                spec.runtime_mode = RuntimeMode::parse(value).map_err(invalid)?
            }
            AxisKind::Platform => spec.platform = Some(Platform::parse(value).map_err(invalid)?),
            AxisKind::TagVersion => spec.tag_version = value.clone(),
            AxisKind::Free { arg } => {
                args.insert(arg, value.clone());
            }
        }
    }
    for applying in overrides
        .iter()
        .filter(|o| matches(&o.pattern, &combination.axes))
    {
        args.extend(applying.args.clone());
    }
    spec.build_args = args;
    check_mode(source, &spec, &id, &at("mode"), combination.included)?;
    Ok(Cell {
        id,
        image: image.name.clone(),
        axes: combination.axes,
        spec,
        parents: Vec::new(),
        base: None,
        tier: None,
    })
}

/// The cell's platform takes its build mode: kiln would otherwise fall back to the default
/// mode, which a bake file must say with an `exclude` (or, for an include, by leaving it out)
/// instead.
fn check_mode(
    source: &Source<'_>,
    spec: &BuildSpec,
    id: &CellId,
    at: &Span,
    included: bool,
) -> Result<()> {
    let Some(platform) = &spec.platform else {
        return Ok(());
    };
    if effective_build_mode(spec.build_mode, platform).1.is_none() {
        return Ok(());
    }
    let mode = spec.build_mode.as_str();
    let remedy = match included {
        true => "remove the include (excludes do not apply to includes)".to_owned(),
        false => {
            format!("list {{ mode = {mode:?}, platform = \"{platform}\" }} in the image's exclude")
        }
    };
    Err(source.error(
        at,
        format!(
            "cell {id}: build mode {mode:?} needs an x86-64 target, but its platform is \
             {platform}; expected a mode the platform takes: {remedy}"
        ),
    ))
}
