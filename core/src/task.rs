//! Follow-up tasks for people: made by hand, and by the system (a returned payment
//! tasks the collector; broken promises and missed installments will too).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::audit;
use crate::customer;
use crate::error::{Error, Problems, Result};
use crate::page::{Listing, Page, PageRequest};
use crate::schema::{tasks, users};

text_enum! {
    pub enum TaskStatus {
        Open = "open",
        Done = "done",
        Cancelled = "cancelled",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = tasks)]
pub struct Task {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub assignee_id: Option<Uuid>,
    /// What kind of follow-up: `call`, `email`, `visit`, `review`, or one the system
    /// makes (`payment_returned`, …).
    #[schema(example = "call", pattern = "^[a-z_]{1,50}$")]
    pub kind: String,
    #[schema(example = "Call AP about the March invoices")]
    pub title: String,
    pub due_on: NaiveDate,
    pub status: TaskStatus,
    /// What made the task (`payment`, `activity`, …), when the system did.
    pub source_type: Option<String>,
    pub source_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A task the system makes inside another operation's transaction.
pub struct NewTask<'a> {
    pub customer_id: Uuid,
    pub assignee_id: Option<Uuid>,
    pub kind: &'a str,
    pub title: String,
    pub due_on: NaiveDate,
    pub source: Option<(&'a str, Uuid)>,
}

/// The follow-up a system decision asks for (a broken promise, a defaulted plan), once
/// per source: the existing task of `new.source` if there is one, else a new task for
/// the customer's collector (or `new.assignee_id` when the account has none). Returns
/// the task's id.
pub(crate) async fn follow_up_once(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    new: NewTask<'_>,
) -> Result<Uuid> {
    if let Some((source_type, source_id)) = new.source {
        let existing: Option<Uuid> = tasks::table
            .filter(tasks::source_type.eq(source_type))
            .filter(tasks::source_id.eq(source_id))
            .select(tasks::id)
            .first(conn)
            .await
            .optional()?;
        if let Some(id) = existing {
            return Ok(id);
        }
    }
    let collector: Option<Option<Uuid>> = crate::schema::customers::table
        .find(new.customer_id)
        .select(crate::schema::customers::assigned_collector_id)
        .first(conn)
        .await
        .optional()?;
    let assignee_id = collector.flatten().or(new.assignee_id);
    Ok(create(conn, ctx, NewTask { assignee_id, ..new }).await?.id)
}

/// Creates a task inside the caller's transaction.
pub async fn create(conn: &mut AsyncPgConnection, ctx: &Context, new: NewTask<'_>) -> Result<Task> {
    let task: Task = diesel::insert_into(tasks::table)
        .values((
            tasks::id.eq(Uuid::now_v7()),
            tasks::customer_id.eq(new.customer_id),
            tasks::assignee_id.eq(new.assignee_id),
            tasks::kind.eq(new.kind),
            tasks::title.eq(&new.title),
            tasks::due_on.eq(new.due_on),
            tasks::status.eq(TaskStatus::Open),
            tasks::source_type.eq(new.source.map(|s| s.0)),
            tasks::source_id.eq(new.source.map(|s| s.1)),
            tasks::created_at.eq(ctx.now),
            tasks::updated_at.eq(ctx.now),
        ))
        .returning(Task::as_returning())
        .get_result(conn)
        .await?;
    audit::record(
        conn,
        ctx,
        "task.create",
        "task",
        task.id,
        None::<&()>,
        Some(&task),
    )
    .await?;
    Ok(task)
}

/// `POST /v1/tasks`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTaskRequest {
    pub customer_id: Uuid,
    /// Default: the customer's collector, else the caller.
    pub assignee_id: Option<Uuid>,
    #[schema(example = "call", pattern = "^[a-z_]{1,50}$")]
    pub kind: String,
    #[schema(example = "Call AP about the March invoices")]
    pub title: String,
    pub due_on: NaiveDate,
}

/// `PATCH /v1/tasks/{id}`: absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    pub assignee_id: Option<Uuid>,
    pub due_on: Option<NaiveDate>,
    pub status: Option<TaskStatus>,
    pub title: Option<String>,
}

fn check_kind(kind: &str, p: &mut Problems) {
    let ok = !kind.is_empty()
        && kind.len() <= 50
        && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if !ok {
        p.add(
            "kind",
            "invalid_kind",
            "lower-case letters and underscores, up to 50",
        );
    }
}

fn check_title(title: &str, p: &mut Problems) {
    if title.trim().is_empty() || title.chars().count() > 500 {
        p.add("title", "invalid_length", "must be 1 to 500 characters");
    }
}

async fn check_assignee(conn: &mut AsyncPgConnection, id: Uuid, p: &mut Problems) -> Result<()> {
    let active: Option<bool> = users::table
        .find(id)
        .select(users::active)
        .first(conn)
        .await
        .optional()?;
    match active {
        Some(true) => {}
        Some(false) => p.add("assignee_id", "inactive_user", "the user is inactive"),
        None => p.add("assignee_id", "unknown_user", "no such user"),
    }
    Ok(())
}

pub async fn create_by_hand(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: NewTaskRequest,
) -> Result<Task> {
    ctx.actor.require(Permission::TasksWrite)?;
    let mut p = Problems::new();
    check_kind(&input.kind, &mut p);
    check_title(&input.title, &mut p);
    if let Some(id) = input.assignee_id {
        check_assignee(conn, id, &mut p).await?;
    }
    p.into_result()?;
    conn.transaction(async |conn| {
        let customer = customer::load_named(conn, ctx, input.customer_id, false).await?;
        let assignee = input
            .assignee_id
            .or(customer.assigned_collector_id)
            .or(ctx.actor.id());
        create(
            conn,
            ctx,
            NewTask {
                customer_id: customer.id,
                assignee_id: assignee,
                kind: input.kind.as_str(),
                title: input.title.trim().to_owned(),
                due_on: input.due_on,
                source: None,
            },
        )
        .await
    })
    .await
}

async fn load(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid, lock: bool) -> Result<Task> {
    let query = tasks::table.find(id).select(Task::as_select());
    let found = if lock {
        query.for_update().first(conn).await.optional()?
    } else {
        query.first(conn).await.optional()?
    };
    let task = found.ok_or(Error::NotFound { entity: "task" })?;
    customer::check_visible_for(conn, ctx, task.customer_id, false, "task").await?;
    Ok(task)
}

pub async fn get(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<Task> {
    ctx.actor.require(Permission::TasksRead)?;
    load(conn, ctx, id, false).await
}

/// Applies a patch if `precondition` holds for the current task (the API's If-Match).
pub async fn update(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    id: Uuid,
    patch: TaskPatch,
    precondition: impl FnOnce(&Task) -> bool + Send,
) -> Result<Task> {
    ctx.actor.require(Permission::TasksWrite)?;
    let mut p = Problems::new();
    if let Some(title) = &patch.title {
        check_title(title, &mut p);
    }
    if let Some(id) = patch.assignee_id {
        check_assignee(conn, id, &mut p).await?;
    }
    p.into_result()?;
    conn.transaction(async |conn| {
        let before = load(conn, ctx, id, true).await?;
        if !precondition(&before) {
            return Err(Error::PreconditionFailed);
        }
        let after = Task {
            assignee_id: patch.assignee_id.or(before.assignee_id),
            due_on: patch.due_on.unwrap_or(before.due_on),
            status: patch.status.unwrap_or(before.status),
            title: patch
                .title
                .as_deref()
                .map(str::trim)
                .map(str::to_owned)
                .unwrap_or_else(|| before.title.clone()),
            updated_at: ctx.now,
            ..before.clone()
        };
        diesel::update(tasks::table.find(id))
            .set((
                tasks::assignee_id.eq(after.assignee_id),
                tasks::due_on.eq(after.due_on),
                tasks::status.eq(after.status),
                tasks::title.eq(&after.title),
                tasks::updated_at.eq(ctx.now),
            ))
            .execute(conn)
            .await?;
        audit::record(
            conn,
            ctx,
            "task.update",
            "task",
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        Ok(after)
    })
    .await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TaskFilter {
    pub assignee_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub status: Option<TaskStatus>,
    pub kind: Option<String>,
    /// Due on or after.
    pub due_from: Option<NaiveDate>,
    /// Due on or before.
    pub due_to: Option<NaiveDate>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The cursors of this list.
const LISTING: Listing = Listing::new("tasks", "due_on");

/// Tasks on customers the caller may see, soonest due first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    filter: &TaskFilter,
) -> Result<Page<Task>> {
    ctx.actor.require(Permission::TasksRead)?;
    let page =
        PageRequest::<(NaiveDate, Uuid)>::parse(LISTING, filter.limit, filter.cursor.as_deref())?;
    let mut q = tasks::table.select(Task::as_select()).into_boxed();
    if let Some(ids) = customer::visible_ids(ctx.actor.customer_visibility()) {
        q = q.filter(tasks::customer_id.eq_any(ids));
    }
    if let Some(id) = filter.assignee_id {
        q = q.filter(tasks::assignee_id.eq(id));
    }
    if let Some(id) = filter.customer_id {
        q = q.filter(tasks::customer_id.eq(id));
    }
    if let Some(s) = filter.status {
        q = q.filter(tasks::status.eq(s));
    }
    if let Some(k) = &filter.kind {
        q = q.filter(tasks::kind.eq(k.clone()));
    }
    if let Some(d) = filter.due_from {
        q = q.filter(tasks::due_on.ge(d));
    }
    if let Some(d) = filter.due_to {
        q = q.filter(tasks::due_on.le(d));
    }
    if let Some((d, id)) = page.after {
        q = q.filter(
            tasks::due_on
                .gt(d)
                .or(tasks::due_on.eq(d).and(tasks::id.gt(id))),
        );
    }
    let rows = q
        .order((tasks::due_on.asc(), tasks::id.asc()))
        .limit(page.fetch())
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, &page, |t: &Task| (t.due_on, t.id)))
}
