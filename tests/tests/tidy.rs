//! The workspace's invariants, checked on its sources (no daemon needed). Each failure names
//! the file and the rule it breaks; docs/ARCHITECTURE.md ("Invariants") lists the rules.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use kiln_tests::workspace_root;

/// The directories that hold the workspace's sources, relative to its root.
const SOURCE_ROOTS: [&str; 3] = ["crates", "tests", "benches"];

/// Directories never walked: build output and generated benchmark corpora.
fn skipped(name: &str) -> bool {
    name == "target" || name.starts_with('.') || name.starts_with("corpus")
}

/// One source file: its path relative to the workspace root (with `/`) and its text.
struct Source {
    path: String,
    text: String,
}

fn walk(dir: &Path, root: &Path, out: &mut Vec<Source>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.is_dir() {
            if !skipped(&name) {
                walk(&path, root, out);
            }
        } else if name.ends_with(".rs") || name == "Cargo.toml" {
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            let relative = path.strip_prefix(root).expect("under the root");
            let path = relative.to_string_lossy().replace('\\', "/");
            out.push(Source { path, text });
        }
    }
}

/// Every `.rs` file and `Cargo.toml` of the workspace, the root manifest included.
fn sources() -> Vec<Source> {
    let root = workspace_root();
    let mut out = Vec::new();
    for dir in SOURCE_ROOTS {
        walk(&root.join(dir), root, &mut out);
    }
    let manifest = fs::read_to_string(root.join("Cargo.toml")).expect("the root Cargo.toml");
    out.push(Source {
        path: "Cargo.toml".to_owned(),
        text: manifest,
    });
    out
}

/// The file's code before its first `#[cfg(test)]` line: kiln's unit tests sit at the end of
/// a file (`#[cfg(test)] mod tests { … }` or `#[cfg(test)] mod tests;`), and files named
/// `tests.rs` hold nothing else.
fn non_test_code(source: &Source) -> &str {
    if source.path.ends_with("/tests.rs") {
        return "";
    }
    let end = source
        .text
        .match_indices("#[cfg(test)]")
        .next()
        .map_or(source.text.len(), |(at, _)| at);
    &source.text[..end]
}

/// The `[dependencies]` (and `[target.*.dependencies]`) tables of a manifest, as text.
fn normal_dependencies(manifest: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            inside = trimmed == "[dependencies]"
                || (trimmed.starts_with("[target.") && trimmed.ends_with(".dependencies]"));
        } else if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Whether `text` names the crate `name` as a word (`tokio::`, `tokio =`, `tokio.workspace`).
fn names_crate(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        let word = |ch: char| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-';
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// The attribute that hides a test, spelled in two parts so that this file does not carry it.
const IGNORE_ATTRIBUTE: &str = concat!("#[", "ignore");

/// This file: it names what it forbids.
const THIS_FILE: &str = "tests/tests/tidy.rs";

type Rule = fn(&Source) -> Option<String>;

/// `(name, rule)`: each rule says what is wrong with one file, if anything.
const RULES: &[(&str, Rule)] = &[
    ("a .rs file starts with a `//!` line", |source| {
        (source.path.ends_with(".rs") && !source.text.starts_with("//!"))
            .then(|| "the first line is not a `//!` comment".to_owned())
    }),
    ("only kiln-docker and the benches name bollard", |source| {
        let allowed = source.path.starts_with("crates/kiln-docker/")
            || source.path.starts_with("benches/")
            || source.path == THIS_FILE;
        let text = if source.path == "Cargo.toml" {
            // The workspace's dependency table declares it for the crates that may use it.
            normal_dependencies(&source.text)
        } else {
            source.text.clone()
        };
        (!allowed && names_crate(&text, "bollard")).then(|| "names bollard".to_owned())
    }),
    (
        "kiln-core uses neither tokio nor std::fs outside its tests",
        |source| {
            if !source.path.starts_with("crates/kiln-core/") {
                return None;
            }
            if source.path.ends_with("Cargo.toml") {
                let dependencies = normal_dependencies(&source.text);
                return names_crate(&dependencies, "tokio")
                    .then(|| "tokio is a dependency (only a dev-dependency may be)".to_owned());
            }
            let code = non_test_code(source);
            // Comments may name it, and so may the `#[tokio::test]` that a test-generating
            // macro emits into its caller's tests (kiln-core has no tokio to compile it with, so
            // the attribute can only stand in such a macro).
            let code: String = code
                .lines()
                .filter(|line| {
                    let line = line.trim_start();
                    !line.starts_with("//") && line != "#[tokio::test]"
                })
                .collect::<Vec<_>>()
                .join("\n");
            let code = code.as_str();
            if names_crate(code, "tokio") {
                Some("names tokio outside `#[cfg(test)]`".to_owned())
            } else if code.contains("std::fs") || code.contains("fs::") {
                Some("uses std::fs outside `#[cfg(test)]`".to_owned())
            } else {
                None
            }
        },
    ),
    (
        "an exception to clippy.toml's disallowed methods is an #[expect] with a reason",
        |source| {
            let text = &source.text;
            let unexplained = text
                .match_indices("clippy::disallowed_methods")
                .filter(|(at, _)| {
                    let attribute_start = text[..*at].rfind('#').unwrap_or(0);
                    let attribute_end = text[*at..].find(']').map_or(text.len(), |end| at + end);
                    let attribute = &text[attribute_start..attribute_end];
                    !(attribute.contains("expect(") && attribute.contains("reason ="))
                });
            (source.path != THIS_FILE && unexplained.count() > 0).then(|| {
                "makes an exception to a disallowed method without \
                 `#[expect(clippy::disallowed_methods, reason = \"…\")]`"
                    .to_owned()
            })
        },
    ),
    ("no #[should_panic]", |source| {
        (source.path != THIS_FILE && source.text.contains("#[should_panic"))
            .then(|| "has a #[should_panic] test: assert on the result instead".to_owned())
    }),
    ("no ignored tests", |source| {
        (source.path != THIS_FILE && source.text.contains(IGNORE_ATTRIBUTE))
            .then(|| "has an ignored test: make it skip with a printed reason".to_owned())
    }),
];

#[test]
fn the_workspace_keeps_its_invariants() {
    let sources = sources();
    assert!(
        sources.iter().any(|s| s.path == THIS_FILE),
        "the walk found no sources under {}",
        workspace_root().display()
    );
    let mut failures = String::new();
    for source in &sources {
        for (rule, check) in RULES {
            if let Some(problem) = check(source) {
                let _ = writeln!(failures, "{}: {problem} (rule: {rule})", source.path);
            }
        }
    }
    assert!(failures.is_empty(), "invariants broken:\n{failures}");
}

#[test]
fn the_rules_catch_what_they_forbid() {
    let file = |path: &str, text: &str| Source {
        path: path.to_owned(),
        text: text.to_owned(),
    };
    let broken = [
        file("crates/kiln/src/a.rs", "use std::io;\n"),
        file("crates/kiln/src/b.rs", "//! b\nuse bollard::Docker;\n"),
        file(
            "crates/kiln/Cargo.toml",
            "[dependencies]\nbollard.workspace = true\n",
        ),
        file("Cargo.toml", "[dependencies]\nbollard = \"1\"\n"),
        file(
            "crates/kiln-core/src/c.rs",
            "//! c\nasync fn f() { tokio::task::yield_now().await }\n",
        ),
        file(
            "crates/kiln-core/src/d.rs",
            "//! d\nfn f() { let _ = std::fs::read(\"x\"); }\n",
        ),
        file(
            "crates/kiln-core/Cargo.toml",
            "[dependencies]\ntokio = \"1\"\n",
        ),
        file(
            "crates/kiln/src/e.rs",
            "//! e\n#[test]\n#[should_panic]\nfn t() {}\n",
        ),
        file(
            "crates/kiln/src/f.rs",
            concat!("//! f\n#[test]\n#[", "ignore]\nfn t() {}\n"),
        ),
        file(
            "crates/kiln/src/g.rs",
            "//! g\n#[allow(clippy::disallowed_methods)]\nfn f() {}\n",
        ),
        file(
            "crates/kiln/src/h.rs",
            "//! h\n#[expect(clippy::disallowed_methods)] // why\nfn f() {}\n",
        ),
    ];
    for source in &broken {
        assert!(
            RULES.iter().any(|(_, check)| check(source).is_some()),
            "{} passes every rule:\n{}",
            source.path,
            source.text
        );
    }
    let fine = [
        file(
            "crates/kiln-docker/src/a.rs",
            "//! a\nuse bollard::Docker;\n",
        ),
        file(
            "Cargo.toml",
            "[workspace.dependencies]\nbollard = \"1\"\n[dependencies]\nserde = \"1\"\n",
        ),
        file(
            "crates/kiln-core/src/c.rs",
            "//! c\nfn f() {}\n#[cfg(test)]\nmod tests {\n    #[tokio::test]\n    async fn t() { let _ = std::fs::read(\"x\"); }\n}\n",
        ),
        file(
            "crates/kiln-core/src/e/tests.rs",
            "//! e\n#[tokio::test]\nasync fn t() {}\n",
        ),
        file(
            "crates/kiln-core/Cargo.toml",
            "[dev-dependencies]\ntokio = \"1\"\n",
        ),
        file("crates/kiln/src/g.rs", "//! g\nfn tokio_like() {}\n"),
        file(
            "tests/src/h.rs",
            "//! h\n\n#![expect(\n    clippy::disallowed_methods,\n    reason = \"runs a tool\"\n)]\n",
        ),
    ];
    for source in &fine {
        let problems: Vec<String> = RULES
            .iter()
            .filter_map(|(rule, check)| check(source).map(|p| format!("{p} ({rule})")))
            .collect();
        assert!(problems.is_empty(), "{}: {problems:?}", source.path);
    }
}
