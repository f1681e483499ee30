//! Who is making a request: loaded once per request by the authentication middleware (from a
//! session cookie or a bearer token) and read by the extractors.

use diesel::prelude::*;
use serde::Serialize;

use super::flags::PermissionFlags;
use super::permissions::Permission;
use super::roles::Role;
use super::users::User;
use crate::auth::scope::{self, Hub, Scope};

#[derive(Clone, Debug)]
pub enum AuthVia {
    /// A browser session; `key` is its Redis key (not the cookie value).
    Session {
        key: String,
        /// When the session started, in Unix milliseconds.
        started_at: i64,
    },
    /// An API access token.
    Token { token_id: i64 },
}

/// A user as the database has them: who they are, their role, organisation and scope. Loaded
/// once per request, or reused while the database has not changed (`db::snapshot`).
#[derive(Clone, Debug)]
pub struct Account {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub organisation_id: i64,
    pub organisation_name: String,
    pub scope: Scope,
    pub flags: PermissionFlags,
    /// A password reset or sign-out everywhere ends the sessions started before this (Unix ms).
    sessions_valid_after_ms: Option<i64>,
}

/// Who is making this request: an account, and how it signed in.
#[derive(Clone, Debug)]
pub struct Principal {
    account: std::sync::Arc<Account>,
    pub via: AuthVia,
    pub client_addr: Option<String>,
}

impl std::ops::Deref for Principal {
    type Target = Account;
    fn deref(&self) -> &Account {
        &self.account
    }
}

impl Account {
    /// Loads an active user; `None` when the user is gone or disabled.
    pub fn load(conn: &mut PgConnection, user_id: i64) -> QueryResult<Option<Self>> {
        use crate::schema::{organisations, users};
        let Some((user, organisation_name)) = users::table
            .inner_join(organisations::table)
            .filter(users::id.eq(user_id))
            .select((User::as_select(), organisations::name))
            .first::<(User, String)>(conn)
            .optional()?
        else {
            return Ok(None);
        };
        if !user.active {
            return Ok(None);
        }
        let role = user.role();
        let scope = scope::scope_for(conn, user.id, user.organisation_id, role)?;
        Ok(Some(Account {
            user_id: user.id,
            username: user.username,
            display_name: user.display_name,
            role,
            organisation_id: user.organisation_id,
            organisation_name,
            scope,
            flags: PermissionFlags::from_json(&user.permission_flags),
            sessions_valid_after_ms: user.sessions_valid_after.map(|t| t.timestamp_millis()),
        }))
    }

    /// This account acting through `via`; `None` for a session started before the account's
    /// sessions were ended.
    pub fn signed_in(
        self: std::sync::Arc<Self>,
        via: AuthVia,
        client_addr: Option<String>,
    ) -> Option<Principal> {
        if let (AuthVia::Session { started_at, .. }, Some(valid_after)) =
            (&via, self.sessions_valid_after_ms)
        {
            if *started_at < valid_after {
                return None;
            }
        }
        Some(Principal {
            account: self,
            via,
            client_addr,
        })
    }

    pub fn can(&self, permission: Permission) -> bool {
        self.role.allows(permission)
    }

    pub fn hub(&self, hub_id: i64) -> Option<&Hub> {
        self.scope.hubs.iter().find(|h| h.id == hub_id)
    }

    /// The header's scope label: a customer user's own account; for staff the only hub, or
    /// how many.
    pub fn hub_label(&self) -> String {
        if self.role == Role::CustomerUser {
            return match self.scope.customer_names.as_slice() {
                [] => self.organisation_name.clone(),
                names => names.join(", "),
            };
        }
        match self.scope.hubs.as_slice() {
            [] => self.organisation_name.clone(),
            [one] => one.name.clone(),
            many => format!("{} hubs", many.len()),
        }
    }
}

impl Principal {
    /// Loads an active user acting through `via` (see `Account::load`, `Account::signed_in`).
    pub fn load(
        conn: &mut PgConnection,
        user_id: i64,
        via: AuthVia,
        client_addr: Option<String>,
    ) -> QueryResult<Option<Self>> {
        Ok(Account::load(conn, user_id)?
            .and_then(|account| std::sync::Arc::new(account).signed_in(via, client_addr)))
    }

    pub fn session_key(&self) -> Option<&str> {
        match &self.via {
            AuthVia::Session { key, .. } => Some(key),
            AuthVia::Token { .. } => None,
        }
    }
}

/// What `/api/v1/me` tells a client about itself.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MeView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub organisation: String,
    pub hubs: Vec<Hub>,
    pub customer_ids: Vec<i64>,
    pub flags: PermissionFlags,
    pub permissions: Vec<&'static str>,
}

impl From<&Principal> for MeView {
    fn from(p: &Principal) -> Self {
        MeView {
            id: p.user_id,
            username: p.username.clone(),
            display_name: p.display_name.clone(),
            role: p.role,
            organisation: p.organisation_name.clone(),
            hubs: p.scope.hubs.clone(),
            customer_ids: p.scope.customer_ids.clone(),
            flags: p.flags,
            permissions: Permission::ALL
                .iter()
                .filter(|perm| p.can(**perm))
                .map(|perm| perm.as_str())
                .collect(),
        }
    }
}

impl Principal {
    /// An audit entry of an action this principal takes.
    pub fn audit_entry(&self, action: &str) -> crate::audit::Entry {
        crate::audit::Entry::by_actor(
            (
                self.user_id,
                &self.username,
                self.role.as_str(),
                self.client_addr.clone(),
            ),
            action,
        )
    }
}

/// Signed-in users' accounts, by user id (`None`: no such user), kept while the database has
/// not changed (`db::snapshot`): a signed-in request then costs one statement, not three.
pub struct AccountCache(
    pub crate::db::snapshot::SnapshotCache<i64, Option<std::sync::Arc<Account>>>,
);

impl Default for AccountCache {
    fn default() -> Self {
        AccountCache(crate::db::snapshot::SnapshotCache::new(10_000))
    }
}
