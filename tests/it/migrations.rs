//! Migrations apply from scratch, are idempotent, and can be reverted and re-applied.

use diesel::prelude::*;
use diesel_migrations::MigrationHarness;

use crate::common::TestDb;

#[derive(QueryableByName, PartialEq, Debug)]
struct Column {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    data_type: String,
}

fn schema(conn: &mut PgConnection) -> Vec<Column> {
    diesel::sql_query(
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = 'public' ORDER BY table_name, column_name",
    )
    .load(conn)
    .unwrap()
}

#[test]
fn migrations_apply_once_and_are_idempotent() {
    let db = TestDb::empty();
    let mut conn = db.conn();
    let first = outpost::db::migrate(&mut conn).unwrap();
    assert!(first.len() >= 4, "applied {first:?}");
    let after_first = schema(&mut conn);
    let second = outpost::db::migrate(&mut conn).unwrap();
    assert!(second.is_empty(), "second run applied {second:?}");
    assert_eq!(schema(&mut conn), after_first);
}

#[test]
fn migrations_revert_and_reapply_cleanly() {
    let db = TestDb::empty();
    let mut conn = db.conn();
    outpost::db::migrate(&mut conn).unwrap();
    let before = schema(&mut conn);
    conn.revert_all_migrations(outpost::db::MIGRATIONS).unwrap();
    let empty: Vec<Column> = schema(&mut conn)
        .into_iter()
        .filter(|c| c.table_name != "__diesel_schema_migrations")
        .collect();
    assert!(empty.is_empty(), "left behind: {empty:?}");
    outpost::db::migrate(&mut conn).unwrap();
    assert_eq!(schema(&mut conn), before);
}

#[test]
fn concurrent_migrations_do_not_race() {
    let db = TestDb::empty();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let url = db.url.clone();
            std::thread::spawn(move || {
                outpost::db::migrate(&mut PgConnection::establish(&url).unwrap())
                    .unwrap()
                    .len()
            })
        })
        .collect();
    let applied: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // Exactly one process applied them; the others found nothing to do.
    assert_eq!(applied.iter().filter(|n| **n > 0).count(), 1, "{applied:?}");
}

#[test]
fn the_catalog_derives_upis_h_and_full_sku_in_the_database() {
    let db = TestDb::empty();
    let mut conn = db.conn();
    outpost::db::migrate(&mut conn).unwrap();
    diesel::sql_query("INSERT INTO product_families VALUES (845, 'Bose 201 Series')")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query("INSERT INTO product_identities (product_id, type, lci, physical_class) VALUES (845, 'P', 1, 'E')").execute(&mut conn).unwrap();
    diesel::sql_query("INSERT INTO product_variants (identity_id, color_code, condition_code, listing_price_cents) SELECT id, 'WY', 'N', 15000 FROM product_identities").execute(&mut conn).unwrap();
    use outpost::schema::{product_identities as pi, product_variants as pv};
    let (upis, sig): (String, String) = pi::table
        .select((pi::generated_upis_h, pi::hex_signature))
        .first(&mut conn)
        .unwrap();
    assert_eq!(upis, "00845-P-1");
    assert_eq!(sig.len(), 64);
    let (sku, status): (String, String) = pv::table
        .select((pv::full_sku, pv::zoho_sync_status))
        .first(&mut conn)
        .unwrap();
    assert_eq!(sku, "00845-P-1-WY-N");
    assert_eq!(status, "PENDING");
    // Bad enum values are refused by the database itself.
    let bad = diesel::sql_query("INSERT INTO product_variants (identity_id, color_code, condition_code, listing_price_cents) SELECT id, 'ZZ', 'N', 1 FROM product_identities").execute(&mut conn);
    assert!(bad.is_err());
}
