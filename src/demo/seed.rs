//! The demo world: a government disaster office with a main warehouse and two sub-hubs, an
//! independent relief agency with its own hub, one user per role, customers, a catalog of a
//! few hundred variants with opening stock, and one NFC station. Seeding is one transaction
//! guarded by a marker row, so running it twice changes nothing.

use diesel::prelude::*;

use crate::auth::roles::Role;
use crate::auth::users::{self, NewUser};
use crate::schema::{
    app_meta, customers, hubs, organisations, stock_ledger, stock_levels, user_customers,
};

use super::catalog::seed_catalog;
use super::world::HUBS;

pub const DEMO_PASSWORD: &str = "outpost-demo-2026";
pub(super) const MARKER: &str = "demo_seeded_at";

/// (username, role label) of every demo account, for the sign-in page and the demo banner.
pub const DEMO_LOGINS: [(&str, &str); 11] = [
    ("superadmin", "Super admin"),
    ("admin", "Admin"),
    ("logistics", "Logistics manager (all government hubs)"),
    ("depot", "Depot manager, Montego Bay Sub-Hub"),
    ("warehouse", "Warehouse operator, Kingston Main Warehouse"),
    ("sales", "Sales rep, Kingston Main Warehouse"),
    ("driver", "Driver, Mandeville Sub-Hub"),
    ("auditor", "Auditor"),
    ("customer", "Customer user, Trench Town Community Shelter"),
    ("agency", "Depot manager, Harbour Relief Agency hub"),
    ("agency-lead", "Logistics manager, Harbour Relief Agency"),
];

#[derive(Debug, PartialEq, Eq)]
pub enum SeedOutcome {
    Seeded,
    AlreadySeeded,
}

pub fn seed(conn: &mut PgConnection) -> anyhow::Result<SeedOutcome> {
    conn.transaction(|conn| {
        // The marker is claimed first: a concurrent seeder blocks here and then finds it taken.
        let claimed = diesel::insert_into(app_meta::table)
            .values((
                app_meta::key.eq(MARKER),
                app_meta::value.eq(chrono::Utc::now().to_rfc3339()),
            ))
            .on_conflict_do_nothing()
            .execute(conn)?;
        if claimed == 0 {
            return Ok(SeedOutcome::AlreadySeeded);
        }
        let gov = insert_org(conn, "National Emergency Management Office", "government")?;
        let agency = insert_org(conn, "Harbour Relief Agency", "agency")?;
        let mut hub_ids = Vec::new();
        for spec in &HUBS {
            let org = if spec.agency { agency } else { gov };
            let id: i64 = diesel::insert_into(hubs::table)
                .values((
                    hubs::organisation_id.eq(org),
                    hubs::code.eq(spec.code),
                    hubs::name.eq(spec.name),
                    hubs::kind.eq(spec.kind),
                ))
                .returning(hubs::id)
                .get_result(conn)?;
            hub_ids.push(id);
        }
        let [kin, mbj, man, hra] = [hub_ids[0], hub_ids[1], hub_ids[2], hub_ids[3]];

        let customer_ids = seed_customers(conn, gov, agency, &hub_ids)?;
        seed_users(
            conn,
            gov,
            agency,
            [kin, mbj, man, hra],
            [customer_ids[0], customer_ids[1]],
        )?;
        // Jamaica's general consumption tax, in Jamaican dollars.
        diesel::update(organisations::table.filter(organisations::id.eq_any([gov, agency])))
            .set((
                organisations::sales_tax_bp.eq(1500),
                organisations::currency.eq("JMD"),
            ))
            .execute(conn)?;
        // What the invoices print of the seller (the address is invented, the form is real).
        for (org, address, tax_id) in [
            (
                gov,
                "2–4 Haining Road\nKingston 5\nJamaica",
                "TRN 000-412-718",
            ),
            (
                agency,
                "14 West Street\nPort Antonio\nJamaica",
                "TRN 000-913-205",
            ),
        ] {
            diesel::update(organisations::table.find(org))
                .set((
                    organisations::address.eq(address),
                    organisations::tax_id.eq(tax_id),
                ))
                .execute(conn)?;
        }
        let variant_ids = seed_catalog(conn)?;
        seed_stock(conn, &hub_ids, &variant_ids)?;
        crate::badges::stations::create(
            conn,
            kin,
            "KIN-BADGE-1",
            "Kingston Main — Badge Desk",
            "ACS ACR122U PICC Interface 00 00",
        )?;
        Ok(SeedOutcome::Seeded)
    })
}

pub(super) fn insert_org(conn: &mut PgConnection, name: &str, kind: &str) -> QueryResult<i64> {
    diesel::insert_into(organisations::table)
        .values((organisations::name.eq(name), organisations::kind.eq(kind)))
        .returning(organisations::id)
        .get_result(conn)
}

pub(super) fn seed_customers(
    conn: &mut PgConnection,
    gov: i64,
    agency: i64,
    hubs: &[i64],
) -> QueryResult<Vec<i64>> {
    let specs = [
        (
            "TT-SHELTER",
            "Trench Town Community Shelter",
            gov,
            hubs[0],
            "+1 876 555 0141",
        ),
        (
            "STA-CLINIC",
            "St. Andrew Parish Clinic",
            gov,
            hubs[0],
            "+1 876 555 0177",
        ),
        (
            "MBJ-SCHOOL",
            "Montego Bay Primary School Shelter",
            gov,
            hubs[1],
            "+1 876 555 0102",
        ),
        (
            "SAV-KITCHEN",
            "Savanna-la-Mar Community Kitchen",
            gov,
            hubs[1],
            "+1 876 555 0110",
        ),
        (
            "MAN-CHURCH",
            "Mandeville Church Relief Centre",
            gov,
            hubs[2],
            "+1 876 555 0123",
        ),
        (
            "PA-FISHERS",
            "Port Antonio Fishers' Cooperative",
            agency,
            hubs[3],
            "+1 876 555 0199",
        ),
    ];
    specs
        .iter()
        .map(|(code, name, org, hub, phone)| {
            diesel::insert_into(customers::table)
                .values((
                    customers::code.eq(code),
                    customers::name.eq(name),
                    customers::organisation_id.eq(org),
                    customers::hub_id.eq(hub),
                    customers::contact_phone.eq(phone),
                ))
                .returning(customers::id)
                .get_result(conn)
        })
        .collect()
}

pub(super) fn seed_users(
    conn: &mut PgConnection,
    gov: i64,
    agency: i64,
    [kin, mbj, man, hra]: [i64; 4],
    [shelter, clinic]: [i64; 2],
) -> anyhow::Result<()> {
    let all_gov = [kin, mbj, man];
    let specs: [(&str, &str, Role, i64, &[i64]); 12] = [
        (
            "superadmin",
            "Simone Campbell",
            Role::SuperAdmin,
            gov,
            &all_gov,
        ),
        ("admin", "Andre Williams", Role::Admin, gov, &all_gov),
        (
            "logistics",
            "Latoya Brown",
            Role::LogisticsManager,
            gov,
            &all_gov,
        ),
        ("depot", "Devon Clarke", Role::DepotManager, gov, &[mbj]),
        ("warehouse", "Winston Reid", Role::WarehouseOp, gov, &[kin]),
        ("sales", "Shanice Gordon", Role::SalesRep, gov, &[kin]),
        ("driver", "Dwayne Thompson", Role::Driver, gov, &[man]),
        ("auditor", "Audrey Henry", Role::Auditor, gov, &all_gov),
        (
            "customer",
            "Carlene Morgan",
            Role::CustomerUser,
            gov,
            &[kin],
        ),
        (
            "agency",
            "Marcia Bailey",
            Role::DepotManager,
            agency,
            &[hra],
        ),
        // Decides the agency's needs lists: an agency's hubs are its own users' alone.
        (
            "agency-lead",
            "Kemar Lewis",
            Role::LogisticsManager,
            agency,
            &[hra],
        ),
        ("zoho-bot", "Zoho Sync Worker", Role::SystemBot, gov, &[]),
    ];
    for (username, display_name, role, organisation_id, hub_ids) in specs {
        let user = users::create(
            conn,
            &NewUser {
                username,
                display_name,
                role,
                organisation_id,
                password: DEMO_PASSWORD,
                hub_ids,
            },
        )?;
        // The sales flags (missing means no): those who run the stores see costs and may
        // price freely; the sales rep may change prices but not sell below cost, give items
        // free of charge or see costs.
        let flags = match username {
            "superadmin" | "admin" | "logistics" | "warehouse" => Some(serde_json::json!({
                "can_change_price": true, "can_sell_below_cost": true, "can_add_foc": true, "can_see_cost": true
            })),
            "sales" => Some(serde_json::json!({ "can_change_price": true })),
            _ => None,
        };
        if let Some(flags) = flags {
            diesel::update(crate::schema::users::table.find(user.id))
                .set(crate::schema::users::permission_flags.eq(flags))
                .execute(conn)?;
        }
        // The customer user is the shelter's; the sales rep serves both Kingston customers.
        let served: &[i64] = match role {
            Role::CustomerUser => &[shelter],
            Role::SalesRep => &[shelter, clinic],
            _ => &[],
        };
        for customer in served {
            diesel::insert_into(user_customers::table)
                .values((
                    user_customers::user_id.eq(user.id),
                    user_customers::customer_id.eq(customer),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Opening balances as ledger rows, with the levels table kept equal to the ledger's sums.
pub(super) fn seed_stock(
    conn: &mut PgConnection,
    hubs: &[i64],
    variants: &[i64],
) -> QueryResult<()> {
    let mut ledger = Vec::new();
    let mut levels = Vec::new();
    for (hi, hub) in hubs.iter().enumerate() {
        // The main warehouse holds most lines; smaller hubs a deterministic subset.
        let stride = [1, 2, 3, 4][hi];
        for (vi, variant) in variants
            .iter()
            .enumerate()
            .filter(|(vi, _)| vi % stride == 0)
        {
            let quantity = ((vi * 37 + hi * 11) % 240) as i64 + if hi == 0 { 60 } else { 0 };
            let reorder = 20 + (vi % 5) as i64 * 10;
            if quantity > 0 {
                ledger.push((
                    stock_ledger::hub_id.eq(*hub),
                    stock_ledger::variant_id.eq(*variant),
                    stock_ledger::delta.eq(quantity),
                    stock_ledger::reason.eq("opening_balance"),
                ));
            }
            levels.push((
                stock_levels::hub_id.eq(*hub),
                stock_levels::variant_id.eq(*variant),
                stock_levels::quantity.eq(quantity),
                stock_levels::reorder_level.eq(reorder),
            ));
        }
    }
    for chunk in ledger.chunks(1000) {
        diesel::insert_into(stock_ledger::table)
            .values(chunk)
            .execute(conn)?;
    }
    for chunk in levels.chunks(1000) {
        diesel::insert_into(stock_levels::table)
            .values(chunk)
            .execute(conn)?;
    }
    Ok(())
}
