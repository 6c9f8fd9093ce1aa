//! A customer's statement as of a date: open items, unapplied cash and balance, from
//! the ledger entries effective on or before that date (not today's cached balances).

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Date, Numeric, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::customer;
use crate::error::Result;
use crate::money;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, QueryableByName, utoipa::ToSchema)]
pub struct OpenItem {
    #[diesel(sql_type = SqlUuid)]
    pub invoice_id: Uuid,
    #[diesel(sql_type = Text)]
    pub number: String,
    #[diesel(sql_type = Date)]
    pub issue_date: NaiveDate,
    #[diesel(sql_type = Date)]
    pub due_date: NaiveDate,
    #[diesel(sql_type = Numeric)]
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "1250.00")]
    pub amount: Decimal,
    /// Open on the statement date.
    #[diesel(sql_type = Numeric)]
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "250.00")]
    pub open_balance: Decimal,
    /// Days past due on the statement date (0 when not yet due).
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub days_past_due: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Statement {
    pub customer_id: Uuid,
    pub customer_name: String,
    #[schema(example = "USD")]
    pub currency: String,
    pub as_of: NaiveDate,
    pub open_items: Vec<OpenItem>,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "1500.00")]
    pub total_open: Decimal,
    /// Cash received and not applied to any invoice on the statement date.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "100.00")]
    pub unapplied_cash: Decimal,
    /// Total open minus unapplied cash.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "1400.00")]
    pub balance: Decimal,
}

#[derive(QueryableByName)]
struct Sum {
    #[diesel(sql_type = Numeric)]
    total: Decimal,
}

pub async fn as_of(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    customer_id: Uuid,
    as_of: NaiveDate,
) -> Result<Statement> {
    ctx.actor.require(Permission::InvoicesRead)?;
    let customer = customer::load_visible(conn, ctx, customer_id, false)
        .await?
        .at(ctx.now);
    let items: Vec<OpenItem> = diesel::sql_query(
        "SELECT i.id AS invoice_id, i.number, i.issue_date, i.due_date, i.amount, \
                sum(e.amount) AS open_balance, greatest($2 - i.due_date, 0) AS days_past_due \
         FROM invoices i JOIN ledger_entries e ON e.invoice_id = i.id \
         WHERE i.customer_id = $1 AND e.effective_on <= $2 \
         GROUP BY i.id HAVING sum(e.amount) <> 0 \
         ORDER BY i.due_date, i.id",
    )
    .bind::<SqlUuid, _>(customer_id)
    .bind::<Date, _>(as_of)
    .load(conn)
    .await?;
    let on_account: Sum = diesel::sql_query(
        "SELECT coalesce(sum(amount), 0) AS total FROM ledger_entries \
         WHERE customer_id = $1 AND invoice_id IS NULL AND effective_on <= $2",
    )
    .bind::<SqlUuid, _>(customer_id)
    .bind::<Date, _>(as_of)
    .get_result(conn)
    .await?;
    let c = customer.currency.clone();
    let shown = |d: Decimal| money::in_minor_units(d, &c);
    let open_items: Vec<OpenItem> = items
        .into_iter()
        .map(|i| OpenItem {
            amount: shown(i.amount),
            open_balance: shown(i.open_balance),
            ..i
        })
        .collect();
    let total_open: Decimal = open_items.iter().map(|i| i.open_balance).sum();
    let unapplied_cash = shown(-on_account.total);
    Ok(Statement {
        customer_id,
        customer_name: customer.name,
        currency: customer.currency.clone(),
        as_of,
        open_items,
        total_open: shown(total_open),
        unapplied_cash,
        balance: shown(total_open - unapplied_cash),
    })
}
