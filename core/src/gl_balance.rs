//! The general ledger's AR control balances (from the ERP or an accountant) and the
//! reconciliation of the subledger against them.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Date, Numeric, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::audit;
use crate::error::{Error, Problems, Result};
use crate::money::{self, Currency};
use crate::page::{Listing, Page, PageRequest};
use crate::schema::gl_balances;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = gl_balances)]
pub struct GlBalance {
    pub id: Uuid,
    /// The balance at the end of this day.
    pub as_of: NaiveDate,
    #[schema(example = "USD")]
    pub currency: String,
    /// The AR control account's balance (debit positive).
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "184220.15")]
    pub amount: Decimal,
    #[schema(example = "sap-fi")]
    pub source: String,
    pub note: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// `POST /v1/gl-balances`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGlBalance {
    pub as_of: NaiveDate,
    #[schema(example = "USD")]
    pub currency: String,
    #[serde(deserialize_with = "money::decimal_string::required")]
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "184220.15")]
    pub amount: Decimal,
    #[schema(example = "sap-fi")]
    pub source: String,
    pub note: Option<String>,
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: NewGlBalance,
) -> Result<GlBalance> {
    ctx.actor.require(Permission::GlBalancesWrite)?;
    let mut p = Problems::new();
    let currency = p.check(Currency::field("currency", &input.currency));
    if let Some(c) = currency {
        p.check(money::non_negative_amount("amount", input.amount.abs(), c));
    }
    let source = input.source.trim().to_owned();
    if source.is_empty() || source.chars().count() > 100 {
        p.add("source", "invalid_length", "must be 1 to 100 characters");
    }
    p.into_result()?;
    let Some(currency) = currency else {
        return Err(Error::Internal("currency".into()));
    };
    conn.transaction(async |conn| {
        let row: GlBalance = diesel::insert_into(gl_balances::table)
            .values((
                gl_balances::id.eq(Uuid::now_v7()),
                gl_balances::as_of.eq(input.as_of),
                gl_balances::currency.eq(currency.code()),
                gl_balances::amount.eq(input.amount),
                gl_balances::source.eq(&source),
                gl_balances::note.eq(&input.note),
                gl_balances::created_by.eq(ctx.actor.id()),
                gl_balances::created_at.eq(ctx.now),
            ))
            .returning(GlBalance::as_returning())
            .get_result(conn)
            .await?;
        let row = GlBalance {
            amount: money::in_minor_units(row.amount, &row.currency),
            ..row
        };
        audit::record(
            conn,
            ctx,
            "gl_balance.create",
            "gl_balance",
            row.id,
            None::<&()>,
            Some(&row),
        )
        .await?;
        Ok(row)
    })
    .await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GlBalanceFilter {
    pub currency: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The cursors of this list.
const LISTING: Listing = Listing::new("gl_balances", "-as_of");

/// GL balances, newest date first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    filter: &GlBalanceFilter,
) -> Result<Page<GlBalance>> {
    ctx.actor.require(Permission::GlBalancesRead)?;
    let page =
        PageRequest::<(NaiveDate, Uuid)>::parse(LISTING, filter.limit, filter.cursor.as_deref())?;
    let mut q = gl_balances::table
        .select(GlBalance::as_select())
        .into_boxed();
    if let Some(c) = &filter.currency {
        q = q.filter(gl_balances::currency.eq(c.to_uppercase()));
    }
    if let Some(d) = filter.from {
        q = q.filter(gl_balances::as_of.ge(d));
    }
    if let Some(d) = filter.to {
        q = q.filter(gl_balances::as_of.le(d));
    }
    if let Some((d, id)) = page.after {
        q = q.filter(
            gl_balances::as_of
                .lt(d)
                .or(gl_balances::as_of.eq(d).and(gl_balances::id.lt(id))),
        );
    }
    let rows = q
        .order((gl_balances::as_of.desc(), gl_balances::id.desc()))
        .limit(page.fetch())
        .load(conn)
        .await?;
    Ok(
        Page::from_rows(rows, &page, |g: &GlBalance| (g.as_of, g.id)).map(|g| GlBalance {
            amount: money::in_minor_units(g.amount, &g.currency),
            ..g
        }),
    )
}

/// The subledger against the GL for one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CurrencyReconciliation {
    #[schema(example = "USD")]
    pub currency: String,
    /// Σ of every ledger entry effective on or before the date.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "184220.15")]
    pub subledger_total: Decimal,
    /// The subledger total split by entry kind.
    #[schema(value_type = BTreeMap<String, String>)]
    pub by_kind: BTreeMap<String, Decimal>,
    /// The latest GL balance posted for the date, if any.
    #[schema(value_type = Option<String>, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "184220.15")]
    pub gl_balance: Option<Decimal>,
    /// GL minus subledger; zero when reconciled.
    #[schema(value_type = Option<String>, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "0.00")]
    pub difference: Option<Decimal>,
    pub reconciled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reconciliation {
    pub as_of: NaiveDate,
    pub currencies: Vec<CurrencyReconciliation>,
}

#[derive(QueryableByName)]
struct KindTotal {
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Numeric)]
    total: Decimal,
}

pub async fn reconcile(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    as_of: NaiveDate,
) -> Result<Reconciliation> {
    ctx.actor.require(Permission::ReportsRead)?;
    let totals: Vec<KindTotal> = diesel::sql_query(
        "SELECT currency::text AS currency, kind, sum(amount) AS total FROM ledger_entries \
         WHERE effective_on <= $1 GROUP BY currency, kind ORDER BY currency, kind",
    )
    .bind::<Date, _>(as_of)
    .load(conn)
    .await?;
    let gl: Vec<GlBalance> = gl_balances::table
        .filter(gl_balances::as_of.eq(as_of))
        .order((
            gl_balances::currency.asc(),
            gl_balances::created_at.desc(),
            gl_balances::id.desc(),
        ))
        .select(GlBalance::as_select())
        .load(conn)
        .await?;
    let mut by_currency: BTreeMap<String, BTreeMap<String, Decimal>> = BTreeMap::new();
    for t in totals {
        by_currency
            .entry(t.currency.clone())
            .or_default()
            .insert(t.kind, money::in_minor_units(t.total, &t.currency));
    }
    for g in &gl {
        by_currency.entry(g.currency.clone()).or_default();
    }
    let currencies = by_currency
        .into_iter()
        .map(|(currency, by_kind)| {
            let subledger_total = money::in_minor_units(by_kind.values().copied().sum(), &currency);
            // Rows are newest first per currency: the first one counts.
            let gl_balance = gl
                .iter()
                .find(|g| g.currency == currency)
                .map(|g| money::in_minor_units(g.amount, &currency));
            let difference =
                gl_balance.map(|g| money::in_minor_units(g - subledger_total, &currency));
            CurrencyReconciliation {
                reconciled: difference.is_some_and(|d| d.is_zero()),
                currency,
                subledger_total,
                by_kind,
                gl_balance,
                difference,
            }
        })
        .collect();
    Ok(Reconciliation { as_of, currencies })
}
