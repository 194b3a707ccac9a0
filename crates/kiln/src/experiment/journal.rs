//! The intent journal (`journal.jsonl`): before each create, the intent, synced; after it, the
//! id. After a `kill -9` it tells `gc` what the experiment may have left, even what the daemon
//! created but no label lookup would find by name alone.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use kiln_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// What a journal line says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry {
    /// About to create `kind` (`container`, `network`) named `name`.
    Intent {
        /// `container` or `network`.
        kind: String,
        /// Its name.
        name: String,
    },
    /// Created, with the daemon's id.
    Created {
        /// `container` or `network`.
        kind: String,
        /// Its name.
        name: String,
        /// The daemon's id.
        id: String,
    },
    /// Removed.
    Removed {
        /// `container` or `network`.
        kind: String,
        /// Its name.
        name: String,
    },
}

/// An experiment's journal, appended to and synced line by line.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Opens (or creates) the journal in `folder`.
    pub fn open(folder: &Path) -> Result<Journal> {
        let path = folder.join("journal.jsonl");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|error| journal_error(&path, error))?;
        Ok(Journal { path, file })
    }

    /// Appends `entry` and syncs it to disk before returning.
    pub fn append(&mut self, entry: &Entry) -> Result<()> {
        let mut line = serde_json::to_vec(entry)
            .map_err(|error| journal_error(&self.path, std::io::Error::other(error)))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|error| journal_error(&self.path, error))
    }
}

/// Every entry of the journal in `folder`; a torn last line (a crash mid-write) is skipped.
pub fn read(folder: &Path) -> Vec<Entry> {
    let Ok(file) = File::open(folder.join("journal.jsonl")) else {
        return Vec::new();
    };
    BufReader::new(file)
        .lines()
        .map_while(std::result::Result::ok)
        .filter_map(|line| serde_json::from_str(&line).ok())
        .collect()
}

/// What the journal says may still exist: created (or intended) and not removed, by kind and
/// name.
pub fn outstanding(entries: &[Entry]) -> Vec<(String, String)> {
    let mut open: Vec<(String, String)> = Vec::new();
    for entry in entries {
        match entry {
            Entry::Intent { kind, name } | Entry::Created { kind, name, .. } => {
                let key = (kind.clone(), name.clone());
                if !open.contains(&key) {
                    open.push(key);
                }
            }
            Entry::Removed { kind, name } => open.retain(|(k, n)| !(k == kind && n == name)),
        }
    }
    open
}

fn journal_error(path: &Path, error: std::io::Error) -> Error {
    Error::Cache {
        operation: "write the experiment journal",
        path: path.to_owned(),
        source: kiln_core::ErrorSource::boxed(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(kind: &str, name: &str) -> Entry {
        Entry::Intent {
            kind: kind.to_owned(),
            name: name.to_owned(),
        }
    }

    #[test]
    fn what_was_intended_and_not_removed_is_outstanding() {
        let folder = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(folder.path()).unwrap();
        journal.append(&intent("network", "kiln-x-t")).unwrap();
        journal
            .append(&Entry::Created {
                kind: "network".to_owned(),
                name: "kiln-x-t".to_owned(),
                id: "ab".repeat(32),
            })
            .unwrap();
        journal
            .append(&intent("container", "kiln-x-t-server"))
            .unwrap();
        journal
            .append(&intent("container", "kiln-x-t-client"))
            .unwrap();
        journal
            .append(&Entry::Removed {
                kind: "container".to_owned(),
                name: "kiln-x-t-client".to_owned(),
            })
            .unwrap();
        // A crash mid-line leaves a torn line, which is skipped.
        std::fs::OpenOptions::new()
            .append(true)
            .open(folder.path().join("journal.jsonl"))
            .and_then(|mut file| file.write_all(b"{\"event\":\"inte"))
            .unwrap();
        let entries = read(folder.path());
        assert_eq!(entries.len(), 5);
        assert_eq!(
            outstanding(&entries),
            [
                ("network".to_owned(), "kiln-x-t".to_owned()),
                ("container".to_owned(), "kiln-x-t-server".to_owned())
            ]
        );
    }
}
