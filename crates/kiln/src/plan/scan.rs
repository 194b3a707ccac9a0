//! The context's side of a plan: walked and hashed on a blocking thread, the stat index kept.

use kiln_cache::RecordStore;
use kiln_context::PreparedContext;
use kiln_context::inputs::stat_index::{self, StatIndex, Timestamp};
use kiln_context::inputs::{ContextInputs, context_inputs};
use kiln_core::{BuildSpec, Result};

/// The context walked and its inputs computed.
pub(crate) struct ScannedContext {
    pub(crate) context: PreparedContext,
    pub(crate) inputs: ContextInputs,
    pub(crate) warnings: Vec<String>,
}

/// Prepares `spec`'s context and computes its inputs, hashing only files whose stat changed
/// since the index kept under `records` (every file when there is none). Blocking.
pub(crate) fn scan(spec: &BuildSpec, records: Option<&RecordStore>) -> Result<ScannedContext> {
    let mut warnings = Vec::new();
    let stat_dir = records.map(RecordStore::stat_dir);
    // Taken before the walk: files modified from here on are hashed again next time.
    let scan_started = match &stat_dir {
        Some(dir) => stat_index::file_system_now(dir).unwrap_or_else(|error| {
            warnings.push(format!(
                "stat index disabled: cannot read the file-system clock: {error}"
            ));
            Timestamp::default()
        }),
        None => Timestamp::default(),
    };
    let context = PreparedContext::prepare(&spec.context, spec.dockerfile.as_deref())?;
    let index_path = stat_dir
        .as_deref()
        .map(|dir| stat_index::index_path(dir, context.root()));
    let previous = match &index_path {
        Some(path) => StatIndex::load(path).unwrap_or_else(|error| {
            warnings.push(format!("{error}; hashing every file ({})", path.display()));
            StatIndex::default()
        }),
        None => StatIndex::default(),
    };
    let inputs = context_inputs(&context, &previous, scan_started)?;
    if let (Some(path), Some(index)) = (&index_path, &inputs.new_index)
        && scan_started != Timestamp::default()
        && let Err(error) = index.save(path)
    {
        warnings.push(format!(
            "cannot save the stat index {}: {error}",
            path.display()
        ));
    }
    for socket in context.skipped_sockets() {
        warnings.push(format!(
            "socket {} left out of the build context",
            socket.display()
        ));
    }
    Ok(ScannedContext {
        context,
        inputs,
        warnings,
    })
}
