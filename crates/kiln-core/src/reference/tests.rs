//! Unit tests of reference parsing, validation and normalisation.

use super::*;
use std::collections::{BTreeSet, HashSet};

/// sha256 of the empty string.
const HEX64: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Parses `input` and compares the outcome with `expected`: the normalised display of the
/// reference, or `error: ` followed by the rule's message.
#[track_caller]
fn check(input: &str, expected: &str) {
    let got = match ImageRef::parse(input) {
        Ok(reference) => {
            assert_eq!(
                ImageRef::parse(&reference.to_string()).as_ref(),
                Ok(&reference),
                "display of {input:?} does not parse back"
            );
            assert_eq!(
                ImageRef::parse(&reference.familiar()).as_ref(),
                Ok(&reference),
                "familiar form of {input:?} does not parse back"
            );
            reference.to_string()
        }
        Err(error) => {
            assert_eq!(error.value, input);
            format!("error: {}", error.rule)
        }
    };
    assert_eq!(got, expected, "input {input:?}");
}

#[test]
fn docker_hub_normalisation() {
    check("alpine", "docker.io/library/alpine:latest");
    check("library/alpine", "docker.io/library/alpine:latest");
    check("docker.io/alpine", "docker.io/library/alpine:latest");
    check(
        "docker.io/library/alpine",
        "docker.io/library/alpine:latest",
    );
    check(
        "index.docker.io/library/alpine:3",
        "docker.io/library/alpine:3",
    );
    check("index.docker.io/alpine", "docker.io/library/alpine:latest");
    check("user/repo", "docker.io/user/repo:latest");
    check("user/repo:v1.2.3", "docker.io/user/repo:v1.2.3");
    check("a/b/c/d", "docker.io/a/b/c/d:latest");
    check("library/a/b", "docker.io/library/a/b:latest");
    check("docker.io/library", "docker.io/library/library:latest");
    // Without a '/', "localhost" and "docker.io" are image names, and ":5000" is a tag.
    check("localhost", "docker.io/library/localhost:latest");
    check("localhost:5000", "docker.io/library/localhost:5000");
    check("docker.io", "docker.io/library/docker.io:latest");
    check("ubuntu:22.04", "docker.io/library/ubuntu:22.04");
}

#[test]
fn registries() {
    check("localhost/app", "localhost/app:latest");
    check("localhost:5000/a/b:1.0", "localhost:5000/a/b:1.0");
    check(
        "registry.example.com/team/app",
        "registry.example.com/team/app:latest",
    );
    check("ghcr.io/owner/app:main", "ghcr.io/owner/app:main");
    check("192.168.1.10:5000/app:1", "192.168.1.10:5000/app:1");
    check("my-registry.local:443/x", "my-registry.local:443/x:latest");
    check("[::1]:5000/x:y", "[::1]:5000/x:y");
    check("[::1]/x", "[::1]/x:latest");
    check("[2001:db8::1]:443/a/b", "[2001:db8::1]:443/a/b:latest");
    // A first component with an uppercase letter is a domain, and a valid one.
    check("Foo/bar", "Foo/bar:latest");
    check("Registry.Example.COM/x", "Registry.Example.COM/x:latest");
    // A registry on docker.io's path keeps the domain in the familiar form.
    check("docker.io/foo.com/x", "docker.io/foo.com/x:latest");
}

#[test]
fn invalid_domains() {
    check(
        "-bad.com/x",
        "error: registry domain \"-bad.com\" must be a host name, an IPv4 address or an \
             [IPv6] address, optionally followed by :port (the part before the first '/' is \
             taken as a registry when it contains '.', ':' or an uppercase letter, or is \
             \"localhost\")",
    );
    let domain_error = |domain: &str| {
        ReferenceRule::InvalidDomain {
            domain: domain.to_owned(),
        }
        .to_string()
    };
    check(
        "bad-.com/x",
        &format!("error: {}", domain_error("bad-.com")),
    );
    check("a..com/x", &format!("error: {}", domain_error("a..com")));
    check(
        "foo_bar.com/x",
        &format!("error: {}", domain_error("foo_bar.com")),
    );
    check("FOO_BAR/x", &format!("error: {}", domain_error("FOO_BAR")));
    check("[::1/x", &format!("error: {}", domain_error("[::1")));
    check("[]:5000/x", &format!("error: {}", domain_error("[]:5000")));
    check("[::g]/x", &format!("error: {}", domain_error("[::g]")));
    check(
        "[::1]5000/x",
        &format!("error: {}", domain_error("[::1]5000")),
    );
    check(
        "localhost:http/x",
        "error: port \"http\" of registry \"localhost:http\" must be one or more digits",
    );
    check(
        "localhost:/x",
        "error: port \"\" of registry \"localhost:\" must be one or more digits",
    );
    check(
        "[::1]:/x",
        "error: port \"\" of registry \"[::1]:\" must be one or more digits",
    );
}

#[test]
fn digests() {
    check(
        &format!("registry.example.com:443/x@sha256:{HEX64}"),
        &format!("registry.example.com:443/x@sha256:{HEX64}"),
    );
    check(
        &format!("alpine@sha256:{HEX64}"),
        &format!("docker.io/library/alpine@sha256:{HEX64}"),
    );
    check(
        &format!("a/b:c@sha256:{HEX64}"),
        &format!("docker.io/a/b:c@sha256:{HEX64}"),
    );
    let hex128 = HEX64.repeat(2);
    check(
        &format!("x@sha512:{hex128}"),
        &format!("docker.io/library/x@sha512:{hex128}"),
    );
    check(
        &format!("x@sha384:{}", &hex128[..96]),
        &format!("docker.io/library/x@sha384:{}", &hex128[..96]),
    );
    check(
        "alpine@sha256:abc",
        "error: digest \"sha256:abc\" is invalid: sha256 needs exactly 64 hex digits, found 3",
    );
    check(
        &format!("alpine@sha256:{HEX64}0"),
        &format!(
            "error: digest \"sha256:{HEX64}0\" is invalid: sha256 needs exactly 64 hex digits, found 65"
        ),
    );
    check(
        &format!("alpine@sha512:{HEX64}"),
        &format!(
            "error: digest \"sha512:{HEX64}\" is invalid: sha512 needs exactly 128 hex digits, found 64"
        ),
    );
    check(
        &format!("alpine@sha256:{}", HEX64.to_uppercase()),
        &format!(
            "error: digest \"sha256:{}\" is invalid: sha256 hex digits must be lowercase",
            HEX64.to_uppercase()
        ),
    );
    check(
        &format!("alpine@md5:{}", &HEX64[..32]),
        &format!(
            "error: digest \"md5:{}\" is invalid: algorithm \"md5\" is not supported; use \
                 sha256, sha384 or sha512",
            &HEX64[..32]
        ),
    );
    check(
        &format!("alpine@1sha:{HEX64}"),
        &format!(
            "error: digest \"1sha:{HEX64}\" is invalid: algorithm \"1sha\" must match \
                 [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*"
        ),
    );
    check(
        &format!("alpine@sha256+:{HEX64}"),
        &format!(
            "error: digest \"sha256+:{HEX64}\" is invalid: algorithm \"sha256+\" must match \
                 [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*"
        ),
    );
    check(
        "alpine@sha256:zz",
        "error: digest \"sha256:zz\" is invalid: the part after \"sha256:\" must be hexadecimal digits",
    );
    check(
        &format!("alpine@{HEX64}"),
        &format!(
            "error: digest \"{HEX64}\" is invalid: it must be <algorithm>:<hex digits>, e.g. \
                 sha256:<64 hex digits>"
        ),
    );
    check(
        "alpine@",
        "error: digest \"\" is invalid: nothing follows '@'",
    );
    check(
        &format!("alpine@sha256:{HEX64}@sha256:{HEX64}"),
        &format!(
            "error: digest \"sha256:{HEX64}@sha256:{HEX64}\" is invalid: the part after \
                 \"sha256:\" must be hexadecimal digits"
        ),
    );
}

#[test]
fn path_separators() {
    check("a__b", "docker.io/library/a__b:latest");
    check("a_b", "docker.io/library/a_b:latest");
    check("a.b", "docker.io/library/a.b:latest");
    check("a--b", "docker.io/library/a--b:latest");
    check("a---b-c", "docker.io/library/a---b-c:latest");
    check("x/a.b_c__d-e/f", "docker.io/x/a.b_c__d-e/f:latest");
    let component_error = |component: &str| {
        format!(
            "error: path component {component:?} must be lowercase letters and digits \
                 separated by '.', '_', '__' or '-'"
        )
    };
    check("a___b", &component_error("a___b"));
    check("a.-b", &component_error("a.-b"));
    check("a..b", &component_error("a..b"));
    check("a-_b", &component_error("a-_b"));
    check("a-", &component_error("a-"));
    check("a.", &component_error("a."));
    check("user/repo_", &component_error("repo_"));
    check("_a", &component_error("_a"));
    check("user/-repo", &component_error("-repo"));
    check("bad tag!", &component_error("bad tag!"));
    check("alp\u{ef}ne", &component_error("alp\u{ef}ne"));
    check(
        "a//b",
        "error: repository path \"a//b\" has an empty component (a leading, trailing or doubled '/')",
    );
    check(
        "user/",
        "error: repository path \"user/\" has an empty component (a leading, trailing or doubled '/')",
    );
    check(
        "/alpine",
        "error: repository path \"/alpine\" has an empty component (a leading, trailing or doubled '/')",
    );
    check("localhost:5000/", "error: repository name is missing");
    check(":tag", "error: repository name is missing");
    check(
        &format!("@sha256:{HEX64}"),
        "error: repository name is missing",
    );
}

#[test]
fn uppercase_repository() {
    check("Foo", "error: repository name \"Foo\" must be lowercase");
    check(
        "foo/Bar",
        "error: repository name \"foo/Bar\" must be lowercase",
    );
    check(
        "localhost:5000/App:1",
        "error: repository name \"App\" must be lowercase",
    );
    // The path is checked as a whole before its case: a bad character wins over case.
    check(
        "My App",
        "error: path component \"My App\" must be lowercase letters and digits separated by \
             '.', '_', '__' or '-'",
    );
    // Uppercase is fine in a tag.
    check("alpine:RC-1", "docker.io/library/alpine:RC-1");
}

#[test]
fn tags() {
    check("alpine:_x", "docker.io/library/alpine:_x");
    check("alpine:3.19.1-r0", "docker.io/library/alpine:3.19.1-r0");
    check(
        "alpine:bad tag!",
        "error: tag \"bad tag!\" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
    );
    check(
        "alpine:.x",
        "error: tag \".x\" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
    );
    check(
        "alpine:-x",
        "error: tag \"-x\" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
    );
    check(
        "alpine:a:b",
        "error: tag \"a:b\" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
    );
    check("alpine:", "error: tag after ':' is empty");
    check(
        &format!("alpine:@sha256:{HEX64}"),
        "error: tag after ':' is empty",
    );
    let tag128 = "t".repeat(128);
    check(
        &format!("alpine:{tag128}"),
        &format!("docker.io/library/alpine:{tag128}"),
    );
    check(
        &format!("alpine:{tag128}x"),
        "error: tag is 129 characters; at most 128 are allowed",
    );
    // A tag that looks like a port: the ':' is in the first component, which has no '/'.
    check("alpine:5000", "docker.io/library/alpine:5000");
    // A tag followed by more path makes the first part a registry with a port.
    check("alpine:3/x", "alpine:3/x:latest");
    check(
        "alpine:3.1/x",
        "error: port \"3.1\" of registry \"alpine:3.1\" must be one or more digits",
    );
}

#[test]
fn path_length() {
    // distribution/reference v0.6.0 limits the repository path, after normalisation, to 255
    // characters; the domain does not count.
    let name247 = "a".repeat(247);
    check(&name247, &format!("docker.io/library/{name247}:latest"));
    check(
        &format!("{name247}a"),
        "error: repository path is 256 characters; at most 255 are allowed",
    );
    let path255 = "a".repeat(255);
    check(
        &format!("example.com/{path255}:tag"),
        &format!("example.com/{path255}:tag"),
    );
    check(
        &format!("example.com/{path255}a:tag"),
        "error: repository path is 256 characters; at most 255 are allowed",
    );
    // 127 × "a/" + "a": a 255-character path under Docker Hub, whose first component "a" is
    // not a registry.
    let nested = format!("{}a", "a/".repeat(127));
    check(&format!("{nested}:t"), &format!("docker.io/{nested}:t"));
    check(
        &format!("a/{nested}:t"),
        "error: repository path is 257 characters; at most 255 are allowed",
    );
    // A long domain does not count against the limit.
    let domain = format!("{}.example.com", "d".repeat(200));
    check(
        &format!("{domain}/{path255}:t"),
        &format!("{domain}/{path255}:t"),
    );
    check(
        &"x".repeat(300),
        "error: repository path is 308 characters; at most 255 are allowed",
    );
    // Tag and digest do not count.
    let long = ImageRef::parse(&format!("{name247}:{}@sha256:{HEX64}", "t".repeat(128)));
    assert!(long.is_ok(), "{long:?}");
}

#[test]
fn image_ids_and_empty() {
    check(
        HEX64,
        "error: a string of 64 hexadecimal digits is an image ID and cannot be used as a \
             repository name",
    );
    // 63 or 65 digits, or a namespace before it, make it a plain name again.
    check(
        &HEX64[..63],
        &format!("docker.io/library/{}:latest", &HEX64[..63]),
    );
    check(
        &format!("{HEX64}0"),
        &format!("docker.io/library/{HEX64}0:latest"),
    );
    check(
        &format!("user/{HEX64}"),
        &format!("docker.io/user/{HEX64}:latest"),
    );
    check(
        &HEX64.to_uppercase(),
        &format!(
            "error: repository name {:?} must be lowercase",
            HEX64.to_uppercase()
        ),
    );
    // Docker reads "sha256:<hex>" as image "sha256" with a 64-character tag.
    check(
        &format!("sha256:{HEX64}"),
        &format!("docker.io/library/sha256:{HEX64}"),
    );
    check("", "error: reference is empty");
    let error = ImageRef::parse("").unwrap_err();
    assert_eq!(error.rule, ReferenceRule::Empty);
    assert_eq!(
        error.to_string(),
        "invalid image reference \"\": reference is empty"
    );
}

#[test]
fn accessors() {
    let alpine = ImageRef::parse("alpine").unwrap();
    assert_eq!(alpine.domain(), "docker.io");
    assert_eq!(alpine.path(), "library/alpine");
    assert_eq!(alpine.tag(), Some("latest"));
    assert_eq!(alpine.digest(), None);
    assert_eq!(alpine.repository(), "docker.io/library/alpine");
    assert!(alpine.is_docker_hub());

    let pinned = ImageRef::parse(&format!("localhost:5000/a/b:1.0@sha256:{HEX64}")).unwrap();
    assert_eq!(pinned.domain(), "localhost:5000");
    assert_eq!(pinned.path(), "a/b");
    assert_eq!(pinned.tag(), Some("1.0"));
    assert_eq!(pinned.digest(), Some(format!("sha256:{HEX64}").as_str()));
    assert!(!pinned.is_docker_hub());

    let by_digest = ImageRef::parse(&format!("alpine@sha256:{HEX64}")).unwrap();
    assert_eq!(by_digest.tag(), None);
}

#[test]
fn familiar_forms() {
    let cases = [
        ("alpine", "alpine", "alpine:latest"),
        ("docker.io/library/alpine:3", "alpine", "alpine:3"),
        ("user/x", "user/x", "user/x:latest"),
        ("library/a/b", "library/a/b", "library/a/b:latest"),
        (
            "localhost:5000/x:1",
            "localhost:5000/x",
            "localhost:5000/x:1",
        ),
        ("Foo/bar", "Foo/bar", "Foo/bar:latest"),
        ("[::1]:5000/x:y", "[::1]:5000/x", "[::1]:5000/x:y"),
        (
            "docker.io/foo.com/x",
            "docker.io/foo.com/x",
            "docker.io/foo.com/x:latest",
        ),
        (
            "docker.io/localhost/x",
            "docker.io/localhost/x",
            "docker.io/localhost/x:latest",
        ),
        ("docker.io/a-b/x", "a-b/x", "a-b/x:latest"),
    ];
    for (input, repository, familiar) in cases {
        let reference = ImageRef::parse(input).unwrap();
        assert_eq!(reference.familiar_repository(), repository, "{input}");
        assert_eq!(reference.familiar(), familiar, "{input}");
        assert_eq!(ImageRef::parse(familiar).unwrap(), reference, "{input}");
    }
    let pinned = ImageRef::parse(&format!("localhost:5000/x:1@sha256:{HEX64}")).unwrap();
    assert_eq!(
        pinned.familiar(),
        format!("localhost:5000/x:1@sha256:{HEX64}")
    );
    let hub_pinned = ImageRef::parse(&format!("docker.io/library/x@sha256:{HEX64}")).unwrap();
    assert_eq!(hub_pinned.familiar(), format!("x@sha256:{HEX64}"));
}

#[test]
fn with_tag_replaces_tag_and_drops_digest() {
    let pinned = ImageRef::parse(&format!("ghcr.io/o/app:1@sha256:{HEX64}")).unwrap();
    let retagged = pinned.with_tag("2.0").unwrap();
    assert_eq!(retagged.to_string(), "ghcr.io/o/app:2.0");
    assert_eq!(retagged.digest(), None);
    assert_eq!(retagged.repository(), pinned.repository());

    let error = pinned.with_tag("bad tag!").unwrap_err();
    assert_eq!(
        error.rule,
        ReferenceRule::InvalidTag {
            tag: "bad tag!".to_owned()
        }
    );
    assert_eq!(error.value, "ghcr.io/o/app:bad tag!");
    assert_eq!(
        pinned.with_tag(&"t".repeat(129)).unwrap_err().rule,
        ReferenceRule::TagTooLong { length: 129 }
    );
    assert!(pinned.with_tag("").is_err());
    assert!(pinned.with_tag(&"t".repeat(128)).is_ok());
}

#[test]
fn equality_hash_order_and_from_str() {
    let a: ImageRef = "alpine".parse().unwrap();
    let b: ImageRef = "index.docker.io/library/alpine:latest".parse().unwrap();
    assert_eq!(a, b);
    let set: HashSet<ImageRef> = [a.clone(), b.clone()].into_iter().collect();
    assert_eq!(set.len(), 1);
    let ordered: BTreeSet<ImageRef> = ["b", "a", "a:2", "ghcr.io/x"]
        .into_iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let shown: Vec<String> = ordered.iter().map(ImageRef::to_string).collect();
    assert_eq!(
        shown,
        [
            "docker.io/library/a:2",
            "docker.io/library/a:latest",
            "docker.io/library/b:latest",
            "ghcr.io/x:latest"
        ]
    );
    assert_ne!(a, "alpine:3".parse::<ImageRef>().unwrap());
    assert!("Bad".parse::<ImageRef>().is_err());
}

#[test]
fn serde_uses_the_familiar_form() {
    let reference = ImageRef::parse("docker.io/library/alpine").unwrap();
    let json = serde_json::to_string(&reference).unwrap();
    assert_eq!(json, "\"alpine:latest\"");
    let back: ImageRef = serde_json::from_str(&json).unwrap();
    assert_eq!(back, reference);
    let listed: Vec<ImageRef> = serde_json::from_str("[\"a\", \"localhost:5000/b:1\"]").unwrap();
    assert_eq!(listed[1].domain(), "localhost:5000");

    let error = serde_json::from_str::<ImageRef>("\"foo/Bar\"").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("repository name \"foo/Bar\" must be lowercase"),
        "{error}"
    );
    assert!(serde_json::from_str::<ImageRef>("42").is_err());
}

/// A small xorshift generator, so the property test needs no extra crate and is repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Checks what must hold for any input: no panic, and a success that round-trips.
/// Returns whether `input` parsed.
fn assert_well_behaved(input: &str) -> bool {
    match ImageRef::parse(input) {
        Ok(reference) => {
            let shown = reference.to_string();
            assert_eq!(
                ImageRef::parse(&shown).as_ref(),
                Ok(&reference),
                "{input:?}"
            );
            assert_eq!(
                ImageRef::parse(&reference.familiar()).as_ref(),
                Ok(&reference),
                "{input:?}"
            );
            assert!(reference.path().len() <= ImageRef::MAX_PATH_LENGTH);
            assert!(!reference.path().bytes().any(|b| b.is_ascii_uppercase()));
            assert!(reference.tag().is_some() || reference.digest().is_some());
            assert!(reference.with_tag("x").is_ok());
            true
        }
        Err(error) => {
            assert_eq!(error.value, input);
            assert!(!error.to_string().is_empty());
            false
        }
    }
}

#[test]
fn never_panics_on_generated_input() {
    let fragments = [
        "a",
        "z",
        "Z",
        "0",
        "9",
        ".",
        "..",
        "_",
        "__",
        "___",
        "-",
        "--",
        "/",
        "//",
        ":",
        "@",
        "[",
        "]",
        "::1",
        "sha256:",
        "sha512:",
        "md5:",
        HEX64,
        "localhost",
        "docker.io",
        "index.docker.io",
        "library/",
        "5000",
        " ",
        "!",
        "\t",
        "\n",
        "\0",
        "\u{e9}",
        "\u{c9}",
        "\u{65e5}\u{672c}",
        "\u{1f600}",
        "\u{212a}",
        "\u{ff21}",
        "%",
        "#",
        "+",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = [0_usize; 2];
    for _ in 0..30_000 {
        let mut input = String::new();
        for _ in 0..rng.below(16) {
            input.push_str(fragments[rng.below(fragments.len())]);
        }
        parsed[0] += usize::from(assert_well_behaved(&input));
    }
    // Mutations of valid references hit the interesting boundaries more often.
    let seeds = [
        "alpine",
        "localhost:5000/a/b:1.0",
        "[::1]:5000/x:y",
        "a/b:c@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ];
    for _ in 0..30_000 {
        let mut chars: Vec<char> = seeds[rng.below(seeds.len())].chars().collect();
        for _ in 0..=rng.below(3) {
            let at = rng.below(chars.len() + 1);
            let fragment = fragments[rng.below(fragments.len())];
            match rng.below(3) {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 if at < chars.len() => {
                    chars[at] = fragment.chars().next().unwrap_or('a');
                }
                _ => chars.splice(at..at, fragment.chars()).for_each(drop),
            }
        }
        let input: String = chars.into_iter().collect();
        parsed[1] += usize::from(assert_well_behaved(&input));
    }
    // Both generators must reach the success path often enough to test the round trips.
    assert!(parsed.iter().all(|&count| count > 300), "{parsed:?}");
}

#[test]
fn never_panics_on_huge_or_odd_input() {
    let huge = 200_000;
    let inputs = [
        "a".repeat(huge),
        "/".repeat(huge),
        ":".repeat(huge),
        "@".repeat(huge),
        "[".repeat(huge),
        "-".repeat(huge),
        "\u{1f600}".repeat(huge / 4),
        format!("a:{}", "b".repeat(huge)),
        format!("a@sha256:{}", "f".repeat(huge)),
        format!("{}/a", "x.".repeat(huge / 2)),
        format!("[{}]/a", ":".repeat(huge)),
        format!("localhost:{}/a", "9".repeat(huge)),
        "a/".repeat(huge / 2),
        "\u{e9}/\u{e9}:\u{e9}@\u{e9}".to_owned(),
        "\u{c9}/x".to_owned(),
        "x/\u{c9}".to_owned(),
        "\0".to_owned(),
    ];
    for input in &inputs {
        assert_well_behaved(input);
    }
}
