//! Interrupting a run: the first signal ends the tests and tears down with grace (services
//! stopped, then removed), a second one removes at once.

use tokio::sync::watch;

/// How hard a run was interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Not interrupted.
    None,
    /// End the tests; stop the services with grace, then remove them.
    Graceful,
    /// Remove everything at once.
    Immediate,
}

/// The sending side: what a signal handler (or a harness) calls.
#[derive(Debug)]
pub struct InterruptHandle(watch::Sender<Level>);

impl InterruptHandle {
    /// Raises the level one step (`None` → `Graceful` → `Immediate`); returns the new level.
    pub fn escalate(&self) -> Level {
        let mut level = Level::None;
        self.0.send_modify(|current| {
            *current = match *current {
                Level::None => Level::Graceful,
                _ => Level::Immediate,
            };
            level = *current;
        });
        level
    }
}

/// The receiving side, given to the run: never fires unless made by [`Interrupt::new`].
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Option<watch::Receiver<Level>>);

impl Interrupt {
    /// A linked pair.
    pub fn new() -> (InterruptHandle, Interrupt) {
        let (sender, receiver) = watch::channel(Level::None);
        (InterruptHandle(sender), Interrupt(Some(receiver)))
    }

    /// The level now.
    pub fn level(&self) -> Level {
        self.0
            .as_ref()
            .map_or(Level::None, |receiver| *receiver.borrow())
    }

    /// Returns once the level is at least `level`.
    pub async fn reached(&self, level: Level) {
        let Some(receiver) = &self.0 else {
            return std::future::pending().await;
        };
        let mut receiver = receiver.clone();
        if receiver
            .wait_for(|current| *current >= level)
            .await
            .is_err()
        {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn two_signals_escalate_to_immediate() {
        let (handle, interrupt) = Interrupt::new();
        assert_eq!(interrupt.level(), Level::None);
        assert_eq!(handle.escalate(), Level::Graceful);
        interrupt.reached(Level::Graceful).await;
        assert_eq!(handle.escalate(), Level::Immediate);
        interrupt.reached(Level::Immediate).await;
        assert_eq!(Interrupt::default().level(), Level::None);
    }
}
