//! `ImageId` and `Digest`: the two `sha256:<64 hex>` names of an image, kept apart by type.
//!
//! An image id names an image's config in one engine; a digest names a manifest (or index) in a
//! registry. Both are validated when made, print and serialise as the plain string, and give a
//! `short()` form for messages.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The algorithm prefix kiln accepts.
const SHA256: &str = "sha256:";
/// How many hex digits follow it.
const HEX_LEN: usize = 64;
/// How many of them `short()` keeps (as `docker images` does).
const SHORT_LEN: usize = 12;

/// A string that is not `sha256:` followed by 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: expected sha256: followed by 64 lowercase hex digits")]
pub struct DigestError {
    /// Which name this was to be ("image id", "digest").
    pub what: &'static str,
    /// The value as given.
    pub value: String,
}

impl From<DigestError> for Error {
    fn from(error: DigestError) -> Self {
        Error::InvalidInput {
            what: error.what,
            value: error.value,
            expected: "sha256: followed by 64 lowercase hex digits".to_owned(),
        }
    }
}

fn validate(what: &'static str, value: &str) -> Result<(), DigestError> {
    let valid = value.strip_prefix(SHA256).is_some_and(|hex| {
        hex.len() == HEX_LEN
            && hex
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
    });
    if valid {
        Ok(())
    } else {
        Err(DigestError {
            what,
            value: value.to_owned(),
        })
    }
}

macro_rules! sha256_name {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses `sha256:<64 lowercase hex>`.
            pub fn parse(value: &str) -> Result<Self, DigestError> {
                validate($what, value)?;
                Ok($name(value.to_owned()))
            }

            /// The `sha256:<64 hex>` string.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The 64 hex digits, without the algorithm.
            pub fn hex(&self) -> &str {
                &self.0[SHA256.len()..]
            }

            /// The first 12 hex digits, for messages.
            pub fn short(&self) -> &str {
                &self.hex()[..SHORT_LEN]
            }

            /// The name of the SHA-256 hash `bytes` (e.g. a manifest's bytes).
            pub fn from_sha256(bytes: [u8; 32]) -> Self {
                $name(format!("{SHA256}{}", hex::encode(bytes)))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = DigestError;

            fn from_str(value: &str) -> Result<Self, DigestError> {
                $name::parse(value)
            }
        }

        impl TryFrom<String> for $name {
            type Error = DigestError;

            fn try_from(value: String) -> Result<Self, DigestError> {
                validate($what, &value)?;
                Ok($name(value))
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

sha256_name!(
    /// The id of an image in an engine (`sha256:` and the hash of its config).
    ImageId,
    "image id"
);

sha256_name!(
    /// The digest of a manifest or an index in a registry (`sha256:` and the hash of its bytes).
    Digest,
    "digest"
);

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_and_prints_the_plain_string() {
        let id = ImageId::parse(&format!("sha256:{HEX}")).unwrap();
        assert_eq!(id.to_string(), format!("sha256:{HEX}"));
        assert_eq!(id.hex(), HEX);
        assert_eq!(id.short(), "0123456789ab");
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            format!("\"sha256:{HEX}\"")
        );
        let back: ImageId = serde_json::from_str(&format!("\"sha256:{HEX}\"")).unwrap();
        assert_eq!(back, id);
    }

    #[test]
    fn rejects_what_is_not_sha256_and_64_lowercase_hex() {
        for bad in [
            "",
            "sha256:",
            "sha256:1",
            HEX,
            &format!("sha512:{HEX}"),
            &format!("sha256:{}", HEX.to_uppercase()),
            &format!("sha256:{HEX}0"),
            &format!("sha256:{}g", &HEX[1..]),
            "app:latest",
        ] {
            let error = Digest::parse(bad).unwrap_err();
            assert_eq!(error.value, bad);
            assert_eq!(error.what, "digest");
            assert!(serde_json::from_str::<Digest>(&format!("{bad:?}")).is_err());
        }
        let error: Error = ImageId::parse("abc").unwrap_err().into();
        assert_eq!(error.kind(), crate::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("image id \"abc\""), "{error}");
    }
}
