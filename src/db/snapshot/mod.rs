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
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use diesel::sql_types::Text;
use tokio::sync::{oneshot, watch};

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

impl Snapshot {
    /// Whether this reading certainly saw more commits than `other`: its xmax (the first
    /// transaction not yet finished, the second field of `xmin:xmax:xip,…`) is further on.
    /// Readings with the same xmax are not ordered here.
    fn is_after(&self, other: &Snapshot) -> bool {
        match (self.xmax(), other.xmax()) {
            (Some(mine), Some(theirs)) => mine > theirs,
            _ => false,
        }
    }

    fn xmax(&self) -> Option<u64> {
        self.0.split(':').nth(1)?.parse().ok()
    }
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
///
/// Requests that miss the same key at the same snapshot wait for one computation instead of
/// each making their own (profile, issue 14: a sign-in commits twice, its audit row and then
/// its sealing, and at each commit all 50 connections of the page load missed together and
/// each loaded the account and drew the dashboard; the p99 of those 10 seconds was 661–984 ms).
pub struct SnapshotCache<K, V> {
    capacity: usize,
    inner: Mutex<Entries<K, V>>,
}

struct Entries<K, V> {
    snapshot: Option<Snapshot>,
    /// Each key's value: `Some` once computed; `None` while a request computes it, and those
    /// who want it meanwhile wait for the sender.
    values: HashMap<K, watch::Receiver<Option<V>>>,
}

/// What a request that wants a key's value does.
enum Turn<V> {
    /// Computes it and sends it to the others.
    Compute(watch::Sender<Option<V>>, watch::Receiver<Option<V>>),
    /// Waits for the request computing it (or takes it, when it is there).
    Wait(watch::Receiver<Option<V>>),
    /// Computes it for itself only: its reading is older than the cache's.
    Alone,
}

impl<K: Eq + Hash + Clone, V: Clone> SnapshotCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        SnapshotCache {
            capacity,
            inner: Mutex::new(Entries {
                snapshot: None,
                values: HashMap::new(),
            }),
        }
    }

    /// The value for `key` at exactly the snapshot `at`: kept from before, or being computed
    /// by a concurrent request (waited for), or computed now by `compute`, which must read the
    /// database after `at` was read. A failed computation is not kept, and those who waited
    /// for it compute for themselves at once: a database that went away costs each of them
    /// one attempt side by side, not a queue of attempts one after another.
    pub async fn get_or_compute<E, F, Fut>(&self, at: &Snapshot, key: K, compute: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        match self.turn(at, key.clone()) {
            Turn::Compute(sender, mine) => {
                let computing = Computing {
                    cache: self,
                    key,
                    sender,
                    mine,
                };
                let value = compute().await?;
                computing.sender.send_replace(Some(value.clone()));
                Ok(value)
            }
            Turn::Wait(mut theirs) => {
                if let Ok(value) = theirs.wait_for(Option::is_some).await {
                    if let Some(value) = value.as_ref() {
                        return Ok(value.clone());
                    }
                }
                compute().await
            }
            Turn::Alone => compute().await,
        }
    }

    fn turn(&self, at: &Snapshot, key: K) -> Turn<V> {
        let mut entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match &entries.snapshot {
            Some(kept) if kept == at => {}
            // A late request computes for itself rather than evict what the newer one keeps.
            Some(kept) if kept.is_after(at) => return Turn::Alone,
            _ => {
                entries.values.clear();
                entries.snapshot = Some(at.clone());
            }
        }
        if let Some(theirs) = entries.values.get(&key) {
            return Turn::Wait(theirs.clone());
        }
        if entries.values.len() >= self.capacity {
            entries.values.clear();
        }
        let (sender, mine) = watch::channel(None);
        entries.values.insert(key, mine.clone());
        Turn::Compute(sender, mine)
    }

    /// Values computed (or being computed) at the cache's snapshot.
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

/// A computation under way. If it ends without sending a value (it failed, or its request went
/// away), its entry is removed, and only then does its sender close (fields drop after `drop`),
/// which tells the waiters: the next request at this snapshot computes afresh instead of
/// finding a value that will never come.
struct Computing<'a, K: Eq + Hash, V> {
    cache: &'a SnapshotCache<K, V>,
    key: K,
    sender: watch::Sender<Option<V>>,
    /// The receiver kept as the entry, to recognise it.
    mine: watch::Receiver<Option<V>>,
}

impl<K: Eq + Hash, V> Drop for Computing<'_, K, V> {
    fn drop(&mut self) {
        if self.sender.borrow().is_some() {
            return;
        }
        let mut entries = self.cache.inner.lock().unwrap_or_else(|e| e.into_inner());
        if entries
            .values
            .get(&self.key)
            .is_some_and(|kept| kept.same_channel(&self.mine))
        {
            entries.values.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests;
