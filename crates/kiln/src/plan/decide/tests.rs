//! The decision table: every observed state and the verdict it leads to, without an engine.

use kiln_cache::{BuildRecord, RECORD_SCHEMA};
use kiln_core::testing::image_id;
use kiln_core::{BuilderKind, Fingerprint, ImageRef};

use super::{Cause, Observed, TagState, Verdict, decide};

fn record() -> BuildRecord {
    BuildRecord {
        schema: RECORD_SCHEMA,
        fingerprint: Fingerprint::parse(&"ab".repeat(32)).unwrap(),
        image_id: image_id("a"),
        tags: vec!["app:1".to_owned()],
        size_bytes: 1,
        built_at: 0,
        duration_ms: 0,
        builder: BuilderKind::Classic,
        platform: "linux/amd64".to_owned(),
    }
}

fn tag(name: &str, state: TagState) -> (ImageRef, TagState) {
    (ImageRef::parse(name).unwrap(), state)
}

fn here() -> TagState {
    Some(Some(image_id("a")))
}

fn elsewhere() -> TagState {
    Some(Some(image_id("b")))
}

/// The verdict in a few words, for the table.
fn verdict(observed: Observed) -> String {
    match decide(observed) {
        Verdict::Build(Cause::NoCacheDirectory) => "build: no cache directory".to_owned(),
        Verdict::Build(Cause::Forced) => "build: forced".to_owned(),
        Verdict::Build(Cause::NoRecord) => "build: no record".to_owned(),
        Verdict::Build(Cause::ImageMissing { image_id: missing }) => {
            assert_eq!(missing, image_id("a"), "the recorded image");
            "build: image a missing".to_owned()
        }
        Verdict::Reuse(reuse) => {
            let retag: Vec<String> = reuse.retag.iter().map(ImageRef::familiar).collect();
            format!(
                "reuse{}{}",
                if reuse.checked { "" } else { " unchecked" },
                if retag.is_empty() {
                    String::new()
                } else {
                    format!(", retag {}", retag.join(" "))
                }
            )
        }
    }
}

fn with_record(tags: Vec<(ImageRef, TagState)>, image_present: Option<bool>) -> Observed {
    Observed {
        records: true,
        record: Some(record()),
        tags,
        image_present,
        ..Observed::default()
    }
}

#[test]
fn the_decision_table() {
    let cases: Vec<(&str, Observed, &str)> = vec![
        (
            "no cache dir",
            Observed::default(),
            "build: no cache directory",
        ),
        (
            "forced beats a record",
            Observed {
                forced: true,
                ..with_record(vec![tag("app:1", here())], None)
            },
            "build: forced",
        ),
        (
            "no record",
            Observed {
                records: true,
                ..Observed::default()
            },
            "build: no record",
        ),
        (
            "every tag on the image",
            with_record(vec![tag("app:1", here())], None),
            "reuse",
        ),
        (
            "a tag moved, image present",
            with_record(
                vec![tag("app:1", here()), tag("app:2", elsewhere())],
                Some(true),
            ),
            "reuse, retag app:2",
        ),
        (
            "a tag absent, image present",
            with_record(vec![tag("app:1", Some(None))], Some(true)),
            "reuse, retag app:1",
        ),
        (
            "tags elsewhere, image gone",
            with_record(vec![tag("app:1", elsewhere())], Some(false)),
            "build: image a missing",
        ),
        (
            "daemon down, nothing cached",
            with_record(vec![tag("app:1", None)], None),
            "reuse unchecked",
        ),
        (
            "daemon down, image cached as present",
            with_record(vec![tag("app:1", None)], Some(true)),
            "reuse",
        ),
        (
            "daemon down, image cached as absent",
            with_record(vec![tag("app:1", None)], Some(false)),
            "build: image a missing",
        ),
    ];
    for (name, observed, expected) in cases {
        assert_eq!(verdict(observed), expected, "case {name:?}");
    }
}
