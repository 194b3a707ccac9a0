//! The inputs of a build, their fingerprint, and what changed between two of them.
//!
//! An [`InputsManifest`] lists every input that decides what a build produces; its
//! [`Fingerprint`] is the SHA-256 of its canonical JSON. Nothing machine-specific enters it: paths
//! are relative to the context, times are left out, secret build args appear only as keyed
//! hashes (HMAC-SHA256 with a [`SecretKey`] kept per cache directory).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::BuilderKind;

/// Version of the manifest's layout and of what it covers. A change makes old records misses.
/// Version 2: paths and link targets are their raw bytes, escaped (see [`escape_path`]).
/// Version 3: secret build args are keyed hashes ([`ArgInput::SecretHmacSha256`]).
pub const FINGERPRINT_SCHEMA: u32 = 3;

/// Label carrying the fingerprint of the inputs an image was built from (on every BuildKit
/// image, and on classic images that are pushed).
pub const FINGERPRINT_LABEL: &str = "dev.kiln.fingerprint";

/// The fingerprint of a build's inputs: 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Accepts a fingerprint read back from storage: exactly 64 lowercase hex characters.
    pub fn parse(text: &str) -> Option<Fingerprint> {
        let valid =
            text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        valid.then(|| Fingerprint(text.to_owned()))
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 characters, for messages.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How much work computing the context's inputs took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputStats {
    /// Entries in the context.
    pub entries: usize,
    /// Files whose contents were read and hashed (the rest came from the stat index).
    pub hashed_files: usize,
    /// Bytes read to hash them.
    pub hashed_bytes: u64,
}

/// A SHA-256 digest; serialised as 64 lowercase hex characters without a heap allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    fn write_hex<'a>(&self, buffer: &'a mut [u8; 64]) -> &'a str {
        hex::encode_to_slice(self.0, buffer).expect("64 bytes hold 32 in hex");
        std::str::from_utf8(buffer).expect("hex is ASCII")
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.write_hex(&mut [0; 64]))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.write_hex(&mut [0; 64]))
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.as_bytes(), &mut bytes).map_err(serde::de::Error::custom)?;
        Ok(Sha256Digest(bytes))
    }
}

/// The type of a context entry, as far as the image can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A named pipe.
    Fifo,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
}

/// A path's raw bytes as manifest text: UTF-8 stays as it is, a backslash is written `\\` and
/// every byte that is not part of valid UTF-8 `\xhh` (`bad\xff`). Distinct byte strings give
/// distinct texts, and [`path_bytes`] gives the bytes back.
pub fn escape_path(bytes: &[u8]) -> String {
    // Nearly every path: valid UTF-8 without a backslash, copied as it is.
    if let Ok(text) = std::str::from_utf8(bytes)
        && !text.contains('\\')
    {
        return text.to_owned();
    }
    let mut text = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for (index, part) in chunk.valid().split('\\').enumerate() {
            if index > 0 {
                text.push_str("\\\\");
            }
            text.push_str(part);
        }
        for byte in chunk.invalid() {
            text.push_str(&format!("\\x{byte:02x}"));
        }
    }
    text
}

/// The raw bytes of a path written by [`escape_path`]; `None` when `text` is not such a path
/// (a lone backslash, or `\x` without two lowercase hex digits).
pub fn path_bytes(text: &str) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first != b'\\' {
            bytes.push(first);
            rest = tail;
            continue;
        }
        match tail {
            [b'\\', tail @ ..] => {
                bytes.push(b'\\');
                rest = tail;
            }
            [b'x', high, low, tail @ ..] => {
                bytes.push(hex_digit(*high)? << 4 | hex_digit(*low)?);
                rest = tail;
            }
            _ => return None,
        }
    }
    Some(bytes)
}

/// The value of a lowercase hex digit.
fn hex_digit(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

/// One context entry as an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInput {
    /// Path relative to the context root, `/`-separated, its raw bytes escaped by
    /// [`escape_path`].
    pub path: String,
    /// What it is.
    pub kind: FileKind,
    /// Permission bits (`0o7777` mask).
    pub mode: u32,
    /// SHA-256 of the contents (regular files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Sha256Digest>,
    /// The link target (symlinks), escaped as `path` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// The key that secret build args are hashed with: random, one per cache directory, so that
/// a manifest on disk cannot be reversed by hashing guesses (a bare SHA-256 could be).
#[derive(Clone)]
pub struct SecretKey(ring::hmac::Key);

impl SecretKey {
    /// Bytes the key is made of (32 random ones, as the cache directory keeps them).
    pub const LEN: usize = 32;

    /// The key made of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        SecretKey(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes))
    }

    /// [`SecretKey::LEN`] random bytes from the system (`None`: it has none to give).
    pub fn random_bytes() -> Option<[u8; SecretKey::LEN]> {
        use ring::rand::SecureRandom;
        let mut bytes = [0u8; SecretKey::LEN];
        ring::rand::SystemRandom::new().fill(&mut bytes).ok()?;
        Some(bytes)
    }

    /// HMAC-SHA256 of `value` under this key, as hex.
    fn hash(&self, value: &str) -> String {
        hex::encode(ring::hmac::sign(&self.0, value.as_bytes()).as_ref())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// A build arg as an input: its value, or only a keyed hash of it when it is secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgInput {
    /// A plain value.
    Value(String),
    /// The HMAC-SHA256 of a secret value under the cache directory's [`SecretKey`] (read
    /// back from records of schema 2 and older, it is a bare SHA-256).
    #[serde(alias = "secret_sha256")]
    SecretHmacSha256(String),
}

impl ArgInput {
    /// The input for `value`: hashed with `secret_key` when the arg is secret (`Some`).
    pub fn new(value: &str, secret_key: Option<&SecretKey>) -> Self {
        match secret_key {
            Some(key) => ArgInput::SecretHmacSha256(key.hash(value)),
            None => ArgInput::Value(value.to_owned()),
        }
    }
}

/// Everything that decides what a build produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputsManifest {
    /// [`FINGERPRINT_SCHEMA`] at the time of the build.
    pub schema: u32,
    /// SHA-256 of the Dockerfile actually used.
    pub dockerfile: String,
    /// Context entries after `.dockerignore`, sorted by path.
    pub files: Vec<FileInput>,
    /// Build args passed, defaults included.
    pub build_args: BTreeMap<String, ArgInput>,
    /// The target stage.
    pub target: Option<String>,
    /// The target platform.
    pub platform: String,
    /// The build mode used.
    pub build_mode: String,
    /// The runtime mode.
    pub runtime_mode: String,
    /// The builder.
    pub builder: BuilderKind,
    /// Base images named in `FROM` lines (after `ARG` substitution) → their image id, or `None`
    /// when the engine does not have them.
    pub base_images: BTreeMap<String, Option<String>>,
    /// Labels requested for the image.
    pub labels: BTreeMap<String, String>,
}

struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl InputsManifest {
    /// The fingerprint: SHA-256 of the manifest's canonical JSON (fields in declaration order,
    /// maps sorted), streamed into the hash without building the text. The JSON comes in
    /// pieces of a few bytes: a buffer hands them to the hash in blocks.
    pub fn fingerprint(&self) -> Fingerprint {
        let mut writer = std::io::BufWriter::with_capacity(1 << 16, HashWriter(Sha256::new()));
        serde_json::to_writer(&mut writer, self).expect("a manifest always serialises");
        let hasher = writer
            .into_inner()
            .unwrap_or_else(|_| unreachable!("writing into a hash cannot fail"));
        Fingerprint(hex::encode(hasher.0.finalize()))
    }

    /// What differs in `self` (the new inputs) from `previous`, in a stable order.
    pub fn changes_since(&self, previous: &InputsManifest) -> Vec<Change> {
        let mut changes = Vec::new();
        if self.schema != previous.schema {
            changes.push(Change::SchemaChanged {
                old: previous.schema,
                new: self.schema,
            });
        }
        if self.dockerfile != previous.dockerfile {
            changes.push(Change::DockerfileChanged);
        }
        for (kind, old, new) in [
            ("platform", &previous.platform, &self.platform),
            ("build_mode", &previous.build_mode, &self.build_mode),
            ("runtime_mode", &previous.runtime_mode, &self.runtime_mode),
        ] {
            if old != new {
                changes.push(Change::setting(kind, old.clone(), new.clone()));
            }
        }
        if self.target != previous.target {
            changes.push(Change::setting(
                "target",
                previous.target.clone().unwrap_or_default(),
                self.target.clone().unwrap_or_default(),
            ));
        }
        if self.builder != previous.builder {
            changes.push(Change::setting(
                "builder",
                previous.builder.to_string(),
                self.builder.to_string(),
            ));
        }
        diff_maps(
            &previous.build_args,
            &self.build_args,
            &mut changes,
            |name, how| Change::BuildArg { name, how },
        );
        diff_maps(&previous.labels, &self.labels, &mut changes, |name, how| {
            Change::Label { name, how }
        });
        let names: BTreeSet<&String> = previous
            .base_images
            .keys()
            .chain(self.base_images.keys())
            .collect();
        for name in names {
            let (old, new) = (previous.base_images.get(name), self.base_images.get(name));
            if old != new {
                changes.push(Change::BaseImageChanged {
                    name: name.clone(),
                    old: old.cloned().flatten(),
                    new: new.cloned().flatten(),
                });
            }
        }
        diff_files(&previous.files, &self.files, &mut changes);
        changes
    }
}

fn diff_maps<V: PartialEq>(
    old: &BTreeMap<String, V>,
    new: &BTreeMap<String, V>,
    changes: &mut Vec<Change>,
    change: impl Fn(String, How) -> Change,
) {
    for (name, value) in new {
        match old.get(name) {
            None => changes.push(change(name.clone(), How::Added)),
            Some(previous) if previous != value => changes.push(change(name.clone(), How::Changed)),
            Some(_) => {}
        }
    }
    for name in old.keys().filter(|name| !new.contains_key(*name)) {
        changes.push(change(name.clone(), How::Removed));
    }
}

/// Both lists are sorted by path: one merge pass.
fn diff_files(old: &[FileInput], new: &[FileInput], changes: &mut Vec<Change>) {
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let order = match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) => a.path.as_bytes().cmp(b.path.as_bytes()),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                changes.push(Change::File {
                    path: old[i].path.clone(),
                    how: How::Removed,
                });
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                changes.push(Change::File {
                    path: new[j].path.clone(),
                    how: How::Added,
                });
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                if old[i] != new[j] {
                    changes.push(Change::File {
                        path: new[j].path.clone(),
                        how: How::Changed,
                    });
                }
                i += 1;
                j += 1;
            }
        }
    }
}

/// Whether something was added, removed or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// New since the last build.
    Added,
    /// Gone since the last build.
    Removed,
    /// Different since the last build (contents, mode, type or target for files).
    Changed,
}

/// One difference between a build's inputs and the last recorded build of the same image.
///
/// Values of build args never appear: only their names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// No build of this image is recorded.
    NoPreviousBuild,
    /// The inputs are those of a recorded build, but its image is gone from the engine.
    ImageMissing {
        /// The image id the record names.
        image_id: String,
    },
    /// A context file was added, removed or changed.
    File {
        /// Its path in the context.
        path: String,
        /// What happened to it.
        how: How,
    },
    /// The Dockerfile's contents changed.
    DockerfileChanged,
    /// A build arg was added, removed or changed (its value is never shown).
    BuildArg {
        /// The arg's name.
        name: String,
        /// What happened to it.
        how: How,
    },
    /// A label was added, removed or changed.
    Label {
        /// The label's name.
        name: String,
        /// What happened to it.
        how: How,
    },
    /// A setting changed: `platform`, `build_mode`, `runtime_mode`, `target` or `builder`.
    Setting {
        /// Which setting.
        name: String,
        /// The recorded value.
        old: String,
        /// The value now.
        new: String,
    },
    /// A base image resolves to another image id (or appeared, or disappeared).
    BaseImageChanged {
        /// The image as named in `FROM`.
        name: String,
        /// The recorded image id.
        old: Option<String>,
        /// The image id now.
        new: Option<String>,
    },
    /// The record was made by another fingerprint schema.
    SchemaChanged {
        /// The recorded schema.
        old: u32,
        /// The schema now.
        new: u32,
    },
}

impl Change {
    fn setting(name: &str, old: String, new: String) -> Change {
        Change::Setting {
            name: name.to_owned(),
            old,
            new,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = |how: &How| match how {
            How::Added => "added",
            How::Removed => "removed",
            How::Changed => "changed",
        };
        match self {
            Change::NoPreviousBuild => f.write_str("no previous build of this image is recorded"),
            Change::ImageMissing { image_id } => {
                write!(f, "inputs unchanged, image {image_id} missing")
            }
            Change::File { path, how: h } => write!(f, "file {path} {}", how(h)),
            Change::DockerfileChanged => f.write_str("Dockerfile changed"),
            Change::BuildArg { name, how: h } => write!(f, "build arg {name} {}", how(h)),
            Change::Label { name, how: h } => write!(f, "label {name} {}", how(h)),
            Change::Setting { name, old, new } => {
                write!(f, "{name} changed from {old:?} to {new:?}")
            }
            Change::BaseImageChanged { name, old, new } => write!(
                f,
                "base image {name} changed from {} to {}",
                old.as_deref().unwrap_or("(absent)"),
                new.as_deref().unwrap_or("(absent)")
            ),
            Change::SchemaChanged { old, new } => {
                write!(f, "fingerprint schema changed from {old} to {new}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, digest: &str) -> FileInput {
        FileInput {
            path: path.into(),
            kind: FileKind::File,
            mode: 0o644,
            digest: Some(Sha256Digest::of(digest.as_bytes())),
            target: None,
        }
    }

    fn key() -> SecretKey {
        SecretKey::from_bytes(&[7; SecretKey::LEN])
    }

    fn manifest() -> InputsManifest {
        InputsManifest {
            schema: FINGERPRINT_SCHEMA,
            dockerfile: "d1".into(),
            files: vec![file("a", "1"), file("b/c", "2"), file("d", "3")],
            build_args: BTreeMap::from([
                ("BUILD_MODE".into(), ArgInput::Value("".into())),
                ("TOKEN".into(), ArgInput::new("hunter2", Some(&key()))),
            ]),
            target: None,
            platform: "linux/amd64".into(),
            build_mode: "".into(),
            runtime_mode: "minimal".into(),
            builder: BuilderKind::Classic,
            base_images: BTreeMap::from([("base:1".into(), Some("sha256:old".into()))]),
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn fingerprint_is_stable_and_sensitive() {
        let one = manifest();
        assert_eq!(one.fingerprint(), manifest().fingerprint());
        assert_eq!(one.fingerprint().as_str().len(), 64);
        let mut other = manifest();
        other.files[1].mode = 0o755;
        assert_ne!(one.fingerprint(), other.fingerprint());
        assert!(Fingerprint::parse(one.fingerprint().as_str()).is_some());
        assert!(Fingerprint::parse("not-hex").is_none());
    }

    #[test]
    fn the_fingerprint_is_the_hash_of_the_whole_json_text() {
        let mut large = manifest();
        large.files = (0..3000u32)
            .map(|n| FileInput {
                path: format!("dir{}/file{n}", n % 7),
                kind: FileKind::File,
                mode: 0o644,
                digest: Some(Sha256Digest::of(&n.to_le_bytes())),
                target: None,
            })
            .collect();
        for manifest in [manifest(), large] {
            let text = serde_json::to_vec(&manifest).unwrap();
            assert_eq!(
                manifest.fingerprint().as_str(),
                hex::encode(Sha256::digest(&text)),
                "{} bytes of JSON",
                text.len()
            );
        }
    }

    #[test]
    fn paths_keep_their_raw_bytes_escaped() {
        let cases: [(&[u8], &str); 6] = [
            (b"plain/a.c", "plain/a.c"),
            ("caf\u{e9}".as_bytes(), "caf\u{e9}"),
            (b"bad\xff", "bad\\xff"),
            (b"bad\xfe", "bad\\xfe"),
            (b"bad\\xff", "bad\\\\xff"),
            (b"\xc3(\\", "\\xc3(\\\\"),
        ];
        let mut seen = BTreeSet::new();
        for (bytes, text) in cases {
            assert_eq!(escape_path(bytes), text);
            assert_eq!(path_bytes(text).as_deref(), Some(bytes), "{text}");
            assert!(seen.insert(text), "{text} given twice");
        }
        for bad in ["\\", "a\\q", "\\x1", "\\xFF", "\\x+f"] {
            assert_eq!(path_bytes(bad), None, "{bad}");
        }
        let change = Change::File {
            path: escape_path(b"bad\xfe"),
            how: How::Added,
        };
        assert_eq!(change.to_string(), "file bad\\xfe added");
    }

    #[test]
    fn digests_serialise_as_hex() {
        let digest = Sha256Digest::of(b"abc");
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(
            json,
            "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\""
        );
        assert_eq!(serde_json::from_str::<Sha256Digest>(&json).unwrap(), digest);
        assert!(serde_json::from_str::<Sha256Digest>("\"xyz\"").is_err());
    }

    #[test]
    fn secrets_enter_only_as_keyed_hashes() {
        let json = serde_json::to_string(&manifest()).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        let bare = hex::encode(Sha256::digest(b"hunter2"));
        assert!(!json.contains(&bare), "a dictionary could reverse {json}");
        let key = key();
        assert_ne!(
            ArgInput::new("a", Some(&key)),
            ArgInput::new("b", Some(&key))
        );
        assert_eq!(
            ArgInput::new("a", Some(&key)),
            ArgInput::new("a", Some(&key))
        );
        let other = SecretKey::from_bytes(&[8; SecretKey::LEN]);
        assert_ne!(
            ArgInput::new("a", Some(&key)),
            ArgInput::new("a", Some(&other))
        );
        assert_eq!(format!("{key:?}"), "SecretKey(..)");
    }

    #[test]
    fn the_keyed_hash_is_hmac_sha256() {
        // RFC 4231, test case 2.
        let key = SecretKey::from_bytes(b"Jefe");
        assert_eq!(
            ArgInput::new("what do ya want for nothing?", Some(&key)),
            ArgInput::SecretHmacSha256(
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843".into()
            )
        );
    }

    #[test]
    fn old_records_with_bare_hashes_still_read() {
        let old: ArgInput = serde_json::from_str(r#"{"secret_sha256":"ab"}"#).unwrap();
        assert_eq!(old, ArgInput::SecretHmacSha256("ab".into()));
    }

    #[test]
    fn changes_are_named() {
        let old = manifest();
        let mut new = manifest();
        new.dockerfile = "d2".into();
        new.files = vec![file("a", "1"), file("b/c", "changed"), file("e", "4")];
        new.build_args
            .insert("TOKEN".into(), ArgInput::new("other", Some(&key())));
        new.build_args
            .insert("EXTRA".into(), ArgInput::Value("x".into()));
        new.platform = "linux/arm64".into();
        new.base_images
            .insert("base:1".into(), Some("sha256:new".into()));
        let changes = new.changes_since(&old);
        insta::assert_json_snapshot!(changes);
        let text: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert!(
            !text.join("\n").contains("other"),
            "no arg values in explanations"
        );
    }

    #[test]
    fn identical_manifests_have_no_changes() {
        assert!(manifest().changes_since(&manifest()).is_empty());
    }
}
