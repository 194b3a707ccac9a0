//! The build context as the engine sees it: something that can write itself as a tar stream.

use std::any::Any;
use std::fmt::Debug;
use std::io::Write;

/// A build context ready to be sent to a builder.
///
/// Implementations stream: they read files as they write them and never hold the whole
/// context in memory. `write_tar` may be called more than once (a retried build).
pub trait ContextSource: Send + Sync + Debug {
    /// Writes the context as an uncompressed tar archive to `out`.
    fn write_tar(&self, out: &mut dyn Write) -> std::io::Result<()>;

    /// The number of content bytes the archive will carry (file sizes), for progress and
    /// for sizing upload timeouts.
    fn content_bytes(&self) -> u64;

    /// The number of entries (files, directories, links) in the archive.
    fn entry_count(&self) -> usize;

    /// The context as its concrete type, for an engine that can send that type some other way
    /// than as a tar stream (kiln-docker serves a `kiln_context::PreparedContext` through
    /// BuildKit's session, file by file, as the daemon asks). The default, `None`, leaves the
    /// tar stream as the only way.
    fn as_any(&self) -> Option<&dyn Any> {
        None
    }
}
