//! `kiln bake`: a matrix of builds from `kiln.toml`, in dependency order, each cell skipped
//! when nothing changed.
//!
//! `model.rs` holds the vocabulary (cells, ids, edges), `file/` reads and checks the file and
//! expands the matrix.

mod file;
mod model;

pub use model::{BakeDefaults, BakeFile, Cell, CellId, ParentEdge};
