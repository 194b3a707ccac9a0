//! A cell's reason, with a parent's change carried into its dependants' reasons
//! (`parent base changed: file etc/x changed`).

use std::collections::BTreeMap;

use kiln_core::Change;

use super::model::{Cell, CellId, ParentEdge};

/// How a planned cell changed, as its dependants quote it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Changed {
    /// Whether the cell gets a new image (it is built or pulled, not reused).
    pub(crate) renewed: bool,
    /// What changed, in phrases.
    pub(crate) phrases: Vec<String>,
    /// Whether a parent's change is why it is renewed.
    pub(crate) through_parent: bool,
}

/// The phrases of `changes` for `cell`: a change of a parent's build arg becomes the parent's
/// own phrases, when that parent was renewed.
pub(crate) fn phrases(
    cell: &Cell,
    changes: &[Change],
    parents: &BTreeMap<CellId, Changed>,
) -> (Vec<String>, bool) {
    let mut through_parent = false;
    let mut phrases = Vec::new();
    for change in changes {
        let parent = match change {
            Change::BuildArg { name, .. } => cell
                .parents
                .iter()
                .find(|edge| &edge.arg == name)
                .and_then(|edge| parents.get(&edge.parent).map(|changed| (edge, changed))),
            _ => None,
        };
        match parent {
            Some((edge, changed)) if changed.renewed && !changed.phrases.is_empty() => {
                through_parent = true;
                phrases.push(format!(
                    "{} changed: {}",
                    parent_name(edge),
                    shortened(&changed.phrases)
                ));
            }
            Some((edge, _)) => {
                through_parent = true;
                phrases.push(format!("{} changed", parent_name(edge)));
            }
            None => phrases.push(change.to_string()),
        }
    }
    (phrases, through_parent)
}

/// How a parent is named in reasons: `tier dev` for a base tier, else `parent <cell>`.
fn parent_name(edge: &ParentEdge) -> String {
    match &edge.tier {
        Some(tier) => format!("tier {tier}"),
        None => format!("parent {}", edge.parent),
    }
}

/// The first three phrases, and how many more.
fn shortened(phrases: &[String]) -> String {
    let shown = phrases
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    match phrases.len() {
        0..=3 => shown,
        n => format!("{shown} and {} more", n - 3),
    }
}

/// The reason of a cell that is built: its own reason, unless a parent's change is why, when
/// the phrases (naming the parent's change) say it better.
pub(crate) fn reason(own: &str, phrases: &[String], through_parent: bool) -> String {
    if through_parent {
        shortened(phrases)
    } else {
        own.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::BuildSpec;
    use kiln_core::fingerprint::How;

    fn cell(parent: &str, arg: &str) -> Cell {
        Cell {
            id: CellId::new("child", &BTreeMap::new()),
            image: "child".to_owned(),
            axes: BTreeMap::new(),
            spec: BuildSpec::new("child", "."),
            parents: vec![ParentEdge {
                parent: CellId::new(parent, &BTreeMap::new()),
                arg: arg.to_owned(),
                tier: None,
            }],
            base: None,
            tier: None,
        }
    }

    #[test]
    fn a_parent_change_names_the_parents_file() {
        let child = cell("base", "BASE_IMAGE");
        let parents = BTreeMap::from([(
            CellId::new("base", &BTreeMap::new()),
            Changed {
                renewed: true,
                phrases: vec!["file etc/x changed".to_owned()],
                through_parent: false,
            },
        )]);
        let changes = vec![Change::BuildArg {
            name: "BASE_IMAGE".to_owned(),
            how: How::Changed,
        }];
        let (phrases, through) = phrases(&child, &changes, &parents);
        assert!(through);
        assert_eq!(
            reason("1 change since …", &phrases, through),
            "parent base changed: file etc/x changed"
        );
    }

    #[test]
    fn a_tier_change_names_the_tier() {
        let mut child = cell("base-dev[platform=linux/amd64]", "BASE_IMAGE");
        child.parents[0].tier = Some("dev".to_owned());
        let parents = BTreeMap::from([(
            child.parents[0].parent.clone(),
            Changed {
                renewed: true,
                phrases: vec!["file etc/x changed".to_owned()],
                through_parent: false,
            },
        )]);
        let changes = vec![Change::BuildArg {
            name: "BASE_IMAGE".to_owned(),
            how: How::Changed,
        }];
        let (phrases, through) = phrases(&child, &changes, &parents);
        assert_eq!(
            reason("own", &phrases, through),
            "tier dev changed: file etc/x changed"
        );
    }

    #[test]
    fn own_changes_keep_their_words() {
        let child = cell("base", "BASE_IMAGE");
        let changes = vec![Change::File {
            path: "a.c".to_owned(),
            how: How::Added,
        }];
        let (phrases, through) = phrases(&child, &changes, &BTreeMap::new());
        assert!(!through);
        assert_eq!(phrases, ["file a.c added"]);
        assert_eq!(reason("own reason", &phrases, through), "own reason");
    }
}
