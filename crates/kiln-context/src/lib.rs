//! kiln-context: everything about a build context before it reaches a builder.
//!
//! - [`dockerignore`]: `.dockerignore` with the Docker CLI's exact rules (moby patternmatcher);
//! - [`walk`]: the context walk the CLI does, honouring exclusions and re-inclusions;
//! - [`archive`]: the tar stream, produced in constant memory while it is sent;
//! - [`inputs`]: the context's inputs for a fingerprint, with the stat index that makes an
//!   unchanged tree cost a `stat` per file;
//! - [`dockerfile`]: the Dockerfile split into directives and instructions (continuations,
//!   heredocs, builder flags with their lines), as BuildKit's parser reads it;
//! - [`features`]: the BuildKit-only features a Dockerfile uses, line by line, and those that even
//!   Docker Engine 20.10's built-in frontend rejects, with the remedy;
//! - [`PreparedContext`]: all of the above for one build, with `docker build -f` semantics for
//!   Dockerfiles inside or outside the context.

pub mod archive;
pub mod dockerfile;
pub mod dockerignore;
pub mod error;
pub mod features;
pub mod inputs;
mod listing;
mod parallel;
pub mod prepare;
pub mod walk;

pub use error::ContextError;
pub use prepare::{DOCKERIGNORE, PreparedContext};
pub use walk::{ContextEntry, EntryKind};
