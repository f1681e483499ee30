//! The sequencer: links written audit rows into the hash chain, in id order, shortly after they
//! commit (a bounded merge delay, as Certificate Transparency logs integrate their entries).
//!
//! Writers never wait for each other on the chain: `record` only appends the row (and the
//! trigger queues its id in `audit_pending`). Only sequencers take the chain lock, and one
//! sequencer at a time extends the chain; a row whose transaction commits after a later id was
//! sealed is simply sealed in the next round.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::checkpoint::Checkpoint;
use super::checkpoint_store;
use crate::state::AppState;

/// Held (per transaction) by the one sequencer extending the chain.
const CHAIN_LOCK_KEY: i64 = 7_270_811;
/// Rows sealed per transaction; a backlog is sealed in several rounds without a pause.
const BATCH: i64 = 2_000;
/// How often a sequencer looks for new rows when there was nothing to seal.
const IDLE: Duration = Duration::from_millis(200);

/// The chain's newest link.
#[derive(Clone, Debug, PartialEq, Eq, QueryableByName)]
pub struct Head {
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
    #[diesel(sql_type = BigInt)]
    pub audit_id: i64,
    #[diesel(sql_type = Text)]
    pub hash: String,
}

#[derive(QueryableByName)]
struct Pending {
    #[diesel(sql_type = BigInt)]
    audit_id: i64,
    #[diesel(sql_type = Text)]
    content: String,
}

/// Seals up to one batch of committed pending rows. Returns the new head when it sealed any;
/// `None` when there was nothing to seal or another sequencer holds the chain.
pub fn seal_batch(conn: &mut PgConnection) -> QueryResult<Option<Sealed>> {
    seal_round(conn, false)
}

/// One round; `wait`: wait for a sequencer of another process to finish its round instead of
/// leaving the rows to it.
fn seal_round(conn: &mut PgConnection, wait: bool) -> QueryResult<Option<Sealed>> {
    conn.transaction(|conn| {
        #[derive(QueryableByName)]
        struct Locked {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            locked: bool,
        }
        let lock = if wait {
            "SELECT pg_advisory_xact_lock($1) IS NOT NULL AS locked"
        } else {
            "SELECT pg_try_advisory_xact_lock($1) AS locked"
        };
        let Locked { locked } = diesel::sql_query(lock)
            .bind::<BigInt, _>(CHAIN_LOCK_KEY)
            .get_result(conn)?;
        if !locked {
            return Ok(None);
        }
        let pending: Vec<Pending> = diesel::sql_query(
            // The queue's first rows, each looked up by its id. Joined (even to a LIMITed
            // subquery) the planner may hash or merge the queue with the entire log: a seal
            // then read every audit row ever written (issue 29's scan test saw 50,000 a seal).
            "SELECT a.id AS audit_id, audit_content_digest(a) AS content FROM audit_log a \
             WHERE a.id = ANY(ARRAY(SELECT audit_id FROM audit_pending ORDER BY audit_id LIMIT $1)) \
             ORDER BY a.id",
        )
        .bind::<BigInt, _>(BATCH)
        .load(conn)?;
        if pending.is_empty() {
            return Ok(None);
        }
        let rows = pending.len();
        let mut head = head(conn)?.unwrap_or(Head {
            seq: 0,
            audit_id: 0,
            hash: "genesis".into(),
        });
        let mut seqs = Vec::with_capacity(pending.len());
        let mut ids = Vec::with_capacity(pending.len());
        let mut prevs = Vec::with_capacity(pending.len());
        let mut hashes = Vec::with_capacity(pending.len());
        for row in pending {
            let seq = head.seq + 1;
            let hash = link_hash(&head.hash, seq, &row.content);
            seqs.push(seq);
            ids.push(row.audit_id);
            prevs.push(std::mem::take(&mut head.hash));
            hashes.push(hash.clone());
            head = Head {
                seq,
                audit_id: row.audit_id,
                hash,
            };
        }
        // One statement per batch: the links, then the queue entries they replace.
        diesel::sql_query(
            "INSERT INTO audit_chain (seq, audit_id, prev_hash, hash) \
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[])",
        )
        .bind::<diesel::sql_types::Array<BigInt>, _>(&seqs)
        .bind::<diesel::sql_types::Array<BigInt>, _>(&ids)
        .bind::<diesel::sql_types::Array<Text>, _>(&prevs)
        .bind::<diesel::sql_types::Array<Text>, _>(&hashes)
        .execute(conn)?;
        diesel::sql_query("DELETE FROM audit_pending WHERE audit_id = ANY($1)")
            .bind::<diesel::sql_types::Array<BigInt>, _>(&ids)
            .execute(conn)?;
        Ok(Some(Sealed { head, rows }))
    })
}

/// What a round sealed: the new head and how many rows.
pub struct Sealed {
    pub head: Head,
    pub rows: usize,
}

/// Seals everything committed so far (several batches if need be). Returns the head after.
pub fn seal_all(conn: &mut PgConnection) -> QueryResult<Option<Head>> {
    let mut last = None;
    // Waits for the chain lock: another process's sequencer may hold it for a round.
    while let Some(sealed) = seal_round(conn, true)? {
        last = Some(sealed.head);
    }
    // Only when nothing was sealed is the head read (it is what the last round returned).
    match last {
        Some(head) => Ok(Some(head)),
        None => head(conn),
    }
}

/// The newest link, if the chain has any.
pub fn head(conn: &mut PgConnection) -> QueryResult<Option<Head>> {
    diesel::sql_query("SELECT seq, audit_id, hash FROM audit_chain ORDER BY seq DESC LIMIT 1")
        .get_result(conn)
        .optional()
}

/// hash(prev | seq | content digest), the same as the SQL function `audit_link_hash`.
pub fn link_hash(prev: &str, seq: i64, content: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(format!("{prev}|{seq}|{content}")))
}

/// The sequencer task of a process. Stop it after everything that writes has finished, so its
/// last round seals their rows.
pub struct Sequencer {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Sequencer {
    pub fn start(state: &AppState) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run(state.clone(), async move {
            let _ = stopped.await;
        }));
        Sequencer { stop, task }
    }

    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Runs the sequencer of this process until `stop` resolves, then seals what is left. Every
/// round that sealed rows publishes a signed checkpoint of the new head.
pub async fn run(state: AppState, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        let pause = round(&state).await;
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(pause) => {}
        }
    }
    round(&state).await;
}

/// One sealing round. Returns how long to wait before the next: none after a full batch (there
/// is more), longer while the database cannot be reached.
async fn round(state: &AppState) -> Duration {
    let sealed = crate::db::run(&state.db, |conn| {
        // The database is named only when there is a checkpoint to sign.
        Ok(match seal_batch(conn)? {
            Some(sealed) => Some((sealed, checkpoint_store::database(conn)?)),
            None => None,
        })
    })
    .await;
    match sealed {
        Ok(Some((Sealed { head, rows }, database))) => {
            let signed = Checkpoint::sign(&head, &database, &state.settings);
            if let Err(e) = checkpoint_store::publish(state, &signed).await {
                tracing::warn!(error = %e, seq = head.seq, "audit checkpoint not published");
            }
            // A full batch means a backlog: go on at once. Otherwise wait, so that a steady
            // trickle of writes is sealed a round (one commit, one checkpoint) at a time
            // instead of a round per row competing with the writers for the disk.
            if rows as i64 == BATCH {
                Duration::ZERO
            } else {
                IDLE
            }
        }
        Ok(None) => IDLE,
        Err(e) => {
            tracing::warn!(error = %e, "audit sequencer could not seal (will retry)");
            IDLE * 10
        }
    }
}
