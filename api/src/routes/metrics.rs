//! `GET /v1/reports/metrics`: DSO, CEI, days to pay and the rest over a period.

use actix_web::{HttpRequest, HttpResponse, get, web};
use recoup_core::db;
use recoup_core::metrics_report::{self, MetricsQuery, MetricsReport};

use crate::auth::Caller;
use crate::csv;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

/// Collection metrics over a period, per currency (and per customer or collector).
///
/// For `[from, to]`: credit sales, beginning, ending and current receivables, DSO
/// (simple and count-back over the twelve months back from `to`), best possible DSO,
/// average days delinquent, collection effectiveness index, average days to pay
/// (simple and amount-weighted), average days late and percent paid late over the
/// invoices fully paid in the period, write-offs net of recoveries, bad-debt ratio,
/// and the disputes opened in the period by reason code. Receivables are the ledger by
/// effective date, as in the aging report. Every figure carries its definition (also
/// listed in the schema of `Figure`); values are rounded half away from zero to 2
/// decimals and are `null` where undefined (e.g. no credit sales). Currencies are never
/// added together.
///
/// `Accept: text/csv` answers one line per figure (long format):
/// `key,name,currency,metric,reason_code,value`; dispute tallies come as
/// `disputes_opened` and `disputed_amount_opened` lines with their reason code.
#[utoipa::path(
    tag = "reports",
    operation_id = "metrics_report",
    params(MetricsQuery),
    responses(
        (status = 200, description = "The report; with `Accept: text/csv`, the report as CSV (long: one line per figure)", content((MetricsReport = "application/json"), (String = "text/csv")), headers(("Content-Disposition" = String, description = "With `Accept: text/csv`: `attachment` and a file name"))),
        (status = 400, description = "Missing or bad `from`/`to` (`before_from`, `period_too_long`) or `group_by` (`invalid_group_by`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read reports", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/reports/metrics")]
pub async fn report(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    query: web::Query<MetricsQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.reports).await?;
    let report = metrics_report::report(&mut conn, &caller.ctx(), &query).await?;
    if !csv::wanted(&req) {
        return Ok(HttpResponse::Ok().json(report));
    }
    csv::respond(&format!("metrics-{}-{}.csv", report.from, report.to), |w| {
        w.write_record(["key", "name", "currency", "metric", "reason_code", "value"])?;
        for g in &report.groups {
            let key = g.key.clone().unwrap_or_default();
            for f in &g.figures {
                let value = f.value.map(|v| v.to_string()).unwrap_or_default();
                w.write_record([
                    key.as_str(),
                    &g.name,
                    &g.currency,
                    f.metric.as_str(),
                    "",
                    &value,
                ])?;
            }
            for d in &g.disputes {
                for (metric, value) in [
                    ("disputes_opened", d.count.to_string()),
                    ("disputed_amount_opened", d.amount.to_string()),
                ] {
                    w.write_record([
                        key.as_str(),
                        &g.name,
                        &g.currency,
                        metric,
                        &d.reason_code,
                        &value,
                    ])?;
                }
            }
        }
        Ok(())
    })
}
