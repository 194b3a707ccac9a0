//! `requires`: which image each names, checked once per image (the image exists, its `as` is an
//! `ARG` of the Dockerfile, its `same` axes exist, no cycle), then turned into one edge per
//! child cell and entry.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use kiln_core::Result;

use super::super::model::{Cell, ParentEdge};
use super::cycles;
use super::images::Image;
use super::matrix::axis_list;
use super::place::Source;
use super::raw::RawRequire;

/// One `requires` entry, checked.
#[derive(Debug)]
pub(super) struct Requirement<'raw> {
    /// The entry as written.
    pub(super) raw: &'raw RawRequire,
    /// The index of the required image.
    pub(super) parent: usize,
    /// The `same` axes the parent has too: all of them, or none (then every parent cell
    /// matches).
    pub(super) keys: Vec<String>,
}

/// Checks every image's `requires`: it names an image of the file, its `as` is a build arg
/// the image's Dockerfile declares (once per image), each `same` axis is one of the image's
/// axes and the required image has all of them or none; and no image requires itself, even
/// through others. The entries of image `i` are at index `i`.
pub(super) fn check<'raw>(
    source: &Source<'_>,
    images: &[Image<'raw>],
) -> Result<Vec<Vec<Requirement<'raw>>>> {
    let by_name: HashMap<&str, usize> = images
        .iter()
        .enumerate()
        .map(|(index, image)| (image.name.as_str(), index))
        .collect();
    let mut all = Vec::with_capacity(images.len());
    for image in images {
        let mut args = HashSet::new();
        let mut requirements = Vec::with_capacity(image.raw.requires.len());
        for raw in &image.raw.requires {
            let parent_name = raw.image.get_ref();
            let Some(&parent) = by_name.get(parent_name.as_str()) else {
                let names: Vec<&str> = images.iter().map(|image| image.name.as_str()).collect();
                return Err(source.error(
                    &raw.image.span(),
                    format!(
                        "image {parent_name:?} in requires of image {}: expected an image of \
                         the file ({})",
                        image.name,
                        names.join(", ")
                    ),
                ));
            };
            check_arg(source, image, raw, &mut args)?;
            let keys = same_keys(source, image, &images[parent], raw)?;
            requirements.push(Requirement { raw, parent, keys });
        }
        all.push(requirements);
    }
    cycles::check(source, images, &all)?;
    Ok(all)
}

/// The entry's `as` is declared by the image's Dockerfile, and no other entry uses it.
fn check_arg(
    source: &Source<'_>,
    image: &Image<'_>,
    raw: &RawRequire,
    seen: &mut HashSet<String>,
) -> Result<()> {
    let arg = raw.arg.get_ref();
    if !image.declared_args.contains(arg) {
        let declared = match image.declared_args.is_empty() {
            true => "none".to_owned(),
            false => image.declared_args.join(", "),
        };
        return Err(source.error(
            &raw.arg.span(),
            format!(
                "as {arg:?} in requires of image {}: expected a build arg that {} declares \
                 with ARG (it declares {declared})",
                image.name,
                image.dockerfile_read.display()
            ),
        ));
    }
    if !seen.insert(arg.clone()) {
        return Err(source.error(
            &raw.arg.span(),
            format!(
                "as {arg:?} in requires of image {}: expected each build arg in one entry, but \
                 another entry passes its parent in it already",
                image.name
            ),
        ));
    }
    Ok(())
}

/// The `same` axes to match on: each is one of the child's axes; the parent has all (they are
/// returned) or none (nothing is: every parent cell matches).
fn same_keys(
    source: &Source<'_>,
    child: &Image<'_>,
    parent: &Image<'_>,
    raw: &RawRequire,
) -> Result<Vec<String>> {
    let mut keys: Vec<String> = Vec::new();
    for axis in &raw.same {
        if !child.axes.contains_key(axis.get_ref()) {
            return Err(source.error(
                &axis.span(),
                format!(
                    "axis {} in same of image {}: expected an axis of its matrix ({})",
                    axis.get_ref(),
                    child.name,
                    axis_list(&child.axes)
                ),
            ));
        }
        if !keys.contains(axis.get_ref()) {
            keys.push(axis.get_ref().clone());
        }
    }
    let (shared, missing): (Vec<_>, Vec<_>) = raw
        .same
        .iter()
        .partition(|axis| parent.axes.contains_key(axis.get_ref()));
    match (shared.first(), missing.first()) {
        (None, _) => Ok(Vec::new()),
        (Some(_), None) => Ok(keys),
        (Some(shared), Some(missing)) => Err(source.error(
            &missing.span(),
            format!(
                "axis {} in same of image {}: image {} has {} but not {}; expected axes both \
                 images have (or none the required image has: then each of its cells matches)",
                missing.get_ref(),
                child.name,
                parent.name,
                shared.get_ref(),
                missing.get_ref()
            ),
        )),
    }
}

/// Gives each cell its parents: for each `requires` entry, the one cell of the required image
/// that agrees on the `same` axes. `ranges[i]` are the cells of image `i`.
pub(super) fn link(
    source: &Source<'_>,
    images: &[Image<'_>],
    requirements: &[Vec<Requirement<'_>>],
    ranges: &[Range<usize>],
    cells: &mut [Cell],
) -> Result<()> {
    for ((image, requirements), range) in images.iter().zip(requirements).zip(ranges) {
        for requirement in requirements {
            let candidates = by_keys(cells, &ranges[requirement.parent], &requirement.keys);
            for child in range.clone() {
                let key = values(&cells[child], &requirement.keys);
                let found = candidates.get(&key).map_or(&[][..], Vec::as_slice);
                let [parent] = found else {
                    return Err(unmatched(source, image, requirement, cells, child, found));
                };
                let edge = ParentEdge {
                    parent: cells[*parent].id.clone(),
                    arg: requirement.raw.arg.get_ref().clone(),
                    tier: None,
                };
                cells[child].parents.push(edge);
            }
        }
    }
    Ok(())
}

/// The cells in `range` by their values on `keys`.
fn by_keys(
    cells: &[Cell],
    range: &Range<usize>,
    keys: &[String],
) -> HashMap<Vec<String>, Vec<usize>> {
    let mut map: HashMap<Vec<String>, Vec<usize>> = HashMap::new();
    for index in range.clone() {
        map.entry(values(&cells[index], keys))
            .or_default()
            .push(index);
    }
    map
}

/// The cell's values on `keys`, in their order.
fn values(cell: &Cell, keys: &[String]) -> Vec<String> {
    keys.iter()
        .map(|key| cell.axes.get(key).cloned().unwrap_or_default())
        .collect()
}

/// The error for child cell `child` matching no parent cell, or `found`, more than one.
fn unmatched(
    source: &Source<'_>,
    image: &Image<'_>,
    requirement: &Requirement<'_>,
    cells: &[Cell],
    child: usize,
    found: &[usize],
) -> kiln_core::Error {
    let raw = requirement.raw;
    let entry = format!(
        "requires {{ image = {:?}, as = {:?} }} of image {}",
        raw.image.get_ref(),
        raw.arg.get_ref(),
        image.name
    );
    let child = &cells[child];
    if found.is_empty() {
        let on: Vec<String> = requirement
            .keys
            .iter()
            .map(|key| format!("{key}={}", child.axes.get(key).map_or("", String::as_str)))
            .collect();
        return source.error(
            &raw.image.span(),
            format!(
                "{entry}: no cell of {} has {} as cell {} does; expected one",
                raw.image.get_ref(),
                on.join(","),
                child.id
            ),
        );
    }
    const SHOWN: usize = 4;
    let mut names: Vec<String> = found
        .iter()
        .take(SHOWN)
        .map(|&index| cells[index].id.to_string())
        .collect();
    if found.len() > SHOWN {
        names.push(format!("and {} more", found.len() - SHOWN));
    }
    let differing: Vec<String> = cells[found[0]]
        .axes
        .iter()
        .filter(|(axis, value)| {
            found
                .iter()
                .any(|&other| cells[other].axes.get(*axis) != Some(value))
        })
        .map(|(axis, _)| format!("{axis:?}"))
        .collect();
    source.error(
        &raw.image.span(),
        format!(
            "{entry}: {} cells match cell {}: {}; expected one (a build arg holds one \
             image): list the axes that must agree in same, such as same = [{}]",
            found.len(),
            child.id,
            names.join(", "),
            differing.join(", ")
        ),
    )
}
