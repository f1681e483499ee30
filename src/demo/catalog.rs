//! The demo world's catalog: families, their identities and variants (colour × condition),
//! with prices and costs, described the way people would read them.

use diesel::prelude::*;

use crate::schema::{product_families, product_identities, product_variants};

use super::world::{COLORS, CONDITIONS, FAMILIES};

/// Families → identities (one per type letter) → variants (colour × condition), about 300.
pub(super) fn seed_catalog(conn: &mut PgConnection) -> QueryResult<Vec<i64>> {
    let mut variant_ids = Vec::new();
    for (index, (product_id, base_name, types, unit, price)) in FAMILIES.iter().enumerate() {
        diesel::insert_into(product_families::table)
            .values((
                product_families::product_id.eq(product_id),
                product_families::base_name.eq(base_name),
            ))
            .execute(conn)?;
        for (lci, kind) in types.chars().enumerate() {
            let identity_id: i64 = diesel::insert_into(product_identities::table)
                .values((
                    product_identities::product_id.eq(product_id),
                    product_identities::type_.eq(kind.to_string()),
                    product_identities::lci.eq(lci as i32 + 1),
                    product_identities::physical_class.eq(if "ET".contains(kind) {
                        "E"
                    } else {
                        "G"
                    }),
                ))
                .returning(product_identities::id)
                .get_result(conn)?;
            // Vary the spread so the catalog is not a perfect grid. Consumables come in one
            // kind only: nobody stocks used diapers or black rice.
            let consumable = CONSUMABLES.contains(product_id);
            let colors = &COLORS[..if consumable {
                1
            } else {
                1 + (index + lci) % COLORS.len()
            }];
            // A family's further identities are told apart in the description.
            let name = match (lci, identity_words(kind)) {
                (0, _) | (_, "") => base_name.to_string(),
                (_, words) => format!("{base_name}, {words}"),
            };
            for (ci, color) in colors.iter().enumerate() {
                let conditions = if consumable {
                    1
                } else {
                    1 + (index + ci) % CONDITIONS.len()
                };
                for (ni, condition) in CONDITIONS.iter().enumerate().take(conditions) {
                    let discount = [100, 70, 45][ni];
                    let id: i64 = diesel::insert_into(product_variants::table)
                        .values((
                            product_variants::identity_id.eq(identity_id),
                            product_variants::color_code.eq(color),
                            product_variants::condition_code.eq(condition),
                            product_variants::description
                                .eq(format!("{name} — {}", describe(color, condition))),
                            product_variants::unit.eq(unit),
                            product_variants::listing_price_cents.eq(price * discount / 100),
                            product_variants::cost_cents.eq(price * discount * 55 / 10_000),
                        ))
                        .returning(product_variants::id)
                        .get_result(conn)?;
                    variant_ids.push(id);
                }
            }
        }
    }
    Ok(variant_ids)
}

/// Goods that are used up: one colour and new only.
const CONSUMABLES: [i32; 14] = [
    101, 102, 110, 111, 112, 113, 114, 121, 122, 123, 151, 152, 153, 162,
];

/// The demo's words for an identity type, where a family has more than one.
fn identity_words(kind: char) -> &'static str {
    match kind {
        'P' => "packaged",
        'B' => "bulk",
        'K' => "kit",
        'H' => "heavy-duty",
        'T' => "field",
        'E' => "powered",
        _ => "",
    }
}

pub(super) fn describe(color: &str, condition: &str) -> String {
    let color = match color {
        "BK" => "black",
        "WH" => "white",
        "BL" => "blue",
        _ => "standard",
    };
    let condition = match condition {
        "N" => "new",
        "R" => "refurbished",
        _ => "used",
    };
    format!("{color}, {condition}")
}
