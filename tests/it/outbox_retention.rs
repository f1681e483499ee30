//! Published outbox rows are pruned once past the retention window, by the worker's outbox
//! sweep, turn after turn; rows not yet published, and recent ones, stay.

use std::time::{Duration, Instant};

use crate::common::TestApp;

fn row(app: &TestApp, topic: &str, published_hours_ago: Option<i64>) -> i64 {
    let published = match published_hours_ago {
        Some(h) => format!("now() - interval '{h} hours'"),
        None => "NULL".into(),
    };
    app.id_of(&format!(
        "INSERT INTO outbox (topic, payload, created_at, published_at) \
         VALUES ('{topic}', '{{}}', now() - interval '3 hours', {published}) RETURNING id"
    ))
}

fn present(app: &TestApp, id: i64) -> bool {
    app.count(&format!("SELECT count(*) AS n FROM outbox WHERE id = {id}")) == 1
}

async fn gone_within(app: &TestApp, id: i64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !present(app, id) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_events_past_the_window_are_pruned_turn_after_turn() {
    let app = TestApp::builder()
        .setting("OUTPOST_OUTBOX_KEEP_HOURS", "1")
        .start()
        .await;
    let old = row(&app, "test.old", Some(2));
    let recent = row(&app, "test.recent", Some(0));
    let waiting = row(&app, "test.waiting", None);
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(outpost::worker::run(app.state.clone(), async move {
        let _ = rx.await;
    }));
    // The sweep runs every 10 s; a liveness guard, not a speed test.
    assert!(
        gone_within(&app, old, Duration::from_secs(60)).await,
        "the row published two hours ago is pruned"
    );
    assert!(present(&app, recent), "a row inside the window stays");
    assert!(
        present(&app, waiting),
        "an unpublished row is published, not pruned"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM outbox WHERE id = {waiting} AND published_at > now() - interval '5 minutes'"
        )),
        1,
        "the waiting row was published by the sweep"
    );
    // A later turn of the same worker prunes again.
    let later = row(&app, "test.later", Some(5));
    assert!(
        gone_within(&app, later, Duration::from_secs(60)).await,
        "a later turn prunes too"
    );
    assert!(present(&app, recent) && present(&app, waiting));
    let _ = stop.send(());
    worker.await.unwrap().unwrap();
    app.shutdown().await;
}
