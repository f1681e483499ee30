//! Reuse of what was read from the database for as long as nothing has been committed since.
//!
//! `pg_current_snapshot()` names the transactions a reader sees as committed: the oldest still
//! running (xmin), the first not yet finished (xmax) and those running in between. Any commit
//! or abort moves xmax or removes an id from the running list, and xmax never goes back, so
//! two readings that are equal as text saw exactly the same commits. Whatever was computed from
//! the database after the first reading is therefore still exactly what a fresh computation
//! would give at the second: no time-to-live, no invalidation message to miss, and a writer
//! anywhere (another process, psql, a migration) is noticed. The price is one tiny statement
//! per round of concurrent requests (`Readings`), and that any commit in the cluster empties
//! the cache (issue 14: a signed-in page used to load its user, hubs and customers, 3
//! statements, on every request).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use diesel::sql_types::Text;
use tokio::sync::oneshot;

use super::PgPool;
use crate::error::AppError;

/// One reading of `pg_current_snapshot()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot(String);

#[derive(QueryableByName)]
struct Reading {
    #[diesel(sql_type = Text)]
    snapshot: String,
}

pub fn current(conn: &mut PgConnection) -> QueryResult<Snapshot> {
    diesel::sql_query("SELECT pg_current_snapshot()::text AS snapshot")
        .get_result::<Reading>(conn)
        .map(|r| Snapshot(r.snapshot))
}

/// Readings shared by the requests that ask at the same moment, as group commit shares a
/// flush: a request waits for the next reading that starts after it asked (so it sees every
/// commit that finished before it arrived), and one statement answers everyone who asked while
/// the previous one was on its way. Under 50 concurrent requests this replaces dozens of tiny
/// statements, each a round trip through the pool and a database process, by a handful
/// (profile, issue 14: with one statement per request the database processes' turns on the 2
/// cores made the slowest 1 % of signed-in requests take 60–150 ms).
#[derive(Default)]
pub struct Readings {
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    /// A reading is on its way (its task serves `next` when it is done).
    reading: bool,
    next: Vec<oneshot::Sender<Result<Snapshot, String>>>,
}

impl Readings {
    /// A reading of the snapshot taken after this call began.
    pub async fn read(self: &Arc<Self>, pool: &PgPool) -> Result<Snapshot, AppError> {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
            waiting.next.push(answer);
            !std::mem::replace(&mut waiting.reading, true)
        };
        if start {
            actix_web::rt::spawn(self.clone().serve(pool.clone()));
        }
        match answered.await {
            Ok(Ok(snapshot)) => Ok(snapshot),
            Ok(Err(e)) => Err(AppError::database_unavailable(e)),
            Err(_) => Err(AppError::database_unavailable(
                "the snapshot reader stopped",
            )),
        }
    }

    /// Reads for whoever is waiting, round after round, until nobody is.
    async fn serve(self: Arc<Self>, pool: PgPool) {
        // Whatever ends this task (a worker shutting down drops it), the next caller must be
        // able to start a new one, and nobody may wait forever on this one.
        struct Abandoned<'a>(&'a Readings, bool);
        impl Drop for Abandoned<'_> {
            fn drop(&mut self) {
                if self.1 {
                    let mut waiting = self.0.waiting.lock().unwrap_or_else(|e| e.into_inner());
                    waiting.reading = false;
                    waiting.next.clear();
                }
            }
        }
        let mut abandoned = Abandoned(&self, true);
        loop {
            let round = {
                let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
                if waiting.next.is_empty() {
                    waiting.reading = false;
                    abandoned.1 = false;
                    return;
                }
                std::mem::take(&mut waiting.next)
            };
            let reading = crate::db::run(&pool, |conn| Ok(current(conn)?))
                .await
                .map_err(|e| e.to_string());
            for answer in round {
                let _ = answer.send(reading.clone());
            }
        }
    }
}

/// The snapshot a request read when it started (set by the authentication middleware for
/// signed-in browsers), for handlers that cache what they compute.
#[derive(Clone, Debug)]
pub struct Seen(pub Snapshot);

/// Values computed at one snapshot. An entry of an older snapshot can never be valid again
/// (snapshots only move forward), so the cache holds one snapshot's entries at a time; that
/// also bounds it by the number of keys asked for between two commits, and `capacity` caps it.
pub struct SnapshotCache<K, V> {
    capacity: usize,
    inner: Mutex<Entries<K, V>>,
}

struct Entries<K, V> {
    snapshot: Option<Snapshot>,
    values: HashMap<K, V>,
}

impl<K: Eq + Hash, V: Clone> SnapshotCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        SnapshotCache {
            capacity,
            inner: Mutex::new(Entries {
                snapshot: None,
                values: HashMap::new(),
            }),
        }
    }

    /// The value computed for `key` at exactly this snapshot, if any.
    pub fn get(&self, at: &Snapshot, key: &K) -> Option<V> {
        let entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if entries.snapshot.as_ref() != Some(at) {
            return None;
        }
        entries.values.get(key).cloned()
    }

    /// Keeps `value`, computed after `at` was read. A different snapshot replaces the cache's
    /// entries (a late request with an older one only costs the others a recomputation).
    pub fn put(&self, at: Snapshot, key: K, value: V) {
        let mut entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if entries.snapshot.as_ref() != Some(&at) || entries.values.len() >= self.capacity {
            entries.values.clear();
            entries.snapshot = Some(at);
        }
        entries.values.insert(key, value);
    }

    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Snapshot {
        Snapshot(text.into())
    }

    #[test]
    fn an_entry_is_found_only_at_the_snapshot_it_was_computed_at() {
        let cache = SnapshotCache::new(10);
        cache.put(at("5:7:5"), 1, "one");
        assert_eq!(cache.get(&at("5:7:5"), &1), Some("one"));
        assert_eq!(cache.get(&at("5:8:5"), &1), None, "a commit since");
        assert_eq!(cache.get(&at("5:7:5"), &2), None);
    }

    #[test]
    fn a_new_snapshot_drops_the_old_entries_and_the_capacity_holds() {
        let cache = SnapshotCache::new(2);
        cache.put(at("1:2:"), 1, 10);
        cache.put(at("1:2:"), 2, 20);
        cache.put(at("2:3:"), 3, 30);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&at("1:2:"), &1), None);
        cache.put(at("2:3:"), 4, 40);
        cache.put(at("2:3:"), 5, 50);
        assert!(cache.len() <= 2);
        assert_eq!(cache.get(&at("2:3:"), &5), Some(50));
    }
}
