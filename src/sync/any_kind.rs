//! The pipeline's view of a kind, whatever its payload type: kinds are written against their
//! typed payload (`kind::Kind`), and this adapter reads the JSON into it once, at step 1. The
//! same value then serves the scope check, the review decision and the apply; no kind parses
//! its payload twice or can disagree with itself about what it says.

use std::any::Any;

use diesel::pg::PgConnection;
use serde_json::Value;

use super::kind::{parse, Applied, ApplyCtx, Kind, Refusal, Spec, Target};
use super::operation::FieldError;
use crate::auth::permissions::Permission;

/// A payload read by its kind, to be handed back to the same kind.
pub struct Parsed(Box<dyn Any + Send + Sync>);

/// A kind as the registry and the pipeline hold it (`&'static dyn AnyKind`).
pub trait AnyKind: Send + Sync {
    fn spec(&self) -> &Spec;
    fn name(&self) -> &'static str {
        self.spec().name
    }
    fn permission(&self) -> Permission {
        self.spec().permission
    }
    fn finalisable_offline(&self) -> bool {
        self.spec().finalisable_offline
    }
    fn accepted_schemas(&self) -> &'static [u32];
    fn defers_stock(&self) -> bool;
    /// Step 1: the payload read into the kind's type and checked, once.
    fn read(&self, payload: &Value) -> Result<(Target, Parsed), Vec<FieldError>>;
    fn extra_hubs(&self, parsed: &Parsed) -> Vec<i64>;
    fn waits_for_review_offline(
        &self,
        conn: &mut PgConnection,
        parsed: &Parsed,
    ) -> diesel::QueryResult<bool>;
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        parsed: &Parsed,
    ) -> Result<Applied, Refusal>;
}

/// The pipeline hands a kind only what that kind read; another type here is a defect in the
/// pipeline, refused rather than applied.
fn mine<K: Kind>(parsed: &Parsed) -> Result<&K::Payload, Refusal> {
    parsed.0.downcast_ref::<K::Payload>().ok_or_else(|| {
        Refusal::Rejected("the operation's payload was read for another kind".into())
    })
}

impl<K: Kind> AnyKind for K {
    fn spec(&self) -> &Spec {
        Kind::spec(self)
    }
    fn accepted_schemas(&self) -> &'static [u32] {
        Kind::accepted_schemas(self)
    }
    fn defers_stock(&self) -> bool {
        Kind::defers_stock(self)
    }
    fn read(&self, payload: &Value) -> Result<(Target, Parsed), Vec<FieldError>> {
        let p: K::Payload = parse(payload)?;
        let target = self.check(&p)?;
        Ok((target, Parsed(Box::new(p))))
    }
    fn extra_hubs(&self, parsed: &Parsed) -> Vec<i64> {
        mine::<K>(parsed)
            .map(|p| Kind::extra_hubs(self, p))
            .unwrap_or_default()
    }
    fn waits_for_review_offline(
        &self,
        conn: &mut PgConnection,
        parsed: &Parsed,
    ) -> diesel::QueryResult<bool> {
        match mine::<K>(parsed) {
            Ok(p) => Kind::waits_for_review_offline(self, conn, p),
            Err(_) => Ok(true),
        }
    }
    fn apply(
        &self,
        conn: &mut PgConnection,
        ctx: &ApplyCtx<'_>,
        parsed: &Parsed,
    ) -> Result<Applied, Refusal> {
        Kind::apply(self, conn, ctx, mine::<K>(parsed)?)
    }
}
