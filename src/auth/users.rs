//! Users: the diesel model and the service functions that write the `users` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::auth::password;
use crate::auth::roles::Role;
use crate::schema::{user_hubs, users};

#[derive(Clone, Debug, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub organisation_id: i64,
    pub password_hash: String,
    pub active: bool,
    pub permission_flags: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Sessions started before this moment are over (set by a password reset).
    pub sessions_valid_after: Option<DateTime<Utc>>,
}

impl User {
    /// The stored role. The CHECK constraint guarantees it parses; a row that somehow does not
    /// is treated as the least-privileged role rather than crashing a request.
    pub fn role(&self) -> Role {
        self.role.parse().unwrap_or(Role::CustomerUser)
    }
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub organisation_id: i64,
    pub password: &'a str,
    pub hub_ids: &'a [i64],
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("a user named '{0}' already exists")]
    Exists(String),
    #[error("no user named '{0}'")]
    NotFound(String),
    #[error("usernames are 2–64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit")]
    BadUsername,
    #[error(transparent)]
    Password(#[from] password::PasswordError),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

pub fn valid_username(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && (2..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

pub fn find_by_username(conn: &mut PgConnection, username: &str) -> QueryResult<Option<User>> {
    users::table
        // Usernames are stored lower-case (a CHECK constraint), so sign-in is case-insensitive.
        .filter(users::username.eq(username.trim().to_lowercase()))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Creates a user with an argon2id hash of `password` and its hub assignments, atomically.
pub fn create(conn: &mut PgConnection, new: &NewUser<'_>) -> Result<User, UserError> {
    if !valid_username(new.username) {
        return Err(UserError::BadUsername);
    }
    let hash = password::hash(new.password)?;
    conn.transaction(|conn| {
        if find_by_username(conn, new.username)?.is_some() {
            return Err(UserError::Exists(new.username.to_string()));
        }
        let user: User = diesel::insert_into(users::table)
            .values((
                users::username.eq(new.username),
                users::display_name.eq(new.display_name),
                users::role.eq(new.role.as_str()),
                users::organisation_id.eq(new.organisation_id),
                users::password_hash.eq(&hash),
            ))
            .returning(User::as_returning())
            .get_result(conn)?;
        let rows: Vec<_> = new
            .hub_ids
            .iter()
            .map(|h| (user_hubs::user_id.eq(user.id), user_hubs::hub_id.eq(*h)))
            .collect();
        diesel::insert_into(user_hubs::table)
            .values(&rows)
            .execute(conn)?;
        Ok(user)
    })
}

pub fn set_password(
    conn: &mut PgConnection,
    username: &str,
    new_password: &str,
) -> Result<(), UserError> {
    let hash = password::hash(new_password)?;
    let user =
        find_by_username(conn, username)?.ok_or_else(|| UserError::NotFound(username.into()))?;
    // A reset ends what the old password opened: sessions (checked against this moment on
    // every request) and API tokens.
    diesel::update(users::table.find(user.id))
        .set((
            users::password_hash.eq(hash),
            users::updated_at.eq(diesel::dsl::now),
            users::sessions_valid_after.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    crate::auth::tokens::revoke_all_for_user(conn, user.id)?;
    Ok(())
}

pub fn set_active(conn: &mut PgConnection, username: &str, active: bool) -> Result<(), UserError> {
    let user =
        find_by_username(conn, username)?.ok_or_else(|| UserError::NotFound(username.into()))?;
    diesel::update(users::table.find(user.id))
        .set((
            users::active.eq(active),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(())
}

/// An administrator's edit of a user: everything the user form can change.
#[derive(Clone, Debug, PartialEq)]
pub struct UserEdit {
    pub display_name: String,
    pub role: Role,
    pub hub_ids: Vec<i64>,
    pub customer_ids: Vec<i64>,
    pub flags: crate::auth::flags::PermissionFlags,
}

/// The user as the admin form shows it, for before/after audit snapshots.
pub fn snapshot(conn: &mut PgConnection, user_id: i64) -> QueryResult<(User, UserEdit)> {
    use crate::schema::user_customers;
    let user: User = users::table
        .find(user_id)
        .select(User::as_select())
        .first(conn)?;
    let mut hub_ids: Vec<i64> = user_hubs::table
        .filter(user_hubs::user_id.eq(user_id))
        .select(user_hubs::hub_id)
        .load(conn)?;
    let mut customer_ids: Vec<i64> = user_customers::table
        .filter(user_customers::user_id.eq(user_id))
        .select(user_customers::customer_id)
        .load(conn)?;
    hub_ids.sort_unstable();
    customer_ids.sort_unstable();
    let edit = UserEdit {
        display_name: user.display_name.clone(),
        role: user.role(),
        hub_ids,
        customer_ids,
        flags: crate::auth::flags::PermissionFlags::from_json(&user.permission_flags),
    };
    Ok((user, edit))
}

impl UserEdit {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "display_name": self.display_name,
            "role": self.role.as_str(),
            "hub_ids": self.hub_ids,
            "customer_ids": self.customer_ids,
            "flags": self.flags.to_json(),
        })
    }

    /// Whether the change alters what the user may do or see (their sessions must then end).
    pub fn changes_rights(&self, other: &UserEdit) -> bool {
        self.role != other.role
            || self.hub_ids != other.hub_ids
            || self.customer_ids != other.customer_ids
            || self.flags != other.flags
    }
}

/// Applies an edit in the caller's transaction. Hubs and customers must already have been
/// checked to belong to the user's organisation.
pub fn apply_edit(conn: &mut PgConnection, user_id: i64, edit: &UserEdit) -> QueryResult<()> {
    use crate::schema::user_customers;
    diesel::update(users::table.find(user_id))
        .set((
            users::display_name.eq(&edit.display_name),
            users::role.eq(edit.role.as_str()),
            users::permission_flags.eq(edit.flags.to_json()),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    diesel::delete(user_hubs::table.filter(user_hubs::user_id.eq(user_id))).execute(conn)?;
    let hubs: Vec<_> = edit
        .hub_ids
        .iter()
        .map(|h| (user_hubs::user_id.eq(user_id), user_hubs::hub_id.eq(*h)))
        .collect();
    diesel::insert_into(user_hubs::table)
        .values(&hubs)
        .execute(conn)?;
    diesel::delete(user_customers::table.filter(user_customers::user_id.eq(user_id)))
        .execute(conn)?;
    let customers: Vec<_> = edit
        .customer_ids
        .iter()
        .map(|c| {
            (
                user_customers::user_id.eq(user_id),
                user_customers::customer_id.eq(*c),
            )
        })
        .collect();
    diesel::insert_into(user_customers::table)
        .values(&customers)
        .execute(conn)?;
    Ok(())
}
