//! Docker image references (`alpine`, `localhost:5000/team/app:1.0`, `ghcr.io/x@sha256:…`):
//! parsing, validation against the distribution reference grammar, and Docker's normalisation.
//!
//! [`ImageRef::parse`] accepts what `docker pull` and `docker tag` accept and stores the
//! normalised form: the registry domain is always present (`docker.io` by default), official
//! images get their `library/` namespace, and a reference with neither tag nor digest gets the
//! tag `latest`. [`ReferenceError`] names the part of the input that is wrong and the rule it
//! breaks, so it can be shown to a user as is.

use std::fmt;
use std::str::FromStr;

/// The registry used when a reference names none.
const DEFAULT_DOMAIN: &str = "docker.io";
/// The old name of Docker Hub's registry, rewritten to [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The namespace of Docker Hub's official images.
const OFFICIAL_NAMESPACE: &str = "library/";
/// The tag given to a reference that has neither tag nor digest.
const DEFAULT_TAG: &str = "latest";
/// Digest algorithms Docker accepts, with the number of hex digits each needs.
const DIGEST_ALGORITHMS: [(&str, usize); 3] = [("sha256", 64), ("sha384", 96), ("sha512", 128)];

/// A parsed, validated and normalised Docker image reference.
///
/// The domain is always set (`docker.io` for Docker Hub), Docker Hub repositories without a
/// namespace live under `library/`, and at least one of tag and digest is present (`latest` is
/// filled in when the input had neither). Two references that Docker treats as the same image
/// name compare equal: `alpine` and `docker.io/library/alpine:latest` do.
///
/// [`Display`](fmt::Display) gives the full normalised form
/// (`docker.io/library/alpine:latest`); [`ImageRef::familiar`] gives the short form Docker shows
/// to users (`alpine:latest`). Both parse back to an equal value. Serde uses the familiar form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    /// The longest name (domain, `/` and path, after normalisation) a reference may have.
    pub const MAX_NAME_LENGTH: usize = 255;
    /// The longest tag a reference may have.
    pub const MAX_TAG_LENGTH: usize = 128;

    /// Parses and normalises a reference the way `docker pull` does.
    ///
    /// # Errors
    ///
    /// Returns a [`ReferenceError`] whose [`rule`](ReferenceError::rule) names the offending part
    /// when `input` is not a valid reference. Never panics, whatever the input.
    pub fn parse(input: &str) -> Result<ImageRef, ReferenceError> {
        parse_reference(input).map_err(|rule| ReferenceError {
            value: input.to_owned(),
            rule,
        })
    }

    /// The registry domain, with its port if any: `docker.io`, `localhost:5000`, `[::1]:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry: `library/alpine`, `team/app`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any. It is `Some("latest")` when the input had neither tag nor digest.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest with its algorithm, if any: `sha256:<64 hex digits>`.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The full repository name, domain and path: `docker.io/library/alpine`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository name as Docker shows it: `alpine`, `user/app`, `localhost:5000/app`.
    ///
    /// `docker.io/` and an official image's `library/` are left out, unless leaving out the
    /// domain would make the path's first component read as a registry (`docker.io/a.b/c`).
    pub fn familiar_repository(&self) -> String {
        if self.is_docker_hub() {
            if let Some(name) = self.path.strip_prefix(OFFICIAL_NAMESPACE)
                && !name.contains('/')
            {
                return name.to_owned();
            }
            let first = self.path.split('/').next().unwrap_or_default();
            if !reads_as_domain(first) {
                return self.path.clone();
            }
        }
        self.repository()
    }

    /// The reference as `docker images` shows it: `alpine:latest`,
    /// `localhost:5000/app:1@sha256:…`.
    pub fn familiar(&self) -> String {
        let mut out = self.familiar_repository();
        self.push_suffix(&mut out);
        out
    }

    /// The same repository with tag `tag` and no digest.
    ///
    /// # Errors
    ///
    /// Returns a [`ReferenceError`] with [`ReferenceRule::InvalidTag`] or
    /// [`ReferenceRule::TagTooLong`] when `tag` is not a valid tag.
    pub fn with_tag(&self, tag: &str) -> Result<ImageRef, ReferenceError> {
        check_tag(tag).map_err(|rule| ReferenceError {
            value: format!("{}:{}", self.repository(), tag),
            rule,
        })?;
        Ok(ImageRef {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: Some(tag.to_owned()),
            digest: None,
        })
    }

    /// Whether the image lives on Docker Hub (`docker.io`).
    pub fn is_docker_hub(&self) -> bool {
        self.domain == DEFAULT_DOMAIN
    }

    /// Appends `:tag` and `@digest` (those present) to `out`.
    fn push_suffix(&self, out: &mut String) {
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = self.repository();
        self.push_suffix(&mut out);
        f.write_str(&out)
    }
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

impl serde::Serialize for ImageRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.familiar())
    }
}

impl<'de> serde::Deserialize<'de> for ImageRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ImageRef::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Why a string is not a valid image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {value:?}: {rule}")]
pub struct ReferenceError {
    /// The text that was rejected.
    pub value: String,
    /// The rule it breaks, naming the offending part.
    pub rule: ReferenceRule,
}

/// The rule of the reference grammar that a rejected reference breaks.
///
/// Its [`Display`](fmt::Display) is a sentence naming the offending part and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferenceRule {
    /// The reference is the empty string.
    Empty,
    /// The whole reference is 64 lowercase hex digits, which is an image ID, not a name.
    LooksLikeImageId,
    /// The repository path has an uppercase letter.
    UppercaseRepository {
        /// The repository path as written.
        repository: String,
    },
    /// The name (domain, `/` and path, after normalisation) is longer than 255 characters.
    NameTooLong {
        /// The length of the normalised name.
        length: usize,
    },
    /// The registry domain is not a host name, IPv4 address or bracketed IPv6 address.
    InvalidDomain {
        /// The domain as written, port included.
        domain: String,
    },
    /// The registry's port is not a number.
    InvalidPort {
        /// The domain as written, port included.
        domain: String,
        /// The text after the domain's `:`.
        port: String,
    },
    /// There is no repository path at all (`localhost:5000/`, `:tag`).
    MissingRepository,
    /// The repository path has an empty component (`a//b`, `a/`, `/a`).
    EmptyPathComponent {
        /// The repository path as written.
        path: String,
    },
    /// A component of the repository path breaks the path-component grammar.
    InvalidPathComponent {
        /// The offending component.
        component: String,
    },
    /// The tag has a character a tag cannot have, or is empty.
    InvalidTag {
        /// The tag as written.
        tag: String,
    },
    /// The tag is longer than 128 characters.
    TagTooLong {
        /// The tag's length.
        length: usize,
    },
    /// The digest is malformed, uses an algorithm Docker does not support, or has the wrong
    /// number or kind of hex digits.
    InvalidDigest {
        /// The digest as written (after the `@`).
        digest: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for ReferenceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReferenceRule::Empty => f.write_str("reference is empty"),
            ReferenceRule::LooksLikeImageId => f.write_str(
                "a string of 64 hexadecimal digits is an image ID and cannot be used as a repository name",
            ),
            ReferenceRule::UppercaseRepository { repository } => {
                write!(f, "repository name {repository:?} must be lowercase")
            }
            ReferenceRule::NameTooLong { length } => write!(
                f,
                "name is {length} characters; at most {} are allowed",
                ImageRef::MAX_NAME_LENGTH
            ),
            ReferenceRule::InvalidDomain { domain } => write!(
                f,
                "registry domain {domain:?} must be a host name, an IPv4 address or an [IPv6] \
                 address, optionally followed by :port (the part before the first '/' is taken \
                 as a registry when it contains '.', ':' or an uppercase letter, or is \
                 \"localhost\")"
            ),
            ReferenceRule::InvalidPort { domain, port } => write!(
                f,
                "port {port:?} of registry {domain:?} must be one or more digits"
            ),
            ReferenceRule::MissingRepository => f.write_str("repository name is missing"),
            ReferenceRule::EmptyPathComponent { path } => write!(
                f,
                "repository path {path:?} has an empty component (a leading, trailing or doubled '/')"
            ),
            ReferenceRule::InvalidPathComponent { component } => write!(
                f,
                "path component {component:?} must be lowercase letters and digits separated by \
                 '.', '_', '__' or '-'"
            ),
            ReferenceRule::InvalidTag { tag } if tag.is_empty() => {
                f.write_str("tag after ':' is empty")
            }
            ReferenceRule::InvalidTag { tag } => write!(
                f,
                "tag {tag:?} must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"
            ),
            ReferenceRule::TagTooLong { length } => write!(
                f,
                "tag is {length} characters; at most {} are allowed",
                ImageRef::MAX_TAG_LENGTH
            ),
            ReferenceRule::InvalidDigest { digest, reason } => {
                write!(f, "digest {digest:?} is invalid: {reason}")
            }
        }
    }
}

/// Parses `input` into its normalised parts, or says which rule it breaks.
fn parse_reference(input: &str) -> Result<ImageRef, ReferenceRule> {
    if input.is_empty() {
        return Err(ReferenceRule::Empty);
    }
    if input.len() == 64
        && input
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(ReferenceRule::LooksLikeImageId);
    }

    let (domain, remainder) = split_domain(input);
    let (name_and_tag, digest) = match remainder.split_once('@') {
        Some((name_and_tag, digest)) => (name_and_tag, Some(digest)),
        None => (remainder, None),
    };
    let (path, tag) = match name_and_tag.split_once(':') {
        Some((path, tag)) => (path, Some(tag)),
        None => (name_and_tag, None),
    };

    check_domain(domain)?;
    check_path(path)?;
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    if let Some(digest) = digest {
        check_digest(digest)?;
    }

    let domain = if domain == LEGACY_DEFAULT_DOMAIN {
        DEFAULT_DOMAIN
    } else {
        domain
    };
    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
        format!("{OFFICIAL_NAMESPACE}{path}")
    } else {
        path.to_owned()
    };
    let length = domain.len() + 1 + path.len();
    if length > ImageRef::MAX_NAME_LENGTH {
        return Err(ReferenceRule::NameTooLong { length });
    }

    let tag = match (tag, digest) {
        (None, None) => Some(DEFAULT_TAG.to_owned()),
        (tag, _) => tag.map(str::to_owned),
    };
    Ok(ImageRef {
        domain: domain.to_owned(),
        path,
        tag,
        digest: digest.map(str::to_owned),
    })
}

/// Splits the registry domain off `input` as Docker does, returning `(domain, remainder)`.
///
/// The text before the first `/` is the domain only when it reads as one; otherwise the
/// domain is Docker Hub's and the whole input is the remainder.
fn split_domain(input: &str) -> (&str, &str) {
    match input.split_once('/') {
        Some((first, rest)) if reads_as_domain(first) => (first, rest),
        _ => (DEFAULT_DOMAIN, input),
    }
}

/// Whether Docker reads `first`, the text before a reference's first `/`, as a registry.
fn reads_as_domain(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost" || first.chars().any(char::is_uppercase)
}

/// Checks `domain := host [':' port]`, `host := domain-name | '[' IPv6 ']'`.
fn check_domain(domain: &str) -> Result<(), ReferenceRule> {
    let invalid = || ReferenceRule::InvalidDomain {
        domain: domain.to_owned(),
    };
    let port = if let Some(bracketed) = domain.strip_prefix('[') {
        let (address, after) = bracketed.split_once(']').ok_or_else(invalid)?;
        let address_ok =
            !address.is_empty() && address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
        if !address_ok {
            return Err(invalid());
        }
        if after.is_empty() {
            None
        } else {
            Some(after.strip_prefix(':').ok_or_else(invalid)?)
        }
    } else {
        let (host, port) = match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        };
        if !host.split('.').all(is_domain_component) {
            return Err(invalid());
        }
        port
    };
    match port {
        Some(port) if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) => {
            Err(ReferenceRule::InvalidPort {
                domain: domain.to_owned(),
                port: port.to_owned(),
            })
        }
        _ => Ok(()),
    }
}

/// Whether `component` matches `[a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
fn is_domain_component(component: &str) -> bool {
    !component.is_empty()
        && !component.starts_with('-')
        && !component.ends_with('-')
        && component
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Checks the repository path: `path-component ['/' path-component]*`, all lowercase.
///
/// Components are first checked with uppercase letters allowed, so that a path that is only
/// wrong by its case gets the more helpful lowercase message.
fn check_path(path: &str) -> Result<(), ReferenceRule> {
    if path.is_empty() {
        return Err(ReferenceRule::MissingRepository);
    }
    for component in path.split('/') {
        if component.is_empty() {
            return Err(ReferenceRule::EmptyPathComponent {
                path: path.to_owned(),
            });
        }
        if !is_path_component(component) {
            return Err(ReferenceRule::InvalidPathComponent {
                component: component.to_owned(),
            });
        }
    }
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ReferenceRule::UppercaseRepository {
            repository: path.to_owned(),
        });
    }
    Ok(())
}

/// Whether `component` matches `alpha-numeric [separator alpha-numeric]*` with
/// `separator := [_.] | "__" | [-]+`, letters of either case counting as alphanumeric.
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let mut at = 0;
    loop {
        let run_start = at;
        while bytes.get(at).is_some_and(u8::is_ascii_alphanumeric) {
            at += 1;
        }
        if at == run_start {
            // Empty component, leading separator, two separators in a row or a bad character.
            return false;
        }
        match bytes.get(at) {
            None => return true,
            Some(b'.') => at += 1,
            Some(b'_') => {
                at += 1;
                if bytes.get(at) == Some(&b'_') {
                    at += 1;
                }
            }
            Some(b'-') => {
                while bytes.get(at) == Some(&b'-') {
                    at += 1;
                }
            }
            Some(_) => return false,
        }
    }
}

/// Checks `tag := [\w][\w.-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), ReferenceRule> {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut bytes = tag.bytes();
    let well_formed = match bytes.next() {
        Some(first) => is_word(first) && bytes.all(|b| is_word(b) || b == b'.' || b == b'-'),
        None => false,
    };
    if !well_formed {
        return Err(ReferenceRule::InvalidTag {
            tag: tag.to_owned(),
        });
    }
    if tag.len() > ImageRef::MAX_TAG_LENGTH {
        return Err(ReferenceRule::TagTooLong { length: tag.len() });
    }
    Ok(())
}

/// Checks a digest: `algorithm ":" hex`, with an algorithm Docker supports and exactly as many
/// lowercase hex digits as that algorithm produces.
fn check_digest(digest: &str) -> Result<(), ReferenceRule> {
    let invalid = |reason: String| {
        Err(ReferenceRule::InvalidDigest {
            digest: digest.to_owned(),
            reason,
        })
    };
    if digest.is_empty() {
        return invalid("nothing follows '@'".to_owned());
    }
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return invalid(
            "it must be <algorithm>:<hex digits>, e.g. sha256:<64 hex digits>".to_owned(),
        );
    };
    if !is_digest_algorithm(algorithm) {
        return invalid(format!(
            "algorithm {algorithm:?} must match [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*"
        ));
    }
    let Some(&(_, expected)) = DIGEST_ALGORITHMS
        .iter()
        .find(|(name, _)| *name == algorithm)
    else {
        return invalid(format!(
            "algorithm {algorithm:?} is not supported; use sha256, sha384 or sha512"
        ));
    };
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return invalid(format!(
            "the part after \"{algorithm}:\" must be hexadecimal digits"
        ));
    }
    if hex.len() != expected {
        return invalid(format!(
            "{algorithm} needs exactly {expected} hex digits, found {}",
            hex.len()
        ));
    }
    if hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return invalid(format!("{algorithm} hex digits must be lowercase"));
    }
    Ok(())
}

/// Whether `algorithm` matches `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*`.
fn is_digest_algorithm(algorithm: &str) -> bool {
    algorithm.split(['-', '_', '+', '.']).all(|part| {
        let mut bytes = part.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
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
    fn name_length() {
        // "docker.io/library/" is 18 characters.
        let name237 = "a".repeat(237);
        check(&name237, &format!("docker.io/library/{name237}:latest"));
        check(
            &format!("{name237}a"),
            "error: name is 256 characters; at most 255 are allowed",
        );
        // "example.com/" is 12 characters.
        let path243 = format!("{}/{}", "b".repeat(121), "c".repeat(121));
        check(
            &format!("example.com/{path243}:t"),
            &format!("example.com/{path243}:t"),
        );
        check(
            &format!("example.com/{path243}d:t"),
            "error: name is 256 characters; at most 255 are allowed",
        );
        check(
            &"x".repeat(300),
            "error: name is 318 characters; at most 255 are allowed",
        );
        // Tag and digest do not count.
        let long = ImageRef::parse(&format!("{name237}:{}@sha256:{HEX64}", "t".repeat(128)));
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
        let listed: Vec<ImageRef> =
            serde_json::from_str("[\"a\", \"localhost:5000/b:1\"]").unwrap();
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
                assert!(reference.repository().len() <= ImageRef::MAX_NAME_LENGTH);
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
}
