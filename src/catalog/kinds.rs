//! Catalog writes as operations: families and identities (admins only — the immutable layer),
//! variants and their price/description/active edits (admins and sales reps). A price or
//! description change marks the variant DIRTY for the Zoho sync worker.

use diesel::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use super::Family;
use crate::auth::permissions::Permission;
use crate::schema::{product_families, product_identities, product_variants};
use crate::sync::kind::{Applied, ApplyCtx, Kind, Refusal, Spec, Target};
use crate::sync::operation::FieldError;

pub(super) fn done<T: serde::Serialize>(
    object_type: &'static str,
    id: String,
    before: Option<Value>,
    record: &T,
    changed: Vec<String>,
) -> Applied {
    Applied {
        server_id: Some(id),
        object_type,
        before,
        after: serde_json::to_value(record).ok(),
        changed_fields: changed,
        ..Default::default()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyIn {
    pub product_id: i32,
    pub base_name: String,
}

pub struct CreateFamily;

pub static CREATE_FAMILY: Spec = Spec {
    name: "catalog.family_create",
    permission: Permission::FamilyCreate,
    finalisable_offline: false,
    done: "Product family created",
    entry: "Product family created",
    form: None,
    again: None,
};

impl Kind for CreateFamily {
    type Payload = FamilyIn;

    fn spec(&self) -> &Spec {
        &CREATE_FAMILY
    }
    fn check(&self, p: &FamilyIn) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        if !(1..=99_999).contains(&p.product_id) {
            errors.push(FieldError::new("product_id", "must be 1 to 99999"));
        }
        crate::sync::kind::check_text("base_name", &p.base_name, 200, &mut errors);
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
        p: &FamilyIn,
    ) -> Result<Applied, Refusal> {
        let family: Option<Family> = diesel::insert_into(product_families::table)
            .values((
                product_families::product_id.eq(p.product_id),
                product_families::base_name.eq(p.base_name.trim()),
            ))
            .on_conflict_do_nothing()
            .returning(Family::as_returning())
            .get_result(conn)
            .optional()?;
        let family = family.ok_or_else(|| {
            Refusal::Clash(format!("product family {} already exists", p.product_id))
        })?;
        Ok(done(
            "product_family",
            family.product_id.to_string(),
            None,
            &family,
            vec![],
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyRename {
    pub product_id: i32,
    pub base_name: String,
}

/// Renames a family (admins). The name is part of each variant's Zoho item name, so variants
/// Zoho already has are marked DIRTY and sent again.
pub struct RenameFamily;

pub static RENAME_FAMILY: Spec = Spec {
    name: "catalog.family_rename",
    permission: Permission::FamilyCreate,
    finalisable_offline: false,
    done: "Product family renamed",
    entry: "Product family renamed",
    form: None,
    again: None,
};

impl Kind for RenameFamily {
    type Payload = FamilyRename;

    fn spec(&self) -> &Spec {
        &RENAME_FAMILY
    }
    fn check(&self, p: &FamilyRename) -> Result<Target, Vec<FieldError>> {
        let mut errors = Vec::new();
        crate::sync::kind::check_text("base_name", &p.base_name, 200, &mut errors);
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
        p: &FamilyRename,
    ) -> Result<Applied, Refusal> {
        let before: Family = product_families::table
            .find(p.product_id)
            .for_update()
            .select(Family::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| {
                Refusal::NotFound(format!("there is no product family {}", p.product_id))
            })?;
        let name = p.base_name.trim();
        let after: Family = diesel::update(product_families::table.find(p.product_id))
            .set(product_families::base_name.eq(name))
            .returning(Family::as_returning())
            .get_result(conn)?;
        let mut changed = Vec::new();
        let mut resend = Vec::new();
        if before.base_name != after.base_name {
            changed.push("base_name".to_string());
            let identities = product_identities::table
                .filter(product_identities::product_id.eq(p.product_id))
                .select(product_identities::id);
            resend = diesel::update(
                product_variants::table
                    .filter(product_variants::identity_id.eq_any(identities))
                    .filter(product_variants::zoho_sync_status.eq("SYNCED")),
            )
            .set((
                product_variants::zoho_sync_status.eq("DIRTY"),
                product_variants::version.eq(product_variants::version + 1),
                product_variants::updated_at.eq(diesel::dsl::now),
            ))
            .returning(product_variants::id)
            .get_results::<i64>(conn)?;
        }
        let mut applied = done(
            "product_family",
            after.product_id.to_string(),
            serde_json::to_value(&before).ok(),
            &after,
            changed,
        );
        for id in resend {
            applied.events.push((
                "job.zoho_sync".into(),
                serde_json::json!({ "variant_id": id }),
            ));
        }
        Ok(applied)
    }
}
