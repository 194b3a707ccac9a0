//! `ContainerId`, `NetworkId` and `LabelFilter`: the names of runtime resources and how to select
//! them by label.
//!
//! Both ids are the daemon's 64 lowercase hex digits, checked when made, printed and serialised
//! as the plain string, with a `short()` form (12 digits, as `docker ps` prints them).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// How many hex digits a container or network id has.
const ID_LEN: usize = 64;
/// How many of them `short()` keeps.
const SHORT_LEN: usize = 12;

/// A string that is not 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: expected 64 lowercase hex digits")]
pub struct ResourceIdError {
    /// Which id this was to be ("container id", "network id").
    pub what: &'static str,
    /// The value as given.
    pub value: String,
}

impl From<ResourceIdError> for Error {
    fn from(error: ResourceIdError) -> Self {
        Error::InvalidInput {
            what: error.what,
            value: error.value,
            expected: "64 lowercase hex digits".to_owned(),
        }
    }
}

fn validate(what: &'static str, value: &str) -> Result<(), ResourceIdError> {
    let valid = value.len() == ID_LEN
        && value
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
    if valid {
        Ok(())
    } else {
        Err(ResourceIdError {
            what,
            value: value.to_owned(),
        })
    }
}

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses 64 lowercase hex digits.
            pub fn parse(value: &str) -> Result<Self, ResourceIdError> {
                validate($what, value)?;
                Ok($name(value.to_owned()))
            }

            /// The 64 hex digits.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The first 12 hex digits, for messages.
            pub fn short(&self) -> &str {
                &self.0[..SHORT_LEN]
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = ResourceIdError;

            fn from_str(value: &str) -> Result<Self, ResourceIdError> {
                $name::parse(value)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ResourceIdError;

            fn try_from(value: String) -> Result<Self, ResourceIdError> {
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
    };
}

hex_id!(
    /// The id of a container in an engine.
    ContainerId,
    "container id"
);

hex_id!(
    /// The id of a network in an engine.
    NetworkId,
    "network id"
);

/// One condition of a [`LabelFilter`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
enum LabelTerm {
    /// The label is set, to any value.
    Present(String),
    /// The label is set to this value.
    Equals(String, String),
}

/// Which containers or networks to select by their labels: every condition must hold. The
/// empty filter ([`LabelFilter::any`]) selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LabelFilter {
    terms: Vec<LabelTerm>,
}

impl LabelFilter {
    /// Selects everything.
    pub fn any() -> Self {
        LabelFilter::default()
    }

    /// Also requires the label `key`, with any value.
    pub fn has(mut self, key: impl Into<String>) -> Self {
        self.terms.push(LabelTerm::Present(key.into()));
        self
    }

    /// Also requires the label `key` to be `value`.
    pub fn equals(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.terms.push(LabelTerm::Equals(key.into(), value.into()));
        self
    }

    /// Parses one condition as Docker writes it: `key` or `key=value`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the key is empty.
    pub fn parse(term: &str) -> Result<Self, Error> {
        let (key, value) = match term.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (term, None),
        };
        if key.trim().is_empty() {
            return Err(Error::invalid_input(
                "label filter",
                term,
                "key or key=value with a non-empty key",
            ));
        }
        Ok(match value {
            Some(value) => LabelFilter::any().equals(key, value),
            None => LabelFilter::any().has(key),
        })
    }

    /// Whether the filter selects everything.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether `labels` satisfy every condition.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.terms.iter().all(|term| match term {
            LabelTerm::Present(key) => labels.contains_key(key),
            LabelTerm::Equals(key, value) => labels.get(key) == Some(value),
        })
    }

    /// The conditions as Docker's `label` filter values: `key` or `key=value`.
    pub fn docker_terms(&self) -> Vec<String> {
        self.terms
            .iter()
            .map(|term| match term {
                LabelTerm::Present(key) => key.clone(),
                LabelTerm::Equals(key, value) => format!("{key}={value}"),
            })
            .collect()
    }
}

impl fmt::Display for LabelFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("any labels");
        }
        f.write_str(&self.docker_terms().join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn ids_parse_print_and_shorten() {
        let id = ContainerId::parse(HEX).unwrap();
        assert_eq!(id.to_string(), HEX);
        assert_eq!(id.short(), "0123456789ab");
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{HEX}\""));
        let back: NetworkId = serde_json::from_str(&format!("\"{HEX}\"")).unwrap();
        assert_eq!(back.as_str(), HEX);
    }

    #[test]
    fn ids_reject_what_is_not_64_lowercase_hex() {
        for bad in [
            "",
            "abc",
            &HEX.to_uppercase(),
            &format!("sha256:{HEX}"),
            &HEX[1..],
        ] {
            let error = ContainerId::parse(bad).unwrap_err();
            assert_eq!(error.value, bad);
            assert!(serde_json::from_str::<NetworkId>(&format!("{bad:?}")).is_err());
        }
        let error: Error = NetworkId::parse("nope").unwrap_err().into();
        assert_eq!(error.kind(), crate::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("network id \"nope\""), "{error}");
    }

    #[test]
    fn filters_match_every_condition() {
        let labels = BTreeMap::from([
            ("dev.kiln.managed".to_owned(), "true".to_owned()),
            ("dev.kiln.test".to_owned(), "handshake".to_owned()),
        ]);
        assert!(LabelFilter::any().matches(&labels));
        assert!(LabelFilter::any().matches(&BTreeMap::new()));
        let filter = LabelFilter::any()
            .has("dev.kiln.managed")
            .equals("dev.kiln.test", "handshake");
        assert!(filter.matches(&labels));
        assert!(!filter.matches(&BTreeMap::new()));
        assert!(
            !LabelFilter::any()
                .equals("dev.kiln.test", "other")
                .matches(&labels)
        );
        assert_eq!(
            filter.docker_terms(),
            ["dev.kiln.managed", "dev.kiln.test=handshake"]
        );
        assert_eq!(
            filter.to_string(),
            "dev.kiln.managed,dev.kiln.test=handshake"
        );
    }

    #[test]
    fn filters_parse_docker_terms() {
        assert_eq!(
            LabelFilter::parse("a=b").unwrap(),
            LabelFilter::any().equals("a", "b")
        );
        assert_eq!(
            LabelFilter::parse("a").unwrap(),
            LabelFilter::any().has("a")
        );
        assert_eq!(
            LabelFilter::parse("a=").unwrap(),
            LabelFilter::any().equals("a", "")
        );
        let error = LabelFilter::parse("=b").unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::InvalidInput);
    }
}
