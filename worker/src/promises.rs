//! Promise evaluation: daily for every open promise past its deadline, and for one
//! customer whenever cash moves on a promised invoice (the job's subject).

use diesel_async::AsyncPgConnection;
use recoup_core::job::Job;
use recoup_core::{Context, Result, promise};

pub(crate) async fn run(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    job: &Job,
) -> Result<serde_json::Value> {
    let outcome = match (job.subject_type.as_deref(), job.subject_id) {
        (Some("customer"), Some(customer)) => {
            let mut out = promise::Evaluation::default();
            promise::evaluate_customer(conn, ctx, customer, &mut out).await?;
            out
        }
        _ => promise::evaluate_due(conn, ctx).await?,
    };
    serde_json::to_value(outcome).map_err(|e| recoup_core::Error::Internal(e.to_string()))
}
