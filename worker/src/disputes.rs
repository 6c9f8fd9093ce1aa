//! Dispute follow-up (daily): a task for the owner of each active dispute past due.

use diesel_async::AsyncPgConnection;
use recoup_core::{Context, Result, dispute};

pub(crate) async fn run(conn: &mut AsyncPgConnection, ctx: &Context) -> Result<serde_json::Value> {
    let tasks = dispute::follow_up_overdue(conn, ctx).await?;
    Ok(serde_json::json!({ "tasks_created": tasks }))
}
