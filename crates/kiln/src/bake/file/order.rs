//! The order of the cells: images in dependency order (each after the images it requires,
//! otherwise in file order), each image's cells together in matrix order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ops::Range;

use kiln_core::{Error, Result};

use super::super::model::Cell;
use super::requires::Requirement;

/// The images' indices in dependency order: of the images whose required images are all
/// placed, the earliest in the file comes next. `requirements[i]` are image `i`'s.
pub(super) fn images_in_order(requirements: &[Vec<Requirement<'_>>]) -> Result<Vec<usize>> {
    let count = requirements.len();
    let mut waiting_on: Vec<usize> = requirements.iter().map(Vec::len).collect();
    let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (image, requirements) in requirements.iter().enumerate() {
        for requirement in requirements {
            if let Some(dependants) = dependants.get_mut(requirement.parent) {
                dependants.push(image);
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..count)
        .filter(|&image| waiting_on[image] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(count);
    while let Some(Reverse(next)) = ready.pop() {
        order.push(next);
        for &dependant in &dependants[next] {
            waiting_on[dependant] -= 1;
            if waiting_on[dependant] == 0 {
                ready.push(Reverse(dependant));
            }
        }
    }
    if order.len() != count {
        return Err(Error::Internal {
            operation: "ordering the bake file's images".to_owned(),
            message: "their requires form a cycle, which was checked not to be".to_owned(),
            source: None,
        });
    }
    Ok(order)
}

/// `cells` (image `i`'s at `ranges[i]`) with the images in `order`.
pub(super) fn cells_in_order(
    cells: Vec<Cell>,
    ranges: &[Range<usize>],
    order: &[usize],
) -> Vec<Cell> {
    let mut slots: Vec<Option<Cell>> = cells.into_iter().map(Some).collect();
    order
        .iter()
        .filter_map(|&image| ranges.get(image))
        .flat_map(|range| range.clone())
        .filter_map(|index| slots.get_mut(index).and_then(Option::take))
        .collect()
}
