//! `[bases]` and `base = {...}`: each cell's tier chosen for its platform and mode, the tiers
//! (and their parents) made cells before the images, and every mistake at its place — in the
//! bake file, or in the catalogue for the catalogue's own.

use kiln_core::Error;

use super::fixture::{Project, cell, ids};

const CATALOGUE: &str = r#"version = 1
capabilities = ["runtime", "networking", "debugging", "compilation", "profiling"]

[[tier]]
name = "runtime"
context = "runtime"
capabilities = ["runtime", "networking"]
max_size_mb = 10
platforms = ["linux/amd64", "linux/arm64"]
probes = { networking = "nc --help" }

[[tier]]
name = "dev"
context = "dev"
from = "runtime"
capabilities = ["+debugging"]
max_size_mb = 20

[[tier]]
name = "build"
context = "build"
from = "dev"
capabilities = ["+compilation", "+profiling"]
max_size_mb = 50
platforms = ["linux/amd64"]

[plugins]
quic = ["networking", "compilation"]
"#;

const TIER_DOCKERFILE: &str = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n";

/// A project with the catalogue above in `bases/`.
fn project() -> Project {
    let project = Project::new();
    project.write("bases/catalogue.toml", CATALOGUE);
    project.context("bases/runtime", "FROM scratch\n");
    project.context("bases/dev", TIER_DOCKERFILE);
    project.context("bases/build", TIER_DOCKERFILE);
    project
}

const HEADER: &str = "version = 1\n[bases]\ncatalogue = \"bases/catalogue.toml\"\n";

#[test]
fn each_cell_gets_the_smallest_tier_for_its_mode_and_the_tiers_come_first() {
    let project = project();
    let file = project.expand(&format!(
        "{HEADER}\
         [[image]]\nname = \"server\"\ncontext = \"a\"\n\
         base = {{ needs = [\"networking\"] }}\n\
         matrix = {{ mode = [\"\", \"debug\"], platform = [\"linux/amd64\", \"linux/arm64\"] }}\n\
         [[image]]\nname = \"client\"\ncontext = \"b\"\n\
         base = {{ plugins = [\"quic\"] }}\nmatrix = {{ platform = [\"linux/amd64\"] }}\n"
    ));
    assert_eq!(
        ids(&file),
        [
            "base-runtime[platform=linux/amd64]",
            "base-runtime[platform=linux/arm64]",
            "base-dev[platform=linux/amd64]",
            "base-dev[platform=linux/arm64]",
            "base-build[platform=linux/amd64]",
            "server[mode=,platform=linux/amd64]",
            "server[mode=,platform=linux/arm64]",
            "server[mode=debug,platform=linux/amd64]",
            "server[mode=debug,platform=linux/arm64]",
            "client[platform=linux/amd64]",
        ]
    );
    let tier_of = |id: &str| {
        let cell = cell(&file, id);
        let edge = cell.parents.last().unwrap();
        (
            cell.base.as_ref().unwrap().tier.clone(),
            edge.parent.to_string(),
            edge.arg.clone(),
        )
    };
    assert_eq!(
        tier_of("server[mode=,platform=linux/arm64]"),
        (
            "runtime".to_owned(),
            "base-runtime[platform=linux/arm64]".to_owned(),
            "BASE_IMAGE".to_owned()
        )
    );
    assert_eq!(
        tier_of("server[mode=debug,platform=linux/arm64]").0,
        "dev",
        "debug needs debugging: a bigger tier than its release sibling"
    );
    assert_eq!(tier_of("client[platform=linux/amd64]").0, "build");
    let client = cell(&file, "client[platform=linux/amd64]");
    let reasons = &client.base.as_ref().unwrap().reasons;
    assert_eq!(
        reasons.first().map(String::as_str),
        Some("plugin quic needs compilation, networking")
    );
    assert_eq!(
        reasons.last().map(String::as_str),
        Some("for linux/amd64: base-build:linux-amd64")
    );
    // A tier's parent arrives in its BASE_IMAGE, pinned like any parent.
    let dev = cell(&file, "base-dev[platform=linux/amd64]");
    assert_eq!(dev.parents.len(), 1);
    assert_eq!(
        dev.parents[0].parent.as_str(),
        "base-runtime[platform=linux/amd64]"
    );
    assert_eq!(dev.parents[0].tier.as_deref(), Some("runtime"));
    let tier = dev.tier.as_ref().unwrap();
    assert_eq!(tier.reference.familiar(), "base-dev:linux-amd64");
    assert_eq!(tier.tier.name, "dev");
    assert_eq!(dev.spec.context, project.root().join("bases/dev"));
    let bases = file.bases.as_ref().unwrap();
    assert_eq!(
        bases.strategy.to_string(),
        "plugin-aware(platform-aware(tiered))"
    );
}

#[test]
fn a_cell_without_platform_gets_its_tier_for_the_default_platform() {
    let project = project();
    let file = project.expand(&format!(
        "{HEADER}strategies = [\"platform-aware\", \"plugin-aware\", \"tiered\"]\n\
         allow_fallback = true\n\
         [[image]]\nname = \"app\"\ncontext = \"a\"\nbase = {{ needs = [\"compilation\"], max_size_mb = 20, as = \"IUT_IMAGE\" }}\n"
    ));
    assert_eq!(
        ids(&file),
        ["base-runtime", "base-dev", "base-build", "app"]
    );
    let app = cell(&file, "app");
    let base = app.base.as_ref().unwrap();
    assert_eq!(base.tier, "build");
    assert!(base.fallback, "nothing within 20 MB has compilation");
    assert_eq!(app.parents[0].arg, "IUT_IMAGE");
    assert_eq!(
        cell(&file, "base-build")
            .tier
            .as_ref()
            .unwrap()
            .reference
            .familiar(),
        "base-build:latest"
    );
    assert_eq!(
        file.bases.as_ref().unwrap().strategy.to_string(),
        "platform-aware(plugin-aware(tiered(fallback)))"
    );
}

#[test]
fn an_image_with_requires_and_a_base_has_both_parents() {
    let project = project();
    let file = project.expand(&format!(
        "{HEADER}[[image]]\nname = \"iut\"\ncontext = \"a\"\n\
         [[image]]\nname = \"tester\"\ncontext = \"b\"\n\
         requires = [{{ image = \"iut\", as = \"IUT_IMAGE\" }}]\nbase = {{ needs = [\"debugging\"] }}\n"
    ));
    let tester = cell(&file, "tester");
    let parents: Vec<(&str, &str)> = tester
        .parents
        .iter()
        .map(|edge| (edge.parent.as_str(), edge.arg.as_str()))
        .collect();
    assert_eq!(
        parents,
        [("iut", "IUT_IMAGE"), ("base-dev", "BASE_IMAGE")],
        "requires first, the base last"
    );
    assert_eq!(ids(&file), ["base-runtime", "base-dev", "iut", "tester"]);
}

/// `text` (after the header) is refused at `line`:`column` of the bake file, with a message
/// holding `expect`.
#[track_caller]
fn check_error(project: &Project, text: &str, line: usize, column: usize, expect: &str) {
    let error = project.parse(text).unwrap_err();
    let Error::InvalidFile {
        path,
        line: at_line,
        column: at_column,
        problem,
    } = &error
    else {
        panic!("expected an invalid file, got {error:?}");
    };
    assert!(problem.contains(expect), "{problem:?} lacks {expect:?}");
    assert_eq!(path, &project.file(), "{error}");
    assert_eq!((*at_line, *at_column), (line, column), "{error}");
}

#[test]
fn mistakes_in_the_bake_file_are_located() {
    let project = project();
    let image = "[[image]]\nname = \"app\"\ncontext = \"a\"\n";
    let cases: Vec<(String, usize, usize, &str)> = vec![
        (
            format!("version = 1\n{image}base = {{ needs = [\"networking\"] }}\n"),
            5,
            8,
            "base of image app: expected a [bases] table",
        ),
        (
            format!("{HEADER}{image}base = {{ needs = [\"gpu\"] }}\n"),
            7,
            19,
            "need \"gpu\" in base of image app: expected a capability of",
        ),
        (
            format!("{HEADER}{image}base = {{ plugins = [\"ivy\"] }}\n"),
            7,
            21,
            "plugin \"ivy\" in base of image app: expected a plugin of",
        ),
        (
            format!("{HEADER}{image}base = {{ needs = [\"compilation\"], max_size_mb = 20 }}\n"),
            7,
            8,
            "base of cell app: no base tier fits needs compilation, within 20 MB: runtime lacks compilation; dev lacks compilation; build may be 50 MB, over the 20 MB asked",
        ),
        (
            format!(
                "{HEADER}{image}base = {{ needs = [\"compilation\"] }}\nmatrix = {{ platform = [\"linux/arm64\"] }}\n"
            ),
            7,
            8,
            "build lacks nothing",
        ),
        (
            format!("{HEADER}{image}base = {{ needs = [\"runtime\"], as = \"PARENT\" }}\n"),
            7,
            36,
            "is passed in build arg PARENT: expected",
        ),
        (
            format!(
                "{HEADER}[[image]]\nname = \"iut\"\ncontext = \"c\"\n{image}requires = [{{ image = \"iut\", as = \"BASE_IMAGE\" }}]\nbase = {{ needs = [\"runtime\"] }}\n"
            ),
            11,
            8,
            "which a requires entry passes its parent in already",
        ),
        (
            format!("{HEADER}{image}base = {{ needs = [\"runtime\"], max_size_mb = -1 }}\n"),
            7,
            45,
            "max_size_mb -1 in base of image app: expected a positive number",
        ),
        (
            format!("{HEADER}strategies = [\"largest\"]\n{image}"),
            4,
            15,
            "[bases] strategy chain \"largest\"",
        ),
        (
            format!("{HEADER}strategies = [\"tiered\", \"plugin-aware\"]\n{image}"),
            4,
            14,
            "strategies in [bases]: strategy chain \"tiered, plugin-aware\": expected tiered last",
        ),
        (
            format!("version = 1\n[bases]\ncatalogue = \"bases/none.toml\"\n{image}"),
            3,
            13,
            "catalogue \"bases/none.toml\" in [bases]: expected a readable catalogue file",
        ),
        (
            format!("{HEADER}colour = 1\n{image}"),
            4,
            1,
            "unknown field `colour`",
        ),
        (
            format!(
                "{HEADER}[[image]]\nname = \"base-runtime\"\ncontext = \"a\"\n{image}base = {{ needs = [\"runtime\"] }}\n"
            ),
            3,
            13,
            "tier runtime of",
        ),
    ];
    for (text, line, column, expect) in cases {
        if expect == "build lacks nothing" {
            // A tier not built for the platform is refused for it.
            let error = project.parse(&text).unwrap_err().to_string();
            assert!(
                error.contains("build is not built for linux/arm64"),
                "{error}"
            );
            continue;
        }
        check_error(&project, &text, line, column, expect);
    }
}

#[test]
fn mistakes_in_the_catalogue_are_located_in_the_catalogue() {
    let project = project();
    let text = format!(
        "{HEADER}[[image]]\nname = \"app\"\ncontext = \"a\"\nbase = {{ needs = [\"debugging\"] }}\n"
    );
    project.write(
        "bases/catalogue.toml",
        &CATALOGUE.replace("[\"+debugging\"]", "[\"+debugging\", \"+gpu\"]"),
    );
    let error = project.parse(&text).unwrap_err();
    let catalogue = project.root().join("bases/catalogue.toml");
    assert!(
        matches!(&error, Error::InvalidFile { path, line: 16, column: 31, .. } if path == &catalogue),
        "{error}"
    );
    assert!(error.to_string().contains("capability \"gpu\""), "{error}");

    // A tier with a parent must take it in BASE_IMAGE: the error is at its `from`.
    project.write("bases/catalogue.toml", CATALOGUE);
    project.context("bases/dev", "FROM scratch\n");
    let error = project.parse(&text).unwrap_err();
    assert!(
        matches!(&error, Error::InvalidFile { path, line: 15, column: 8, .. } if path == &catalogue),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("from \"runtime\" of tier dev: the parent is passed in build arg BASE_IMAGE"),
        "{error}"
    );
}
