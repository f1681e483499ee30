//! `outpost user create | disable | reset-password`, audited as the web's user pages are.

use std::io::BufRead;

use anyhow::{bail, Context, Result};
use diesel::prelude::*;

use crate::auth::users::{self, NewUser};
use crate::config::Settings;

use super::*;

pub(super) async fn user(settings: Settings, action: UserAction) -> Result<()> {
    let url = settings.require_database_url()?.to_string();
    migrate(&settings).await?;
    match action {
        UserAction::Add {
            username,
            name,
            role,
            organisation,
            hubs,
        } => {
            let password = read_password()?;
            blocking(move || {
                let mut conn = crate::db::connect(&url)?;
                let org_id = crate::schema::organisations::table
                    .filter(crate::schema::organisations::name.eq(&organisation))
                    .select(crate::schema::organisations::id)
                    .first::<i64>(&mut conn)
                    .optional()?
                    .with_context(|| format!("no organisation named '{organisation}'"))?;
                let mut hub_ids = Vec::new();
                for code in &hubs {
                    let id = crate::schema::hubs::table
                        .filter(crate::schema::hubs::code.eq(code.to_uppercase()))
                        .filter(crate::schema::hubs::organisation_id.eq(org_id))
                        .select(crate::schema::hubs::id)
                        .first::<i64>(&mut conn)
                        .optional()?
                        .with_context(|| {
                            format!("no hub with code '{code}' in '{organisation}'")
                        })?;
                    hub_ids.push(id);
                }
                let user = conn.transaction(|conn| {
                    let user = users::create(
                        conn,
                        &NewUser {
                            username: &username,
                            display_name: &name,
                            role,
                            organisation_id: org_id,
                            password: &password,
                            hub_ids: &hub_ids,
                        },
                    )?;
                    let after = serde_json::json!({ "username": user.username, "display_name": user.display_name, "role": role.as_str(), "hub_ids": hub_ids });
                    cli_audit(conn, "user.created", user.id, Some(after))?;
                    Ok::<_, anyhow::Error>(user)
                })?;
                println!(
                    "created user '{}' ({}) with id {}",
                    user.username,
                    role.label(),
                    user.id
                );
                Ok(())
            })
            .await
        }
        UserAction::Passwd { username } => {
            let password = read_password()?;
            blocking(move || {
                crate::db::connect(&url)?.transaction(|conn| {
                    users::set_password(conn, &username, &password)?;
                    let id = user_id(conn, &username)?;
                    cli_audit(conn, "user.password.reset", id, None)
                })?;
                println!(
                    "password changed for '{username}'; their sessions and API tokens have ended"
                );
                Ok(())
            })
            .await
        }
        UserAction::Disable { username } => {
            blocking(move || {
                crate::db::connect(&url)?.transaction(|conn| {
                    users::set_active(conn, &username, false)?;
                    let id = user_id(conn, &username)?;
                    let after = serde_json::json!({ "active": false });
                    cli_audit(conn, "user.deactivated", id, Some(after))
                })?;
                println!("user '{username}' disabled");
                Ok(())
            })
            .await
        }
    }
}

/// How the audit log names changes made from the command line (no signed-in user).
pub(super) const CLI_ACTOR: &str = "command line";

pub(super) fn user_id(conn: &mut diesel::PgConnection, username: &str) -> Result<i64> {
    Ok(users::find_by_username(conn, username)?
        .with_context(|| format!("no user '{username}'"))?
        .id)
}

/// The audit row of a change made to a user from the command line.
pub(super) fn cli_audit(
    conn: &mut diesel::PgConnection,
    action: &str,
    user_id: i64,
    after: Option<serde_json::Value>,
) -> Result<()> {
    let mut entry = crate::audit::Entry::new(action)
        .object("user", user_id)
        .change(None, after);
    entry.actor_name = Some(CLI_ACTOR.into());
    crate::audit::record(conn, &entry)?;
    Ok(())
}

pub(super) fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("no password given: pipe it on standard input, e.g. `printf '%s\\n' \"$PW\" | outpost user …`");
    }
    Ok(password)
}
