//! The ssh connection to one Docker host: a control master of the system's `ssh`, started on
//! first use (and again when it has ended), that every channel to the daemon goes through.
//!
//! The master runs with `BatchMode=yes` (never a prompt), `StrictHostKeyChecking=yes` (a host
//! whose key is not on record is refused), a `ConnectTimeout` of the engine's connect timeout,
//! `ServerAliveInterval=15`, and `ControlPersist=10s`: it ends when the engine is dropped
//! (`ssh -O exit`), or 10 s after its last channel closed if kiln could not drop it (killed).
//! `KILN_SSH_CONFIG` names the configuration file ssh reads instead of `~/.ssh/config` (`-F`).

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder};

use super::destination::SshDestination;
use super::failure::SshFailure;

/// How long the master outlives its last channel when nobody ends it.
const PERSIST_SECS: usize = 10;
/// How often the master asks the server whether the connection still lives.
const ALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// What the ssh client is told besides the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SshOptions {
    /// The configuration file ssh reads instead of the user's (`ssh -F`).
    pub(crate) config_file: Option<PathBuf>,
    /// How long ssh waits for the TCP connection and the server's greeting (`ConnectTimeout`,
    /// in whole seconds, at least one).
    pub(crate) connect_timeout: Duration,
}

/// A running master.
struct Running {
    /// The same master for channels; cloning it never ends the master.
    shared: Arc<Session>,
    /// Owns the master: dropping it asks the master to exit (`ssh -O exit`) and removes its
    /// control directory. Declared last so that it is dropped last.
    _owner: Session,
}

impl Drop for Running {
    fn drop(&mut self) {
        tracing::trace!(control = %self.shared.control_socket().display(), "ending the ssh master");
    }
}

/// The master of one destination, started when a channel first needs it, and ended by
/// [`Master::close`] (the engine's drop): hyper finishes connections it started in tasks of its
/// own, which may outlive the engine, so the master cannot wait for the last reference.
pub(crate) struct Master {
    destination: SshDestination,
    options: SshOptions,
    /// Held while a master is checked or started, so that one starts at a time.
    starting: tokio::sync::Mutex<()>,
    /// The running master; never locked across an await, so that `close` always gets it.
    running: std::sync::Mutex<Option<Running>>,
    closed: AtomicBool,
}

impl Master {
    /// A master for `destination`; nothing runs until [`Master::session`].
    pub(crate) fn new(destination: SshDestination, options: SshOptions) -> Master {
        Master {
            destination,
            options,
            starting: tokio::sync::Mutex::new(()),
            running: std::sync::Mutex::new(None),
            closed: AtomicBool::new(false),
        }
    }

    /// Where the master goes.
    pub(crate) fn destination(&self) -> &SshDestination {
        &self.destination
    }

    /// Ends the master now (`ssh -O exit`) and refuses every later channel; a master being
    /// started meanwhile is ended as soon as it runs.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        drop(self.take_running());
    }

    /// The running master, started (or started again, when it ended: the server went away,
    /// or it outlived its last channel) on the way.
    pub(crate) async fn session(&self) -> Result<Arc<Session>, SshFailure> {
        let _starting = self.starting.lock().await;
        let session = match self.closed.load(Ordering::SeqCst) {
            true => Err(SshFailure::engine_dropped()),
            false => self.start_if_ended().await,
        };
        // Closed meanwhile: the master `close` could not see (being started) ends here.
        if self.closed.load(Ordering::SeqCst) {
            drop(self.take_running());
            return Err(SshFailure::engine_dropped());
        }
        session
    }

    async fn start_if_ended(&self) -> Result<Arc<Session>, SshFailure> {
        let current = self
            .lock_running()
            .as_ref()
            .map(|running| Arc::clone(&running.shared));
        if let Some(shared) = current {
            if shared.check().await.is_ok() {
                return Ok(shared);
            }
            tracing::debug!(destination = %self.destination, "the ssh master ended; starting another");
        }
        // The old master (if any) is asked to exit and its directory removed.
        drop(self.take_running());
        tracing::trace!(destination = %self.destination, "starting an ssh master");
        let owner = self
            .builder()
            .connect(&self.destination.host)
            .await
            .map_err(|error| SshFailure::connect(&self.destination, &error))?;
        let control = owner.control_socket().to_path_buf();
        let log = control.with_file_name("log");
        let shared = Arc::new(Session::resume(control.into(), Some(log.into())));
        *self.lock_running() = Some(Running {
            shared: Arc::clone(&shared),
            _owner: owner,
        });
        Ok(shared)
    }

    /// The running master taken out (to be dropped, which ends it, outside the lock).
    fn take_running(&self) -> Option<Running> {
        self.lock_running().take()
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn builder(&self) -> SessionBuilder {
        let mut builder = SessionBuilder::default();
        builder
            .known_hosts_check(KnownHosts::Strict)
            .connect_timeout(whole_seconds(self.options.connect_timeout))
            .server_alive_interval(ALIVE_INTERVAL)
            .control_directory(std::env::temp_dir())
            .control_persist(ControlPersist::IdleFor(
                NonZeroUsize::new(PERSIST_SECS).unwrap_or(NonZeroUsize::MIN),
            ));
        if let Some(user) = &self.destination.user {
            builder.user(user.clone());
        }
        if let Some(port) = self.destination.port {
            builder.port(port);
        }
        if let Some(config) = &self.options.config_file {
            builder.config_file(config);
        }
        builder
    }
}

/// `timeout` rounded up to whole seconds, at least one (ssh's `ConnectTimeout` takes seconds).
fn whole_seconds(timeout: Duration) -> Duration {
    let seconds = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    Duration::from_secs(seconds.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_timeouts_round_up_to_seconds() {
        assert_eq!(
            whole_seconds(Duration::from_millis(1500)),
            Duration::from_secs(2)
        );
        assert_eq!(
            whole_seconds(Duration::from_millis(200)),
            Duration::from_secs(1)
        );
        assert_eq!(whole_seconds(Duration::ZERO), Duration::from_secs(1));
        assert_eq!(
            whole_seconds(Duration::from_secs(3)),
            Duration::from_secs(3)
        );
    }
}
