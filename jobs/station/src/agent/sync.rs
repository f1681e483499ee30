//! Keeping the journal flowing to the server: a sync now (with retries while the server cannot
//! be reached) and failed entries sent again.

use crate::cache::Cache;
use crate::journal::{Item, Status};
use crate::server::NetError;
use serde_json::{json, Value};
use uuid::Uuid;

use super::*;

impl Agent {
    /// Sends the journal now, retrying 1, 2, 4, 8 and 16 s (by default) while the server cannot
    /// be reached; what is still unsent then stays for the next try or `outpost-station sync`.
    pub fn sync_with_retries(&mut self) -> Result<(), AgentError> {
        let mut last = self.sync_once();
        for delay in self.delays().collect::<Vec<_>>() {
            match &last {
                Err(AgentError::Net(NetError::Unreachable(why))) => {
                    say(format!(
                        "The server is unreachable ({why}); trying again in {} ms.",
                        delay.as_millis()
                    ));
                    std::thread::sleep(delay);
                    last = self.sync_once();
                }
                _ => break,
            }
        }
        if let Err(AgentError::Net(NetError::Unreachable(_))) = &last {
            let waiting = self.journal.with_status(Status::Pending).len();
            say(format!("{waiting} entr{} kept in the journal for the next sync (automatic when `outpost-station run` reaches the server, or `outpost-station sync`).", if waiting == 1 { "y" } else { "ies" }));
        }
        last
    }

    /// One attempt: results of requested copies, then copies recorded here (in batches), then
    /// fresh quotas.
    pub fn sync_once(&mut self) -> Result<(), AgentError> {
        let pending = self.journal.with_status(Status::Pending);
        for e in &pending {
            if let Item::Report { copy_id, body } = &e.item {
                match self.server.report(*copy_id, body) {
                    Ok(()) => {
                        say(format!(
                            "Reported copy {copy_id}: {}.",
                            body["status"].as_str().unwrap_or("?")
                        ));
                        self.journal.set(*copy_id, Status::Synced, None)?
                    }
                    // The server's final word (an invalid report): sending it again would be
                    // refused again, so it stays failed, shown by `status`, until someone sends
                    // it on purpose (`sync --retry-failed`).
                    Err(NetError::Refused(code, why)) => {
                        say(format!(
                            "The server refused the report of copy {copy_id} ({code}): {why}. It will not be sent again."
                        ));
                        let reason = format!("refused by the server ({code}): {why}");
                        self.journal.set(*copy_id, Status::Failed, Some(reason))?
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let copies: Vec<&Item> = pending
            .iter()
            .map(|e| &e.item)
            .filter(|i| matches!(i, Item::Copy { .. }))
            .collect();
        if !copies.is_empty() {
            let envelope = Cache::load(&self.cfg.state_dir).capture_envelope;
            for chunk in copies.chunks(BATCH) {
                let ops: Vec<Value> = chunk
                    .iter()
                    .filter_map(|i| match i {
                        Item::Copy { op_id, captured_at, payload } => Some(json!({ "op_id": op_id, "kind": "badge.copy_record", "payload": payload, "captured_at": captured_at, "offline": true, "envelope": envelope })),
                        Item::Report { .. } => None,
                    })
                    .collect();
                let results = match self.server.push(ops) {
                    Ok(results) => results,
                    // The whole batch refused for good: resending it would be refused again.
                    Err(NetError::Refused(code, why)) => {
                        say(format!("The server refused {} recorded cop{} ({code}): {why}. They will not be sent again.", chunk.len(), if chunk.len() == 1 { "y" } else { "ies" }));
                        let reason = format!("refused by the server ({code}): {why}");
                        for item in chunk {
                            self.journal
                                .set(item.key(), Status::Failed, Some(reason.clone()))?;
                        }
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                for r in results {
                    let (status, reason) = if r.landed() {
                        (Status::Synced, None)
                    } else {
                        (
                            Status::Failed,
                            Some(r.reason.clone().unwrap_or_else(|| r.status.clone())),
                        )
                    };
                    match &reason {
                        None => say(format!("Synced copy {}.", r.op_id)),
                        Some(why) => say(format!("Copy {} failed at the server: {why}", r.op_id)),
                    }
                    self.journal.set(r.op_id, status, reason)?;
                }
            }
        }
        let cache = Cache::from_pull(&self.server.pull_badges()?);
        cache.save(&self.cfg.state_dir)?;
        Ok(())
    }

    /// Failed entries go back to pending, to be sent again (the design's manual retry).
    pub fn retry_failed(&mut self) -> Result<usize, AgentError> {
        let failed = self.journal.with_status(Status::Failed);
        for e in &failed {
            match &e.item {
                // A refused operation id is spent: the copy goes again under a new one.
                Item::Copy {
                    captured_at,
                    payload,
                    ..
                } => {
                    let again = Item::Copy {
                        op_id: Uuid::new_v4(),
                        captured_at: *captured_at,
                        payload: payload.clone(),
                    };
                    self.journal.add(again)?;
                    self.journal.set(e.item.key(), Status::Retried, None)?;
                }
                Item::Report { .. } => self.journal.set(e.item.key(), Status::Pending, None)?,
            }
        }
        Ok(failed.len())
    }
}
