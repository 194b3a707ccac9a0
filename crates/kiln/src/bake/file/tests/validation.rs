//! Every refusal: an invalid-input error at the line of the value at fault, naming it.

use kiln_core::{Error, ErrorKind};

use super::fixture::Project;

/// A bake file that must be refused at `line`, with a message holding each of `needles`.
struct Case {
    name: &'static str,
    text: &'static str,
    line: usize,
    needles: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "TOML syntax",
        text: "version = 1\n[[image]\nname = \"a\"\n",
        line: 2,
        needles: &["expected"],
    },
    Case {
        name: "an unknown top-level key",
        text: "version = 1\nverison = 2\n",
        line: 2,
        needles: &["unknown field `verison`"],
    },
    Case {
        name: "an unknown key in [defaults]",
        text: "version = 1\n[defaults]\nregistry = \"r\"\nplatform = [\"linux/amd64\"]\n",
        line: 4,
        needles: &["unknown field `platform`"],
    },
    Case {
        name: "an unknown key in an image",
        text: "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a\"\ncontex = \"a\"\n",
        line: 5,
        needles: &["unknown field `contex`"],
    },
    Case {
        name: "an unknown key in a requires entry",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
[[image]]
name = "b"
context = "b"
requires = [{ image = "a", as = "BASE_IMAGE", sme = [] }]
"#,
        line: 8,
        needles: &["unknown field `sme`"],
    },
    Case {
        name: "an unknown key in an override",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
  [[image.override]]
  match = {}
  arg = { X = "1" }
"#,
        line: 7,
        needles: &["unknown field `arg`"],
    },
    Case {
        name: "a value of the wrong type",
        text: "version = 1\n[defaults]\njobs = \"two\"\n",
        line: 3,
        needles: &["\"two\""],
    },
    Case {
        name: "a missing required key",
        text: "version = 1\n[[image]]\nname = \"a\"\n",
        line: 2,
        needles: &["context"],
    },
    Case {
        name: "no version",
        text: "[defaults]\njobs = 2\n",
        line: 1,
        needles: &["no version", "version = 1"],
    },
    Case {
        name: "another version",
        text: "# a comment\nversion = 2\n",
        line: 2,
        needles: &["version 2", "expected 1"],
    },
    Case {
        name: "a version as a string",
        text: "version = \"1\"\n",
        line: 1,
        needles: &["version \"1\"", "expected 1"],
    },
    Case {
        name: "jobs = 0",
        text: "version = 1\n[defaults]\njobs = 0\n",
        line: 3,
        needles: &["jobs 0", "at least 1"],
    },
    Case {
        name: "negative jobs",
        text: "version = 1\n[defaults]\njobs = -3\n",
        line: 3,
        needles: &["jobs -3"],
    },
    Case {
        name: "a cache_repo that is no image reference",
        text: "version = 1\n[defaults]\ncache_repo = \"Not A Repo\"\n",
        line: 3,
        needles: &["cache_repo \"Not A Repo\"", "image repository"],
    },
    Case {
        name: "a default platform that is no platform",
        text: "version = 1\n[defaults]\nplatforms = [\"linux/amd64\",\n  \"linux/sparc99\"]\n",
        line: 4,
        needles: &["linux/sparc99", "[defaults] platforms"],
    },
    Case {
        name: "a default platform twice",
        text: "version = 1\n[defaults]\nplatforms = [\"linux/amd64\", \"amd64\"]\n",
        line: 3,
        needles: &["\"amd64\"", "once"],
    },
    Case {
        name: "a build arg name that --build-arg refuses",
        text: "version = 1\n[defaults]\nargs = { \"1ST\" = \"x\" }\n",
        line: 3,
        needles: &["\"1ST\"", "[defaults] args"],
    },
    Case {
        name: "an image name that is no repository name",
        text: "version = 1\n[[image]]\nname = \"Pico Quic\"\ncontext = \"a\"\n",
        line: 3,
        needles: &["\"Pico Quic\"", "lower-case"],
    },
    Case {
        name: "two images of one name",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
[[image]]
name = "a"
context = "b"
"#,
        line: 6,
        needles: &["image name \"a\"", "the image at line 3"],
    },
    Case {
        name: "a context that does not exist",
        text: "version = 1\n[[image]]\nname = \"a\"\ncontext = \"missing\"\n",
        line: 4,
        needles: &["context \"missing\"", "expected a directory"],
    },
    Case {
        name: "a context that is a file",
        text: "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a/Dockerfile\"\n",
        line: 4,
        needles: &["context \"a/Dockerfile\"", "not a directory"],
    },
    Case {
        name: "a context without a Dockerfile",
        text: "version = 1\n[[image]]\nname = \"a\"\ncontext = \"empty\"\n",
        line: 4,
        needles: &["readable Dockerfile", "Dockerfile"],
    },
    Case {
        name: "a dockerfile that does not exist",
        text: r#"version = 1
[[image]]
name = "a"
context = "alt"
dockerfile = "Dockerfile.alt"
"#,
        line: 5,
        needles: &["readable Dockerfile", "Dockerfile.alt"],
    },
    Case {
        name: "an unknown image in requires",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
requires = [{ image = "nope", as = "BASE_IMAGE" }]
"#,
        line: 5,
        needles: &["image \"nope\"", "expected an image of the file (a)"],
    },
    Case {
        name: "an as the Dockerfile does not declare",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
[[image]]
name = "b"
context = "alt"
dockerfile = "docker/Dockerfile.alt"
requires = [{ image = "a", as = "IUT_IMAGE" }]
"#,
        line: 9,
        needles: &["as \"IUT_IMAGE\"", "ARG", "BASE_IMAGE", "Dockerfile.alt"],
    },
    Case {
        name: "one as for two entries",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
[[image]]
name = "b"
context = "b"
requires = [{ image = "a", as = "BASE_IMAGE" },
            { image = "a", as = "BASE_IMAGE" }]
"#,
        line: 9,
        needles: &["as \"BASE_IMAGE\"", "one entry"],
    },
    Case {
        name: "an image that requires itself",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
requires = [{ image = "a", as = "BASE_IMAGE" }]
"#,
        line: 5,
        needles: &["a cycle of requires: a -> a"],
    },
    Case {
        name: "a cycle of two",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
requires = [{ image = "b", as = "BASE_IMAGE" }]
[[image]]
name = "b"
context = "b"
requires = [{ image = "a", as = "BASE_IMAGE" }]
"#,
        line: 9,
        needles: &["a cycle of requires: a -> b -> a"],
    },
    Case {
        name: "a cycle of three behind an image outside it",
        text: r#"version = 1
[[image]]
name = "top"
context = "d"
requires = [{ image = "a", as = "BASE_IMAGE" }]
[[image]]
name = "a"
context = "a"
requires = [{ image = "b", as = "BASE_IMAGE" }]
[[image]]
name = "b"
context = "b"
requires = [{ image = "c", as = "BASE_IMAGE" }]
[[image]]
name = "c"
context = "c"
requires = [{ image = "a", as = "BASE_IMAGE" }]
"#,
        line: 17,
        needles: &["a cycle of requires: a -> b -> c -> a"],
    },
    Case {
        name: "an empty axis",
        text: "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a\"\nmatrix = { version = [] }\n",
        line: 5,
        needles: &["axis version", "at least one value"],
    },
    Case {
        name: "a value listed twice",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { version = ["v1", "v2",
                      "v1"] }
"#,
        line: 6,
        needles: &["value \"v1\"", "once"],
    },
    Case {
        name: "a mode listed twice in two spellings",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { mode = ["", "default"] }
"#,
        line: 5,
        needles: &["value \"default\"", "once"],
    },
    Case {
        name: "a free axis that cannot be a build arg",
        text: "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a\"\nmatrix = { \"my-axis\" = [\"x\"] }\n",
        line: 5,
        needles: &["axis \"my-axis\" of image a", "letters, digits and '_'"],
    },
    Case {
        name: "two free axes that are one build arg",
        text: "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a\"\nmatrix = { flavor = [\"x\"], FLAVOR = [\"y\"] }\n",
        line: 5,
        needles: &["FLAVOR", "flavor", "upper case"],
    },
    Case {
        name: "a value that would make ids ambiguous",
        text: "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a\"\nmatrix = { flavor = [\"x,y=z\"] }\n",
        line: 5,
        needles: &["value \"x,y=z\"", "ambiguous"],
    },
    Case {
        name: "a bad mode",
        text: "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a\"\nmatrix = { mode = [\"debug\", \"turbo\"] }\n",
        line: 5,
        needles: &["\"turbo\"", "build mode", "rel-lto"],
    },
    Case {
        name: "a bad runtime mode",
        text: "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a\"\nmatrix = { runtime_mode = [\"fast\"] }\n",
        line: 5,
        needles: &["\"fast\"", "runtime mode", "minimal"],
    },
    Case {
        name: "a bad platform",
        text: "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a\"\nmatrix = { platform = [\"linux/sparc99\"] }\n",
        line: 5,
        needles: &["\"linux/sparc99\"", "platform"],
    },
    Case {
        name: "an empty tag version",
        text: "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a\"\nmatrix = { tag_version = [\"\"] }\n",
        line: 5,
        needles: &["tag_version", "latest"],
    },
    Case {
        name: "a bad mode in an exclude",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { mode = ["debug"] }
exclude = [{ mode = "turbo" }]
"#,
        line: 6,
        needles: &["in exclude", "\"turbo\""],
    },
    Case {
        name: "an exclude on an axis the image lacks",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { version = ["v1", "v2"] }
exclude = [{ version = "v1" },
           { flavor = "x" }]
"#,
        line: 7,
        needles: &["axis flavor in exclude", "(version)"],
    },
    Case {
        name: "an include on an axis the image lacks",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { version = ["v1"] }
include = [{ version = "v2", mode = "debug" }]
"#,
        line: 6,
        needles: &["axis mode in include", "(version)"],
    },
    Case {
        name: "an override on an axis the image lacks",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
  [[image.override]]
  match = { version = "v1" }
  args = { X = "1" }
"#,
        line: 6,
        needles: &["axis version in override match", "it has no axes"],
    },
    Case {
        name: "a same axis the image lacks",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { version = ["v1"] }
[[image]]
name = "b"
context = "b"
requires = [{ image = "a", as = "BASE_IMAGE", same = ["version"] }]
"#,
        line: 9,
        needles: &["axis version in same of image b", "it has no axes"],
    },
    Case {
        name: "a same axis the required image has only some of",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { version = ["v1"] }
[[image]]
name = "b"
context = "b"
matrix = { version = ["v1"], flavor = ["x"] }
requires = [{ image = "a", as = "BASE_IMAGE", same = ["version", "flavor"] }]
"#,
        line: 10,
        needles: &[
            "axis flavor in same of image b",
            "image a has version but not flavor",
        ],
    },
    Case {
        name: "an include that misses an axis",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { version = ["v1"], mode = ["", "debug"] }
include = [{ version = "v0" }]
"#,
        line: 6,
        needles: &["include of image a", "mode is missing"],
    },
    Case {
        name: "an include that misses the implicit platform axis",
        text: r#"version = 1
[defaults]
platforms = ["linux/amd64"]
[[image]]
name = "a"
context = "a"
matrix = { version = ["v1"] }
include = [{ version = "v0" }]
"#,
        line: 8,
        needles: &["platform is missing", "[defaults] platforms"],
    },
    Case {
        name: "an include that duplicates a matrix cell",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { version = ["v1", "v2"], mode = ["", "debug"] }
include = [{ version = "v2", mode = "debug" }]
"#,
        line: 6,
        needles: &["cell a[mode=debug,version=v2]", "already"],
    },
    Case {
        name: "two includes of one cell",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { version = ["v1"] }
include = [{ version = "v0" },
           { version = "v0" }]
"#,
        line: 7,
        needles: &["cell a[version=v0]", "already"],
    },
    Case {
        name: "an exclude that removes nothing",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { version = ["v1", "v2"] }
exclude = [{ version = "v3" }]
"#,
        line: 6,
        needles: &["exclude of image a", "matches none"],
    },
    Case {
        name: "excludes that remove every cell",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { version = ["v1", "v2"] }
exclude = [{ version = "v1" }, { version = "v2" }]
"#,
        line: 6,
        needles: &["every cell", "excluded"],
    },
    Case {
        name: "an override that matches nothing",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { version = ["v1", "v2"] }
  [[image.override]]
  match = { version = "v9" }
  args = { X = "1" }
"#,
        line: 7,
        needles: &["override match of image a", "matches none"],
    },
    Case {
        name: "a bad build arg name in an override",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
  [[image.override]]
  match = {}
  args = { "A B" = "1" }
"#,
        line: 7,
        needles: &["build arg name \"A B\""],
    },
    Case {
        name: "a mode the platform cannot take",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { mode = ["",
                   "rel-lto"], platform = ["linux/amd64", "linux/arm64"] }
"#,
        line: 6,
        needles: &[
            "cell a[mode=rel-lto,platform=linux/arm64]",
            "\"rel-lto\"",
            "x86-64",
            "exclude",
        ],
    },
    Case {
        name: "a mode an included platform cannot take",
        text: r#"version = 1
[defaults]
platforms = ["linux/amd64"]
[[image]]
name = "a"
context = "a"
matrix = { mode = ["debug-asan"] }
include = [{ mode = "debug-asan", platform = "arm64" }]
"#,
        line: 8,
        needles: &[
            "cell a[mode=debug-asan,platform=linux/arm64]",
            "remove the include",
        ],
    },
    Case {
        name: "a child cell no parent cell matches",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { version = ["v1"] }
[[image]]
name = "b"
context = "b"
matrix = { version = ["v1", "v2"] }
requires = [{ image = "a", as = "BASE_IMAGE", same = ["version"] }]
"#,
        line: 10,
        needles: &[
            "no cell of a has version=v2",
            "b[version=v2]",
            "as = \"BASE_IMAGE\"",
        ],
    },
    Case {
        name: "a child cell that several parent cells match",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { version = ["v1", "v2"], flavor = ["x"] }
[[image]]
name = "b"
context = "b"
requires = [{ image = "a", as = "BASE_IMAGE" }]
"#,
        line: 9,
        needles: &[
            "2 cells match cell b",
            "a[flavor=x,version=v1], a[flavor=x,version=v2]",
            "same = [\"version\"]",
        ],
    },
    Case {
        name: "a matrix too large",
        text: r#"version = 1
[[image]]
name = "a"
context = "a"
matrix = { a = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"],
           b = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"],
           c = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"],
           d = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"],
           e = ["1", "2"] }
"#,
        line: 3,
        needles: &["image a", "10000"],
    },
];

#[test]
fn each_refusal_names_the_line_and_the_value() {
    let project = Project::new();
    let mut failures = Vec::new();
    for case in CASES {
        let outcome = match project.parse(case.text) {
            Ok(_) => Err("accepted".to_owned()),
            Err(error) => check(&project, case, &error),
        };
        if let Err(problem) = outcome {
            failures.push(format!("{}: {problem}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Whether `error` is the refusal `case` expects.
fn check(project: &Project, case: &Case, error: &Error) -> Result<(), String> {
    let Error::InvalidFile {
        path,
        line,
        problem,
        ..
    } = error
    else {
        return Err(format!("not an InvalidFile error: {error:?}"));
    };
    if error.kind() != ErrorKind::InvalidInput {
        return Err(format!("kind {:?}: {error}", error.kind()));
    }
    if *path != project.file() {
        return Err(format!("at {}, not the bake file", path.display()));
    }
    if *line != case.line {
        return Err(format!("line {line}, expected {}: {error}", case.line));
    }
    match case
        .needles
        .iter()
        .find(|needle| !problem.contains(*needle))
    {
        Some(missing) => Err(format!("no {missing:?} in: {problem}")),
        None => Ok(()),
    }
}

#[test]
fn the_column_is_where_the_value_starts() {
    let project = Project::new();
    let text = "version = 1\n[defaults]\n  jobs   = 0\n";
    let message = project.parse(text).expect_err("jobs = 0").to_string();
    let place = format!("{}:3:12: ", project.file().display());
    assert!(message.starts_with(&place), "{message}");

    let text = "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a\"\n\
                matrix = { mode = [\"\", \"turbo\"] }\n";
    let message = project.parse(text).expect_err("a bad mode").to_string();
    let place = format!("{}:5:24: ", project.file().display());
    assert!(message.starts_with(&place), "{message}");

    let message = project
        .parse("version = 1\n\n  bad = 1\n")
        .expect_err("a bad key");
    let place = format!("{}:3:3: ", project.file().display());
    assert!(message.to_string().starts_with(&place), "{message}");
}

#[test]
fn no_text_makes_it_panic() {
    let project = Project::new();
    for text in [
        "",
        "\u{feff}",
        "version = 1\n[[image]]\nname = \"é\"\ncontext = \"ä\"\n",
        "version = 1\nimage = 3\n",
        "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a\"\nmatrix = { version = [1] }\n",
        "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a\"\nmatrix = {}\ninclude = [{}]\n",
        "version = 1\n[[image]]\nname = \"a\"\ncontext = \"a\"\nexclude = [{}]\n",
        "version = 99999999999999999999\n",
        "version = 1.0\n",
    ] {
        let error = project.parse(text).expect_err(text);
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{text}: {error}");
        assert!(
            matches!(error, Error::InvalidFile { .. }),
            "{text}: {error}"
        );
    }
}

#[test]
fn an_unreadable_file_is_an_invalid_path() {
    let project = Project::new();
    let error =
        crate::bake::BakeFile::load(&project.root().join("nope.toml")).expect_err("no such file");
    assert!(matches!(error, Error::InvalidPath { .. }), "{error}");
    assert!(error.to_string().contains("nope.toml"), "{error}");
}
