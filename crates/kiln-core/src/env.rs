//! The process environment behind a trait, so configuration can be tested without touching it.
//!
//! This is the one module that reads `std::env`; everything else receives an [`Env`].

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;

/// Read access to environment variables.
pub trait Env: Send + Sync + Debug {
    /// The value of `key`, if set and valid Unicode.
    fn var(&self, key: &str) -> Option<String>;

    /// The value of `key` as a path, if set and non-empty.
    fn path(&self, key: &str) -> Option<PathBuf> {
        self.var(key)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    }

    /// Whether `key` is set to a true-ish value (`1`, `true`, `yes`, `on`).
    fn flag(&self, key: &str) -> bool {
        self.var(key).is_some_and(|value| {
            matches!(
                value.to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
    }
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one sanctioned reader of the process environment"
    )]
    fn var(&self, key: &str) -> Option<String> {
        std::env::var_os(key).and_then(|value: OsString| value.into_string().ok())
    }
}

/// A fixed environment for tests and for embedding kiln with explicit settings.
#[derive(Debug, Clone, Default)]
pub struct MapEnv(BTreeMap<String, String>);

impl MapEnv {
    /// An empty environment.
    pub fn new() -> Self {
        MapEnv::default()
    }

    /// Adds one variable.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(key.into(), value.into());
        self
    }
}

impl Env for MapEnv {
    fn var(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
}

/// A shared environment handle.
pub type SharedEnv = Arc<dyn Env>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_env_answers_what_it_holds() {
        let env = MapEnv::new().with("A", "1").with("B", "").with("C", "no");
        assert_eq!(env.var("A").as_deref(), Some("1"));
        assert!(env.flag("A"));
        assert!(!env.flag("C"));
        assert_eq!(env.path("B"), None);
        assert_eq!(env.var("MISSING"), None);
    }
}
