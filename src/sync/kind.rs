//! What each kind of operation contributes to the pipeline: the permission it needs, whether it
//! may be finalised offline, how to validate its payload, and how to apply it. The pipeline owns
//! the order of the steps; kinds own only their domain rules.

use diesel::pg::PgConnection;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use super::operation::{FieldError, Operation};
use crate::auth::permissions::Permission;
use crate::auth::principal::Principal;

/// The hub an operation acts at and the record it creates or changes, known from the payload.
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub hub_id: Option<i64>,
    pub record_id: Option<Uuid>,
}

pub use super::refusal::{Refusal, RefusalCode};

pub fn reject<T>(reason: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::Rejected(reason.into()))
}

/// What an applied operation produced.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    pub server_id: Option<String>,
    pub object_type: &'static str,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// For edits: the fields changed and the record version produced.
    pub changed_fields: Vec<String>,
    pub result_version: Option<i32>,
    /// Events for dashboards (topic, payload), published through the outbox.
    pub events: Vec<(String, Value)>,
}

pub struct ApplyCtx<'a> {
    pub actor: &'a Principal,
    pub op: &'a Operation,
    /// The server id of the operation row (stock ledger rows point to it).
    pub operation_row: Uuid,
}

/// Everything the rest of Outpost knows about a kind, declared once beside its rules: the
/// registry, the offline form table, the service worker's queueable addresses and words, the
/// devices' working set, the review's "enter it again" and the audit words all read it.
pub struct Spec {
    /// The operation's name, also its audit action: `intake.create`.
    pub name: &'static str,
    pub permission: Permission,
    /// Approvals, cross-hub changes and edits after completion may not be finalised offline.
    pub finalisable_offline: bool,
    /// What was done, for the activity feed and the audit log: "Intake recorded".
    pub done: &'static str,
    /// The entry someone made, for lists of entries that may not have been applied: "Intake".
    pub entry: &'static str,
    /// The page form a device may queue offline, if the kind has one of its own.
    pub form: Option<Form>,
    /// Where someone enters a refused entry of this kind again, under its hub: `intakes/new`,
    /// `transfers/{id}` (`{id}`: the record's page).
    pub again: Option<&'static str>,
}

/// A form posted under `/hubs/{hub}/` that a device may queue offline and replay later.
pub struct Form {
    /// Its address under the hub: `intakes`, `actions/transfer.approve`, `sales/{id}/{action}`
    /// (`{id}` stands for a record's UUID, `{action}` for a lowercase word); or, starting with
    /// `/`, an address of its own (`/warehouse/receive`) whose hub is the form's `hub_id` field.
    pub path: &'static str,
    /// Reads the posted fields into the operation(s) they stand for; the page's own handler
    /// reads them with the same function. `None`: not a form of this address.
    pub read: fn(&FormAt<'_>) -> Option<Read>,
    /// The hub's pages a device stores to use the form offline (under `/hubs/{hub}/`, or from
    /// the site root when they start with `/`): the list for anyone who reads the hub's stock,
    /// the rest for those with the kind's permission.
    pub list: Option<&'static str>,
    pub pages: &'static [&'static str],
    /// Whether `pages` exist at a main hub (needs lists are raised by the hubs below it).
    pub at_main_hub: bool,
}

/// A queued form being read: its hub, the words its address put in place of `{id}` and
/// `{action}`, and its fields.
pub struct FormAt<'a> {
    pub hub_id: i64,
    pub kind: &'static str,
    pub id: &'a str,
    pub action: &'a str,
    pub form: &'a crate::ui::form::FormFields,
}

/// What a form stands for: an operation, and one more to send only when the first applied (a
/// cart confirmed in the same entry).
pub struct Read {
    pub first: super::forms::Posted,
    pub then: Option<(crate::ui::form::FormFields, super::forms::Posted)>,
}

impl Read {
    pub fn one(first: super::forms::Posted) -> Option<Read> {
        Some(Read { first, then: None })
    }
}

/// A kind's rules, written against its typed payload: the pipeline reads the JSON into
/// `Payload` once (`any_kind`) and hands the same value to each step.
pub trait Kind: Send + Sync + 'static {
    type Payload: DeserializeOwned + Send + Sync + 'static;
    /// The kind's declaration (see [`Spec`]).
    fn spec(&self) -> &Spec;
    /// Whether an operation captured offline must wait for a manager's review. Kinds that may
    /// not be finalised offline always wait; others may look at what the operation would do.
    fn waits_for_review_offline(
        &self,
        _conn: &mut PgConnection,
        _payload: &Self::Payload,
    ) -> diesel::QueryResult<bool> {
        Ok(!self.spec().finalisable_offline)
    }
    /// Form schema versions still accepted for replays.
    fn accepted_schemas(&self) -> &'static [u32] {
        &[1]
    }
    /// Checks the payload's values without touching the database.
    fn check(&self, payload: &Self::Payload) -> Result<Target, Vec<FieldError>>;
    /// Conflict checks and domain writes, inside the pipeline's transaction.
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        payload: &Self::Payload,
    ) -> Result<Applied, Refusal>;
    /// For kinds that need more than one hub in scope (transfers): every hub the op touches.
    fn extra_hubs(&self, _payload: &Self::Payload) -> Vec<i64> {
        Vec::new()
    }
    /// Whether the kind only ever raises stock levels (through `ledger::receive`) and reads
    /// none, so the levels it raises may wait for the end of its chunk
    /// (`ledger::Deferral`). Every other kind runs after the held-back increases are applied.
    fn defers_stock(&self) -> bool {
        false
    }
}

/// Deserialises a payload, turning serde's complaint into a field error.
pub fn parse<T: DeserializeOwned>(payload: &Value) -> Result<T, Vec<FieldError>> {
    serde_json::from_value(payload.clone())
        .map_err(|e| vec![FieldError::new("payload", describe_serde(&e))])
}

fn describe_serde(e: &serde_json::Error) -> String {
    let text = e.to_string();
    // serde says e.g. "invalid type: string \"x\", expected i64 at line 1 column 5"; the position
    // is meaningless to a person filling a form.
    text.split(" at line ").next().unwrap_or(&text).to_string()
}

pub const MAX_QUANTITY: i64 = 1_000_000;
pub const MAX_LINES: usize = 200;

/// A line of items: by variant id or by SKU, with a positive, sane quantity.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub struct LineInput {
    #[serde(default)]
    pub variant_id: Option<i64>,
    #[serde(default)]
    pub sku: Option<String>,
    pub quantity: i64,
    #[serde(default)]
    pub expiry_on: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub lot: Option<String>,
}

pub fn check_lines(lines: &[LineInput], errors: &mut Vec<FieldError>) {
    if lines.is_empty() {
        errors.push(FieldError::new("lines", "add at least one item"));
    }
    if lines.len() > MAX_LINES {
        errors.push(FieldError::new(
            "lines",
            format!("at most {MAX_LINES} lines per entry"),
        ));
    }
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if line.variant_id.is_none() && line.sku.as_deref().map(str::trim).unwrap_or("").is_empty()
        {
            errors.push(FieldError::new(
                format!("lines[{n}].item"),
                "choose an item",
            ));
        }
        if line.quantity <= 0 {
            errors.push(FieldError::new(
                format!("lines[{n}].quantity"),
                "the quantity must be more than zero",
            ));
        } else if line.quantity > MAX_QUANTITY {
            errors.push(FieldError::new(
                format!("lines[{n}].quantity"),
                format!("the quantity must be at most {MAX_QUANTITY}"),
            ));
        }
        if line.sku.as_deref().is_some_and(|s| s.chars().count() > 200) {
            errors.push(FieldError::new(
                format!("lines[{n}].item"),
                "an item is named by its SKU or its name, at most 200 characters",
            ));
        }
        if line.lot.as_deref().is_some_and(|l| l.len() > 64) {
            errors.push(FieldError::new(
                format!("lines[{n}].lot"),
                "the lot number is at most 64 characters",
            ));
        }
    }
}

pub fn check_text(field: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) {
    let len = value.trim().chars().count();
    if len == 0 {
        errors.push(FieldError::new(field, "this is required"));
    } else if len > max {
        errors.push(FieldError::new(field, format!("at most {max} characters")));
    }
}

/// The refusal for an operation whose record does not exist. When the operation that was to
/// create the record was itself refused, this one is refused naming it (a dependent operation).
pub fn missing_record(conn: &mut PgConnection, record_id: Uuid, what: &str) -> Refusal {
    use crate::schema::operations;
    use diesel::prelude::*;
    let creator: Result<Option<(Uuid, String, String)>, _> = operations::table
        .filter(operations::record_id.eq(record_id))
        .filter(operations::status.ne("applied"))
        .order(operations::received_at)
        .select((operations::op_id, operations::kind, operations::status))
        .first(conn)
        .optional();
    match creator {
        Ok(Some((op_id, kind, status))) => Refusal::Rejected(format!(
            "depends on operation {op_id} ({kind}), which was {}",
            status.replace('_', " ")
        )),
        Ok(None) => Refusal::Rejected(format!(
            "there is no such {what} (it may have been deleted)"
        )),
        Err(e) => Refusal::Database(e),
    }
}

/// Field merge for concurrent edits: the fields other operations changed on a record since the
/// version the client started from. An edit conflicts only when it touches one of them.
pub fn fields_changed_since(
    conn: &mut PgConnection,
    record_id: Uuid,
    base_version: i32,
) -> diesel::QueryResult<Vec<String>> {
    use crate::schema::operations;
    use diesel::prelude::*;
    let changed: Vec<Vec<Option<String>>> = operations::table
        .filter(operations::record_id.eq(record_id))
        .filter(operations::status.eq("applied"))
        .filter(operations::result_version.gt(base_version))
        .select(operations::changed_fields)
        .load(conn)?;
    let mut all: Vec<String> = changed.into_iter().flatten().flatten().collect();
    all.sort();
    all.dedup();
    Ok(all)
}

/// Like [`fields_changed_since`], without the author's own earlier edits from the same device:
/// two edits queued offline on one page were made one after the other, not against each other.
pub fn fields_changed_by_others(
    conn: &mut PgConnection,
    record_id: Uuid,
    base_version: i32,
    ctx: &ApplyCtx<'_>,
) -> diesel::QueryResult<Vec<String>> {
    use crate::schema::operations;
    use diesel::prelude::*;
    let mut query = operations::table
        .filter(operations::record_id.eq(record_id))
        .filter(operations::status.eq("applied"))
        .filter(operations::result_version.gt(base_version))
        .into_boxed();
    if let Some(device) = ctx.op.device_id.clone() {
        query = query.filter(
            operations::actor_id
                .ne(ctx.actor.user_id)
                .or(operations::device_id.is_distinct_from(device)),
        );
    }
    let changed: Vec<Vec<Option<String>>> = query.select(operations::changed_fields).load(conn)?;
    let mut all: Vec<String> = changed.into_iter().flatten().flatten().collect();
    all.sort();
    all.dedup();
    Ok(all)
}

/// Field merge for an edit made on version `base` of a record now at version `current`: it
/// goes through when it was made on the current version, or when none of its fields clash
/// with what others changed since (`clashes` names those that do); it is a conflict, shown with
/// the server's record, when some do; and it is refused when `base` does not exist yet.
pub fn merge_edit(
    conn: &mut PgConnection,
    base: Option<i32>,
    current: i32,
    clashes: impl FnOnce(&mut PgConnection, i32) -> Result<Vec<String>, Refusal>,
    server_state: impl FnOnce(&mut PgConnection) -> diesel::QueryResult<Value>,
) -> Result<(), Refusal> {
    let Some(base) = base else {
        return reject("an edit must say which version it was made against (base_version)");
    };
    if base > current {
        return reject(format!(
            "version {base} does not exist yet (the server has {current})"
        ));
    }
    if base < current {
        let fields = clashes(conn, base)?;
        if !fields.is_empty() {
            return Err(Refusal::Conflict {
                reason: format!(
                    "someone else changed {} meanwhile (version {base} → {current})",
                    fields.join(", ")
                ),
                server_state: server_state(conn)?,
            });
        }
    }
    Ok(())
}
