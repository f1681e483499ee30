//! The catalog's identities and variants: `catalog.identity_create`,
//! `catalog.variant_create` (the full SKU it makes) and `catalog.variant_update`.

use diesel::prelude::*;
use serde::Deserialize;

use super::{codes_of, units_to_cents, Identity, Variant, VariantRow, COLORS, CONDITIONS};
use crate::auth::permissions::Permission;
use crate::auth::roles::Role;
use crate::schema::{product_families, product_identities, product_variants};
use crate::sync::kind::{Applied, ApplyCtx, Kind, Refusal, Spec, Target};
use crate::sync::operation::FieldError;

use super::kinds::done;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityIn {
    pub product_id: i32,
    #[serde(rename = "type")]
    pub kind: String,
    pub lci: i32,
    #[serde(default = "default_class")]
    pub physical_class: String,
}

pub(super) fn default_class() -> String {
    "G".into()
}

pub(super) fn one_letter(value: &str) -> bool {
    value.len() == 1 && value.chars().all(|c| c.is_ascii_uppercase())
}

pub struct CreateIdentity;

pub static CREATE_IDENTITY: Spec = Spec {
    name: "catalog.identity_create",
    permission: Permission::IdentityCreate,
    finalisable_offline: false,
    done: "Product identity created",
    entry: "Product identity created",
    form: None,
    again: None,
};

impl Kind for CreateIdentity {
    type Payload = IdentityIn;

    fn spec(&self) -> &Spec {
        &CREATE_IDENTITY
    }
    fn check(&self, p: &IdentityIn) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        if !one_letter(&p.kind) {
            errors.push(FieldError::new("type", "one capital letter, e.g. P"));
        }
        if !(1..=999).contains(&p.lci) {
            errors.push(FieldError::new("lci", "must be 1 to 999"));
        }
        if !one_letter(&p.physical_class) {
            errors.push(FieldError::new(
                "physical_class",
                "one capital letter, e.g. E",
            ));
        }
        if errors.is_empty() {
            Ok(Target::default())
        } else {
            Err(errors)
        }
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        _ctx: &ApplyCtx<'_>,
        p: &IdentityIn,
    ) -> Result<Applied, Refusal> {
        if product_families::table
            .find(p.product_id)
            .count()
            .get_result::<i64>(conn)?
            == 0
        {
            return Err(Refusal::NotFound(format!(
                "there is no product family {}",
                p.product_id
            )));
        }
        let identity: Option<Identity> = diesel::insert_into(product_identities::table)
            .values((
                product_identities::product_id.eq(p.product_id),
                product_identities::type_.eq(&p.kind),
                product_identities::lci.eq(p.lci),
                product_identities::physical_class.eq(&p.physical_class),
                // Filled in by the database trigger.
                product_identities::generated_upis_h.eq(""),
                product_identities::hex_signature.eq(""),
            ))
            .on_conflict_do_nothing()
            .returning(Identity::as_returning())
            .get_result(conn)
            .optional()?;
        let identity = identity.ok_or_else(|| {
            Refusal::Clash(format!(
                "identity {:05}-{}-{} already exists",
                p.product_id, p.kind, p.lci
            ))
        })?;
        Ok(done(
            "product_identity",
            identity.generated_upis_h.clone(),
            None,
            &identity,
            vec![],
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantIn {
    pub identity_id: i64,
    pub color_code: String,
    pub condition_code: String,
    pub listing_price: f64,
    #[serde(default)]
    pub description: Option<String>,
    /// What one unit costs the organisation (margin and the below-cost rule read it); set only
    /// by someone who may see costs.
    #[serde(default)]
    pub cost: Option<f64>,
    /// What one is counted in ("each", "case of 12"); "each" when not given.
    #[serde(default)]
    pub unit: Option<String>,
}

/// A unit as people write it: 1–24 letters, digits, spaces and . - / ( ).
fn valid_unit(unit: &str) -> bool {
    let n = unit.chars().count();
    (1..=24).contains(&n)
        && unit
            .chars()
            .all(|c| c.is_alphanumeric() || " .-/()".contains(c))
}

pub struct CreateVariant;

pub static CREATE_VARIANT: Spec = Spec {
    name: "catalog.variant_create",
    permission: Permission::VariantCreate,
    finalisable_offline: false,
    done: "Variant created",
    entry: "Variant created",
    form: None,
    again: None,
};

impl Kind for CreateVariant {
    type Payload = VariantIn;

    fn spec(&self) -> &Spec {
        &CREATE_VARIANT
    }
    fn check(&self, p: &VariantIn) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        if !COLORS.iter().any(|(c, _)| *c == p.color_code) {
            errors.push(FieldError::new(
                "color_code",
                format!("must be one of {}", codes_of(&COLORS)),
            ));
        }
        if !CONDITIONS.iter().any(|(c, _)| *c == p.condition_code) {
            errors.push(FieldError::new(
                "condition_code",
                format!("must be one of {}", codes_of(&CONDITIONS)),
            ));
        }
        if units_to_cents(p.listing_price).is_none() {
            errors.push(FieldError::new(
                "listing_price",
                "must be a price from 0 to 1,000,000,000",
            ));
        }
        if p.description
            .as_deref()
            .is_some_and(|d| d.chars().count() > 500)
        {
            errors.push(FieldError::new("description", "at most 500 characters"));
        }
        if p.cost.is_some_and(|c| units_to_cents(c).is_none()) {
            errors.push(FieldError::new(
                "cost",
                "must be an amount from 0 to 1,000,000,000",
            ));
        }
        if p.unit.as_deref().is_some_and(|u| !valid_unit(u.trim())) {
            errors.push(FieldError::new(
                "unit",
                "1–24 letters, digits or spaces, e.g. each, case of 12, kg",
            ));
        }
        if errors.is_empty() {
            Ok(Target::default())
        } else {
            Err(errors)
        }
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &VariantIn,
    ) -> Result<Applied, Refusal> {
        // Costs are for those who may see them (`can_see_cost`), on every path.
        if p.cost.is_some() && !ctx.actor.flags.can_see_cost {
            return Err(Refusal::Forbidden(
                "setting a cost needs the can_see_cost flag".into(),
            ));
        }
        if product_identities::table
            .find(p.identity_id)
            .count()
            .get_result::<i64>(conn)?
            == 0
        {
            return Err(Refusal::NotFound(format!(
                "there is no identity {}",
                p.identity_id
            )));
        }
        let row: Option<VariantRow> = diesel::insert_into(product_variants::table)
            .values((
                product_variants::identity_id.eq(p.identity_id),
                product_variants::color_code.eq(&p.color_code),
                product_variants::condition_code.eq(&p.condition_code),
                product_variants::listing_price_cents
                    .eq(units_to_cents(p.listing_price).unwrap_or(0)),
                product_variants::description.eq(p.description.as_deref().unwrap_or("").trim()),
                product_variants::cost_cents.eq(p.cost.and_then(units_to_cents)),
                product_variants::unit.eq(p.unit.as_deref().map(str::trim).unwrap_or("each")),
                product_variants::full_sku.eq(""),
                // Every new variant waits for the Zoho sync worker.
                product_variants::zoho_sync_status.eq("PENDING"),
            ))
            .on_conflict_do_nothing()
            .returning(VariantRow::as_returning())
            .get_result(conn)
            .optional()?;
        let row = row.ok_or_else(|| {
            Refusal::Clash(
                "this identity already has a variant with that colour and condition".into(),
            )
        })?;
        let v = Variant::from(row);
        let mut applied = done("product_variant", v.full_sku.clone(), None, &v, vec![]);
        applied.events.push((
            "job.zoho_sync".into(),
            serde_json::json!({ "variant_id": v.id }),
        ));
        Ok(applied)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantPatch {
    pub sku: String,
    #[serde(default)]
    pub listing_price: Option<f64>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

pub struct UpdateVariant;

/// Whether `actor` may change a variant's list price. Every sale starts from it, so changing it
/// is changing prices: a role that edits variants (the sales rep, by the USAV design) does it
/// only with `can_change_price`; administrators always may. Without this a rep without the flag
/// raised the list price and then sold "at list price" (issue 27).
pub fn may_change_list_price(actor: &crate::auth::principal::Account) -> bool {
    matches!(actor.role, Role::SuperAdmin | Role::Admin) || actor.flags.can_change_price
}

pub static UPDATE_VARIANT: Spec = Spec {
    name: "catalog.variant_update",
    permission: Permission::VariantPriceEdit,
    finalisable_offline: false,
    done: "Variant changed",
    entry: "Variant changed",
    form: None,
    again: None,
};

impl Kind for UpdateVariant {
    type Payload = VariantPatch;

    fn spec(&self) -> &Spec {
        &UPDATE_VARIANT
    }
    fn check(&self, p: &VariantPatch) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        if p.listing_price
            .is_some_and(|price| units_to_cents(price).is_none())
        {
            errors.push(FieldError::new(
                "listing_price",
                "must be a price from 0 to 1,000,000,000",
            ));
        }
        if p.description
            .as_deref()
            .is_some_and(|d| d.chars().count() > 500)
        {
            errors.push(FieldError::new("description", "at most 500 characters"));
        }
        if p.listing_price.is_none() && p.description.is_none() && p.active.is_none() {
            errors.push(FieldError::new(
                "payload",
                "give listing_price, description or active",
            ));
        }
        if errors.is_empty() {
            Ok(Target::default())
        } else {
            Err(errors)
        }
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        p: &VariantPatch,
    ) -> Result<Applied, Refusal> {
        let current: VariantRow = product_variants::table
            .filter(product_variants::full_sku.eq(p.sku.trim().to_uppercase()))
            .for_update()
            .select(VariantRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| Refusal::NotFound(format!("there is no variant {}", p.sku)))?;
        let price = p
            .listing_price
            .and_then(units_to_cents)
            .unwrap_or(current.listing_price_cents);
        let description = p
            .description
            .as_deref()
            .map(str::trim)
            .unwrap_or(&current.description)
            .to_string();
        if price != current.listing_price_cents && !may_change_list_price(ctx.actor) {
            return Err(Refusal::Forbidden(
                "changing a list price needs the permission to change prices on sales; ask an administrator".into(),
            ));
        }
        let critical = price != current.listing_price_cents || description != current.description;
        // A variant Zoho already knows must be updated there; one never sent stays PENDING.
        let status = if critical && current.zoho_sync_status != "PENDING" {
            "DIRTY"
        } else {
            current.zoho_sync_status.as_str()
        };
        let mut changed = Vec::new();
        if price != current.listing_price_cents {
            changed.push("listing_price".to_string());
        }
        if description != current.description {
            changed.push("description".to_string());
        }
        if p.active.is_some_and(|a| a != current.active) {
            changed.push("active".to_string());
        }
        let before = serde_json::to_value(Variant::from(current.clone())).ok();
        let row: VariantRow = diesel::update(product_variants::table.find(current.id))
            .set((
                product_variants::listing_price_cents.eq(price),
                product_variants::description.eq(&description),
                product_variants::active.eq(p.active.unwrap_or(current.active)),
                product_variants::zoho_sync_status.eq(status),
                product_variants::version.eq(product_variants::version + 1),
                product_variants::updated_at.eq(diesel::dsl::now),
            ))
            .returning(VariantRow::as_returning())
            .get_result(conn)?;
        let v = Variant::from(row);
        let needs_sync = v.zoho_sync_status == "DIRTY";
        let mut applied = done("product_variant", v.full_sku.clone(), before, &v, changed);
        if needs_sync {
            applied.events.push((
                "job.zoho_sync".into(),
                serde_json::json!({ "variant_id": v.id }),
            ));
        }
        Ok(applied)
    }
}
