//! `GET /v1/reports/hit-list`: the weekly list of past-due customers for sales.

use actix_web::{HttpRequest, HttpResponse, get, web};
use recoup_core::db;
use recoup_core::hit_list::{self, HitList, HitListQuery};

use crate::auth::Caller;
use crate::csv;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

/// The weekly hit list: customers with past-due money, grouped by sales rep, with
/// aging buckets, the last collection activity, open promises and open disputes.
///
/// Sales reps get their own customers; managers, admins and auditors everyone's (or
/// one rep's with `sales_rep_id`). Amounts are as of the week's Sunday (or today, in
/// the current week), from ledger entries effective by then. `Accept: text/csv` gives
/// one row per customer: `sales_rep,customer,collector,currency,past_due,current,`
/// then one column per past-due bucket, `oldest_days_past_due,last_activity_on,`
/// `last_activity,open_promises,promised_amount,next_promise_on,open_disputes,disputed_amount`.
#[utoipa::path(
    tag = "reports",
    operation_id = "hit_list_report",
    params(HitListQuery),
    responses(
        (status = 200, description = "The hit list; with `Accept: text/csv`, the hit list as CSV", content((HitList = "application/json"), (String = "text/csv")), headers(("Content-Disposition" = String, description = "With `Accept: text/csv`: `attachment` and a file name"))),
        (status = 400, description = "Bad `week` (`invalid_week`, `future_week`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read the hit list, or a rep asked for another's", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer_auth" = []))
)]
#[get("/reports/hit-list")]
pub async fn report(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    query: web::Query<HitListQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.reports).await?;
    let list = hit_list::hit_list(&mut conn, &caller.ctx(), &query).await?;
    if !csv::wanted(&req) {
        return Ok(HttpResponse::Ok().json(list));
    }
    let labels: Vec<String> = recoup_core::aging::Buckets::default()
        .labels()
        .into_iter()
        .skip(1)
        .collect();
    csv::respond(&format!("hit-list-{}.csv", list.week), |w| {
        let mut header: Vec<String> = [
            "sales_rep",
            "customer",
            "collector",
            "currency",
            "past_due",
            "current",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        header.extend(labels.iter().cloned());
        header.extend(
            [
                "oldest_days_past_due",
                "last_activity_on",
                "last_activity",
                "open_promises",
                "promised_amount",
                "next_promise_on",
                "open_disputes",
                "disputed_amount",
            ]
            .iter()
            .map(|s| (*s).to_owned()),
        );
        w.write_record(&header)?;
        for rep in &list.reps {
            for c in &rep.customers {
                let mut row = vec![
                    rep.sales_rep_name.clone().unwrap_or_default(),
                    c.customer_name.clone(),
                    c.collector_name.clone().unwrap_or_default(),
                    c.currency.clone(),
                    c.past_due.to_string(),
                    c.current.to_string(),
                ];
                for l in &labels {
                    row.push(
                        c.buckets
                            .iter()
                            .find(|b| b.bucket == *l)
                            .map(|b| b.amount.to_string())
                            .unwrap_or_else(|| "0".to_owned()),
                    );
                }
                row.extend([
                    c.oldest_days_past_due.to_string(),
                    c.last_activity_on
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    match (&c.last_activity_kind, &c.last_activity_outcome) {
                        (Some(k), Some(o)) => format!("{k}: {o}"),
                        (Some(k), None) => k.clone(),
                        _ => String::new(),
                    },
                    c.open_promises.to_string(),
                    c.promised_amount.to_string(),
                    c.next_promise_on.map(|d| d.to_string()).unwrap_or_default(),
                    c.open_disputes.to_string(),
                    c.disputed_amount.to_string(),
                ]);
                w.write_record(&row)?;
            }
        }
        Ok(())
    })
}
