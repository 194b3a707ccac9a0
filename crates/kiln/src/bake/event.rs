//! What a bake tells while it runs: cells starting, their build events, their outcomes.

use std::fmt;
use std::sync::Arc;

use kiln_core::BuildEvent;

use super::model::CellId;
use super::report::CellOutcome;

/// One thing that happened during a bake.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BakeEvent {
    /// A cell took a job slot: it is planned, then built, pulled or reused.
    Started {
        /// The cell.
        cell: CellId,
    },
    /// A build event of a running cell.
    Build {
        /// The cell.
        cell: CellId,
        /// What its build said.
        event: BuildEvent,
    },
    /// A cell ended (also the cells that never ran: skipped, cancelled, not started).
    Finished {
        /// The cell.
        cell: CellId,
        /// How it ended.
        outcome: CellOutcome,
        /// Why, in a sentence.
        reason: String,
    },
    /// A human tag was written after every cell succeeded.
    Published {
        /// The tag.
        tag: String,
        /// The manifest digest it names.
        digest: String,
    },
}

type Callback = dyn Fn(&BakeEvent) + Send + Sync;

/// Where bake events go: a callback shared by every cell, or nowhere.
#[derive(Clone, Default)]
pub struct BakeEvents(Option<Arc<Callback>>);

impl BakeEvents {
    /// Events go to `callback` (called from the bake's task; keep it short).
    pub fn new(callback: impl Fn(&BakeEvent) + Send + Sync + 'static) -> Self {
        BakeEvents(Some(Arc::new(callback)))
    }

    /// Events go nowhere.
    pub fn discard() -> Self {
        BakeEvents(None)
    }

    /// Sends `event`.
    pub fn emit(&self, event: BakeEvent) {
        if let Some(callback) = &self.0 {
            callback(&event);
        }
    }
}

impl fmt::Debug for BakeEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "BakeEvents(callback)"
        } else {
            "BakeEvents(discard)"
        })
    }
}
