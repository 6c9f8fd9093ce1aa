//! Installment tracking: daily for every running plan, and for one customer whenever
//! cash moves on a plan's invoices (the job's subject).

use diesel_async::AsyncPgConnection;
use recoup_core::job::Job;
use recoup_core::{Context, Result, payment_plan};

pub(crate) async fn run(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    job: &Job,
) -> Result<serde_json::Value> {
    let outcome = match (job.subject_type.as_deref(), job.subject_id) {
        (Some("customer"), Some(customer)) => {
            payment_plan::track_customer(conn, ctx, customer).await?
        }
        _ => payment_plan::track_live(conn, ctx).await?,
    };
    serde_json::to_value(outcome).map_err(|e| recoup_core::Error::Internal(e.to_string()))
}
