//! The demo world: what it contains, and that seeding twice changes nothing.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use outpost::demo::seed::{self, SeedOutcome};

use crate::common::TestDb;

#[derive(QueryableByName, Debug, PartialEq)]
struct Fingerprint {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = BigInt)]
    rows: i64,
    #[diesel(sql_type = Text)]
    digest: String,
}

/// Row count and a digest of every row of every table, to prove nothing changed.
fn fingerprint(conn: &mut PgConnection) -> Vec<Fingerprint> {
    let tables = [
        "organisations",
        "hubs",
        "users",
        "user_hubs",
        "customers",
        "user_customers",
        "product_families",
        "product_identities",
        "product_variants",
        "stock_ledger",
        "stock_levels",
        "nfc_stations",
        "app_meta",
    ];
    tables
        .iter()
        .map(|t| {
            diesel::sql_query(format!(
                "SELECT '{t}' AS table_name, count(*) AS rows, coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') AS digest FROM {t} x"
            ))
            .get_result(conn)
            .unwrap()
        })
        .collect()
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(sql).get_result::<N>(conn).unwrap().n
}

#[test]
fn seeding_twice_changes_nothing() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    assert_eq!(seed::seed(&mut conn).unwrap(), SeedOutcome::Seeded);
    let first = fingerprint(&mut conn);
    assert_eq!(seed::seed(&mut conn).unwrap(), SeedOutcome::AlreadySeeded);
    assert_eq!(fingerprint(&mut conn), first);
}

#[test]
fn concurrent_seeders_load_the_world_once() {
    let db = TestDb::migrated();
    let outcomes: Vec<SeedOutcome> = (0..2)
        .map(|_| {
            let url = db.url.clone();
            std::thread::spawn(move || {
                seed::seed(&mut PgConnection::establish(&url).unwrap()).unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == SeedOutcome::Seeded)
            .count(),
        1
    );
    assert_eq!(
        count(&mut db.conn(), "SELECT count(*) AS n FROM organisations"),
        2
    );
}

#[test]
fn the_demo_world_has_what_the_brief_promises() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    seed::seed(&mut conn).unwrap();
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM organisations WHERE kind = 'government'"
        ),
        1
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM organisations WHERE kind = 'agency'"
        ),
        1
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM hubs WHERE kind = 'main'"
        ),
        1
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM hubs WHERE kind = 'sub'"
        ),
        2
    );
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM hubs h JOIN organisations o ON o.id = h.organisation_id WHERE h.kind = 'agency' AND o.kind = 'agency'"), 1);
    // One user per role at least (the badge desk's station account included), and every demo
    // login exists.
    assert_eq!(
        count(&mut conn, "SELECT count(DISTINCT role) AS n FROM users"),
        11
    );
    for (username, _) in seed::DEMO_LOGINS {
        let user = outpost::auth::users::find_by_username(&mut conn, username)
            .unwrap()
            .expect(username);
        assert!(
            outpost::auth::password::verify(seed::DEMO_PASSWORD, &user.password_hash),
            "{username}"
        );
        assert!(user.password_hash.starts_with("$argon2id$"));
    }
    let variants = count(&mut conn, "SELECT count(*) AS n FROM product_variants");
    assert!((180..=600).contains(&variants), "{variants} variants");
    // A catalog a new user can believe (issue 30, finding 10): no two variants read the same,
    // and nothing used up comes used or in colours.
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM (SELECT description FROM product_variants GROUP BY description HAVING count(*) > 1) d"),
        0
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM product_variants v JOIN product_identities i ON i.id = v.identity_id WHERE i.product_id IN (121, 122, 111) AND (v.condition_code <> 'N' OR v.color_code <> 'NA')"),
        0
    );
    assert!(count(&mut conn, "SELECT count(*) AS n FROM customers") >= 5);
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM nfc_stations"),
        1
    );
    // The customer user is bound to a customer; the agency user only to the agency hub.
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM user_customers uc JOIN users u ON u.id = uc.user_id WHERE u.username = 'customer'"), 1);
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM user_hubs uh JOIN users u ON u.id = uh.user_id JOIN hubs h ON h.id = uh.hub_id WHERE u.username = 'agency' AND h.kind <> 'agency'"),
        0
    );
    // Stock levels equal the ledger's sums.
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM stock_levels l LEFT JOIN (SELECT hub_id, variant_id, sum(delta) AS s FROM stock_ledger GROUP BY 1, 2) g USING (hub_id, variant_id) WHERE l.quantity <> coalesce(g.s, 0)"),
        0
    );
    assert!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM stock_levels WHERE quantity > 0"
        ) > 300
    );
}
