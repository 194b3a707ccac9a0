//! kiln-cache: the caches that let kiln skip work.
//!
//! - [`records`]: L2, build records on disk — fingerprint → image id, tags, size, time, and
//!   the inputs manifest that made it — private, atomic, safe for concurrent writers;
//! - [`dir`]: where the cache directory is and how its files are written.
//!
//! The in-memory image-existence cache (L1) and the caching engine decorator come with the
//! existence-cache issue.

pub mod dir;
pub mod records;

pub use dir::default_cache_dir;
pub use records::{BuildRecord, RECORD_SCHEMA, RecordStore};
