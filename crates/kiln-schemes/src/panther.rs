//! PANTHER's tag scheme: `{impl}[-{version}]:{tag_version}[-{build_mode}][-{runtime_mode}][-{platform}]`.

use kiln_core::{Error, ImageRef, RuntimeMode, TagInput, TagScheme};
use sha2::{Digest, Sha256};

/// PANTHER's scheme: `{impl}[-{version}]:{tag_version}[-{build_mode}][-{runtime_mode}][-{platform}]`.
///
/// The runtime mode appears only when it is not `minimal`; the platform only when one was asked
/// for. Both parts are sanitised (lowercase, anything outside `[a-z0-9._-]` becomes `-`, no
/// leading `.`/`-`, empty becomes `unknown`) and then fitted to the reference grammar: invalid
/// separator runs collapse to `-`, and names too long for Docker are shortened with a hash
/// suffix so that distinct inputs keep distinct tags.
///
/// The format is kept for compatibility, ambiguity included: build mode `debug` with runtime
/// mode `minimal` and the default build mode with runtime mode `debug` both give `latest-debug`.
/// kiln's fingerprints tell such builds apart; the tag alone cannot.
#[derive(Debug, Clone, Copy, Default)]
pub struct PantherScheme;

/// The longest repository PANTHER names get: 255 less `docker.io/library/`, from when kiln
/// counted the domain too. Docker limits only the normalised path (`library/<name>`) to 255, so
/// this is within it; it is kept so that existing tags do not change.
const MAX_REPOSITORY: usize = 255 - "docker.io/library/".len();
/// The longest tag the grammar allows.
const MAX_TAG: usize = 128;
/// Hex characters of the hash suffix added to shortened names.
const HASH_SUFFIX: usize = 8;

impl TagScheme for PantherScheme {
    fn name(&self) -> &'static str {
        "panther"
    }

    fn image_ref(&self, input: &TagInput) -> Result<ImageRef, Error> {
        let mut repository = input.name.clone();
        if let Some(version) = input.version.as_deref().filter(|v| !v.is_empty()) {
            repository.push('-');
            repository.push_str(version);
        }
        let mut tag = input.tag_version.clone();
        for part in [
            input.build_mode.as_str(),
            match input.runtime_mode {
                RuntimeMode::Minimal => "",
                other => other.as_str(),
            },
        ] {
            if !part.is_empty() {
                tag.push('-');
                tag.push_str(part);
            }
        }
        if let Some(platform) = &input.platform {
            tag.push('-');
            tag.push_str(&platform.to_string());
        }
        let reference = format!(
            "{}:{}",
            sanitize_repository(&repository),
            sanitize_tag(&tag)
        );
        Ok(ImageRef::parse(&reference)?)
    }
}

/// Lowercases and maps every character outside `[a-z0-9._-]` to `-`.
fn replace_foreign(input: &str) -> String {
    input
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn is_separator(c: char) -> bool {
    matches!(c, '.' | '_' | '-')
}

/// A repository path component: `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn sanitize_repository(input: &str) -> String {
    let replaced = replace_foreign(input);
    let mut out = String::with_capacity(replaced.len());
    let mut rest = replaced.trim_matches(is_separator);
    while !rest.is_empty() {
        let run_end = rest.find(|c: char| !is_separator(c)).unwrap_or(rest.len());
        let (run, after) = rest.split_at(run_end);
        if !run.is_empty() {
            let allowed = matches!(run, "." | "_" | "__") || run.chars().all(|c| c == '-');
            out.push_str(if allowed { run } else { "-" });
        }
        let word_end = after.find(is_separator).unwrap_or(after.len());
        out.push_str(&after[..word_end]);
        rest = &after[word_end..];
    }
    fit(out, MAX_REPOSITORY, input)
}

/// A tag: `[a-z0-9_][a-z0-9_.-]*`, at most 128 characters.
fn sanitize_tag(input: &str) -> String {
    let replaced = replace_foreign(input);
    let trimmed = replaced.trim_start_matches(['.', '-']).to_owned();
    fit(trimmed, MAX_TAG, input)
}

/// Replaces an empty result by `unknown` and shortens one longer than `max`, keeping a hash of
/// the original so that different long inputs stay different.
fn fit(sanitized: String, max: usize, original: &str) -> String {
    if sanitized.is_empty() {
        return "unknown".to_owned();
    }
    if sanitized.len() <= max {
        return sanitized;
    }
    let digest = hex::encode(Sha256::digest(original.as_bytes()));
    let keep = sanitized[..max - HASH_SUFFIX - 1].trim_end_matches(is_separator);
    if keep.is_empty() {
        return digest[..HASH_SUFFIX].to_owned();
    }
    format!("{keep}-{}", &digest[..HASH_SUFFIX])
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::{BuildMode, Platform};
    use std::fmt::Write;

    fn name(input: &TagInput) -> String {
        match PantherScheme.image_ref(input) {
            Ok(reference) => reference.familiar(),
            Err(error) => format!("ERROR {error}"),
        }
    }

    fn table(cases: &[(&str, TagInput)]) -> String {
        let mut out = String::new();
        for (label, input) in cases {
            writeln!(out, "{label:<42} {}", name(input)).unwrap();
        }
        out
    }

    fn input(name: &str, version: Option<&str>, tag_version: &str) -> TagInput {
        let mut input = TagInput::new(name);
        input.version = version.map(str::to_owned);
        input.tag_version = tag_version.to_owned();
        input
    }

    #[test]
    fn sanitisation() {
        let cases = [
            ("plain", input("picoquic", Some("rfc9000"), "latest")),
            ("no version", input("picoquic", None, "latest")),
            ("empty version", input("picoquic", Some(""), "latest")),
            ("uppercase", input("PicoQUIC", Some("RFC9000"), "Latest")),
            (
                "spaces and bangs",
                input("my impl!", Some("v 1"), "bad tag!"),
            ),
            ("slashes", input("org/impl", Some("feature/x"), "a/b")),
            ("colon in name", input("a:b", Some("1:2"), "3:4")),
            (
                "leading dots and dashes",
                input("..-impl", Some("-v1"), ".-tag"),
            ),
            ("trailing separators", input("impl-", Some("v1."), "tag-")),
            ("separator runs", input("a..b__c___d-.e", None, "t..u")),
            ("double underscore kept", input("a__b", None, "x")),
            ("dash runs kept", input("a---b", None, "x")),
            ("empty name", input("", None, "")),
            ("only symbols", input("!!!", Some("???"), "###")),
            ("unicode", input("ünïcødé", Some("β"), "ταγ")),
        ];
        insta::assert_snapshot!(table(&cases));
    }

    #[test]
    fn long_names_are_shortened_and_stay_distinct() {
        let long = "x".repeat(300);
        let cases = [
            ("repository 237", input(&"r".repeat(237), None, "t")),
            ("repository 238", input(&"r".repeat(238), None, "t")),
            ("repository 300", input(&long, None, "t")),
            (
                "repository 300 other",
                input(&format!("{long}y"), None, "t"),
            ),
            ("tag 128", input("r", None, &"t".repeat(128))),
            ("tag 129", input("r", None, &"t".repeat(129))),
            ("tag of underscores", input("r", None, &"_".repeat(200))),
            (
                "tag cut at separator",
                input(
                    "r",
                    None,
                    &format!("{}-{}", "t".repeat(118), "u".repeat(20)),
                ),
            ),
        ];
        let output = table(&cases);
        assert!(!output.contains("ERROR"), "{output}");
        insta::assert_snapshot!(output);
    }

    #[test]
    fn every_mode_combination() {
        let mut cases = Vec::new();
        for build_mode in BuildMode::ALL {
            for runtime_mode in RuntimeMode::ALL {
                for platform in [
                    None,
                    Some(Platform::linux_amd64()),
                    Some(Platform::parse("arm/v7").unwrap()),
                ] {
                    let label = format!(
                        "{:?}/{}/{}",
                        build_mode.as_str(),
                        runtime_mode,
                        platform
                            .as_ref()
                            .map_or("-".to_owned(), Platform::to_string)
                    );
                    let mut case = input("picoquic", Some("rfc9000"), "latest");
                    case.build_mode = build_mode;
                    case.runtime_mode = runtime_mode;
                    case.platform = platform;
                    cases.push((label, case));
                }
            }
        }
        let borrowed: Vec<(&str, TagInput)> =
            cases.iter().map(|(l, i)| (l.as_str(), i.clone())).collect();
        insta::assert_snapshot!(table(&borrowed));
    }

    #[test]
    fn every_generated_name_parses_back() {
        let names = [
            "a",
            "A B",
            "..",
            "x".repeat(400).as_str(),
            "é/è:ê",
            "a__b__c",
            "-_-",
        ]
        .map(str::to_owned);
        for raw in &names {
            for tag in &names {
                let reference = PantherScheme
                    .image_ref(&input(raw, Some(tag), tag))
                    .unwrap_or_else(|e| panic!("{raw:?} {tag:?}: {e}"));
                assert_eq!(ImageRef::parse(&reference.to_string()).unwrap(), reference);
            }
        }
    }
}
