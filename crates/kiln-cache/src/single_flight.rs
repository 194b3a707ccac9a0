//! `SingleFlight`: concurrent callers of one key share one run of the work and its result.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::OnceCell;

/// Which part a caller played in a shared run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// This caller's work ran; the others waited for it.
    Leader,
    /// Another caller's work ran; this one waited and got a copy of its result.
    Follower,
}

/// One run in flight: its result once known, and how many callers share it.
struct Flight<V> {
    result: OnceCell<V>,
    /// Changed only under the map's lock, so the last caller out knows it is the last.
    callers: AtomicUsize,
}

type Flights<K, V> = Mutex<HashMap<K, Arc<Flight<V>>>>;

/// De-duplicates concurrent work by key, in one process.
///
/// The first caller of a key runs its work; callers that arrive while it runs wait and receive
/// a clone of the same result (errors included), each told its [`Role`]. The result is not
/// kept: once the run ends and its callers have their copies, the next caller of the key runs
/// the work again. If the running caller is cancelled, a waiting one takes over with its own
/// work, so no caller waits for a run that will never end.
pub struct SingleFlight<K, V> {
    flights: Flights<K, V>,
}

impl<K, V> Default for SingleFlight<K, V> {
    fn default() -> Self {
        SingleFlight {
            flights: Mutex::new(HashMap::new()),
        }
    }
}

impl<K, V> std::fmt::Debug for SingleFlight<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleFlight")
            .field("in_flight", &lock(&self.flights).len())
            .finish()
    }
}

impl<K: Eq + Hash + Clone, V: Clone> SingleFlight<K, V> {
    /// An empty map of runs.
    pub fn new() -> Self {
        SingleFlight::default()
    }

    /// Runs `work` for `key`, or waits for the run already in flight for it, and returns the
    /// result with the part this caller played.
    pub async fn run<F>(&self, key: K, work: F) -> (V, Role)
    where
        F: Future<Output = V>,
    {
        let flight = {
            let mut flights = lock(&self.flights);
            let flight = flights.entry(key.clone()).or_insert_with(|| {
                Arc::new(Flight {
                    result: OnceCell::new(),
                    callers: AtomicUsize::new(0),
                })
            });
            flight.callers.fetch_add(1, Ordering::Relaxed);
            Arc::clone(flight)
        };
        let _leave = Leave {
            flights: &self.flights,
            key,
            flight: Arc::clone(&flight),
        };
        let mut role = Role::Follower;
        let value = flight
            .result
            .get_or_init(|| {
                role = Role::Leader;
                work
            })
            .await
            .clone();
        (value, role)
    }

    /// How many callers share the run in flight for `key` (0 when none is).
    pub fn callers(&self, key: &K) -> usize {
        lock(&self.flights)
            .get(key)
            .map_or(0, |flight| flight.callers.load(Ordering::Relaxed))
    }
}

/// Counts a caller out when it is done or cancelled; the last one out removes the flight.
struct Leave<'a, K: Eq + Hash, V> {
    flights: &'a Flights<K, V>,
    key: K,
    flight: Arc<Flight<V>>,
}

impl<K: Eq + Hash, V> Drop for Leave<'_, K, V> {
    fn drop(&mut self) {
        let mut flights = lock(self.flights);
        let left = self.flight.callers.fetch_sub(1, Ordering::Relaxed) - 1;
        if left == 0
            && flights
                .get(&self.key)
                .is_some_and(|current| Arc::ptr_eq(current, &self.flight))
        {
            flights.remove(&self.key);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
