//! `outpost demo`'s private PostgreSQL and Redis: they start from the system binaries, keep
//! their data across runs, and stop when the guard is dropped.

use diesel::prelude::*;
use outpost::demo::launcher::PrivateServices;

#[tokio::test(flavor = "multi_thread")]
async fn private_services_start_keep_data_and_stop() {
    // Under /tmp so the `postgres` system user can reach it when the tests run as root.
    let dir = std::env::temp_dir().join(format!(
        "outpost-launcher-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let services = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || PrivateServices::start(&dir).expect("private services start")
    })
    .await
    .unwrap();
    let db_url = services.database_url.clone();
    let redis_url = services.redis_url.clone();
    tokio::task::spawn_blocking({
        let url = db_url.clone();
        move || {
            let mut conn = PgConnection::establish(&url).unwrap();
            diesel::sql_query("CREATE TABLE kept (v TEXT)")
                .execute(&mut conn)
                .unwrap();
            diesel::sql_query("INSERT INTO kept VALUES ('still here')")
                .execute(&mut conn)
                .unwrap();
        }
    })
    .await
    .unwrap();
    outpost::redis_conn::connect(&redis_url)
        .await
        .expect("private redis answers");
    drop(services);

    // Stopped: the old Redis port no longer answers.
    assert!(outpost::redis_conn::connect(&redis_url).await.is_err());

    // A second start reuses the data directory.
    let services = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || PrivateServices::start(&dir).unwrap()
    })
    .await
    .unwrap();
    let url = services.database_url.clone();
    let kept = tokio::task::spawn_blocking(move || {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        diesel::sql_query("SELECT v FROM kept")
            .get_result::<Row>(&mut PgConnection::establish(&url).unwrap())
            .unwrap()
            .v
    })
    .await
    .unwrap();
    assert_eq!(kept, "still here");
    // As durable as a normal PostgreSQL: a power cut loses no committed data.
    let url = services.database_url.clone();
    let settings = tokio::task::spawn_blocking(move || {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        let mut conn = PgConnection::establish(&url).unwrap();
        ["fsync", "synchronous_commit", "full_page_writes"].map(|name| {
            diesel::sql_query(format!("SELECT current_setting('{name}') AS v"))
                .get_result::<Row>(&mut conn)
                .unwrap()
                .v
        })
    })
    .await
    .unwrap();
    assert_eq!(settings, ["on", "on", "on"]);
    drop(services);
    let _ = std::fs::remove_dir_all(&dir);
}

/// As root, in a private folder (a clone under /root): the `postgres` system user cannot get
/// in, so the cluster goes to a folder it can reach, and the next run finds the data again.
#[tokio::test(flavor = "multi_thread")]
async fn a_private_data_directory_still_starts_and_keeps_its_data() {
    let root =
        std::env::temp_dir().join(format!("outpost-private-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&root).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
    let dir = root.join("clone").join(".outpost");
    let start = |dir: std::path::PathBuf| {
        tokio::task::spawn_blocking(move || {
            PrivateServices::start(&dir).expect("starts in a private folder")
        })
    };
    let services = start(dir.clone()).await.unwrap();
    let is_root = unsafe { libc::geteuid() } == 0;
    if is_root {
        assert!(
            services.pg_root.starts_with("/var/lib/outpost"),
            "{}",
            services.pg_root.display()
        );
    } else {
        assert!(services.pg_root.starts_with(&root));
    }
    let url = services.database_url.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = PgConnection::establish(&url).unwrap();
        diesel::sql_query("CREATE TABLE kept (v TEXT)")
            .execute(&mut conn)
            .unwrap();
    })
    .await
    .unwrap();
    let first_root = services.pg_root.clone();
    drop(services);
    let services = start(dir.clone()).await.unwrap();
    assert_eq!(services.pg_root, first_root, "the same data again");
    let url = services.database_url.clone();
    tokio::task::spawn_blocking(move || {
        diesel::sql_query("SELECT v FROM kept")
            .execute(&mut PgConnection::establish(&url).unwrap())
            .expect("the table is still there")
    })
    .await
    .unwrap();
    drop(services);
    let _ = std::fs::remove_dir_all(&first_root);
    let _ = std::fs::remove_dir_all(&root);
}
