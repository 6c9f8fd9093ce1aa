//! Users of Recoup (people; integrations use API keys) and their roles.

use crate::error::ProblemCode;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::audit;
use crate::db::is_unique_violation;
use crate::error::{Error, Problems, Result};
use crate::page::{Listing, Page, PageRequest};
use crate::password;
use crate::schema::users;

text_enum! {
    /// A user's role; see DESIGN.md's role table.
    pub enum Role {
        Admin = "admin",
        Manager = "manager",
        Collector = "collector",
        FieldCollector = "field_collector",
        Accountant = "accountant",
        Sales = "sales",
        Auditor = "auditor",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = users)]
pub struct User {
    pub id: Uuid,
    #[schema(example = "maria.lopez@example.com")]
    pub email: String,
    #[schema(example = "Maria Lopez")]
    pub name: String,
    pub role: Role,
    /// An inactive user can neither log in nor refresh a session.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /v1/users`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(example = "maria.lopez@example.com")]
    pub email: String,
    #[schema(example = "Maria Lopez")]
    pub name: String,
    pub role: Role,
    /// 12 to 128 characters.
    #[schema(example = "correct-horse-battery-staple")]
    pub password: String,
}

/// `PATCH /v1/users/{id}`: only the fields present change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    /// A new password; the user's open sessions are revoked.
    pub password: Option<String>,
}

fn normalize_email(field: &str, email: &str, problems: &mut Problems) -> Option<String> {
    let email = email.trim();
    if email.len() > 254 || !email_address::EmailAddress::is_valid(email) {
        problems.add(field, "invalid_email", "not a valid e-mail address");
        return None;
    }
    Some(email.to_owned())
}

fn check_name(field: &str, name: &str, problems: &mut Problems) -> Option<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        problems.add(field, "invalid_length", "must be 1 to 200 characters");
        return None;
    }
    Some(name.to_owned())
}

fn check_password(password: &str, problems: &mut Problems) {
    if let Err(message) = password::check_strength(password) {
        problems.add("password", "weak_password", message);
    }
}

diesel::define_sql_function!(fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text);

pub async fn create(conn: &mut AsyncPgConnection, ctx: &Context, input: NewUser) -> Result<User> {
    ctx.actor.require(Permission::UsersManage)?;
    let mut problems = Problems::new();
    let email = normalize_email("email", &input.email, &mut problems);
    let name = check_name("name", &input.name, &mut problems);
    check_password(&input.password, &mut problems);
    problems.into_result()?;
    let (Some(email), Some(name)) = (email, name) else {
        return Err(Error::Internal("unreachable".into()));
    };
    let hash = password::hash(input.password).await?;
    let user = User {
        id: Uuid::now_v7(),
        email,
        name,
        role: input.role,
        active: true,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let result = conn
        .transaction(async |conn| {
            diesel::insert_into(users::table)
                .values((
                    users::id.eq(user.id),
                    users::email.eq(&user.email),
                    users::name.eq(&user.name),
                    users::role.eq(user.role),
                    users::password_hash.eq(&hash),
                    users::active.eq(true),
                    users::created_at.eq(user.created_at),
                    users::updated_at.eq(user.updated_at),
                ))
                .execute(conn)
                .await?;
            audit::record(
                conn,
                ctx,
                "user.create",
                "user",
                user.id,
                None::<&()>,
                Some(&user),
            )
            .await?;
            Ok::<_, Error>(())
        })
        .await;
    match result {
        Err(Error::Database(e)) if is_unique_violation(&e, "users_email_key") => {
            Err(Error::conflict(
                ProblemCode::EmailTaken,
                "a user with this e-mail already exists",
            ))
        }
        other => other.map(|()| user),
    }
}

pub async fn get(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<User> {
    ctx.actor.require(Permission::UsersRead)?;
    find(conn, id)
        .await?
        .ok_or(Error::NotFound { entity: "user" })
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<User>> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The user and stored hash for a login e-mail (matched case-insensitively).
pub async fn credentials(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> Result<Option<(User, String)>> {
    Ok(users::table
        .filter(lower(users::email).eq(lower(email.trim())))
        .select((User::as_select(), users::password_hash))
        .first(conn)
        .await
        .optional()?)
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UserFilter {
    /// Only users with this role.
    pub role: Option<Role>,
    /// Only active (true) or inactive (false) users.
    pub active: Option<bool>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The cursors of this list.
const LISTING: Listing = Listing::new("users", "email");

/// Users ordered by e-mail.
pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    filter: &UserFilter,
) -> Result<Page<User>> {
    ctx.actor.require(Permission::UsersRead)?;
    let page =
        PageRequest::<(String, Uuid)>::parse(LISTING, filter.limit, filter.cursor.as_deref())?;
    let mut query = users::table.select(User::as_select()).into_boxed();
    if let Some(role) = filter.role {
        query = query.filter(users::role.eq(role));
    }
    if let Some(active) = filter.active {
        query = query.filter(users::active.eq(active));
    }
    if let Some((email, id)) = page.after.clone() {
        query = query.filter(
            users::email
                .gt(email.clone())
                .or(users::email.eq(email).and(users::id.gt(id))),
        );
    }
    let rows = query
        .order((users::email.asc(), users::id.asc()))
        .limit(page.fetch())
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, &page, |u| (u.email.clone(), u.id)))
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    patch: UserPatch,
) -> Result<User> {
    ctx.actor.require(Permission::UsersManage)?;
    let mut problems = Problems::new();
    let name = patch
        .name
        .as_deref()
        .and_then(|n| check_name("name", n, &mut problems));
    if let Some(p) = &patch.password {
        check_password(p, &mut problems);
    }
    problems.into_result()?;
    let new_hash = match patch.password {
        Some(p) => Some(password::hash(p).await?),
        None => None,
    };
    conn.transaction(async |conn| {
        let before: User = users::table
            .find(id)
            .select(User::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or(Error::NotFound { entity: "user" })?;
        if ctx.actor.id() == Some(id)
            && (patch.active == Some(false) || patch.role.is_some_and(|r| r != before.role))
        {
            return Err(Error::conflict(
                ProblemCode::SelfLockout,
                "an admin cannot deactivate or demote their own account",
            ));
        }
        let after = User {
            name: name.clone().unwrap_or_else(|| before.name.clone()),
            role: patch.role.unwrap_or(before.role),
            active: patch.active.unwrap_or(before.active),
            updated_at: ctx.now,
            ..before.clone()
        };
        diesel::update(users::table.find(id))
            .set((
                users::name.eq(&after.name),
                users::role.eq(after.role),
                users::active.eq(after.active),
                users::updated_at.eq(after.updated_at),
            ))
            .execute(conn)
            .await?;
        if let Some(hash) = &new_hash {
            diesel::update(users::table.find(id))
                .set(users::password_hash.eq(hash))
                .execute(conn)
                .await?;
        }
        // A new password, a deactivation or a role change ends every open session.
        if new_hash.is_some() || !after.active || after.role != before.role {
            crate::session::revoke_user(conn, id, ctx.now).await?;
        }
        audit::record(
            conn,
            ctx,
            "user.update",
            "user",
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        Ok(after)
    })
    .await
}

/// Creates the first admin when the database has none (start-up bootstrap). Returns
/// whether one was created.
pub async fn bootstrap_admin(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    email: &str,
    password: &str,
) -> Result<bool> {
    let admins: i64 = users::table
        .filter(users::role.eq(Role::Admin))
        .count()
        .get_result(conn)
        .await?;
    if admins > 0 {
        return Ok(false);
    }
    let ctx = Context::system(now);
    create(
        conn,
        &ctx,
        NewUser {
            email: email.to_owned(),
            name: "Administrator".to_owned(),
            role: Role::Admin,
            password: password.to_owned(),
        },
    )
    .await?;
    Ok(true)
}
