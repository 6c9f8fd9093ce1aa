//! Nightly purge of idempotency keys past their retention.

use diesel_async::AsyncPgConnection;
use recoup_core::{Context, Result, idempotency};

pub(crate) async fn run(conn: &mut AsyncPgConnection, ctx: &Context) -> Result<serde_json::Value> {
    let purged = idempotency::purge_expired(conn, ctx.now).await?;
    Ok(serde_json::json!({ "purged": purged }))
}
