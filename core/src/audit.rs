//! The append-only audit log: one event per mutation, written in the mutation's own
//! transaction (the database refuses UPDATE, DELETE and TRUNCATE on the table).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::error::Result;
use crate::page::{Listing, Page, PageRequest};
use crate::schema::audit_events;

#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    /// `user`, `api_key` or `system`.
    #[schema(example = "user", value_type = crate::access::ActorKind)]
    pub actor_kind: String,
    pub actor_id: Option<Uuid>,
    /// What happened, as `entity.verb`.
    #[schema(example = "customer.update")]
    pub action: String,
    #[schema(example = "customer")]
    pub entity_type: String,
    pub entity_id: Uuid,
    /// The entity before the change (absent for creations).
    pub before: Option<serde_json::Value>,
    /// The entity after the change.
    pub after: Option<serde_json::Value>,
    /// The `X-Request-Id` of the request that made the change.
    pub request_id: Option<String>,
}

/// An audit event ready to insert (alone with [`record`], or pipelined with other writes).
#[derive(Debug)]
pub struct NewAuditEvent {
    id: Uuid,
    occurred_at: DateTime<Utc>,
    actor_kind: &'static str,
    actor_id: Option<Uuid>,
    action: String,
    entity_type: String,
    entity_id: Uuid,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    request_id: Option<String>,
}

pub fn event<B: Serialize, A: Serialize>(
    ctx: &Context,
    action: &str,
    entity_type: &str,
    entity_id: Uuid,
    before: Option<&B>,
    after: Option<&A>,
) -> NewAuditEvent {
    let to_json = |v: &dyn erased::Json| v.json();
    NewAuditEvent {
        id: Uuid::now_v7(),
        occurred_at: ctx.now,
        actor_kind: ctx.actor.kind(),
        actor_id: ctx.actor.id(),
        action: action.to_owned(),
        entity_type: entity_type.to_owned(),
        entity_id,
        before: before.map(|b| to_json(b)),
        after: after.map(|a| to_json(a)),
        request_id: ctx.request_id.clone(),
    }
}

/// Writes one audit event. Call it inside the transaction of the change it records.
pub async fn record<B: Serialize, A: Serialize>(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    action: &str,
    entity_type: &str,
    entity_id: Uuid,
    before: Option<&B>,
    after: Option<&A>,
) -> Result<()> {
    event(ctx, action, entity_type, entity_id, before, after)
        .write(conn)
        .await?;
    Ok(())
}

impl NewAuditEvent {
    /// The insert, as one statement to send alone or pipelined with others. Prepared:
    /// every operation writes one, and diesel does not keep its own insert of this
    /// struct prepared (it re-plans each one).
    pub fn write<'a>(
        self,
        conn: &'a AsyncPgConnection,
    ) -> impl std::future::Future<Output = diesel::QueryResult<usize>> + Send + 'a {
        use diesel::sql_types::{Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
        let mut c = conn;
        crate::db::prepared(
            "INSERT INTO audit_events (id, occurred_at, actor_kind, actor_id, action,
                 entity_type, entity_id, before, after, request_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind::<SqlUuid, _>(self.id)
        .bind::<Timestamptz, _>(self.occurred_at)
        .bind::<Text, _>(self.actor_kind)
        .bind::<Nullable<SqlUuid>, _>(self.actor_id)
        .bind::<Text, _>(self.action)
        .bind::<Text, _>(self.entity_type)
        .bind::<SqlUuid, _>(self.entity_id)
        .bind::<Nullable<Jsonb>, _>(self.before)
        .bind::<Nullable<Jsonb>, _>(self.after)
        .bind::<Nullable<Text>, _>(self.request_id)
        .execute(&mut c)
    }
}

mod erased {
    pub trait Json {
        fn json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}

/// Filters of the audit log list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// Only events about this kind of entity (`customer`, `user`, …).
    pub entity_type: Option<String>,
    /// Only events about this entity.
    pub entity_id: Option<Uuid>,
    /// Only events by this user or API key.
    pub actor_id: Option<Uuid>,
    /// Only this action (`customer.create`, …).
    pub action: Option<String>,
    /// Events at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Events before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The cursors of this list.
const LISTING: Listing = Listing::new("audit_events", "occurred_at");

/// Lists events oldest first (the order they happened in), paged by (time, id).
pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    filter: &AuditFilter,
) -> Result<Page<AuditEvent>> {
    ctx.actor.require(Permission::AuditRead)?;
    let page = PageRequest::<(DateTime<Utc>, Uuid)>::parse(
        LISTING,
        filter.limit,
        filter.cursor.as_deref(),
    )?;
    let mut query = audit_events::table
        .select(AuditEvent::as_select())
        .into_boxed();
    if let Some(t) = &filter.entity_type {
        query = query.filter(audit_events::entity_type.eq(t.clone()));
    }
    if let Some(id) = filter.entity_id {
        query = query.filter(audit_events::entity_id.eq(id));
    }
    if let Some(id) = filter.actor_id {
        query = query.filter(audit_events::actor_id.eq(id));
    }
    if let Some(a) = &filter.action {
        query = query.filter(audit_events::action.eq(a.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_events::occurred_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_events::occurred_at.lt(to));
    }
    if let Some((at, id)) = page.after {
        query = query.filter(
            audit_events::occurred_at
                .gt(at)
                .or(audit_events::occurred_at
                    .eq(at)
                    .and(audit_events::id.gt(id))),
        );
    }
    let rows = query
        .order((audit_events::occurred_at.asc(), audit_events::id.asc()))
        .limit(page.fetch())
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, &page, |e| (e.occurred_at, e.id)))
}
