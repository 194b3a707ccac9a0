//! The catalogue reader: what it resolves (inheritance, order, defaults) and every mistake
//! reported at its line and column.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kiln_core::{BuildMode, Platform};

use super::*;

/// A directory with a context folder (and a `Dockerfile` in it) for every name tests use.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["runtime", "dev", "build", "builder", "a", "b", "c"] {
        std::fs::create_dir(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name).join("Dockerfile"), "FROM scratch\n").unwrap();
    }
    std::fs::write(dir.path().join("file"), "").unwrap();
    dir
}

fn parse_in(dir: &Path, text: &str) -> Result<Catalogue> {
    Catalogue::parse(text, &dir.join("bases.toml"))
}

fn parse(text: &str) -> Catalogue {
    let dir = folder();
    parse_in(dir.path(), text).unwrap_or_else(|error| panic!("{error}"))
}

/// `text` is refused at `line`:`column` with a message holding `expect`.
#[track_caller]
fn check_error(text: &str, line: usize, column: usize, expect: &str) {
    let dir = folder();
    let error = parse_in(dir.path(), text).unwrap_err();
    let Error::InvalidCatalogue {
        line: at_line,
        column: at_column,
        problem,
        path,
    } = &error
    else {
        panic!("expected an invalid catalogue, got {error:?}");
    };
    assert_eq!(path, &dir.path().join("bases.toml"));
    assert!(problem.contains(expect), "{problem:?} lacks {expect:?}");
    assert_eq!(
        (*at_line, *at_column),
        (line, column),
        "{error} should be at {line}:{column}"
    );
}

const HEADER: &str = "version = 1
capabilities = [\"runtime\", \"networking\", \"debugging\", \"compilation\", \"profiling\"]
";

fn with_header(rest: &str) -> String {
    format!("{HEADER}{rest}")
}

const FOUR_TIERS: &str = r#"
[[tier]]
name = "builder"
context = "builder"
from = "build"
capabilities = ["+profiling"]
max_size_mb = 1200

[[tier]]
name = "runtime"
context = "runtime"
capabilities = ["runtime", "networking"]
max_size_mb = 150
platforms = ["linux/amd64", "arm64"]
probes = { networking = "nc -h" }

[[tier]]
name = "dev"
context = "dev"
from = "runtime"
capabilities = ["+debugging"]
max_size_mb = 300
probes = { debugging = "gdb --version" }

[[tier]]
name = "build"
context = "build"
image = "panther-build-base"
from = "dev"
capabilities = ["+compilation"]
max_size_mb = 800
platforms = ["linux/amd64"]

[plugins]
picoquic = ["networking", "compilation"]
"#;

#[test]
fn tiers_inherit_and_come_smallest_first() {
    let catalogue = parse(&with_header(FOUR_TIERS));
    let names: Vec<&str> = catalogue.tiers.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["runtime", "dev", "build", "builder"]);
    let builder = catalogue.tier("builder").unwrap();
    let expected: BTreeSet<String> = [
        "runtime",
        "networking",
        "debugging",
        "compilation",
        "profiling",
    ]
    .map(String::from)
    .into();
    assert_eq!(builder.capabilities, expected);
    assert_eq!(builder.platforms, [Platform::linux_amd64()], "from build");
    assert_eq!(
        catalogue.tier("dev").unwrap().platforms,
        [Platform::linux_amd64(), Platform::linux_arm64()]
    );
    assert_eq!(builder.max_size, 1200 * MEGABYTE);
    let probes: Vec<&str> = builder.probes.keys().map(String::as_str).collect();
    assert_eq!(probes, ["debugging", "networking"], "inherited");
    let lineage: Vec<&str> = catalogue
        .lineage(builder)
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(lineage, ["runtime", "dev", "build", "builder"]);
    assert_eq!(builder.at, Location { line: 5, column: 8 });
    assert_eq!(builder.from_at, Some(Location { line: 7, column: 8 }));
}

#[test]
fn references_name_the_platform() {
    let catalogue = parse(&with_header(FOUR_TIERS));
    let build = catalogue.tier("build").unwrap();
    assert_eq!(
        catalogue
            .reference(build, Some(&Platform::linux_amd64()))
            .familiar(),
        "panther-build-base:linux-amd64"
    );
    let runtime = catalogue.tier("runtime").unwrap();
    assert_eq!(
        catalogue
            .reference(runtime, Some(&Platform::parse("linux/arm/v7").unwrap()))
            .familiar(),
        "base-runtime:linux-arm-v7"
    );
    assert_eq!(
        catalogue.reference(runtime, None).familiar(),
        "base-runtime:latest"
    );
}

#[test]
fn build_modes_need_the_defaults_unless_told() {
    let catalogue = parse(&with_header(FOUR_TIERS));
    assert_eq!(
        catalogue.needs_of_mode(BuildMode::Debug),
        BTreeSet::from(["debugging".to_owned()])
    );
    assert_eq!(
        catalogue.needs_of_mode(BuildMode::DebugAsan),
        BTreeSet::from(["debugging".to_owned()])
    );
    assert_eq!(
        catalogue.needs_of_mode(BuildMode::ReleaseStaticPgo),
        BTreeSet::from(["profiling".to_owned()])
    );
    assert!(catalogue.needs_of_mode(BuildMode::Release).is_empty());

    let told = parse(&with_header(&format!(
        "{FOUR_TIERS}\n[modes]\nrelease = [\"compilation\"]\n"
    )));
    assert!(told.needs_of_mode(BuildMode::Debug).is_empty());
    assert_eq!(
        told.needs_of_mode(BuildMode::Release),
        BTreeSet::from(["compilation".to_owned()])
    );
}

#[test]
fn plugins_are_read() {
    let catalogue = parse(&with_header(FOUR_TIERS));
    assert_eq!(
        catalogue.plugins["picoquic"],
        BTreeSet::from(["networking".to_owned(), "compilation".to_owned()])
    );
}

#[test]
fn paths_resolve_against_the_catalogue_and_the_context() {
    let dir = folder();
    let text = with_header(
        "[[tier]]\nname = \"a\"\ncontext = \"a\"\ndockerfile = \"Dockerfile\"\n\
         capabilities = [\"runtime\"]\nmax_size_mb = 1\nplatforms = [\"amd64\"]\n",
    );
    let catalogue = parse_in(dir.path(), &text).unwrap();
    let tier = &catalogue.tiers[0];
    assert_eq!(tier.context, dir.path().join("a"));
    assert_eq!(
        tier.dockerfile,
        Some(dir.path().join("a").join("Dockerfile"))
    );
    let unreadable = Catalogue::load(&dir.path().join("none.toml")).unwrap_err();
    assert!(
        matches!(unreadable, Error::Unreadable { .. }),
        "{unreadable}"
    );
    let loaded = {
        let path: PathBuf = dir.path().join("bases.toml");
        std::fs::write(&path, &text).unwrap();
        Catalogue::load(&path).unwrap()
    };
    assert_eq!(loaded, catalogue);
}

const ONE: &str = "[[tier]]\nname = \"a\"\ncontext = \"a\"\ncapabilities = [\"runtime\"]\n\
                   max_size_mb = 10\nplatforms = [\"linux/amd64\"]\n";

#[test]
fn mistakes_are_located() {
    // (text after the header, line, column, what the message says)
    let cases: Vec<(String, usize, usize, &str)> = vec![
        (
            "[[tier]]\nname = \"a\"\ncontext = \"a\"\ncapabilities = [\"gpu\"]\nmax_size_mb = 1\nplatforms = [\"amd64\"]\n".into(),
            6, 17, "capability \"gpu\" in the capabilities of tier a: expected one of",
        ),
        (
            format!("{ONE}[[tier]]\nname = \"b\"\ncontext = \"b\"\nfrom = \"c\"\nmax_size_mb = 10\n"),
            12, 8, "from \"c\" of tier b: expected a tier of the catalogue (a, b)",
        ),
        (
            "[[tier]]\nname = \"a\"\ncontext = \"a\"\nfrom = \"b\"\nmax_size_mb = 10\n\
             [[tier]]\nname = \"b\"\ncontext = \"b\"\nfrom = \"a\"\nmax_size_mb = 10\n".into(),
            11, 8, "a cycle of parents: a -> b -> a",
        ),
        (
            "[[tier]]\nname = \"a\"\ncontext = \"a\"\nfrom = \"a\"\nmax_size_mb = 10\n".into(),
            6, 8, "a cycle of parents: a -> a",
        ),
        (
            format!("{ONE}[[tier]]\nname = \"b\"\ncontext = \"b\"\nfrom = \"a\"\nmax_size_mb = 10\nplatforms = [\"linux/arm64\"]\n"),
            14, 14, "platform linux/arm64 of tier b: its parent a is not built for it",
        ),
        (
            format!("{ONE}[[tier]]\nname = \"a\"\ncontext = \"b\"\nmax_size_mb = 10\nplatforms = [\"amd64\"]\n"),
            10, 8, "tier name \"a\": expected each name once, but the tier at line 4",
        ),
        (
            format!("{ONE}[plugins]\nquic = [\"networking\", \"tls\"]\n"),
            10, 23, "capability \"tls\" in the needs of plugin quic",
        ),
        (
            format!("{ONE}[modes]\ndebug = [\"gdb\"]\n"),
            10, 10, "capability \"gdb\" in the needs of build mode debug",
        ),
        (
            format!("{ONE}[modes]\nfast = [\"runtime\"]\n"),
            10, 1, "build mode \"fast\" in [modes]: expected one of debug, release",
        ),
        (
            format!("{ONE}[[tier]]\nname = \"b\"\ncontext = \"b\"\nfrom = \"a\"\ncapabilities = [\"+debugging\", \"runtime\"]\nmax_size_mb = 10\n"),
            13, 31, "expected every entry with '+'",
        ),
        (
            "[[tier]]\nname = \"a\"\ncontext = \"a\"\ncapabilities = [\"+runtime\"]\nmax_size_mb = 1\nplatforms = [\"amd64\"]\n".into(),
            6, 17, "the tier has no `from`",
        ),
        (
            "[[tier]]\nname = \"a\"\ncontext = \"a\"\ncapabilities = [\"runtime\"]\nmax_size_mb = 1\n".into(),
            4, 8, "tier a has no platforms",
        ),
        (
            format!("{ONE}[[tier]]\nname = \"b\"\ncontext = \"b\"\nfrom = \"a\"\nmax_size_mb = 5\n"),
            13, 15, "max_size_mb 5 of tier b: below the 10 MB of its parent a",
        ),
        (
            "[[tier]]\nname = \"a\"\ncontext = \"a\"\ncapabilities = [\"runtime\"]\nmax_size_mb = 0\nplatforms = [\"amd64\"]\n".into(),
            7, 15, "expected a positive number of MB",
        ),
        (
            "[[tier]]\nname = \"a\"\ncontext = \"a\"\ncapabilities = [\"runtime\"]\nmax_size_mb = 1\nplatforms = [\"amd64\"]\nprobes = { networking = \"nc -h\" }\n".into(),
            9, 12, "probe \"networking\" of tier a: expected a capability the tier claims",
        ),
        (
            "[[tier]]\nname = \"a\"\ncontext = \"nowhere\"\ncapabilities = [\"runtime\"]\nmax_size_mb = 1\nplatforms = [\"amd64\"]\n".into(),
            5, 11, "context \"nowhere\" of tier a: expected a directory",
        ),
        (
            "[[tier]]\nname = \"a\"\ncontext = \"file\"\ncapabilities = [\"runtime\"]\nmax_size_mb = 1\nplatforms = [\"amd64\"]\n".into(),
            5, 11, "is not a directory",
        ),
        (
            "[[tier]]\nname = \"a\"\ncontext = \"a\"\ndockerfile = \"Missing\"\ncapabilities = [\"runtime\"]\nmax_size_mb = 1\nplatforms = [\"amd64\"]\n".into(),
            6, 14, "dockerfile \"Missing\" of tier a: expected a readable file",
        ),
        (
            "[[tier]]\nname = \"a\"\ncontext = \"a\"\ncapabilities = [\"runtime\"]\nmax_size_mb = 1\nplatforms = [\"sparc99\"]\n".into(),
            8, 14, "platform of tier a: invalid platform \"sparc99\"",
        ),
        (
            "[[tier]]\nname = \"A\"\ncontext = \"a\"\ncapabilities = [\"runtime\"]\nmax_size_mb = 1\nplatforms = [\"amd64\"]\n".into(),
            4, 8, "tier name \"A\": expected lower-case",
        ),
        (
            format!("{ONE}[[tier]]\nname = \"b\"\nimage = \"base-a\"\ncontext = \"b\"\nfrom = \"a\"\nmax_size_mb = 10\n"),
            11, 9, "image \"base-a\" of tier b: expected an image of its own, but tier a",
        ),
        (
            "[[tier]]\nname = \"a\"\ncontext = \"a\"\ncapabilities = [\"runtime\"]\nmax_size_mb = 1\nplatforms = [\"amd64\"]\ncolour = \"red\"\n".into(),
            9, 1, "unknown field `colour`",
        ),
        (
            "".into(),
            1, 1, "no tier: expected at least one [[tier]]",
        ),
    ];
    for (rest, line, column, expect) in cases {
        check_error(&with_header(&rest), line, column, expect);
    }
}

#[test]
fn the_header_is_checked() {
    check_error(
        "capabilities = [\"runtime\"]\n",
        1,
        1,
        "no version: expected `version = 1`",
    );
    check_error(
        "version = 2\ncapabilities = [\"runtime\"]\n",
        1,
        11,
        "version 2: expected 1",
    );
    check_error("version = 1\n", 1, 1, "no capabilities");
    check_error(
        "version = 1\ncapabilities = [\"runtime\", \"Runtime\"]\n",
        2,
        28,
        "capability \"Runtime\": expected lower-case",
    );
    check_error(
        "version = 1\ncapabilities = [\"runtime\", \"runtime\"]\n",
        2,
        28,
        "expected each capability once",
    );
    // The default build-mode needs name capabilities the vocabulary must hold.
    check_error(
        &format!("version = 1\ncapabilities = [\"runtime\"]\n{ONE}"),
        1,
        1,
        "the default needs of build mode debug name \"debugging\"",
    );
    let told = format!("version = 1\ncapabilities = [\"runtime\"]\n{ONE}[modes]\n");
    assert!(parse(&told).mode_needs.is_empty());
}
