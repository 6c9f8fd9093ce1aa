//! `GET /v1/reports/aging`: open receivables as of a day, bucketed by days past due;
//! `GET /v1/reports/aging-trend`: the same over time, from the nightly snapshots.

use actix_web::{HttpRequest, HttpResponse, get, web};
use recoup_core::aging_report::{self, AgingQuery, AgingReport};
use recoup_core::db;

use crate::auth::Caller;
use crate::csv;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

/// Aging as of a day: open amounts per group and currency in buckets of days past due.
///
/// Computed from the ledger as it stood at the end of `as_of`: an invoice's open amount
/// is the sum of its entries effective on or before that day (invoices issued on or
/// before it; zero sums skipped); days past due are `as_of − due_date`. Unapplied cash
/// (negative, money on account) counts as current. `disputed` is the amount in
/// disputes active on `as_of` on the group's invoices: already in the buckets, shown
/// beside them. Collectors and sales reps are the customers' assignments today.
/// Currencies are never added together: one row per group and currency, and `totals`
/// has one row per currency. Callers limited to their own customers see only those.
///
/// `Accept: text/csv` answers the wide format, one line per row of `rows`:
/// `key,name,currency,<one amount column per bucket label>,total,disputed,<one
/// count column per bucket label, named "count <label>">`.
#[utoipa::path(
    tag = "reports",
    operation_id = "aging_report",
    params(AgingQuery),
    responses(
        (status = 200, description = "The report; with `Accept: text/csv`, the report as CSV (wide: one line per group and currency)", content((AgingReport = "application/json"), (String = "text/csv")), headers(("Content-Disposition" = String, description = "With `Accept: text/csv`: `attachment` and a file name"))),
        (status = 400, description = "Bad `as_of` (`invalid_date`), `group_by` (`invalid_group_by`) or `buckets` (`invalid_buckets`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read reports", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/reports/aging")]
pub async fn report(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    query: web::Query<AgingQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.reports).await?;
    let report = aging_report::report(&mut conn, &caller.ctx(), &query).await?;
    if !csv::wanted(&req) {
        return Ok(HttpResponse::Ok().json(report));
    }
    csv::respond(
        &format!("aging-{}-{}.csv", report.as_of, report.group_by),
        |w| {
            let mut header = vec!["key".to_owned(), "name".to_owned(), "currency".to_owned()];
            header.extend(report.buckets.iter().cloned());
            header.extend(["total".to_owned(), "disputed".to_owned()]);
            header.extend(report.buckets.iter().map(|b| format!("count {b}")));
            w.write_record(&header)?;
            for row in &report.rows {
                let mut record = vec![
                    row.key.clone().unwrap_or_default(),
                    row.name.clone(),
                    row.currency.clone(),
                ];
                record.extend(row.amounts.iter().map(ToString::to_string));
                record.extend([row.total.to_string(), row.disputed.to_string()]);
                record.extend(row.counts.iter().map(ToString::to_string));
                w.write_record(&record)?;
            }
            Ok(())
        },
    )
}

/// Aging over time, from the nightly snapshots (taken at 00:30 business time for the
/// day before, default buckets, for every grouping).
///
/// One point per day with a snapshot between `from` and `to`, oldest first; each has
/// one row per group and currency (`group_by` `currency` by default). Days without a
/// snapshot (before the worker ran) are absent rather than zero.
#[utoipa::path(
    tag = "reports",
    operation_id = "aging_trend_report",
    params(recoup_core::aging_snapshot::TrendQuery),
    responses(
        (status = 200, description = "The trend", body = recoup_core::aging_snapshot::AgingTrend),
        (status = 400, description = "Bad `from`/`to`/`group_by` (`before_from`, `period_too_long`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read reports", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/reports/aging-trend")]
pub async fn trend(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<recoup_core::aging_snapshot::TrendQuery>,
) -> ApiResult<web::Json<recoup_core::aging_snapshot::AgingTrend>> {
    let mut conn = db::conn(&state.reports).await?;
    Ok(web::Json(
        recoup_core::aging_snapshot::trend(&mut conn, &caller.ctx(), &query).await?,
    ))
}
