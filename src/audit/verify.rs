//! `outpost audit verify`: walks the chain link by link, checks every sealed row against its
//! link, compares the head with the latest signed checkpoint, and reports the unsealed tail.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::checkpoint::Checkpoint;
use super::seal::link_hash;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Sealed rows whose link was checked.
    pub rows_checked: u64,
    /// Rows written and waiting for the sequencer (not covered by the chain yet).
    pub unsealed: u64,
    /// The link the checkpoint compared against covers, when a checkpoint was given.
    pub checkpoint_seq: Option<i64>,
    /// The first audit row (by id) where the chain does not hold, with the reason.
    pub first_broken: Option<(i64, String)>,
    /// The newest link the chain reaches.
    pub last_seq: i64,
    /// The chain holds, but ends before the checkpoint: the database was restored from an
    /// older backup, or its newest rows were removed (`first_broken` says so too).
    pub behind_checkpoint: bool,
}

#[derive(QueryableByName)]
struct Link {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = BigInt)]
    audit_id: i64,
    #[diesel(sql_type = Text)]
    prev_hash: String,
    #[diesel(sql_type = Text)]
    hash: String,
    /// None when the row the link seals is gone.
    #[diesel(sql_type = Nullable<Text>)]
    content: Option<String>,
}

#[derive(QueryableByName)]
struct Tail {
    #[diesel(sql_type = BigInt)]
    unsealed: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    first_unqueued: Option<i64>,
}

/// Checks the chain in one consistent snapshot. With a checkpoint (already checked to be
/// signed by this server), the chain must reach it and agree with it.
pub fn verify(
    conn: &mut PgConnection,
    checkpoint: Option<&Checkpoint>,
) -> QueryResult<VerifyReport> {
    conn.build_transaction()
        .repeatable_read()
        .read_only()
        .run(|conn| walk(conn, checkpoint))
}

fn walk(conn: &mut PgConnection, checkpoint: Option<&Checkpoint>) -> QueryResult<VerifyReport> {
    const BATCH: i64 = 5_000;
    let mut report = VerifyReport {
        checkpoint_seq: checkpoint.map(|c| c.seq),
        ..Default::default()
    };
    let broken = |mut report: VerifyReport, id: i64, why: String| {
        report.first_broken = Some((id, why));
        Ok(report)
    };
    let (mut last_seq, mut previous_hash) = (0_i64, "genesis".to_string());
    loop {
        let links: Vec<Link> = diesel::sql_query(
            "SELECT c.seq, c.audit_id, c.prev_hash, c.hash, audit_content_digest(a) AS content \
             FROM audit_chain c LEFT JOIN audit_log a ON a.id = c.audit_id \
             WHERE c.seq > $1 ORDER BY c.seq LIMIT $2",
        )
        .bind::<BigInt, _>(last_seq)
        .bind::<BigInt, _>(BATCH)
        .load(conn)?;
        if links.is_empty() {
            break;
        }
        for link in links {
            report.rows_checked += 1;
            let why = if link.seq != last_seq + 1 {
                Some("the link before it is missing (a row was removed)")
            } else if link.prev_hash != previous_hash {
                Some("its link to the previous row is broken (a row was removed or changed)")
            } else {
                match &link.content {
                    None => Some("the row this link seals is gone (it was removed)"),
                    Some(c) if link_hash(&link.prev_hash, link.seq, c) != link.hash => {
                        Some("its content does not match its hash (the row was changed)")
                    }
                    Some(_) => None,
                }
            };
            if let Some(why) = why {
                return broken(report, link.audit_id, why.into());
            }
            if let Some(cp) = checkpoint.filter(|cp| cp.seq == link.seq && cp.hash != link.hash) {
                return broken(
                    report,
                    link.audit_id,
                    format!(
                        "it differs from the checkpoint signed at {} (the chain was rewritten)",
                        cp.signed_at.to_rfc3339()
                    ),
                );
            }
            (last_seq, previous_hash) = (link.seq, link.hash);
        }
    }
    report.last_seq = last_seq;
    if let Some(cp) = checkpoint.filter(|cp| cp.seq > last_seq) {
        report.behind_checkpoint = true;
        return broken(
            report,
            cp.audit_id,
            format!(
                "the chain ends at link {last_seq}, but the checkpoint signed at {} covers link {} \
                 (the newest rows were removed)",
                cp.signed_at.to_rfc3339(),
                cp.seq
            ),
        );
    }
    let tail: Tail = diesel::sql_query(
        "SELECT count(*) AS unsealed, \
                min(a.id) FILTER (WHERE NOT EXISTS (SELECT 1 FROM audit_pending p WHERE p.audit_id = a.id)) AS first_unqueued \
         FROM audit_log a WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.audit_id = a.id)",
    )
    .get_result(conn)?;
    report.unsealed = tail.unsealed as u64;
    if let Some(id) = tail.first_unqueued {
        return broken(
            report,
            id,
            "it is neither sealed nor waiting to be (it was written behind the triggers' back)"
                .into(),
        );
    }
    Ok(report)
}
