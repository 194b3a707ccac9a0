//! `.dockerignore`, differentially: the same context built by the Docker CLI and by kiln
//! (`FROM scratch` + `COPY . /ctx/`) must put the same files into the image, for every case —
//! kiln both ways: the classic builder, which takes the context as a tar stream, and BuildKit,
//! which pulls it through kiln's session (`FileSync`), the Dockerfile apart.

use std::fs;
use std::path::Path;
use std::sync::Mutex;
use std::thread;

use kiln_tests::docker_cli::{self, list_files};
use kiln_tests::{ImageCleanup, kiln, live_docker, unique};

/// The tree every case starts from (directories are made as needed).
const FILES: &[&str] = &[
    "a.txt",
    "b.md",
    "c.log",
    "README.md",
    "dir/x.txt",
    "dir/y.md",
    "dir/sub/z.txt",
    "dir/sub/deep/w.log",
    "other/keep.txt",
    "other/drop.txt",
    "node_modules/pkg/index.js",
    "node_modules/pkg/keep.me",
    "build/out.o",
    "build/keep/important.txt",
    "spaces dir/file name.txt",
    "#hash.txt",
    "[brackets].txt",
    "star*file.txt",
    "q?mark.txt",
    "back\\slash.txt",
    ".hidden/secret",
    ".env",
    "docs/guide.md",
    "docs/img/pic.png",
    "docs/img/logo.svg",
    "ünïcode/ß.txt",
    // For the cases of Go's regexp syntax: non-ASCII digits, letters and spaces, and braces.
    "digit7.txt",
    "digit\u{663}.txt",
    "wordé.txt",
    "word_.txt",
    "space .txt",
    "space\u{a0}.txt",
    "posix1.txt",
    "posixa.txt",
    "brace{x}.txt",
    "braceaa.txt",
];

const DOCKERFILE: &str = "FROM scratch\nCOPY . /ctx/\n";

/// `(name, .dockerignore contents)`; `None` means no `.dockerignore` at all.
const CASES: &[(&str, Option<&str>)] = &[
    ("no-ignore-file", None),
    ("empty", Some("")),
    ("blank-lines", Some("\n   \n\t\n")),
    ("star-md", Some("*.md")),
    ("double-star-md", Some("**/*.md")),
    ("double-star-md-reinclude", Some("**/*.md\n!README.md")),
    ("dir", Some("dir")),
    ("dir-trailing-slash", Some("dir/")),
    ("dir-star", Some("dir/*")),
    ("dir-double-star", Some("dir/**")),
    ("dir-double-star-txt", Some("dir/**/*.txt")),
    ("double-star-sub", Some("**/sub")),
    ("double-star-deep", Some("**/deep")),
    (
        "reinclude-under-excluded-parent",
        Some("dir\n!dir/sub/z.txt"),
    ),
    ("reinclude-dir-under-excluded-parent", Some("dir\n!dir/sub")),
    (
        "node-modules-keep",
        Some("node_modules\n!node_modules/pkg/keep.me"),
    ),
    ("build-keep-double-star", Some("build\n!build/keep/**")),
    (
        "double-star-reinclusion-does-not-reach",
        Some("dir\n!**/z.txt"),
    ),
    ("leading-slash", Some("/a.txt\n/dir/sub")),
    ("dot-slash", Some("./a.txt\n./dir/./x.txt")),
    ("dot-dot-cleaned", Some("dir/../a.txt\nother/../c.log")),
    ("comment", Some("# a comment\n*.log")),
    ("hash-not-at-column-0", Some(" #hash.txt")),
    ("hash-at-column-0-is-comment", Some("#hash.txt")),
    ("escaped-hash", Some("\\#hash.txt")),
    ("trailing-spaces", Some("*.txt   \n*.log\t")),
    ("crlf", Some("*.md\r\n*.log\r\n!README.md\r\n")),
    ("bom", Some("\u{feff}*.md")),
    ("exclamation-with-space", Some("*.md\n! README.md")),
    ("escaped-star", Some("star\\*file.txt")),
    ("escaped-brackets", Some("\\[brackets\\].txt")),
    ("char-class", Some("[ab].*")),
    ("negated-char-class", Some("[^a].txt")),
    ("char-range", Some("[a-c].*\n!b.md")),
    ("question-mark", Some("q?mark.txt\n?.log")),
    ("double-star-no-slash-quirk", Some("**.txt")),
    ("exclude-dockerfile", Some("Dockerfile")),
    ("exclude-dockerignore", Some(".dockerignore")),
    ("exclude-everything", Some("*")),
    ("exclude-everything-double-star", Some("**")),
    ("everything-but-txt", Some("*\n!*.txt")),
    ("everything-but-a-dir", Some("**\n!dir/**")),
    ("last-match-wins", Some("docs\n!docs/img\ndocs/img/*.png")),
    (
        "exclusion-then-reexclusion",
        Some("other/*.txt\n!other/keep.txt"),
    ),
    (
        "deep-exception",
        Some("dir/sub/deep/*.log\n!dir/sub/deep/w.log"),
    ),
    ("hidden", Some(".*")),
    ("spaces-in-names", Some("spaces dir")),
    ("backslash-name", Some("back\\\\slash.txt")),
    ("unicode", Some("ünïcode/*.txt")),
    ("only-exception", Some("!a.txt")),
    // Docker hands the pattern to Go's regexp, whose syntax differs from the `regex` crate's;
    // one case for each difference kiln's translator handles.
    // `[` inside a class is a literal in Go (the `regex` crate nests classes).
    ("go-bracket-inside-a-class", Some("[[]brackets].txt")),
    // `[?]` becomes `[[^/]]`: the class `[`, `^`, `/` and then a literal `]`.
    ("go-glob-inside-a-class", Some("[?]*")),
    // Perl classes and `\b` are ASCII-only in Go.
    ("go-digit-is-ascii", Some("digit\\d.txt")),
    ("go-word-is-ascii", Some("word\\w.txt")),
    ("go-space-is-ascii", Some("space\\s.txt")),
    ("go-word-boundary-is-ascii", Some("wordé\\b.txt")),
    // `\141` is an octal escape in Go (`a`); the `regex` crate has no octal escapes.
    ("go-octal-escape", Some("\\141.txt")),
    // `!` does not negate a class in Go (it does in a shell glob).
    ("go-bang-in-a-class", Some("[!a].txt")),
    // POSIX classes exist in Go's regexp.
    ("go-posix-class", Some("posix[[:digit:]].txt")),
    // `{` is a literal unless it starts a valid count (Docker leaves `{`, `}` and `|` unescaped).
    ("go-brace-literal", Some("brace{x}*")),
    ("go-brace-count", Some("bracea{2}*")),
    ("go-alternation", Some("*.md|*.log")),
    // `\Q` quotes up to `\E`, or to the end (the `$` Docker appends included).
    ("go-quote-to-the-end", Some("\\Qa.txt")),
    ("go-quote-closed", Some("\\Qa\\E.txt")),
];

fn make_context(root: &Path, ignore: Option<&str>) {
    // A file of its own: concurrent builds must never produce the same image, or one test's
    // cleanup removes an image another build is using.
    let marker = unique("context");
    for file in FILES {
        let path = root.join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let contents = if *file == "a.txt" {
            format!("contents of {file} in {marker}\n")
        } else {
            format!("contents of {file}\n")
        };
        fs::write(&path, contents).unwrap();
    }
    fs::write(root.join("Dockerfile"), DOCKERFILE).unwrap();
    if let Some(ignore) = ignore {
        fs::write(root.join(".dockerignore"), ignore).unwrap();
    }
}

/// Builds `context` with kiln and `builder` under `tag` (`dockerfile` if given); the error
/// says what went wrong.
fn kiln_build(
    context: &Path,
    dockerfile: Option<&Path>,
    tag: &str,
    builder: &str,
) -> Result<(), String> {
    let mut args = vec![
        "build",
        context.to_str().unwrap(),
        "--tag",
        tag,
        "--builder",
        builder,
        "-q",
    ];
    if let Some(dockerfile) = dockerfile {
        args.extend(["-f", dockerfile.to_str().unwrap()]);
    }
    let output = kiln(&args).output().unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "kiln build --builder {builder} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The files the Docker CLI's build of `context` put under `/ctx/`, then kiln's with each
/// builder; a description of every difference from the CLI's.
fn compare_three_ways(
    name: &str,
    context: &Path,
    dockerfile: Option<&Path>,
    cleanup: &Mutex<ImageCleanup>,
) -> Vec<String> {
    let tag = |way: &str| format!("{}:{way}", unique(&format!("kiln-diff-{name}")));
    let (cli_tag, classic_tag, buildkit_tag) = (tag("cli"), tag("classic"), tag("buildkit"));
    for tag in [&cli_tag, &classic_tag, &buildkit_tag] {
        cleanup.lock().unwrap().add(tag);
    }
    if let Err(error) = docker_cli::build(context, &cli_tag, dockerfile) {
        return vec![format!("{name}: docker build failed: {error}")];
    }
    let from_cli = list_files(&cli_tag, "ctx/").unwrap();
    let mut differences = Vec::new();
    for (builder, tag) in [("classic", &classic_tag), ("buildkit", &buildkit_tag)] {
        if let Err(error) = kiln_build(context, dockerfile, tag, builder) {
            differences.push(format!("{name}: {error}"));
            continue;
        }
        let from_kiln = list_files(tag, "ctx/").unwrap();
        if from_kiln != from_cli {
            differences.push(format!(
                "{name}, kiln --builder {builder}:\n  docker: {from_cli:?}\n  kiln:   {from_kiln:?}"
            ));
        }
    }
    differences
}

/// Builds one case the three ways; describes the differences, if any.
fn compare(name: &str, ignore: Option<&str>, cleanup: &Mutex<ImageCleanup>) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    make_context(dir.path(), ignore);
    compare_three_ways(name, dir.path(), None, cleanup)
        .into_iter()
        .map(|difference| format!("{difference}\n  .dockerignore: {ignore:?}"))
        .collect()
}

#[test]
fn kiln_and_the_docker_cli_send_the_same_files() {
    if live_docker("kiln_and_the_docker_cli_send_the_same_files").is_none() {
        return;
    }
    assert!(CASES.len() >= 30, "at least 30 patterns");
    let cleanup = Mutex::new(ImageCleanup::new());
    let next = Mutex::new(0usize);
    let differences = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                loop {
                    let index = {
                        let mut next = next.lock().unwrap();
                        *next += 1;
                        *next - 1
                    };
                    let Some((name, ignore)) = CASES.get(index) else {
                        break;
                    };
                    let found = compare(name, *ignore, &cleanup);
                    differences.lock().unwrap().extend(found);
                }
            });
        }
    });
    let differences = differences.into_inner().unwrap();
    assert!(
        differences.is_empty(),
        "{} differences in {} cases:\n{}",
        differences.len(),
        CASES.len(),
        differences.join("\n")
    );
}

#[test]
fn a_dockerfile_outside_the_context_with_an_ignore_file_matches_the_cli() {
    if live_docker("a_dockerfile_outside_the_context_with_an_ignore_file_matches_the_cli").is_none()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let context = dir.path().join("ctx");
    make_context(&context, Some("**/*.md\n!README.md"));
    fs::remove_file(context.join("Dockerfile")).unwrap();
    let dockerfile = dir.path().join("outside.Dockerfile");
    fs::write(&dockerfile, DOCKERFILE).unwrap();
    let cleanup = Mutex::new(ImageCleanup::new());
    let differences = compare_three_ways("outside", &context, Some(&dockerfile), &cleanup);
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
