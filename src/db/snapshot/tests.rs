use super::*;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};

fn at(text: &str) -> Snapshot {
    Snapshot(text.into())
}

/// What `get_or_compute` gives, counting the computations it made.
async fn value(
    cache: &SnapshotCache<i32, &'static str>,
    computed: &AtomicUsize,
    snapshot: &str,
    key: i32,
    fresh: &'static str,
) -> &'static str {
    cache
        .get_or_compute(&at(snapshot), key, || async {
            computed.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Infallible>(fresh)
        })
        .await
        .unwrap()
}

#[actix_web::test]
async fn an_entry_is_reused_only_at_the_snapshot_it_was_computed_at() {
    let cache = SnapshotCache::new(10);
    let computed = AtomicUsize::new(0);
    assert_eq!(value(&cache, &computed, "5:7:5", 1, "one").await, "one");
    assert_eq!(value(&cache, &computed, "5:7:5", 1, "stale").await, "one");
    assert_eq!(computed.load(Ordering::SeqCst), 1);
    assert_eq!(
        value(&cache, &computed, "5:8:5", 1, "new").await,
        "new",
        "a commit since"
    );
    assert_eq!(value(&cache, &computed, "5:8:5", 2, "two").await, "two");
    assert_eq!(computed.load(Ordering::SeqCst), 3);
}

#[actix_web::test]
async fn an_older_reading_computes_for_itself_and_keeps_the_newer_entries() {
    let cache = SnapshotCache::new(10);
    let computed = AtomicUsize::new(0);
    value(&cache, &computed, "5:9:", 1, "newer").await;
    assert_eq!(value(&cache, &computed, "5:8:5", 1, "older").await, "older");
    assert_eq!(value(&cache, &computed, "5:9:", 1, "again").await, "newer");
    assert_eq!(computed.load(Ordering::SeqCst), 2);
}

#[actix_web::test]
async fn the_capacity_holds() {
    let cache = SnapshotCache::new(2);
    let computed = AtomicUsize::new(0);
    for key in 0..5 {
        value(&cache, &computed, "1:2:", key, "v").await;
        assert!(cache.len() <= 2);
    }
}

#[actix_web::test]
async fn concurrent_misses_of_one_key_wait_for_one_computation() {
    let cache = SnapshotCache::new(10);
    let computed = AtomicUsize::new(0);
    let slow = || async {
        computed.fetch_add(1, Ordering::SeqCst);
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        Ok::<_, Infallible>("drawn")
    };
    let now = at("3:4:");
    let all =
        futures_util::future::join_all((0..50).map(|_| cache.get_or_compute(&now, 1, slow))).await;
    assert!(all.iter().all(|v| *v == Ok("drawn")));
    assert_eq!(computed.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn a_failed_computation_is_not_kept() {
    let cache: SnapshotCache<i32, i32> = SnapshotCache::new(10);
    let failed = cache
        .get_or_compute(&at("3:4:"), 1, || async { Err("database gone") })
        .await;
    assert_eq!(failed, Err("database gone"));
    assert!(cache.is_empty());
    let next = cache
        .get_or_compute(&at("3:4:"), 1, || async { Ok::<_, &str>(7) })
        .await;
    assert_eq!(next, Ok(7));
    let kept = cache
        .get_or_compute(&at("3:4:"), 1, || async { Ok::<_, &str>(8) })
        .await;
    assert_eq!(kept, Ok(7));
}

#[actix_web::test]
async fn those_waiting_on_a_failed_computation_try_side_by_side_not_in_turn() {
    let cache: SnapshotCache<i32, i32> = SnapshotCache::new(10);
    let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let now = at("3:4:");
    let first = cache.get_or_compute(&now, 1, || async {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        Err("database gone")
    });
    let waiters = (0..8).map(|_| {
        cache.get_or_compute(&now, 1, || async {
            let at_once = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(at_once, Ordering::SeqCst);
            actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Err("still gone")
        })
    });
    let (first, waiters) =
        futures_util::future::join(first, futures_util::future::join_all(waiters)).await;
    assert_eq!(first, Err("database gone"));
    assert!(waiters.iter().all(|r| *r == Err("still gone")));
    assert_eq!(most.load(Ordering::SeqCst), 8, "all eight at once");
}

#[actix_web::test]
async fn a_computation_whose_request_went_away_leaves_no_entry_behind() {
    let cache: SnapshotCache<i32, i32> = SnapshotCache::new(10);
    let now = at("3:4:");
    let abandoned = cache.get_or_compute(&now, 1, || {
        std::future::pending::<Result<i32, Infallible>>()
    });
    let gone = actix_web::rt::time::timeout(std::time::Duration::from_millis(5), abandoned);
    assert!(gone.await.is_err());
    assert!(cache.is_empty());
    let next = cache
        .get_or_compute(&at("3:4:"), 1, || async { Ok::<_, Infallible>(9) })
        .await;
    assert_eq!(next, Ok(9));
}
