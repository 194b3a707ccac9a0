//! How a bake runs: parallelism, what a failure does, publishing and sharding.

use std::path::PathBuf;
use std::time::Duration;

use kiln_core::{Error, Result};

use super::event::BakeEvents;

/// What a failed cell does to the rest of the bake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Cancel the builds in flight (the daemon stops them) and start nothing new.
    FailFast,
    /// Build every cell that does not depend on a failed one; skip its dependants.
    KeepGoing,
}

/// When `--push` writes the human tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// Once every cell in scope succeeded, as manifest writes from the cache repository.
    AfterAll,
    /// Each cell's tags as soon as it is built (what buildx bake does).
    AsBuilt,
}

impl Publish {
    /// Parses `after-all` or `as-built`.
    pub fn parse(input: &str) -> Result<Publish> {
        match input {
            "after-all" => Ok(Publish::AfterAll),
            "as-built" => Ok(Publish::AsBuilt),
            _ => Err(Error::invalid_input(
                "--publish",
                input,
                "\"after-all\" (the default) or \"as-built\"",
            )),
        }
    }
}

/// One shard of `count`: `index` counts from 1 (`--shard 2/3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 1.
    pub index: u32,
    /// How many shards there are.
    pub count: u32,
}

impl Shard {
    /// Parses `I/N` with 1 ≤ I ≤ N.
    pub fn parse(input: &str) -> Result<Shard> {
        let invalid = || Error::invalid_input("--shard", input, "I/N with 1 <= I <= N, e.g. 1/4");
        let (index, count) = input.split_once('/').ok_or_else(invalid)?;
        let index: u32 = index.trim().parse().map_err(|_| invalid())?;
        let count: u32 = count.trim().parse().map_err(|_| invalid())?;
        if index == 0 || index > count {
            return Err(invalid());
        }
        Ok(Shard { index, count })
    }
}

/// Everything a bake needs besides the file.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BakeOptions {
    /// The cells to bake, by image name or cell id (with the parents they need); all when
    /// empty.
    pub targets: Vec<String>,
    /// How many cells run at once; the file's `jobs`, else 2, when `None`.
    pub jobs: Option<usize>,
    /// What a failure does.
    pub on_failure: OnFailure,
    /// Push: each built cell to the cache repository, then the human tags.
    pub push: bool,
    /// When the human tags are written.
    pub publish: Publish,
    /// Only publish: every cell's fingerprint tag must be in the cache repository already.
    pub publish_only: bool,
    /// Bake one shard of the matrix.
    pub shard: Option<Shard>,
    /// How long a shard waits for a parent another shard owns before building it itself.
    pub shard_wait: Duration,
    /// Build even when nothing changed.
    pub force: bool,
    /// Run the base tiers' probes even when a verification of the same image is recorded.
    pub reprobe: bool,
    /// Where each cell's full log is written (`<dir>/<cell>.log`); none when `None`.
    pub log_dir: Option<PathBuf>,
    /// Where progress goes.
    pub events: BakeEvents,
}

impl Default for BakeOptions {
    fn default() -> Self {
        BakeOptions {
            targets: Vec::new(),
            jobs: None,
            on_failure: OnFailure::FailFast,
            push: false,
            publish: Publish::AfterAll,
            publish_only: false,
            shard: None,
            shard_wait: Duration::from_secs(600),
            force: false,
            reprobe: false,
            log_dir: None,
            events: BakeEvents::discard(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_from_one() {
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        for bad in ["0/3", "4/3", "1", "a/b", "1/0", ""] {
            let error = Shard::parse(bad).unwrap_err().to_string();
            assert!(error.contains(&format!("{bad:?}")), "{error}");
        }
    }

    #[test]
    fn publish_modes_parse() {
        assert_eq!(Publish::parse("as-built").unwrap(), Publish::AsBuilt);
        assert!(
            Publish::parse("later")
                .unwrap_err()
                .to_string()
                .contains("as-built")
        );
    }
}
