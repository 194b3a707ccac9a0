//! Image references against distribution/reference's own test tables, kept as data beside the
//! clone in `../shared/peer-suites/` (never committed here). Without that directory the test
//! prints why and passes: the rules it checks have their own cases in kiln-core's unit tests.
//!
//! Only success against failure and the parsed parts are compared, never an error's wording.

use std::path::{Path, PathBuf};

use kiln_core::{ImageRef, ReferenceRule};
use kiln_tests::workspace_root;
use serde_json::Value;

/// The suites of image references, by file name under `cases/`.
const SUITES: [&str; 3] = ["reference", "normalize", "regexp"];

fn peer_suites() -> PathBuf {
    workspace_root().join("../shared/peer-suites")
}

#[allow(clippy::print_stderr)] // says why the test checked nothing
fn skip(reason: &str) {
    eprintln!("SKIPPED reference_peer_suite: {reason}");
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// `(suite, id)` of the cases `api-details.json` judges an API difference, not a behaviour.
fn api_differences(root: &Path) -> Vec<(String, String)> {
    let path = root.join("api-details.json");
    if !path.is_file() {
        return Vec::new();
    }
    read_json(&path)["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|case| {
            let field = |name: &str| case[name].as_str().unwrap_or_default().to_owned();
            (field("suite"), field("id"))
        })
        .collect()
}

/// Compares the fields of `expect` that name a part of a parsed reference.
fn compare_parts(reference: &ImageRef, expect: &Value) -> Vec<String> {
    let actual = |field: &str| -> Option<Value> {
        Some(match field {
            "domain" => reference.domain().into(),
            "path" => reference.path().into(),
            "tag" => reference.tag().map_or(Value::Null, Into::into),
            "digest" => reference.digest().map_or(Value::Null, Into::into),
            "string" => reference.to_string().into(),
            "familiar" => reference.familiar().into(),
            "repository" => reference.repository().into(),
            "familiar_repository" => reference.familiar_repository().into(),
            _ => return None,
        })
    };
    let mut differences = Vec::new();
    for (field, expected) in expect.as_object().into_iter().flatten() {
        if let Some(got) = actual(field)
            && got != *expected
        {
            differences.push(format!("{field}: expected {expected}, got {got}"));
        }
    }
    differences
}

/// What is wrong with kiln's answer to `case`, or `None` when it matches.
fn check_case(case: &Value) -> Option<String> {
    let input = case["input"].as_str().unwrap_or_default();
    let expect = &case["expect"];
    let ok = expect["ok"].as_bool();
    let problems = match case["check"].as_str().unwrap_or_default() {
        "parse" => match (ImageRef::parse(input), ok) {
            (Ok(reference), Some(true)) => compare_parts(&reference, expect),
            (Err(_), Some(false)) => Vec::new(),
            (Ok(reference), _) => vec![format!("accepted as {reference}, expected a rejection")],
            (Err(error), _) => vec![format!("rejected ({error}), expected success")],
        },
        "canonical" => {
            let canonical = ImageRef::parse(input).is_ok_and(|r| r.repository() == input);
            if Some(canonical) == expect["canonical"].as_bool() {
                Vec::new()
            } else {
                vec![format!("canonical is {canonical}")]
            }
        }
        "with_tag" => {
            let tag = case["tag"].as_str().unwrap_or_default();
            match (ImageRef::parse(input).map(|r| r.with_tag(tag)), ok) {
                (Ok(Ok(tagged)), Some(true)) => compare_parts(&tagged, expect),
                (Ok(Err(_)), Some(false)) => Vec::new(),
                (outcome, _) => vec![format!("with_tag({tag:?}) gave {outcome:?}")],
            }
        }
        "serde" => {
            let parsed = serde_json::from_value::<ImageRef>(Value::from(input));
            match (parsed, ok) {
                (Ok(reference), Some(true)) => {
                    let mut problems = compare_parts(&reference, expect);
                    let serialized = serde_json::to_value(&reference).unwrap_or_default();
                    if serialized != expect["serialized"] {
                        problems.push(format!("serialised as {serialized}"));
                    }
                    problems
                }
                (Err(_), Some(false)) => Vec::new(),
                (outcome, _) => vec![format!("deserialised as {outcome:?}")],
            }
        }
        "image_id" => {
            let refused = ImageRef::parse(input)
                .is_err_and(|error| error.rule == ReferenceRule::LooksLikeImageId);
            if Some(refused) == expect["image_id"].as_bool() {
                Vec::new()
            } else {
                vec![format!("refused as an image ID: {refused}")]
            }
        }
        other => vec![format!("unknown check {other:?}")],
    };
    (!problems.is_empty()).then(|| problems.join("; "))
}

#[test]
fn kiln_parses_references_as_distribution_reference_does() {
    let root = peer_suites();
    if !root.join("cases").is_dir() {
        skip(&format!(
            "{} is absent (CI keeps a copy of shared/ beside the clone)",
            root.display()
        ));
        return;
    }
    let api_differences = api_differences(&root);
    let (mut checked, mut failures) = (0, Vec::new());
    for suite in SUITES {
        let path = root.join("cases").join(format!("{suite}.json"));
        let data = read_json(&path);
        for case in data["cases"].as_array().into_iter().flatten() {
            let id = case["id"].as_str().unwrap_or_default();
            let not_applicable = case["applies"] == Value::Bool(false) || case["check"] == "none";
            let api_difference = api_differences.iter().any(|(s, i)| s == suite && i == id);
            if not_applicable || api_difference {
                continue;
            }
            checked += 1;
            if let Some(problem) = check_case(case) {
                failures.push(format!("{suite}.json {id}: {problem}"));
            }
        }
    }
    assert!(checked > 200, "only {checked} cases checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
