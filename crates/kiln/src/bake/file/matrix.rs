//! An image's matrix: its axes, the cartesian product of their values, minus `exclude`, plus
//! `include`.

use std::collections::{BTreeMap, HashSet};

use kiln_core::Result;

use super::super::model::CellId;
use super::axes::{AxisKind, axis_name_problem, canonical_value};
use super::place::{Source, Span};
use super::raw::{AxisMap, RawImage};

/// The most cells a file may expand to: a guard against a matrix that would exhaust memory.
pub(super) const MAX_CELLS: usize = 10_000;

/// One axis: its values in the order given (each spelled once, canonically) and where each is
/// written.
#[derive(Debug, Clone, Default)]
pub(super) struct Axis {
    /// The values.
    pub(super) values: Vec<String>,
    /// Where each value is written (in `[defaults] platforms` for an implicit platform axis).
    pub(super) spans: Vec<Span>,
    /// Whether the axis is `[defaults] platforms`, the image's matrix having no `platform`.
    pub(super) from_defaults: bool,
}

impl Axis {
    /// Adds `value`, written at `span`.
    pub(super) fn push(&mut self, value: String, span: Span) {
        self.values.push(value);
        self.spans.push(span);
    }
}

/// An image's axes by name.
pub(super) type Axes = BTreeMap<String, Axis>;

/// One combination of axis values: a cell before its build is made.
#[derive(Debug, Clone)]
pub(super) struct Combination {
    /// The value of every axis.
    pub(super) axes: BTreeMap<String, String>,
    /// Where each value is written.
    pub(super) spans: BTreeMap<String, Span>,
    /// Whether it is an `include` (not a cell of the matrix's product).
    pub(super) included: bool,
}

/// Reads `matrix`: axis names that can be build args (and stay distinct in upper case), at
/// least one value each, every value valid and listed once. Without a `platform` axis, the
/// default platforms (if any) become it.
pub(super) fn read_axes(
    source: &Source<'_>,
    image: &RawImage,
    default_platforms: Option<&Axis>,
) -> Result<Axes> {
    let name = image.name.get_ref();
    let mut axes = Axes::new();
    let mut args: BTreeMap<String, &str> = BTreeMap::new();
    for (axis, values) in image.matrix.iter().flatten() {
        let axis_name = axis.get_ref();
        if let Some(problem) = axis_name_problem(axis_name, name) {
            return Err(source.error(&axis.span(), problem));
        }
        if let AxisKind::Free { arg } = AxisKind::of(axis_name)
            && let Some(other) = args.insert(arg.clone(), axis_name)
        {
            return Err(source.error(
                &axis.span(),
                format!(
                    "axis {axis_name} of image {name}: axes {other} and {axis_name} would \
                     both be the build arg {arg}; expected names that differ in upper case"
                ),
            ));
        }
        if values.get_ref().is_empty() {
            return Err(source.error(
                &values.span(),
                format!("axis {axis_name} of image {name}: expected at least one value, not []"),
            ));
        }
        let mut checked = Axis::default();
        for value in values.get_ref() {
            let canonical = canonical_value(axis_name, value.get_ref())
                .map_err(|problem| source.error(&value.span(), problem))?;
            if checked.values.contains(&canonical) {
                let written = value.get_ref();
                let spelled = match *written == canonical {
                    true => String::new(),
                    false => format!(" (as {canonical:?})"),
                };
                return Err(source.error(
                    &value.span(),
                    format!(
                        "value {written:?} of axis {axis_name} of image {name}: expected each \
                         value once, but it is already listed{spelled}"
                    ),
                ));
            }
            checked.push(canonical, value.span());
        }
        axes.insert(axis_name.clone(), checked);
    }
    if let Some(platforms) = default_platforms {
        axes.entry("platform".to_owned()).or_insert_with(|| Axis {
            from_defaults: true,
            ..platforms.clone()
        });
    }
    Ok(axes)
}

/// Reads an `exclude` or `include` entry or an override's `match` of image `image`: every axis
/// one the image has, every value valid. `what` names the entry in errors.
pub(super) fn read_axis_map(
    source: &Source<'_>,
    image: &str,
    axes: &Axes,
    map: &AxisMap,
    what: &str,
) -> Result<BTreeMap<String, String>> {
    let mut checked = BTreeMap::new();
    for (axis, value) in map.get_ref() {
        if !axes.contains_key(axis.get_ref()) {
            return Err(source.error(
                &axis.span(),
                format!(
                    "axis {} in {what} of image {image}: expected an axis of its matrix ({})",
                    axis.get_ref(),
                    axis_list(axes)
                ),
            ));
        }
        let canonical = canonical_value(axis.get_ref(), value.get_ref())
            .map_err(|problem| source.error(&value.span(), format!("in {what}: {problem}")))?;
        checked.insert(axis.get_ref().clone(), canonical);
    }
    Ok(checked)
}

/// The axes' names for a message: `mode, platform (from [defaults] platforms)`, or `it has no
/// axes`.
pub(super) fn axis_list(axes: &Axes) -> String {
    if axes.is_empty() {
        return "it has no axes".to_owned();
    }
    let names: Vec<String> = axes
        .iter()
        .map(|(name, axis)| match axis.from_defaults {
            true => format!("{name} (from [defaults] platforms)"),
            false => name.clone(),
        })
        .collect();
    names.join(", ")
}

/// Whether `cell` has every value of the partial map `pattern`.
pub(super) fn matches(pattern: &BTreeMap<String, String>, cell: &BTreeMap<String, String>) -> bool {
    pattern
        .iter()
        .all(|(axis, value)| cell.get(axis) == Some(value))
}

/// Every combination of image `image`: the matrix's product in axis-name order (values in the
/// order given) without the excluded ones, then the includes. Each exclude must remove a cell
/// of the product, each include must give every axis and add a new cell, and a cell must
/// remain. `budget` is how many cells the file may still have; it is spent.
pub(super) fn expand(
    source: &Source<'_>,
    image: &RawImage,
    axes: &Axes,
    budget: &mut usize,
) -> Result<Vec<Combination>> {
    let name = image.name.get_ref();
    let size = axes
        .values()
        .try_fold(1_usize, |size, axis| size.checked_mul(axis.values.len()))
        .filter(|size| *size <= *budget)
        .ok_or_else(|| {
            source.error(
                &image.name.span(),
                format!(
                    "image {name}: its matrix has more cells than the file may have \
                     ({MAX_CELLS} in all)"
                ),
            )
        })?;
    let excludes = image
        .exclude
        .iter()
        .map(|entry| Ok((read_axis_map(source, name, axes, entry, "exclude")?, entry)))
        .collect::<Result<Vec<_>>>()?;
    let mut used = vec![false; excludes.len()];
    let mut combinations = Vec::new();
    for combination in product(axes) {
        let mut excluded = false;
        for ((pattern, _), used) in excludes.iter().zip(&mut used) {
            if matches(pattern, &combination.axes) {
                *used = true;
                excluded = true;
            }
        }
        if !excluded {
            combinations.push(combination);
        }
    }
    if let Some(((_, entry), _)) = excludes.iter().zip(&used).find(|(_, used)| !**used) {
        return Err(source.error(
            &entry.span(),
            format!(
                "exclude of image {name}: expected it to remove a cell of the matrix, but it \
                 matches none"
            ),
        ));
    }
    *budget -= size;
    add_includes(source, image, axes, &mut combinations, budget)?;
    if combinations.is_empty() {
        let span = image
            .exclude
            .first()
            .map_or(image.name.span(), |entry| entry.span());
        return Err(source.error(
            &span,
            format!(
                "image {name}: every cell of its matrix is excluded; expected at least one cell"
            ),
        ));
    }
    Ok(combinations)
}

/// Adds the includes of `image` to `combinations`: each gives every axis and is a new cell.
fn add_includes(
    source: &Source<'_>,
    image: &RawImage,
    axes: &Axes,
    combinations: &mut Vec<Combination>,
    budget: &mut usize,
) -> Result<()> {
    let name = image.name.get_ref();
    let mut seen: HashSet<BTreeMap<String, String>> = combinations
        .iter()
        .map(|combination| combination.axes.clone())
        .collect();
    for entry in &image.include {
        let values = read_axis_map(source, name, axes, entry, "include")?;
        if let Some((missing, axis)) = axes.iter().find(|(axis, _)| !values.contains_key(*axis)) {
            let origin = match axis.from_defaults {
                true => " (the image's platform axis comes from [defaults] platforms)",
                false => "",
            };
            return Err(source.error(
                &entry.span(),
                format!(
                    "include of image {name}: expected a value for every axis of the matrix, \
                     but {missing} is missing{origin}"
                ),
            ));
        }
        if !seen.insert(values.clone()) {
            return Err(source.error(
                &entry.span(),
                format!(
                    "include of image {name}: cell {} is already in the matrix (or another \
                     include); expected a new cell",
                    CellId::new(name, &values)
                ),
            ));
        }
        if *budget == 0 {
            return Err(source.error(
                &entry.span(),
                format!("include of image {name}: the file may have at most {MAX_CELLS} cells"),
            ));
        }
        *budget -= 1;
        let spans = entry
            .get_ref()
            .iter()
            .map(|(axis, value)| (axis.get_ref().clone(), value.span()))
            .collect();
        combinations.push(Combination {
            axes: values,
            spans,
            included: true,
        });
    }
    Ok(())
}

/// The cartesian product of the axes: the first axis varies slowest, each axis's values in
/// their order. No axes: one empty combination.
fn product(axes: &Axes) -> Vec<Combination> {
    let mut combinations = vec![Combination {
        axes: BTreeMap::new(),
        spans: BTreeMap::new(),
        included: false,
    }];
    for (name, axis) in axes {
        combinations = combinations
            .into_iter()
            .flat_map(|prefix| {
                axis.values
                    .iter()
                    .zip(&axis.spans)
                    .map(move |(value, span)| {
                        let mut next = prefix.clone();
                        next.axes.insert(name.clone(), value.clone());
                        next.spans.insert(name.clone(), span.clone());
                        next
                    })
            })
            .collect();
    }
    combinations
}
