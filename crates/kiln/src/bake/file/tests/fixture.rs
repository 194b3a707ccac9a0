//! A temporary project to read bake files in: context directories with Dockerfiles, and a
//! compact rendering of what a file expands to.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use kiln_core::Result;
use tempfile::TempDir;

use crate::bake::{BakeFile, Cell};

/// The Dockerfile of every context [`Project::new`] makes: it declares the args parents are
/// passed in.
pub(super) const DOCKERFILE: &str =
    "ARG BASE_IMAGE=scratch\nARG IUT_IMAGE\nARG P0\nARG P1\nARG P2\nARG P3\nFROM ${BASE_IMAGE}\n";

/// A directory holding contexts; bake files are read as if they were its `kiln.toml`.
pub(super) struct Project {
    dir: TempDir,
}

impl Project {
    /// A project with the contexts `a`, `b`, `c`, `d` and `ctx` (each with [`DOCKERFILE`]),
    /// `empty` (no Dockerfile) and `alt` (only `docker/Dockerfile.alt`).
    pub(super) fn new() -> Project {
        let project = Project {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        for context in ["a", "b", "c", "d", "ctx"] {
            project.context(context, DOCKERFILE);
        }
        fs::create_dir_all(project.root().join("empty")).expect("a directory");
        project.write(
            "alt/docker/Dockerfile.alt",
            "ARG BASE_IMAGE\nFROM scratch\n",
        );
        project
    }

    /// The project's directory.
    pub(super) fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Makes the context `relative` with a Dockerfile holding `dockerfile`.
    pub(super) fn context(&self, relative: &str, dockerfile: &str) {
        self.write(&format!("{relative}/Dockerfile"), dockerfile);
    }

    /// Writes `text` to the file `relative`, making its directories.
    pub(super) fn write(&self, relative: &str, text: &str) {
        let path = self.root().join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("a directory");
        }
        fs::write(path, text).expect("a file");
    }

    /// The bake file's path.
    pub(super) fn file(&self) -> PathBuf {
        self.root().join("kiln.toml")
    }

    /// Reads `text` as the project's bake file.
    pub(super) fn parse(&self, text: &str) -> Result<BakeFile> {
        BakeFile::parse(text, &self.file())
    }

    /// Reads `text`, which must be valid.
    pub(super) fn expand(&self, text: &str) -> BakeFile {
        self.parse(text)
            .unwrap_or_else(|error| panic!("{text}\nrefused: {error}"))
    }
}

/// The ids of the file's cells, in order.
pub(super) fn ids(file: &BakeFile) -> Vec<&str> {
    file.cells.iter().map(|cell| cell.id.as_str()).collect()
}

/// The cell with id `id`.
pub(super) fn cell<'a>(file: &'a BakeFile, id: &str) -> &'a Cell {
    file.cells
        .iter()
        .find(|cell| cell.id.as_str() == id)
        .unwrap_or_else(|| panic!("no cell {id} in {:?}", ids(file)))
}

/// Every cell as a few lines (paths relative to `root`): its id, its build, its args and its
/// parents.
pub(super) fn render(file: &BakeFile, root: &Path) -> String {
    let shown = |path: &Path| {
        path.strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    let defaults = &file.defaults;
    let mut out = format!(
        "defaults: registry={:?} cache_repo={:?} platforms={:?} jobs={:?}\n",
        defaults.registry,
        defaults.cache_repo.as_ref().map(ToString::to_string),
        defaults
            .platforms
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        defaults.jobs
    );
    for cell in &file.cells {
        let spec = &cell.spec;
        let _ = writeln!(out, "{}", cell.id);
        let _ = writeln!(
            out,
            "  build: name={} context={} dockerfile={} version={:?} mode={:?} runtime_mode={} \
             platform={} tag_version={} target={:?} cache_repo={}",
            spec.name,
            shown(&spec.context),
            spec.dockerfile.as_deref().map_or("-".to_owned(), shown),
            spec.version,
            spec.build_mode.as_str(),
            spec.runtime_mode,
            spec.platform
                .as_ref()
                .map_or("-".to_owned(), ToString::to_string),
            spec.tag_version,
            spec.target,
            spec.cache_repo
                .as_ref()
                .map_or("-".to_owned(), ToString::to_string),
        );
        let args: Vec<String> = spec
            .build_args
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let _ = writeln!(out, "  args: {}", or_dash(&args.join(" ")));
        let parents: Vec<String> = cell
            .parents
            .iter()
            .map(|edge| format!("{} <- {}", edge.arg, edge.parent))
            .collect();
        let _ = writeln!(out, "  parents: {}", or_dash(&parents.join(", ")));
    }
    out
}

/// `text`, or `-` when it is empty.
fn or_dash(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}
