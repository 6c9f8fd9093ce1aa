//! `GET /v1/reports/collector-activity`: per collector, what they did and what came in.

use actix_web::{HttpRequest, HttpResponse, get, web};
use recoup_core::collector_activity::{self, CollectorActivityReport, PeriodQuery};
use recoup_core::db;

use crate::auth::Caller;
use crate::csv;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

/// Collector activity over a period: activities by kind and outcome, promises made,
/// kept, partially kept and broken (count and amount), and cash recovered on each
/// collector's accounts.
///
/// Activities are those the collector logged, by when they happened. Recovered is
/// cash applied in the period to invoices of the customers assigned to the collector
/// today, minus applications reversed by returned payments in the period, per
/// currency. Promises are those the collector recorded: made in the period, and
/// decided in it. `Accept: text/csv` answers one row per figure (promise figures have
/// `kind` `count` or `amount`):
/// `user_id,name,role,figure,kind,outcome,currency,value`.
#[utoipa::path(
    tag = "reports",
    operation_id = "collector_activity_report",
    params(PeriodQuery),
    responses(
        (status = 200, description = "The report; with `Accept: text/csv`, the report as CSV", content((CollectorActivityReport = "application/json"), (String = "text/csv")), headers(("Content-Disposition" = String, description = "With `Accept: text/csv`: `attachment` and a file name"))),
        (status = 400, description = "Missing or bad `from`/`to` (`before_from`, `period_too_long`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read reports", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/reports/collector-activity")]
pub async fn report(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    query: web::Query<PeriodQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.reports).await?;
    let report = collector_activity::report(&mut conn, &caller.ctx(), &query).await?;
    if !csv::wanted(&req) {
        return Ok(HttpResponse::Ok().json(report));
    }
    csv::respond(
        &format!("collector-activity-{}-{}.csv", report.from, report.to),
        |w| {
            w.write_record([
                "user_id", "name", "role", "figure", "kind", "outcome", "currency", "value",
            ])?;
            for c in &report.collectors {
                let id = c.user_id.to_string();
                for a in &c.activities {
                    w.write_record([
                        id.as_str(),
                        &c.name,
                        &c.role,
                        "activities",
                        &a.kind,
                        a.outcome.as_deref().unwrap_or(""),
                        "",
                        &a.count.to_string(),
                    ])?;
                }
                for p in &c.promises {
                    for (figure, count, amount) in [
                        ("promises_made", p.made, p.made_amount),
                        ("promises_kept", p.kept, p.kept_amount),
                        (
                            "promises_partially_kept",
                            p.partially_kept,
                            p.partially_kept_amount,
                        ),
                        ("promises_broken", p.broken, p.broken_amount),
                    ] {
                        for (kind, value) in
                            [("count", count.to_string()), ("amount", amount.to_string())]
                        {
                            w.write_record([
                                id.as_str(),
                                &c.name,
                                &c.role,
                                figure,
                                kind,
                                "",
                                &p.currency,
                                &value,
                            ])?;
                        }
                    }
                }
                for r in &c.recovered {
                    w.write_record([
                        id.as_str(),
                        &c.name,
                        &c.role,
                        "recovered",
                        "",
                        "",
                        &r.currency,
                        &r.amount.to_string(),
                    ])?;
                }
            }
            Ok(())
        },
    )
}
