//! Which of kiln's images a prune keeps, as a pure function of what the daemon and the records
//! said: the newest N per name, every image a container uses, every image an image that stays
//! is built on; and the order the rest is removed in (children before their parents).
//!
//! A name is a tag: the one an image was built for, and each tag it holds now. An image belongs
//! to the group of each; in a group, the image its tag points at counts first, then the newest.
//! So with N ≥ 1 an image some tag points at always stays: what goes are the images whose tags
//! moved on to newer builds (kept N − 1 deep).

use std::collections::{BTreeMap, BTreeSet};

use kiln_core::ImageId;
use serde::Serialize;

/// One of kiln's images, as the keep rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// The image.
    pub(crate) id: ImageId,
    /// The name (tag) it was built for; `None` when neither a record nor a tag tells.
    pub(crate) name: Option<String>,
    /// The tags pointing at it now (kiln's own `kiln-pin/` tags left out).
    pub(crate) tags: Vec<String>,
    /// When it was made, in seconds since the epoch.
    pub(crate) created: u64,
    /// How many containers (running or stopped) were created from it.
    pub(crate) containers: u32,
}

/// Why an image stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepReason {
    /// It is among the newest N of its name or of a tag it holds (the image a tag points at
    /// counts first).
    Newest,
    /// A container, running or stopped, was created from it.
    InUse,
    /// An image that stays is built on it (the daemon would refuse to remove it).
    Needed,
}

impl KeepReason {
    /// The reason as the JSON names it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeepReason::Newest => "newest",
            KeepReason::InUse => "in_use",
            KeepReason::Needed => "needed",
        }
    }
}

/// What becomes of one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It stays; `needed_by` names the image built on it when the reason is
    /// [`KeepReason::Needed`].
    Keep {
        reason: KeepReason,
        needed_by: Option<ImageId>,
    },
    /// It goes: older than the newest N of its name, and nothing needs it.
    Remove,
}

/// The verdict on every candidate, and the order the removed ones go in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Per candidate.
    pub(crate) verdicts: BTreeMap<ImageId, Verdict>,
    /// The candidates to remove, each after every image built on it.
    pub(crate) removal_order: Vec<ImageId>,
}

/// What the daemon holds besides the candidates, as far as what stays is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Daemon {
    /// Every image on the daemon (kiln's or not, intermediate images included) that was built
    /// on another → that other.
    pub(crate) parents: BTreeMap<ImageId, ImageId>,
    /// Every image on the daemon a tag points at.
    pub(crate) tagged: BTreeSet<ImageId>,
}

/// Decides which `candidates` stay when `keep` images are kept per name; the removed ones go
/// in the order given where no image is built on another.
///
/// Every image on the `daemon` that is not a candidate stays — except an untagged image
/// others are built on (an intermediate step), which the daemon removes with the last image
/// built on it — and so do the images it is built on. Images without a name form one group.
pub(crate) fn decide(candidates: &[Candidate], keep: usize, daemon: &Daemon) -> Decision {
    let mut groups: BTreeMap<Option<&str>, Vec<&Candidate>> = BTreeMap::new();
    for candidate in candidates {
        let mut names: BTreeSet<Option<&str>> = candidate
            .tags
            .iter()
            .map(|tag| Some(tag.as_str()))
            .collect();
        names.insert(candidate.name.as_deref());
        for name in names {
            groups.entry(name).or_default().push(candidate);
        }
    }
    let mut newest: BTreeSet<&ImageId> = BTreeSet::new();
    for (name, members) in &mut groups {
        let holds = |candidate: &Candidate| {
            name.is_some_and(|name| candidate.tags.iter().any(|tag| tag == name))
        };
        // The image its tag points at first, then the newest; the id breaks ties.
        members.sort_by(|a, b| {
            (holds(b), b.created)
                .cmp(&(holds(a), a.created))
                .then_with(|| a.id.cmp(&b.id))
        });
        newest.extend(members.iter().take(keep).map(|member| &member.id));
    }
    let mut verdicts = BTreeMap::new();
    for candidate in candidates {
        let verdict = if newest.contains(&candidate.id) {
            Verdict::Keep {
                reason: KeepReason::Newest,
                needed_by: None,
            }
        } else if candidate.containers > 0 {
            Verdict::Keep {
                reason: KeepReason::InUse,
                needed_by: None,
            }
        } else {
            Verdict::Remove
        };
        verdicts.insert(candidate.id.clone(), verdict);
    }
    keep_what_stays_needs(&mut verdicts, daemon);
    let removal_order = removal_order(candidates, &verdicts, &daemon.parents);
    Decision {
        verdicts,
        removal_order,
    }
}

/// Turns every removal that an image staying is built on into a keep: walks up from each image
/// that stays — first those no image is built on, so that the image named is the one the user
/// sees rather than an intermediate step — and keeps every candidate met on the way.
fn keep_what_stays_needs(verdicts: &mut BTreeMap<ImageId, Verdict>, daemon: &Daemon) {
    let parents = &daemon.parents;
    let with_children: BTreeSet<&ImageId> = parents.values().collect();
    let mut everyone: BTreeSet<&ImageId> = parents.keys().chain(parents.values()).collect();
    everyone.extend(verdicts.keys());
    let stays = |id: &ImageId| match verdicts.get(id) {
        Some(verdict) => *verdict != Verdict::Remove,
        None => daemon.tagged.contains(id) || !with_children.contains(id),
    };
    let (leaves, inner): (Vec<&ImageId>, Vec<&ImageId>) = everyone
        .into_iter()
        .filter(|id| stays(id))
        .partition(|id| !with_children.contains(id));
    let starts: Vec<ImageId> = leaves.into_iter().chain(inner).cloned().collect();
    for start in starts {
        let mut seen = BTreeSet::new();
        let mut current = parents.get(&start);
        while let Some(parent) = current {
            if !seen.insert(parent.clone()) {
                break; // a cycle: the daemon never makes one, but a listing is input
            }
            if let Some(verdict @ Verdict::Remove) = verdicts.get_mut(parent) {
                *verdict = Verdict::Keep {
                    reason: KeepReason::Needed,
                    needed_by: Some(start.clone()),
                };
            }
            current = parents.get(parent);
        }
    }
}

/// The removed images, each after every removed image built on it (the daemon refuses to
/// remove an image others are built on); otherwise in the order of `candidates`.
fn removal_order(
    candidates: &[Candidate],
    verdicts: &BTreeMap<ImageId, Verdict>,
    parents: &BTreeMap<ImageId, ImageId>,
) -> Vec<ImageId> {
    let removed: BTreeSet<&ImageId> = verdicts
        .iter()
        .filter(|(_, verdict)| matches!(verdict, Verdict::Remove))
        .map(|(id, _)| id)
        .collect();
    // How many removed images are built on each removed image (through any chain of parents):
    // an image comes after all of them, since each has fewer.
    let mut descendants: BTreeMap<&ImageId, usize> = removed.iter().map(|id| (*id, 0)).collect();
    for id in &removed {
        let mut seen = BTreeSet::new();
        let mut current = parents.get(*id);
        while let Some(parent) = current {
            if !seen.insert(parent) {
                break;
            }
            if let Some(count) = descendants.get_mut(parent) {
                *count += 1;
            }
            current = parents.get(parent);
        }
    }
    let mut order: Vec<(usize, usize, &ImageId)> = candidates
        .iter()
        .enumerate()
        .filter(|(_, candidate)| removed.contains(&candidate.id))
        .map(|(position, candidate)| {
            let above = descendants.get(&candidate.id).copied().unwrap_or(0);
            (above, position, &candidate.id)
        })
        .collect();
    order.sort();
    order.dedup_by(|a, b| a.2 == b.2);
    order.into_iter().map(|(_, _, id)| id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::testing::image_id;

    /// A candidate `seed` named `name`, made at `created`, used by `containers`.
    fn candidate(seed: &str, name: Option<&str>, created: u64, containers: u32) -> Candidate {
        Candidate {
            id: image_id(seed),
            name: name.map(str::to_owned),
            tags: Vec::new(),
            created,
            containers,
        }
    }

    /// `candidate`, its name pointing at it.
    fn holding(mut candidate: Candidate) -> Candidate {
        candidate.tags.extend(candidate.name.clone());
        candidate
    }

    /// `candidate`, `tag` pointing at it.
    fn tagged(mut candidate: Candidate, tag: &str) -> Candidate {
        candidate.tags.push(tag.to_owned());
        candidate
    }

    /// The verdicts as `(seed, verdict)` text, in the order of `seeds`.
    fn verdicts(decision: &Decision, seeds: &[&str]) -> Vec<(String, String)> {
        seeds
            .iter()
            .map(|seed| {
                let text = match &decision.verdicts[&image_id(seed)] {
                    Verdict::Remove => "remove".to_owned(),
                    Verdict::Keep {
                        reason,
                        needed_by: None,
                    } => reason.as_str().to_owned(),
                    Verdict::Keep {
                        reason,
                        needed_by: Some(by),
                    } => {
                        let by = seeds
                            .iter()
                            .chain(["intermediate", "user", "tagged-step"].iter())
                            .find(|seed| image_id(seed) == *by)
                            .map_or("?", |seed| seed);
                        format!("{} by {by}", reason.as_str())
                    }
                };
                ((*seed).to_owned(), text)
            })
            .collect()
    }

    struct Case {
        what: &'static str,
        candidates: Vec<Candidate>,
        keep: usize,
        /// `(child, parent)` seeds.
        parents: Vec<(&'static str, &'static str)>,
        /// Images that are no candidates and that a tag points at.
        tagged: Vec<&'static str>,
        expected: Vec<(&'static str, &'static str)>,
    }

    #[test]
    fn the_keep_rules() {
        let cases = vec![
            Case {
                what: "the newest N of a name stay, the older go",
                candidates: vec![
                    candidate("v1", Some("app:1"), 10, 0),
                    candidate("v2", Some("app:1"), 20, 0),
                    candidate("v3", Some("app:1"), 30, 0),
                    holding(candidate("v4", Some("app:1"), 40, 0)),
                ],
                keep: 2,
                parents: vec![],
                tagged: vec![],
                expected: vec![
                    ("v1", "remove"),
                    ("v2", "remove"),
                    ("v3", "newest"),
                    ("v4", "newest"),
                ],
            },
            Case {
                what: "names are counted apart",
                candidates: vec![
                    candidate("a1", Some("app:1"), 10, 0),
                    candidate("a2", Some("app:1"), 20, 0),
                    candidate("b1", Some("app:2"), 5, 0),
                ],
                keep: 1,
                parents: vec![],
                tagged: vec![],
                expected: vec![("a1", "remove"), ("a2", "newest"), ("b1", "newest")],
            },
            Case {
                what: "the image its name points at counts first, however old",
                candidates: vec![
                    holding(candidate("reused", Some("app:1"), 10, 0)),
                    candidate("newer", Some("app:1"), 20, 0),
                ],
                keep: 1,
                parents: vec![],
                tagged: vec![],
                expected: vec![("reused", "newest"), ("newer", "remove")],
            },
            Case {
                what: "an image another tag points at stays: it is that tag's current image",
                candidates: vec![
                    tagged(candidate("retagged", Some("app:1"), 10, 0), "prod:current"),
                    candidate("v2", Some("app:1"), 20, 0),
                    holding(candidate("v3", Some("app:1"), 30, 0)),
                ],
                keep: 1,
                parents: vec![],
                tagged: vec![],
                expected: vec![("retagged", "newest"), ("v2", "remove"), ("v3", "newest")],
            },
            Case {
                what: "an image a container uses stays, however old",
                candidates: vec![
                    candidate("used", Some("app:1"), 1, 1),
                    candidate("v1", Some("app:1"), 10, 0),
                    candidate("v2", Some("app:1"), 20, 0),
                    candidate("v3", Some("app:1"), 30, 0),
                ],
                keep: 2,
                parents: vec![],
                tagged: vec![],
                expected: vec![
                    ("used", "in_use"),
                    ("v1", "remove"),
                    ("v2", "newest"),
                    ("v3", "newest"),
                ],
            },
            Case {
                what: "an image a kept image of another name is built on stays",
                candidates: vec![
                    candidate("base1", Some("base:1"), 10, 0),
                    holding(candidate("base2", Some("base:1"), 20, 0)),
                    holding(candidate("child", Some("app:1"), 15, 0)),
                ],
                keep: 1,
                parents: vec![("child", "intermediate"), ("intermediate", "base1")],
                tagged: vec![],
                expected: vec![
                    ("base1", "needed by child"),
                    ("base2", "newest"),
                    ("child", "newest"),
                ],
            },
            Case {
                what: "an image someone else's image is built on stays",
                candidates: vec![
                    candidate("v1", Some("app:1"), 10, 0),
                    candidate("v2", Some("app:1"), 20, 0),
                ],
                keep: 1,
                parents: vec![("user", "v1")],
                tagged: vec![],
                expected: vec![("v1", "needed by user"), ("v2", "newest")],
            },
            Case {
                what: "an untagged intermediate step stays only with an image built on it",
                candidates: vec![
                    candidate("old", Some("app:1"), 10, 0),
                    holding(candidate("new", Some("app:1"), 20, 0)),
                    candidate("older", Some("app:1"), 5, 0),
                    candidate("leaf", Some("app:1"), 7, 0),
                ],
                keep: 1,
                parents: vec![("tagged-step", "old"), ("step", "older"), ("leaf", "step")],
                tagged: vec!["tagged-step"],
                expected: vec![
                    ("old", "needed by tagged-step"),
                    ("new", "newest"),
                    ("older", "remove"),
                    ("leaf", "remove"),
                ],
            },
            Case {
                what: "an image only removed images are built on goes, after them",
                candidates: vec![
                    candidate("base1", Some("base:1"), 10, 0),
                    candidate("base2", Some("base:1"), 20, 0),
                    candidate("child1", Some("app:1"), 11, 0),
                    candidate("child2", Some("app:1"), 21, 0),
                ],
                keep: 1,
                parents: vec![("child1", "base1"), ("child2", "base2")],
                tagged: vec![],
                expected: vec![
                    ("base1", "remove"),
                    ("base2", "newest"),
                    ("child1", "remove"),
                    ("child2", "newest"),
                ],
            },
            Case {
                what: "what an image in use is built on stays, through removed images",
                candidates: vec![
                    candidate("base1", Some("base:1"), 10, 0),
                    candidate("base2", Some("base:1"), 20, 0),
                    candidate("child1", Some("app:1"), 11, 2),
                    candidate("child2", Some("app:1"), 21, 0),
                ],
                keep: 1,
                parents: vec![("child1", "base1")],
                tagged: vec![],
                expected: vec![
                    ("base1", "needed by child1"),
                    ("base2", "newest"),
                    ("child1", "in_use"),
                    ("child2", "newest"),
                ],
            },
            Case {
                what: "images without a name form one group",
                candidates: vec![
                    candidate("x", None, 10, 0),
                    candidate("y", None, 20, 0),
                    candidate("z", None, 30, 0),
                ],
                keep: 2,
                parents: vec![],
                tagged: vec![],
                expected: vec![("x", "remove"), ("y", "newest"), ("z", "newest")],
            },
            Case {
                what: "ties in time go by id, the same on every run",
                candidates: vec![
                    candidate("t1", Some("app:1"), 10, 0),
                    candidate("t2", Some("app:1"), 10, 0),
                ],
                keep: 1,
                parents: vec![],
                tagged: vec![],
                expected: if image_id("t1") < image_id("t2") {
                    vec![("t1", "newest"), ("t2", "remove")]
                } else {
                    vec![("t1", "remove"), ("t2", "newest")]
                },
            },
        ];
        for case in cases {
            let daemon = Daemon {
                parents: case
                    .parents
                    .iter()
                    .map(|(child, parent)| (image_id(child), image_id(parent)))
                    .collect(),
                tagged: case.tagged.iter().map(|seed| image_id(seed)).collect(),
            };
            let decision = decide(&case.candidates, case.keep, &daemon);
            let seeds: Vec<&str> = case.expected.iter().map(|(seed, _)| *seed).collect();
            let expected: Vec<(String, String)> = case
                .expected
                .iter()
                .map(|(seed, verdict)| ((*seed).to_owned(), (*verdict).to_owned()))
                .collect();
            assert_eq!(verdicts(&decision, &seeds), expected, "{}", case.what);
        }
    }

    #[test]
    fn children_are_removed_before_their_parents() {
        let candidates = vec![
            candidate("root", Some("base:1"), 1, 0),
            candidate("middle", Some("mid:1"), 2, 0),
            candidate("leaf", Some("app:1"), 3, 0),
            holding(candidate("current", Some("app:1"), 4, 0)),
            holding(candidate("mid-current", Some("mid:1"), 4, 0)),
            holding(candidate("base-current", Some("base:1"), 4, 0)),
        ];
        let daemon = Daemon {
            parents: BTreeMap::from([
                (image_id("leaf"), image_id("step")),
                (image_id("step"), image_id("middle")),
                (image_id("middle"), image_id("root")),
            ]),
            tagged: BTreeSet::new(),
        };
        let decision = decide(&candidates, 1, &daemon);
        assert_eq!(
            decision.removal_order,
            vec![image_id("leaf"), image_id("middle"), image_id("root")]
        );
    }

    #[test]
    fn keeping_zero_still_keeps_what_is_used() {
        let candidates = vec![
            candidate("used", Some("app:1"), 1, 1),
            candidate("free", Some("app:1"), 2, 0),
        ];
        let decision = decide(&candidates, 0, &Daemon::default());
        assert_eq!(
            verdicts(&decision, &["used", "free"]),
            vec![
                ("used".to_owned(), "in_use".to_owned()),
                ("free".to_owned(), "remove".to_owned())
            ]
        );
    }
}
