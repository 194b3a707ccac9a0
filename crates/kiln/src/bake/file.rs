//! Reading `kiln.toml` (placeholder until the parser lands).

use std::path::Path;

use kiln_core::{Error, Result};

use super::model::BakeFile;

impl BakeFile {
    /// Reads, checks and expands the bake file at `path`.
    pub fn load(path: &Path) -> Result<BakeFile> {
        let text = std::fs::read_to_string(path).map_err(|error| Error::InvalidPath {
            what: "bake file",
            path: path.to_owned(),
            problem: format!("cannot be read: {error}"),
        })?;
        BakeFile::parse(&text, path)
    }

    /// Checks and expands the bake file text `text`, read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<BakeFile> {
        let _ = text;
        Err(Error::InvalidFile {
            path: path.to_owned(),
            line: 1,
            column: 1,
            problem: "bake files are not parsed yet".to_owned(),
        })
    }
}
