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
    /// The longest repository path (after normalisation, so `library/` counts; the domain
    /// does not) a reference may have, as in distribution/reference v0.6.0.
    pub const MAX_PATH_LENGTH: usize = 255;
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
    /// The repository path (after normalisation, without the domain) is longer than 255
    /// characters.
    PathTooLong {
        /// The length of the normalised path.
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
            ReferenceRule::PathTooLong { length } => write!(
                f,
                "repository path is {length} characters; at most {} are allowed",
                ImageRef::MAX_PATH_LENGTH
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
    // distribution/reference limits the path alone (the domain is not counted), after
    // normalisation: `library/` counts for an official image.
    if path.len() > ImageRef::MAX_PATH_LENGTH {
        return Err(ReferenceRule::PathTooLong { length: path.len() });
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
mod tests;
