//! Sync Issues close by their author's hand (issue 30, finding 2): a refused or conflicting
//! entry is set aside, audited, and leaves the author's list and the dashboard's count. (An
//! entry sent again corrected is settled by the correction itself, in `settle`.)

use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use uuid::Uuid;

use crate::auth::extract::CurrentUser;
use crate::error::AppError;
use crate::schema::operations;
use crate::state::AppState;
use crate::ui::layout::FlashKind;
use crate::ui::page::redirect_with_flash;

/// The author sets one of their own refused or conflicting entries aside (entered again some
/// other way, or no longer wanted): it leaves their Sync Issues and the dashboard's count, and
/// the audit log says who closed it. A manager's decision is still needed for a conflict that
/// should be applied; this only closes the author's view of it.
pub(super) async fn dismiss(
    user: CurrentUser,
    path: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let principal = user.0.clone();
    let id = path.into_inner();
    let closed = crate::db::run(&state.db, move |conn| {
        conn.transaction(|conn| {
            let open: Option<(Uuid, String, Option<i64>)> = operations::table
                .filter(operations::id.eq(id))
                .filter(operations::actor_id.eq(principal.user_id))
                .filter(operations::status.eq_any(["rejected", "conflict"]))
                .filter(operations::resolved_at.is_null())
                .select((operations::op_id, operations::kind, operations::hub_id))
                .for_update()
                .first(conn)
                .optional()?;
            let Some((op_id, kind, hub_id)) = open else {
                return Ok::<_, AppError>(false);
            };
            let in_scope = hub_id.filter(|h| principal.scope.has_hub(*h));
            super::review::record_resolution(
                conn,
                &principal,
                id,
                (op_id, &kind),
                in_scope,
                "dismissed",
            )?;
            Ok(true)
        })
    })
    .await?;
    let (kind, text) = if closed {
        (
            FlashKind::Success,
            "The entry was set aside; nothing was changed.",
        )
    } else {
        (FlashKind::Info, "That entry is no longer open.")
    };
    Ok(redirect_with_flash(
        &state.settings,
        "/sync-issues",
        kind,
        text,
    ))
}
