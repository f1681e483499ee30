//! Where the signed checkpoints are kept: per database, a folder under the configured one
//! (`latest.json`, and the first checkpoint of every hour in `history/`) and a Redis key.
//!
//! Per database, because several deployments, or a test run beside a real one, may share a
//! folder and a Redis: one database's checkpoint must never replace another's. The hourly
//! history is what lets a database restored from a backup be checked against a checkpoint of
//! its own time, and be told apart from one whose newest rows were removed.

use std::io::Write;
use std::path::{Path, PathBuf};

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::checkpoint::Checkpoint;
use crate::config::Settings;
use crate::state::AppState;

const LATEST: &str = "latest.json";
const HISTORY: &str = "history";
const SUPERSEDED: &str = "superseded";
const REDIS_SUFFIX: &str = "audit:checkpoint";

/// Which database a chain is: its cluster's system identifier (new for every `initdb`, kept
/// by physical standbys and backups) and the database's name, as `7716665368317745352/outpost`.
pub fn database(conn: &mut PgConnection) -> QueryResult<String> {
    #[derive(QueryableByName)]
    struct Named {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let row: Named = diesel::sql_query(
        "SELECT system_identifier::text || '/' || current_database() AS name FROM pg_control_system()",
    )
    .get_result(conn)?;
    Ok(row.name)
}

/// The folder of a database's checkpoints: its system identifier and name, spelled safely for
/// a file name (a name that had to be respelled gets a hash, so two cannot meet).
pub fn dir(settings: &Settings, database: &str) -> PathBuf {
    use sha2::Digest;
    let (system, name) = database.split_once('/').unwrap_or(("", database));
    let safe: String = name
        .chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => c,
            _ => '_',
        })
        .collect();
    let folder = if safe == name {
        format!("{system}-{name}")
    } else {
        let digest = hex::encode(sha2::Sha256::digest(database.as_bytes()));
        format!("{system}-{safe}-{}", &digest[..12])
    };
    settings.audit_checkpoint_dir.join(folder)
}

fn redis_key(prefix: &str, database: &str) -> String {
    format!("{prefix}:{REDIS_SUFFIX}:{database}")
}

/// Stores a checkpoint in its database's folder and in Redis, unless a newer one is there.
pub async fn publish(state: &AppState, checkpoint: &Checkpoint) -> anyhow::Result<()> {
    let dir = dir(&state.settings, &checkpoint.database);
    let copy = checkpoint.clone();
    let file = tokio::task::spawn_blocking(move || write_file(&dir, &copy));
    let text = serde_json::to_string(checkpoint)?;
    // Set only when newer: two sequencers of different processes may finish out of order.
    let script = redis::Script::new(
        "local cur = redis.call('GET', KEYS[1]) \
         if cur and cjson.decode(cur)['seq'] >= tonumber(ARGV[1]) then return 0 end \
         redis.call('SET', KEYS[1], ARGV[2]) return 1",
    );
    let mut conn = state.redis.clone();
    let redis: redis::RedisResult<i64> = script
        .key(redis_key(
            &state.settings.redis_prefix,
            &checkpoint.database,
        ))
        .arg(checkpoint.seq)
        .arg(text)
        .invoke_async(&mut conn)
        .await;
    file.await??;
    redis?;
    Ok(())
}

/// Writes `latest.json` atomically (temporary file, fsync, rename, fsync of the folder) when
/// it is newer than the one there, and keeps it in `history/` when it is the hour's first.
pub fn write_file(dir: &Path, checkpoint: &Checkpoint) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join(HISTORY))?;
    keep_in_history(dir, checkpoint)?;
    if read_file(dir).is_some_and(|old| old.seq >= checkpoint.seq) {
        return Ok(());
    }
    let tmp = dir.join(format!(".{LATEST}.{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(serde_json::to_string_pretty(checkpoint)?.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(LATEST))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// The hour's first checkpoint, in a file of its own that is never rewritten (a second writer
/// of the same hour finds it there and leaves it).
fn keep_in_history(dir: &Path, checkpoint: &Checkpoint) -> anyhow::Result<()> {
    let name = format!("{}.json", checkpoint.signed_at.format("%Y-%m-%dT%H"));
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dir.join(HISTORY).join(name));
    match created {
        Ok(mut f) => {
            f.write_all(serde_json::to_string_pretty(checkpoint)?.as_bytes())?;
            f.sync_all()?;
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The latest checkpoint in the folder, if one is there and readable.
pub fn read_file(dir: &Path) -> Option<Checkpoint> {
    read(&dir.join(LATEST))
}

fn read(path: &Path) -> Option<Checkpoint> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// The hourly checkpoints in the folder, oldest link first.
pub fn history(dir: &Path) -> Vec<Checkpoint> {
    let mut kept: Vec<Checkpoint> = std::fs::read_dir(dir.join(HISTORY))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| read(&entry.path()))
        .collect();
    kept.sort_by_key(|c| c.seq);
    kept
}

/// The database's checkpoint in Redis, if Redis is configured and holds one; an error when
/// what it holds is not a checkpoint (a damaged one is not the same as none).
pub async fn read_redis(settings: &Settings, database: &str) -> Result<Option<Checkpoint>, String> {
    let Some(mut conn) = redis_connection(settings).await else {
        return Ok(None);
    };
    let key = redis_key(&settings.redis_prefix, database);
    let text: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .map_err(|e| format!("Redis key {key} cannot be read: {e}"))?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| format!("Redis key {key} is not a checkpoint: {e}"))
    })
    .transpose()
}

/// The latest checkpoint in the folder; an error when the file is there but is not one.
pub fn read_file_checked(dir: &Path) -> Result<Option<Checkpoint>, String> {
    let path = dir.join(LATEST);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{} is not a checkpoint: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{} cannot be read: {e}", path.display())),
    }
}

async fn redis_connection(settings: &Settings) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(settings.redis_url.as_deref()?).ok()?;
    tokio::time::timeout(
        std::time::Duration::from_secs(3),
        client.get_multiplexed_async_connection(),
    )
    .await
    .ok()?
    .ok()
}

/// After a restore the operator accepted: the checkpoints of links the database no longer has
/// (the time after its backup) move to `superseded/`, and Redis forgets its newer one, so the
/// sequencer's checkpoints of the chain as it now grows are kept again. Returns how many moved.
pub async fn supersede(
    settings: &Settings,
    database: &str,
    kept_seq: i64,
) -> anyhow::Result<usize> {
    let dir = dir(settings, database);
    let aside = dir.join(SUPERSEDED);
    std::fs::create_dir_all(&aside)?;
    let mut moved = 0;
    let mut candidates = vec![dir.join(LATEST)];
    candidates.extend(
        std::fs::read_dir(dir.join(HISTORY))?
            .flatten()
            .map(|e| e.path()),
    );
    for path in candidates {
        let Some(c) = read(&path).filter(|c| c.seq > kept_seq) else {
            continue;
        };
        let name = format!(
            "{}-link-{}.json",
            c.signed_at.format("%Y%m%dT%H%M%S%.6f"),
            c.seq
        );
        std::fs::rename(&path, aside.join(name))?;
        moved += 1;
    }
    std::fs::File::open(&dir)?.sync_all()?;
    // A damaged value goes too: it is no record of this database's chain.
    if read_redis(settings, database)
        .await
        .map_or(true, |c| c.is_some_and(|c| c.seq > kept_seq))
    {
        if let Some(mut conn) = redis_connection(settings).await {
            redis::cmd("DEL")
                .arg(redis_key(&settings.redis_prefix, database))
                .query_async::<()>(&mut conn)
                .await?;
            moved += 1;
        }
    }
    Ok(moved)
}
