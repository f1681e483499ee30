//! The station's journal: an append-only file of JSON lines, each flushed to disk (fsync) before
//! the agent says anything was saved, so that what the station did survives a crash, a power cut
//! or a restart. One line records an entry to send (a copy recorded here, or the result of a copy
//! the server asked for); later lines record what became of it. A line torn by a crash while it
//! was written is cut off when the journal is opened.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Synced,
    Failed,
    /// Sent again under a new operation id (a refused operation id is spent at the server).
    Retried,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    /// A copy made at the station on its own: a `badge.copy_record` operation for the sync API.
    Copy {
        op_id: Uuid,
        captured_at: DateTime<Utc>,
        payload: Value,
    },
    /// The result of a copy the server asked for, still to be reported.
    Report { copy_id: Uuid, body: Value },
}

impl Item {
    pub fn key(&self) -> Uuid {
        match self {
            Item::Copy { op_id, .. } => *op_id,
            Item::Report { copy_id, .. } => *copy_id,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub item: Item,
    pub status: Status,
    pub reason: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    Add(Item),
    Outcome {
        key: Uuid,
        status: Status,
        reason: Option<String>,
    },
}

pub struct Journal {
    path: PathBuf,
    file: File,
    entries: Vec<Entry>,
}

impl Journal {
    pub fn open(dir: &Path) -> std::io::Result<Journal> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("journal.jsonl");
        let created = !path.exists();
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        if created {
            // The new name must survive a crash too.
            File::open(dir)?.sync_all()?;
        }
        let mut entries: Vec<Entry> = Vec::new();
        let mut good = 0u64;
        let mut reader = BufReader::new(&mut file);
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader.read_line(&mut line)?;
            if n == 0 || !line.ends_with('\n') {
                break;
            }
            let Ok(parsed) = serde_json::from_str::<Line>(&line) else {
                break;
            };
            good += n as u64;
            match parsed {
                Line::Add(item) => entries.push(Entry {
                    item,
                    status: Status::Pending,
                    reason: None,
                }),
                Line::Outcome {
                    key,
                    status,
                    reason,
                } => {
                    if let Some(e) = entries.iter_mut().find(|e| e.item.key() == key) {
                        e.status = status;
                        e.reason = reason;
                    }
                }
            }
        }
        drop(reader);
        if file.seek(SeekFrom::End(0))? != good {
            // A torn last line: cut it off so the next line starts clean.
            file.set_len(good)?;
            file.sync_all()?;
        }
        Ok(Journal {
            path,
            file,
            entries,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, line: &Line) -> std::io::Result<()> {
        let mut text = serde_json::to_string(line).map_err(std::io::Error::other)?;
        text.push('\n');
        self.file.write_all(text.as_bytes())?;
        self.file.sync_data()
    }

    /// Adds an entry; it is on disk when this returns.
    pub fn add(&mut self, item: Item) -> std::io::Result<()> {
        self.write(&Line::Add(item.clone()))?;
        self.entries.push(Entry {
            item,
            status: Status::Pending,
            reason: None,
        });
        Ok(())
    }

    pub fn set(
        &mut self,
        key: Uuid,
        status: Status,
        reason: Option<String>,
    ) -> std::io::Result<()> {
        self.write(&Line::Outcome {
            key,
            status,
            reason: reason.clone(),
        })?;
        if let Some(e) = self.entries.iter_mut().find(|e| e.item.key() == key) {
            e.status = status;
            e.reason = reason;
        }
        Ok(())
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn with_status(&self, status: Status) -> Vec<Entry> {
        self.entries
            .iter()
            .filter(|e| e.status == status)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        std::env::temp_dir().join(format!("outpost-journal-{}", Uuid::new_v4()))
    }

    #[test]
    fn entries_and_outcomes_survive_reopening_and_a_torn_line_is_cut() {
        let dir = dir();
        let a = Item::Report {
            copy_id: Uuid::new_v4(),
            body: serde_json::json!({"status": "completed"}),
        };
        let b = Item::Copy {
            op_id: Uuid::new_v4(),
            captured_at: Utc::now(),
            payload: serde_json::json!({"x": 1}),
        };
        {
            let mut j = Journal::open(&dir).unwrap();
            j.add(a.clone()).unwrap();
            j.add(b.clone()).unwrap();
            j.set(b.key(), Status::Failed, Some("Insufficient quota".into()))
                .unwrap();
        }
        // A crash in the middle of the next line.
        OpenOptions::new()
            .append(true)
            .open(dir.join("journal.jsonl"))
            .unwrap()
            .write_all(b"{\"add\":{\"type\":\"rep")
            .unwrap();
        let mut j = Journal::open(&dir).unwrap();
        assert_eq!(j.with_status(Status::Pending).len(), 1);
        assert_eq!(
            j.with_status(Status::Failed)[0].reason.as_deref(),
            Some("Insufficient quota")
        );
        j.set(a.key(), Status::Synced, None).unwrap();
        let j = Journal::open(&dir).unwrap();
        assert_eq!(j.entries().len(), 2);
        assert_eq!(j.with_status(Status::Synced).len(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
