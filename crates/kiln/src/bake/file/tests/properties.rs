//! Properties of random small files: images with random matrices and excludes, requiring
//! earlier images on all of those images' axes, written in a random order. What is accepted
//! has unique ids, each parent before its children, exactly the matrix minus the excludes,
//! and one parent per `requires` entry; what is refused is refused for the reason predicted.
//! And no text makes the reader panic: it accepts it or refuses it at a line of it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use kiln_core::env::{Env, ProcessEnv};
use kiln_core::{Error, ErrorKind};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use super::expansion::assert_parents_first;
use super::fixture::Project;

/// Cases when `PROPTEST_CASES` is not set.
const CASES: u32 = 256;

fn config() -> ProptestConfig {
    let default = ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/bake_file_properties.txt",
        ))),
        ..ProptestConfig::default()
    };
    if ProcessEnv.var("PROPTEST_CASES").is_some() {
        default
    } else {
        ProptestConfig {
            cases: CASES,
            ..default
        }
    }
}

/// The axes images draw from, each with the values it may take (a prefix of them is used).
const POOL: [(&str, &[&str]); 4] = [
    ("version", &["v1", "v2", "v3"]),
    ("mode", &["", "debug", "release"]),
    ("platform", &["linux/amd64", "linux/arm64"]),
    ("flavor", &["x", "y", "z"]),
];

/// Values of one axis: `values[count]` — each image uses the same ones for an axis.
type Axes = BTreeMap<&'static str, Vec<&'static str>>;

/// One image as drawn: its own axes (bits of `POOL`), the earlier images it requires (bits),
/// and its excludes (axes as bits, and a value index per axis).
#[derive(Debug, Clone)]
struct Drawn {
    own_axes: u8,
    requires: u8,
    excludes: Vec<(u8, [usize; 4])>,
}

/// A drawn file: how many values each axis has, the images, and the order they are written.
#[derive(Debug, Clone)]
struct Drawing {
    counts: [usize; 4],
    images: Vec<Drawn>,
    order_keys: Vec<u32>,
}

fn drawing() -> impl Strategy<Value = Drawing> {
    let drawn = (
        0u8..16,
        0u8..16,
        prop::collection::vec((1u8..16, [0usize..3, 0..3, 0..3, 0..3]), 0..3),
    )
        .prop_map(|(own_axes, requires, excludes)| Drawn {
            own_axes,
            requires,
            excludes,
        });
    (
        [1usize..=3, 1..=3, 1..=2, 1..=3],
        prop::collection::vec(drawn, 1..=4),
        prop::collection::vec(any::<u32>(), 4),
    )
        .prop_map(|(counts, images, order_keys)| Drawing {
            counts,
            images,
            order_keys,
        })
}

/// Image `index`'s name.
fn name(index: usize) -> String {
    format!("i{index}")
}

impl Drawing {
    /// The images each image requires (earlier ones only, so there is no cycle).
    fn requires(&self, image: usize) -> Vec<usize> {
        (0..image)
            .filter(|&parent| self.images[image].requires & (1 << parent) != 0)
            .collect()
    }

    /// Each image's axes: its own and every axis of the images it requires.
    fn axes(&self) -> Vec<Axes> {
        let mut all: Vec<Axes> = Vec::new();
        for (index, image) in self.images.iter().enumerate() {
            let mut axes = Axes::new();
            for (bit, (axis, values)) in POOL.iter().enumerate() {
                if image.own_axes & (1 << bit) != 0 {
                    axes.insert(axis, values[..self.counts[bit]].to_vec());
                }
            }
            for parent in self.requires(index) {
                axes.extend(all[parent].clone());
            }
            all.push(axes);
        }
        all
    }

    /// Image `index`'s excludes as partial maps, restricted to its axes.
    fn excludes(&self, index: usize, axes: &Axes) -> Vec<BTreeMap<String, String>> {
        self.images[index]
            .excludes
            .iter()
            .map(|(bits, picks)| {
                POOL.iter()
                    .enumerate()
                    .filter(|(bit, (axis, _))| bits & (1 << bit) != 0 && axes.contains_key(axis))
                    .map(|(bit, (axis, values))| {
                        let value = values[picks[bit] % self.counts[bit]];
                        ((*axis).to_owned(), value.to_owned())
                    })
                    .collect()
            })
            .collect()
    }

    /// The file's text, images in the drawn order.
    fn text(&self) -> String {
        let axes = self.axes();
        let mut order: Vec<usize> = (0..self.images.len()).collect();
        order.sort_by_key(|&index| (self.order_keys[index], index));
        let mut text = "version = 1\n".to_owned();
        for index in order {
            let _ = write!(
                text,
                "[[image]]\nname = \"{}\"\ncontext = \"ctx\"\n",
                name(index)
            );
            let requires: Vec<String> = self
                .requires(index)
                .into_iter()
                .map(|parent| {
                    let same: Vec<String> = axes[parent]
                        .keys()
                        .map(|axis| format!("{axis:?}"))
                        .collect();
                    format!(
                        "{{ image = \"{}\", as = \"P{parent}\", same = [{}] }}",
                        name(parent),
                        same.join(", ")
                    )
                })
                .collect();
            let _ = writeln!(text, "requires = [{}]", requires.join(", "));
            let matrix: Vec<String> = axes[index]
                .iter()
                .map(|(axis, values)| format!("{axis} = {values:?}"))
                .collect();
            let _ = writeln!(text, "matrix = {{ {} }}", matrix.join(", "));
            let excludes: Vec<String> = self
                .excludes(index, &axes[index])
                .iter()
                .map(|exclude| {
                    let pairs: Vec<String> = exclude
                        .iter()
                        .map(|(axis, value)| format!("{axis} = {value:?}"))
                        .collect();
                    format!("{{ {} }}", pairs.join(", "))
                })
                .collect();
            let _ = writeln!(text, "exclude = [{}]", excludes.join(", "));
        }
        text
    }

    /// The cells each image should have: its matrix without the excluded combinations.
    fn expected_cells(&self) -> Vec<BTreeSet<BTreeMap<String, String>>> {
        let axes = self.axes();
        (0..self.images.len())
            .map(|index| {
                let excludes = self.excludes(index, &axes[index]);
                let mut cells = vec![BTreeMap::new()];
                for (axis, values) in &axes[index] {
                    cells = cells
                        .into_iter()
                        .flat_map(|cell: BTreeMap<String, String>| {
                            values.iter().map(move |value| {
                                let mut cell = cell.clone();
                                cell.insert((*axis).to_owned(), (*value).to_owned());
                                cell
                            })
                        })
                        .collect();
                }
                cells
                    .into_iter()
                    .filter(|cell| !excludes.iter().any(|exclude| matched(exclude, cell)))
                    .collect()
            })
            .collect()
    }
}

/// Whether `cell` has every value of `pattern`.
fn matched(pattern: &BTreeMap<String, String>, cell: &BTreeMap<String, String>) -> bool {
    pattern
        .iter()
        .all(|(axis, value)| cell.get(axis) == Some(value))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_matrices_expand_to_unique_ordered_cells_without_excluded_ones(
        drawing in drawing()
    ) {
        let text = drawing.text();
        let expected = drawing.expected_cells();
        // The project's `ctx` declares `P0`…`P3`.
        let result = Project::new().parse(&text);
        if expected.iter().any(BTreeSet::is_empty) {
            let error = result.expect_err("an image without cells is refused").to_string();
            prop_assert!(error.contains("every cell"), "{text}\n{error}");
            return Ok(());
        }
        let orphan = (0..drawing.images.len()).any(|child| {
            drawing.requires(child).into_iter().any(|parent| {
                expected[child].iter().any(|cell| {
                    !expected[parent].iter().any(|candidate| matched(candidate, cell))
                })
            })
        });
        let file = match result {
            Ok(file) => file,
            Err(error) => {
                prop_assert!(orphan, "{text}\nrefused: {error}");
                prop_assert!(error.to_string().contains("no cell of"), "{text}\n{error}");
                return Ok(());
            }
        };
        prop_assert!(!orphan, "{text}\naccepted with a child cell whose parent is excluded");
        let mut seen = BTreeSet::new();
        for cell in &file.cells {
            prop_assert!(seen.insert(cell.id.clone()), "{text}\n{} twice", cell.id);
        }
        assert_parents_first(&file);
        for (index, cells) in expected.iter().enumerate() {
            let found: BTreeSet<BTreeMap<String, String>> = file
                .cells
                .iter()
                .filter(|cell| cell.image == name(index))
                .map(|cell| cell.axes.clone())
                .collect();
            prop_assert_eq!(&found, cells, "{}", text);
        }
        for cell in &file.cells {
            let index: usize = cell.image[1..].parse().expect("an image i<n>");
            let axes = drawing.axes();
            for exclude in drawing.excludes(index, &axes[index]) {
                prop_assert!(!matched(&exclude, &cell.axes), "{text}\n{} is excluded", cell.id);
            }
            prop_assert_eq!(cell.parents.len(), drawing.requires(index).len(), "{}", text);
        }
    }
}

/// A line of a bake file: its keys with plausible and implausible values, tables, and noise.
fn line() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "version",
        "name",
        "context",
        "dockerfile",
        "args",
        "target",
        "tag_version",
        "requires",
        "matrix",
        "exclude",
        "include",
        "match",
        "registry",
        "cache_repo",
        "platforms",
        "jobs",
        "unknown",
    ]);
    let value = prop_oneof![
        Just("1".to_owned()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("\"ctx\"".to_owned()),
        Just("\"a\"".to_owned()),
        Just("\"b\"".to_owned()),
        Just("\"\"".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just("[\"linux/amd64\", \"arm64\"]".to_owned()),
        Just(
            "{ version = [\"v1\", \"v2\"], mode = [\"\", \"rel-lto\"], platform = [\"arm64\"] }"
                .to_owned()
        ),
        Just("{ flavor = [\"x\"] }".to_owned()),
        Just("[{ version = \"v1\" }]".to_owned()),
        Just("[{ flavor = \"x\", version = \"v0\" }]".to_owned()),
        Just("[{ image = \"a\", as = \"P0\" }]".to_owned()),
        Just("[{ image = \"b\", as = \"P1\", same = [\"version\"] }]".to_owned()),
        Just("{ X = \"1\" }".to_owned()),
        Just("\"unterminated".to_owned()),
        "\"[ -~]{0,12}\"",
    ];
    prop_oneof![
        8 => (key, value).prop_map(|(key, value)| format!("{key} = {value}")),
        2 => prop::sample::select(vec!["[[image]]", "[defaults]", "[[image.override]]", "[", "#"])
            .prop_map(str::to_owned),
        1 => "[^\\n]{0,20}",
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_is_read_or_refused_at_a_line_of_it(
        lines in prop::collection::vec(line(), 0..16)
    ) {
        let text = format!("version = 1\n{}", lines.join("\n"));
        let project = Project::new();
        if let Err(error) = project.parse(&text) {
            let Error::InvalidFile { line, column, .. } = &error else {
                return Err(TestCaseError::fail(format!("{text}\nnot located: {error:?}")));
            };
            prop_assert_eq!(error.kind(), ErrorKind::InvalidInput);
            prop_assert!(*line >= 1 && *line <= text.lines().count() + 1, "{}\n{}", text, error);
            prop_assert!(*column >= 1, "{}\n{}", text, error);
        }
    }
}
