//! No image requires itself, directly or through other images: a depth-first walk of the
//! `requires` that names the first cycle it finds.

use kiln_core::Result;

use super::images::Image;
use super::place::Source;
use super::requires::Requirement;

/// No image requires itself, directly or through others; a cycle is named in order
/// (`a -> b -> a`) at the entry that closes it.
pub(super) fn check(
    source: &Source<'_>,
    images: &[Image<'_>],
    requirements: &[Vec<Requirement<'_>>],
) -> Result<()> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Visit {
        NotYet,
        Open,
        Done,
    }
    let mut visits = vec![Visit::NotYet; images.len()];
    for root in 0..images.len() {
        if visits[root] != Visit::NotYet {
            continue;
        }
        visits[root] = Visit::Open;
        // Each open image with the index of its next entry to follow.
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&(image, next)) = path.last() {
            let Some(requirement) = requirements[image].get(next) else {
                visits[image] = Visit::Done;
                path.pop();
                continue;
            };
            if let Some(top) = path.last_mut() {
                top.1 += 1;
            }
            match visits[requirement.parent] {
                Visit::NotYet => {
                    visits[requirement.parent] = Visit::Open;
                    path.push((requirement.parent, 0));
                }
                Visit::Open => {
                    let start = path
                        .iter()
                        .position(|&(open, _)| open == requirement.parent)
                        .unwrap_or(0);
                    let names: Vec<&str> = path[start..]
                        .iter()
                        .map(|&(open, _)| images[open].name.as_str())
                        .chain([images[requirement.parent].name.as_str()])
                        .collect();
                    return Err(source.error(
                        &requirement.raw.image.span(),
                        format!(
                            "a cycle of requires: {}; expected images that do not require \
                             themselves",
                            names.join(" -> ")
                        ),
                    ));
                }
                Visit::Done => {}
            }
        }
    }
    Ok(())
}
