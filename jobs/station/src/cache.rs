//! What the station knew at its last successful pull: the badges of its hub's customers, their
//! quotas, and the capture envelope its offline copies carry. Written atomically (a temporary
//! file, fsync, rename), so a crash leaves the old or the new picture, never half of one.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Quota {
    pub customer_id: i64,
    pub limit: i32,
    pub remaining: i32,
    pub period: String,
    pub next_reset_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Badge {
    pub uid: String,
    pub customer_id: i64,
    pub active: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Cache {
    pub pulled_at: Option<DateTime<Utc>>,
    pub quotas: Vec<Quota>,
    pub badges: Vec<Badge>,
    pub capture_envelope: Option<String>,
}

fn file(dir: &Path) -> PathBuf {
    dir.join("quotas.json")
}

impl Cache {
    pub fn load(dir: &Path) -> Cache {
        std::fs::read(file(dir))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// The picture from a pull's `badges` section.
    pub fn from_pull(section: &Value) -> Cache {
        Cache {
            pulled_at: Some(Utc::now()),
            quotas: serde_json::from_value(section["quotas"].clone()).unwrap_or_default(),
            badges: serde_json::from_value(section["badges"].clone()).unwrap_or_default(),
            capture_envelope: section["capture_envelope"].as_str().map(str::to_string),
        }
    }

    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        use std::io::Write;
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join("quotas.json.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, file(dir))?;
        std::fs::File::open(dir)?.sync_all()
    }

    pub fn badge(&self, uid: &str) -> Option<&Badge> {
        self.badges.iter().find(|b| b.uid == uid)
    }

    pub fn quota_mut(&mut self, customer_id: i64) -> Option<&mut Quota> {
        self.quotas
            .iter_mut()
            .find(|q| q.customer_id == customer_id)
    }
}
