//! The station's work: carry out the copies the server asks for (long-polling for them), copy a
//! badge on the spot when someone walks up (with or without the server), and keep everything in
//! the journal until the server has it.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::cache::Cache;
use crate::card::{self, CardError, Dump};
use crate::journal::{Item, Journal, Status};
use crate::reader::Reader;
use crate::server::{NetError, Server};

/// Longest wait for work in one pickup request (the server caps it at 30 s).
const PICKUP_WAIT: Duration = Duration::from_secs(25);
/// Operations per sync request (the server takes up to 200).
const BATCH: usize = 100;

pub struct Config {
    pub server: String,
    pub code: String,
    pub token: String,
    pub reader: String,
    pub state_dir: PathBuf,
    pub keys: Vec<[u8; 6]>,
    pub operator: String,
    pub card_timeout: Duration,
    /// The first retry delay; later ones double it: 1, 2, 4, 8, 16 s by default.
    pub retry_base: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Card(#[from] CardError),
    #[error("the journal could not be written ({0}); nothing was recorded")]
    Journal(#[from] std::io::Error),
    #[error("{0}")]
    Refused(String),
}

/// Tells the person at the station what is happening (one line each; the tests read them too).
pub fn say(text: impl AsRef<str>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", text.as_ref());
    let _ = out.flush();
}

pub struct Agent {
    pub cfg: Config,
    server: Server,
    journal: Journal,
}

/// Text for the server's free-text fields (`error`, `recorded_by`). The server refuses control
/// characters and more than 500 characters, and a refused report is final, so a newline or a
/// terminal escape in a reader's message or the operator's name would lose the report.
pub fn printable(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(500)
        .collect();
    text.trim().to_string()
}

impl Agent {
    pub fn new(mut cfg: Config) -> Result<Agent, AgentError> {
        cfg.operator = printable(&cfg.operator);
        let server = Server::new(&cfg.server, &cfg.code, &cfg.token)?;
        let journal = Journal::open(&cfg.state_dir)?;
        Ok(Agent {
            cfg,
            server,
            journal,
        })
    }

    fn delays(&self) -> impl Iterator<Item = Duration> + '_ {
        (0..5).map(|n| self.cfg.retry_base * 2u32.pow(n))
    }

    /// Reads the badge on the reader (checking it is `expected` when given).
    fn read_original(&self, reader: &Reader, expected: Option<&str>) -> Result<Dump, CardError> {
        say(match expected {
            Some(uid) => format!("Put badge {uid} on the reader."),
            None => "Put the badge to copy on the reader.".into(),
        });
        // A card still lying there from before (a failed copy) is not the one asked for now.
        if reader.wait_for_removal(Duration::ZERO).is_err() {
            say("Take the card that is on the reader off first.");
            reader.wait_for_removal(self.cfg.card_timeout)?;
        }
        let mut card = reader.wait_for_card(self.cfg.card_timeout)?;
        let uid = card::read_uid(&mut card)?;
        if let Some(want) = expected.filter(|w| !w.eq_ignore_ascii_case(&uid)) {
            return Err(CardError::WrongCard(format!(
                "the badge on the reader is {uid}, not {want}"
            )));
        }
        let dump = card::read_dump(&mut card, &self.cfg.keys)?;
        card.release();
        say(format!(
            "Badge {uid} read. Take it off and put a blank card on the reader."
        ));
        Ok(dump)
    }

    /// Writes the dump onto the next card put on the reader, and verifies it.
    fn write_blank(&self, reader: &Reader, dump: &Dump) -> Result<(), CardError> {
        reader.wait_for_removal(self.cfg.card_timeout)?;
        let mut blank = reader.wait_for_card(self.cfg.card_timeout)?;
        card::write_copy(&mut blank, dump, &self.cfg.keys)?;
        card::verify_copy(&mut blank, dump)?;
        blank.release();
        say(format!(
            "Copy of {} written and verified. Take the card off the reader.",
            dump.uid
        ));
        Ok(())
    }

    /// Carries out one copy the server asked for and reports it (through the journal).
    pub fn do_job(&mut self, job: &crate::server::Job) -> Result<(), AgentError> {
        say(format!(
            "Copy requested: badge {} (offer {}).",
            job.badge_uid, job.attempts
        ));
        let done = Reader::open(&self.cfg.reader).and_then(|r| {
            let dump = self.read_original(&r, Some(&job.badge_uid))?;
            self.write_blank(&r, &dump)?;
            Ok(dump)
        });
        if let Err(e) = &done {
            say(format!("Copy failed ({}): {e}", e.category()));
        }
        let body = self.report_body(&done);
        self.journal.add(Item::Report {
            copy_id: job.copy_id,
            body,
        })?;
        self.sync_with_retries()
    }

    /// The result report of a copy. The dump holds only hex digits and names; the free texts
    /// are made printable.
    fn report_body(&self, done: &Result<Dump, CardError>) -> Value {
        match done {
            Ok(dump) => {
                json!({ "status": "completed", "dump": dump.to_json(), "dump_sha256": dump.sha256(), "recorded_by": self.cfg.operator })
            }
            Err(e) => {
                json!({ "status": "failed", "error_category": e.category(), "error": printable(&e.to_string()), "recorded_by": self.cfg.operator })
            }
        }
    }

    /// A copy made here and now for whoever walked up, checked against the quotas the station
    /// last heard of; recorded in the journal, then sent when the server can be reached.
    pub fn copy_here(&mut self) -> Result<(), AgentError> {
        let mut cache = Cache::load(&self.cfg.state_dir);
        let Some(pulled_at) = cache.pulled_at else {
            return Err(AgentError::Refused("This station does not know the badges and quotas yet: run `outpost-station sync` once while the server can be reached.".into()));
        };
        let reader = Reader::open(&self.cfg.reader)?;
        let dump = self.read_original(&reader, None)?;
        let badge = cache
            .badge(&dump.uid)
            .cloned()
            .filter(|b| b.active)
            .ok_or_else(|| {
                AgentError::Refused(format!(
                    "Badge {} is not an active badge of a customer of this hub (as of {}).",
                    dump.uid,
                    pulled_at.format("%Y-%m-%d %H:%M UTC")
                ))
            })?;
        let left = cache
            .quota_mut(badge.customer_id)
            .map(|q| q.remaining)
            .unwrap_or(0);
        if left <= 0 {
            return Err(AgentError::Refused(format!(
                "Insufficient quota: no copies left for this customer (as of {}).",
                pulled_at.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        self.write_blank(&reader, &dump)?;
        let copy_id = Uuid::new_v4();
        let payload = json!({ "copy_id": copy_id, "customer_id": badge.customer_id, "badge_uid": dump.uid, "recorded_by": self.cfg.operator, "dump": dump.to_json(), "dump_sha256": dump.sha256() });
        self.journal.add(Item::Copy {
            op_id: Uuid::new_v4(),
            captured_at: Utc::now(),
            payload,
        })?;
        if let Some(q) = cache.quota_mut(badge.customer_id) {
            q.remaining -= 1;
        }
        cache.save(&self.cfg.state_dir)?;
        say("Saved locally, will sync when online.");
        match self.sync_with_retries() {
            Err(AgentError::Net(NetError::Unreachable(_))) => Ok(()),
            other => other,
        }
    }

    /// The service: waits for copies, carries them out, keeps the journal flowing.
    pub fn run(&mut self) -> Result<(), AgentError> {
        match Reader::open(&self.cfg.reader) {
            Ok(r) => say(format!(
                "Station {} ready on reader {}.",
                self.cfg.code,
                r.name()
            )),
            Err(e) => say(format!(
                "Station {} started without a reader: {e}. Copies fail until one is connected.",
                self.cfg.code
            )),
        }
        let mut failures = 0u32;
        loop {
            if !self.journal.with_status(Status::Pending).is_empty() {
                // Back online after an outage: what waited goes first.
                if let Err(e) = self.sync_once() {
                    say(format!("Sync postponed: {e}"));
                }
            }
            match self.server.next_job(PICKUP_WAIT) {
                Ok(Some(job)) => {
                    failures = 0;
                    if let Err(e) = self.do_job(&job) {
                        say(format!("Copy {} not reported yet: {e}", job.copy_id));
                    }
                }
                Ok(None) => failures = 0,
                Err(e @ NetError::Unauthorised(_)) => return Err(e.into()),
                Err(e) => {
                    let delay = self.cfg.retry_base * 2u32.pow(failures.min(4));
                    say(format!("Waiting for the server: {e}"));
                    std::thread::sleep(delay);
                    failures += 1;
                }
            }
        }
    }

    /// The journal and the last known quotas, for people.
    pub fn status(&self) -> String {
        let mut out = String::new();
        for status in [Status::Pending, Status::Failed, Status::Synced] {
            let entries = self.journal.with_status(status);
            out.push_str(&format!("{status:?}: {}\n", entries.len()));
            if status == Status::Failed {
                for e in entries {
                    out.push_str(&format!(
                        "  {} — {}\n",
                        e.item.key(),
                        e.reason.unwrap_or_default()
                    ));
                }
            }
        }
        let cache = Cache::load(&self.cfg.state_dir);
        match cache.pulled_at {
            Some(at) => out.push_str(&format!(
                "Quotas as of {}:\n",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            )),
            None => out.push_str("No quotas known yet (never synced).\n"),
        }
        for q in cache.quotas {
            out.push_str(&format!(
                "  customer {}: {} of {} left ({})\n",
                q.customer_id, q.remaining, q.limit, q.period
            ));
        }
        out.push_str(&format!("Journal: {}\n", self.journal.path().display()));
        out
    }
}

mod sync;

#[cfg(test)]
mod tests;
