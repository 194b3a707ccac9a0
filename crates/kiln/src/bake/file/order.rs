//! The cells in dependency order: every parent before its children, otherwise in the order
//! they were made (file order of images, then matrix order).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use kiln_core::{Error, Result};

use super::super::model::Cell;

/// `cells` reordered so that each comes after its parents (`parents[i]`: the indices of cell
/// `i`'s parents): of the cells whose parents are all placed, the earliest comes next.
pub(super) fn topological(cells: Vec<Cell>, parents: &[Vec<usize>]) -> Result<Vec<Cell>> {
    let mut waiting_on: Vec<usize> = parents.iter().map(Vec::len).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); cells.len()];
    for (child, parents) in parents.iter().enumerate() {
        for &parent in parents {
            if let Some(children) = children.get_mut(parent) {
                children.push(child);
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..cells.len())
        .filter(|&index| waiting_on.get(index) == Some(&0) || index >= waiting_on.len())
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(cells.len());
    while let Some(Reverse(next)) = ready.pop() {
        order.push(next);
        for &child in children.get(next).map_or(&[][..], Vec::as_slice) {
            if let Some(count) = waiting_on.get_mut(child) {
                *count -= 1;
                if *count == 0 {
                    ready.push(Reverse(child));
                }
            }
        }
    }
    if order.len() != cells.len() {
        return Err(Error::Internal {
            operation: "ordering the bake file's cells".to_owned(),
            message: "the cells' parents form a cycle that the images' requires do not".to_owned(),
            source: None,
        });
    }
    let mut slots: Vec<Option<Cell>> = cells.into_iter().map(Some).collect();
    Ok(order
        .into_iter()
        .filter_map(|index| slots.get_mut(index).and_then(Option::take))
        .collect())
}
