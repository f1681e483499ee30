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
    drop(services);
    let _ = std::fs::remove_dir_all(&dir);
}
