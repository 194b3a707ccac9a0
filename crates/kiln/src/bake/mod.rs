//! `kiln bake`: a matrix of builds from `kiln.toml`, in dependency order, each cell skipped
//! when nothing changed.
//!
//! `model.rs` holds the vocabulary (cells, ids, edges) and `file/` reads and checks the file
//! and expands the matrix. `scope.rs` picks the cells (targets, shards) and their tags,
//! `plan_all.rs` decides for every cell without building, `run.rs` schedules the cells and
//! `cell.rs` runs one; `explain.rs` carries a parent's change into its dependants' reasons,
//! `publish.rs` writes the human tags once every cell succeeded.

mod cell;
mod event;
mod explain;
pub(crate) mod file;
mod model;
mod options;
mod plan_all;
mod publish;
mod report;
mod run;
mod scope;
mod test_spec;

pub use cell::{log_line, log_name};
pub use event::{BakeEvent, BakeEvents};
pub(crate) use file::bases::tier_cells_for;
pub use model::{BakeBases, BakeDefaults, BakeFile, Cell, CellId, ParentEdge, TierCell};
pub use options::{BakeOptions, OnFailure, Publish, Shard};
pub(crate) use plan_all::plan_cells;
pub use plan_all::{CellAction, CellPlan};
pub use report::{BakeReport, BakeSummary, CellOutcome, CellReport, Written};
pub(crate) use scope::cell_tags;
pub use scope::shard_of;
pub use test_spec::{Readiness, ServiceImage, ServicePort, ServiceSpec, SubnetChoice, TestSpec};
