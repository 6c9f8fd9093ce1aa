//! API keys for integrations (ERP sync, scripts): shown once, stored as a digest,
//! limited to scopes, revocable.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Actor, Context, Permission, Scope};
use crate::audit;
use crate::error::{Error, Problems, Result};
use crate::page::{Listing, Page, PageRequest};
use crate::password::{random_secret, token_digest};
use crate::schema::api_keys;

/// Every key starts with this, so leaked keys are recognisable by secret scanners.
pub const KEY_PREFIX: &str = "rk_";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    #[schema(example = "ERP nightly sync")]
    pub name: String,
    /// The key's first characters, to tell keys apart; never enough to use it.
    #[schema(example = "rk_Zx3fQ9a")]
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The answer to creating a key: the only time the key itself is shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The secret key. Store it now: Recoup keeps only its digest.
    #[schema(example = "rk_Zx3fQ9aK2mN7pL0vB8cD4eF6gH1iJ5kL9mN3oP7qR2s")]
    pub key: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    #[schema(example = "ERP nightly sync")]
    pub name: String,
    /// At least one scope.
    pub scopes: Vec<Scope>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_keys)]
struct Row {
    id: Uuid,
    name: String,
    prefix: String,
    scopes: Vec<String>,
    created_by: Uuid,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl Row {
    fn into_key(self) -> ApiKey {
        ApiKey {
            id: self.id,
            name: self.name,
            prefix: self.prefix,
            // A scope that a later version dropped grants nothing.
            scopes: self.scopes.iter().filter_map(|s| s.parse().ok()).collect(),
            created_by: self.created_by,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            revoked_at: self.revoked_at,
        }
    }
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: NewApiKey,
) -> Result<CreatedApiKey> {
    ctx.actor.require(Permission::ApiKeysManage)?;
    let mut problems = Problems::new();
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        problems.add("name", "invalid_length", "must be 1 to 200 characters");
    }
    if input.scopes.is_empty() {
        problems.add("scopes", "required", "at least one scope");
    }
    problems.into_result()?;
    let Some(created_by) = ctx.actor.id() else {
        return Err(Error::forbidden("only a user can create API keys"));
    };
    let mut scopes = input.scopes;
    scopes.sort_by_key(|s| s.as_str());
    scopes.dedup();
    let key = format!("{KEY_PREFIX}{}", random_secret());
    let api_key = ApiKey {
        id: Uuid::now_v7(),
        name,
        prefix: key.chars().take(10).collect(),
        scopes,
        created_by,
        created_at: ctx.now,
        last_used_at: None,
        revoked_at: None,
    };
    conn.transaction(async |conn| {
        diesel::insert_into(api_keys::table)
            .values((
                api_keys::id.eq(api_key.id),
                api_keys::name.eq(&api_key.name),
                api_keys::prefix.eq(&api_key.prefix),
                api_keys::key_hash.eq(token_digest(&key)),
                api_keys::scopes.eq(api_key
                    .scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()),
                api_keys::created_by.eq(created_by),
                api_keys::created_at.eq(ctx.now),
            ))
            .execute(conn)
            .await?;
        audit::record(
            conn,
            ctx,
            "api_key.create",
            "api_key",
            api_key.id,
            None::<&()>,
            Some(&api_key),
        )
        .await?;
        Ok::<_, Error>(())
    })
    .await?;
    Ok(CreatedApiKey { api_key, key })
}

/// The actor a presented key stands for, or `None` for unknown and revoked keys.
pub async fn authenticate(
    conn: &mut AsyncPgConnection,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<Actor>> {
    if !key.starts_with(KEY_PREFIX) {
        return Ok(None);
    }
    let row: Option<Row> = api_keys::table
        .filter(api_keys::key_hash.eq(token_digest(key)))
        .filter(api_keys::revoked_at.is_null())
        .select(Row::as_select())
        .first(conn)
        .await
        .optional()?;
    let Some(row) = row else { return Ok(None) };
    // Coarse last-use tracking: at most one write a minute per key.
    if row
        .last_used_at
        .is_none_or(|t| now - t > chrono::Duration::minutes(1))
    {
        diesel::update(api_keys::table.find(row.id))
            .set(api_keys::last_used_at.eq(now))
            .execute(conn)
            .await?;
    }
    let key = row.into_key();
    Ok(Some(Actor::ApiKey {
        id: key.id,
        scopes: key.scopes,
    }))
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyFilter {
    /// Include revoked keys (default false).
    pub include_revoked: Option<bool>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The cursors of this list.
const LISTING: Listing = Listing::new("api_keys", "created_at");

pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    filter: &ApiKeyFilter,
) -> Result<Page<ApiKey>> {
    ctx.actor.require(Permission::ApiKeysManage)?;
    let page = PageRequest::<(DateTime<Utc>, Uuid)>::parse(
        LISTING,
        filter.limit,
        filter.cursor.as_deref(),
    )?;
    let mut query = api_keys::table.select(Row::as_select()).into_boxed();
    if !filter.include_revoked.unwrap_or(false) {
        query = query.filter(api_keys::revoked_at.is_null());
    }
    if let Some((at, id)) = page.after {
        query = query.filter(
            api_keys::created_at
                .gt(at)
                .or(api_keys::created_at.eq(at).and(api_keys::id.gt(id))),
        );
    }
    let rows = query
        .order((api_keys::created_at.asc(), api_keys::id.asc()))
        .limit(page.fetch())
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, &page, |r| (r.created_at, r.id)).map(Row::into_key))
}

/// Revokes a key; revoking a revoked key changes nothing.
pub async fn revoke(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<ApiKey> {
    ctx.actor.require(Permission::ApiKeysManage)?;
    conn.transaction(async |conn| {
        let row: Row = api_keys::table
            .find(id)
            .select(Row::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or(Error::NotFound { entity: "api_key" })?;
        let before = row.into_key();
        if before.revoked_at.is_some() {
            return Ok(before);
        }
        diesel::update(api_keys::table.find(id))
            .set(api_keys::revoked_at.eq(ctx.now))
            .execute(conn)
            .await?;
        let after = ApiKey {
            revoked_at: Some(ctx.now),
            ..before.clone()
        };
        audit::record(
            conn,
            ctx,
            "api_key.revoke",
            "api_key",
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        Ok::<_, Error>(after)
    })
    .await
}
