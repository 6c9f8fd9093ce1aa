//! Holds on a customer: a collection hold stops collection work (optionally until a
//! date), a credit hold stops orders. Every hold is kept as history; the customer row
//! carries the current state so lists can filter on it.

use crate::error::ProblemCode;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::audit;
use crate::customer::{self, Customer};
use crate::error::{Error, Problems, Result};
use crate::schema::{customer_holds, customers};

text_enum! {
    pub enum HoldKind {
        /// No collection action (dunning, calls, letters) while it lasts.
        Collection = "collection",
        /// No order may ship until released.
        Credit = "credit",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = customer_holds)]
pub struct Hold {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub kind: HoldKind,
    #[schema(example = "awaiting proof of delivery from logistics")]
    pub reason: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub placed_by: Option<Uuid>,
    pub placed_at: DateTime<Utc>,
    pub released_by: Option<Uuid>,
    pub released_at: Option<DateTime<Utc>>,
}

impl Hold {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.released_at.is_none() && self.expires_at.is_none_or(|t| t > now)
    }
}

/// `POST /v1/customers/{id}/holds`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHold {
    pub kind: HoldKind,
    #[schema(example = "awaiting proof of delivery from logistics")]
    pub reason: String,
    /// Collection holds only: the hold lapses at this instant. Must be in the future.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A hold and the customer as it stands after the change.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HoldChange {
    pub hold: Hold,
    pub customer: Customer,
}

pub async fn place(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    customer_id: Uuid,
    input: NewHold,
) -> Result<HoldChange> {
    ctx.actor.require(Permission::CustomersHold)?;
    let mut p = Problems::new();
    let reason = input.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 1000 {
        p.add("reason", "invalid_length", "must be 1 to 1000 characters");
    }
    match (input.kind, input.expires_at) {
        (HoldKind::Credit, Some(_)) => p.add(
            "expires_at",
            "expiry_not_allowed",
            "a credit hold lasts until released",
        ),
        (HoldKind::Collection, Some(t)) if t <= ctx.now => {
            p.add("expires_at", "not_in_future", "must be in the future")
        }
        _ => {}
    }
    p.into_result()?;
    conn.transaction(async |conn| {
        let before = customer::load_visible(conn, ctx, customer_id, true)
            .await?
            .at(ctx.now);
        let hold = Hold {
            id: Uuid::now_v7(),
            customer_id,
            kind: input.kind,
            reason: reason.clone(),
            expires_at: input.expires_at,
            placed_by: ctx.actor.id(),
            placed_at: ctx.now,
            released_by: None,
            released_at: None,
        };
        diesel::insert_into(customer_holds::table)
            .values((
                customer_holds::id.eq(hold.id),
                customer_holds::customer_id.eq(customer_id),
                customer_holds::kind.eq(hold.kind),
                customer_holds::reason.eq(&hold.reason),
                customer_holds::expires_at.eq(hold.expires_at),
                customer_holds::placed_by.eq(hold.placed_by),
                customer_holds::placed_at.eq(hold.placed_at),
            ))
            .execute(conn)
            .await?;
        let customer = refresh_customer(conn, ctx, customer_id).await?;
        audit::record(
            conn,
            ctx,
            "hold.place",
            "hold",
            hold.id,
            None::<&()>,
            Some(&hold),
        )
        .await?;
        audit::record(
            conn,
            ctx,
            "customer.hold",
            "customer",
            customer_id,
            Some(&before),
            Some(&customer),
        )
        .await?;
        Ok(HoldChange { hold, customer })
    })
    .await
}

pub async fn release(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    customer_id: Uuid,
    hold_id: Uuid,
) -> Result<HoldChange> {
    ctx.actor.require(Permission::CustomersHold)?;
    conn.transaction(async |conn| {
        let before_customer = customer::load_visible(conn, ctx, customer_id, true)
            .await?
            .at(ctx.now);
        let before: Hold = customer_holds::table
            .find(hold_id)
            .filter(customer_holds::customer_id.eq(customer_id))
            .select(Hold::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or(Error::NotFound { entity: "hold" })?;
        if before.released_at.is_some() {
            return Err(Error::conflict(
                ProblemCode::HoldReleased,
                "the hold was already released",
            ));
        }
        diesel::update(customer_holds::table.find(hold_id))
            .set((
                customer_holds::released_at.eq(ctx.now),
                customer_holds::released_by.eq(ctx.actor.id()),
            ))
            .execute(conn)
            .await?;
        let hold = Hold {
            released_at: Some(ctx.now),
            released_by: ctx.actor.id(),
            ..before.clone()
        };
        let customer = refresh_customer(conn, ctx, customer_id).await?;
        audit::record(
            conn,
            ctx,
            "hold.release",
            "hold",
            hold_id,
            Some(&before),
            Some(&hold),
        )
        .await?;
        audit::record(
            conn,
            ctx,
            "customer.hold",
            "customer",
            customer_id,
            Some(&before_customer),
            Some(&customer),
        )
        .await?;
        Ok(HoldChange { hold, customer })
    })
    .await
}

/// Recomputes the customer's current holds from the history: the latest active
/// collection hold, and whether any credit hold is active.
async fn refresh_customer(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    customer_id: Uuid,
) -> Result<Customer> {
    let holds: Vec<Hold> = customer_holds::table
        .filter(customer_holds::customer_id.eq(customer_id))
        .filter(customer_holds::released_at.is_null())
        .order(customer_holds::placed_at.desc())
        .select(Hold::as_select())
        .load(conn)
        .await?;
    let current = holds
        .iter()
        .find(|h| h.kind == HoldKind::Collection && h.is_active(ctx.now));
    let credit_hold = holds.iter().any(|h| h.kind == HoldKind::Credit);
    diesel::update(customers::table.find(customer_id))
        .set((
            customers::credit_hold.eq(credit_hold),
            customers::collection_hold_reason.eq(current.map(|h| h.reason.clone())),
            customers::collection_hold_expires_at.eq(current.and_then(|h| h.expires_at)),
            customers::collection_hold_placed_at.eq(current.map(|h| h.placed_at)),
        ))
        .execute(conn)
        .await?;
    customer::touch(conn, customer_id, ctx.now).await?;
    Ok(customer::load_visible(conn, ctx, customer_id, false)
        .await?
        .at(ctx.now))
}

/// Every hold of a customer, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    customer_id: Uuid,
) -> Result<Vec<Hold>> {
    ctx.actor.require(Permission::CustomersRead)?;
    customer::load_visible(conn, ctx, customer_id, false).await?;
    Ok(customer_holds::table
        .filter(customer_holds::customer_id.eq(customer_id))
        .order((customer_holds::placed_at.desc(), customer_holds::id.desc()))
        .select(Hold::as_select())
        .load(conn)
        .await?)
}
