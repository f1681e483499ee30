//! Issue 31: audit checkpoints belong to one database. Two deployments sharing a checkpoint
//! folder and a Redis keep their own; a database restored to before its latest checkpoint is
//! told so in words (not as a forgery), confirmed by an earlier hourly checkpoint, and accepted
//! with `--restored`, after which the new checkpoints are kept again.

use diesel::prelude::*;

use crate::audit_log::{cli_verify, record_some, settings};
use crate::common::TestDb;

/// `outpost audit <args>` against `db`, checkpoints in `dir`, with the suite's Redis and the
/// default prefix (shared by every deployment that does not set one).
fn cli_with_redis(db: &TestDb, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let redis =
        std::env::var("OUTPOST_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .arg("audit")
        .args(args)
        .env("OUTPOST_DATABASE_URL", &db.url)
        .env("OUTPOST_AUDIT_CHECKPOINT_DIR", dir)
        .env("OUTPOST_REDIS_URL", redis)
        .env("OUTPOST_REDIS_PREFIX", "outpost-shared-test")
        .env_remove("OUTPOST_SECRET_KEY")
        .output()
        .unwrap()
}

fn said(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn temp_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("outpost-audit-{}", uuid::Uuid::new_v4()))
}

#[test]
fn two_databases_sharing_a_folder_and_a_redis_keep_their_own_checkpoints() {
    let dir = temp_dir();
    let (first, second) = (TestDb::migrated(), TestDb::migrated());
    record_some(&mut first.conn(), 5);
    record_some(&mut second.conn(), 2);
    for db in [&first, &second] {
        let out = cli_with_redis(db, &dir, &["seal"]);
        assert!(out.status.success(), "{}", said(&out));
    }
    // The first database's checkpoint (link 5) is not replaced by the second's (link 2), in
    // the folder or in Redis: each verifies against its own.
    for (db, seq) in [(&first, 5), (&second, 2)] {
        let out = cli_with_redis(db, &dir, &["verify"]);
        assert!(out.status.success(), "{}", said(&out));
        assert!(
            said(&out).contains(&format!("reaches the signed checkpoint of link {seq}")),
            "{}",
            said(&out)
        );
    }
    let folders = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(folders, 2, "one folder per database");
}

#[test]
fn a_database_restored_to_before_its_checkpoint_is_told_so_and_can_be_accepted() {
    use outpost::audit::checkpoint::Checkpoint;
    use outpost::audit::checkpoint_store as store;
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let dir = temp_dir();
    let settings = settings(&dir);
    let database = store::database(&mut conn).unwrap();
    let kept = store::dir(&settings, &database);
    let publish = |conn: &mut PgConnection| {
        let head = outpost::audit::seal::seal_all(conn).unwrap().unwrap();
        store::write_file(&kept, &Checkpoint::sign(&head, &database, &settings)).unwrap();
    };
    // Link 4 is the hour's first checkpoint (kept in the history), link 6 the latest.
    record_some(&mut conn, 4);
    publish(&mut conn);
    record_some(&mut conn, 2);
    publish(&mut conn);
    assert_eq!(
        store::history(&kept)
            .iter()
            .map(|c| c.seq)
            .collect::<Vec<_>>(),
        [4]
    );

    // The database as a backup taken at link 4 brings it back (the topology drill restores a
    // real one): its chain holds and ends at link 4.
    for sql in [
        "ALTER TABLE audit_log DISABLE TRIGGER USER",
        "ALTER TABLE audit_chain DISABLE TRIGGER USER",
        "DELETE FROM audit_chain WHERE seq > 4",
        "DELETE FROM audit_log WHERE id > (SELECT audit_id FROM audit_chain WHERE seq = 4)",
        "ALTER TABLE audit_log ENABLE TRIGGER USER",
        "ALTER TABLE audit_chain ENABLE TRIGGER USER",
    ] {
        diesel::sql_query(sql).execute(&mut conn).unwrap();
    }
    let out = cli_verify(&db, &dir);
    assert_eq!(out.status.code(), Some(1));
    let words = said(&out);
    assert!(
        words.contains("ends at link 4, but its latest checkpoint")
            && words.contains("restored from a backup taken before then")
            && words.contains("the chain agrees with the checkpoint of link 4")
            && words.contains("--restored")
            && !words.contains("not signed"),
        "{words}"
    );

    // Accepted: the checkpoint of the lost time is set aside (kept), and the next one is kept.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["audit", "verify", "--restored"])
        .env("OUTPOST_DATABASE_URL", &db.url)
        .env("OUTPOST_AUDIT_CHECKPOINT_DIR", &dir)
        .env_remove("OUTPOST_REDIS_URL")
        .env_remove("OUTPOST_SECRET_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains("intact up to the restore"),
        "{}",
        said(&out)
    );
    assert_eq!(
        std::fs::read_dir(kept.join("superseded")).unwrap().count(),
        1
    );
    record_some(&mut conn, 1);
    publish(&mut conn);
    let out = cli_verify(&db, &dir);
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains("reaches the signed checkpoint of link 5"),
        "{}",
        said(&out)
    );

    // A checkpoint copied in from another database's folder is refused, not trusted.
    let other = TestDb::migrated();
    let elsewhere = store::dir(&settings, &store::database(&mut other.conn()).unwrap());
    assert_ne!(elsewhere, kept, "another database, another folder");
    std::fs::copy(kept.join("latest.json"), elsewhere.join("latest.json"))
        .or_else(|_| {
            std::fs::create_dir_all(&elsewhere)?;
            std::fs::copy(kept.join("latest.json"), elsewhere.join("latest.json"))
        })
        .unwrap();
    let out = cli_verify(&other, &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        said(&out).contains(&format!("belongs to database {database}")),
        "{}",
        said(&out)
    );
}

/// A missing or damaged checkpoint is never read as "intact" (an independent tester's finding):
/// with sealed rows and nothing outside the database to say where the chain ended, the removal
/// of its newest rows could not be seen.
#[test]
fn missing_or_damaged_checkpoints_are_not_called_intact() {
    use outpost::audit::checkpoint_store as store;
    let db = TestDb::migrated();
    let dir = temp_dir();
    let out = cli_verify(&db, &dir);
    assert!(out.status.success(), "nothing sealed yet: {}", said(&out));
    record_some(&mut db.conn(), 3);
    outpost::audit::seal::seal_all(&mut db.conn()).unwrap();
    let out = cli_verify(&db, &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        said(&out).contains("no checkpoint of this database")
            && said(&out).contains("3 row(s) are sealed"),
        "{}",
        said(&out)
    );
    let kept = store::dir(&settings(&dir), &store::database(&mut db.conn()).unwrap());
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::write(kept.join("latest.json"), "{").unwrap();
    let out = cli_verify(&db, &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        said(&out).contains("audit checkpoint damaged"),
        "{}",
        said(&out)
    );
}
