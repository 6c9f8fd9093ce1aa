//! Follow-up tasks for people. The ledger makes them (a returned payment tells the
//! collector); the worklist issue adds their routes and the other makers.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::access::Context;
use crate::audit;
use crate::error::Result;
use crate::schema::tasks;

#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = tasks)]
pub struct Task {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub assignee_id: Option<Uuid>,
    #[schema(example = "payment_returned")]
    pub kind: String,
    pub title: String,
    pub due_on: NaiveDate,
    #[schema(example = "open")]
    pub status: String,
    pub source_type: Option<String>,
    pub source_id: Option<Uuid>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

pub struct NewTask<'a> {
    pub customer_id: Uuid,
    pub assignee_id: Option<Uuid>,
    pub kind: &'a str,
    pub title: String,
    pub due_on: NaiveDate,
    pub source: Option<(&'a str, Uuid)>,
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
            tasks::status.eq("open"),
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
