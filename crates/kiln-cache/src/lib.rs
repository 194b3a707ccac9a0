//! kiln-cache: the caches that let kiln skip work.
//!
//! - [`records`]: L2, build records on disk — fingerprint → image id, tags, size, time, and
//!   the inputs manifest that made it — private, atomic, safe for concurrent writers;
//! - [`l1`]: L1, image-existence answers in memory with the tri-state TTL rules, and
//!   [`snapshot`] to carry them from one process to the next;
//! - [`CachedEngine`]: L1 as a decorator over any `ImageEngine`;
//! - [`lock`]: one build per fingerprint across processes; [`single_flight`]: one run per key
//!   among concurrent callers in this process;
//! - [`prune`]: records removed by age or to fit a size, and free lock files; [`forget`]: the
//!   records of chosen builds (images removed);
//! - [`stats`]: hits, misses, entries, bytes, age, hit rate, freshness of both levels;
//! - [`dir`]: where the cache directory is and how its files are written.

pub mod cached_engine;
pub mod dir;
pub mod forget;
pub mod l1;
pub mod lock;
pub mod prune;
pub mod records;
pub mod secret_key;
pub mod single_flight;
pub mod snapshot;
pub mod stats;

pub use cached_engine::{CachedEngine, Source, SourcedAnswer};
pub use dir::default_cache_dir;
pub use l1::{ExistenceCache, L1Settings, Lookup};
pub use lock::{BuildLock, TryLock};
pub use prune::{PruneLimits, PruneReason, PruneReport, PrunedRecord};
pub use records::{BuildRecord, RECORD_SCHEMA, RecordStore};
pub use single_flight::{Role, SingleFlight};
pub use stats::{Counts, LevelStats};
