//! Idempotency keys for money-moving POSTs. The first response is stored in the same
//! transaction as its effect, so a retry after a lost answer replays it instead of
//! moving money twice. A transaction-scoped advisory lock tells a concurrent duplicate
//! that the first is still in flight.

use crate::error::ProblemCode;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::Context;
use crate::error::{Error, Result};
use crate::schema::idempotency_keys;
use crate::{adjustment, credit_memo, payment, write_off};

/// How long a key is remembered.
pub const RETENTION_HOURS: i64 = 24;

pub struct Key {
    /// Who used it and where: keys of different callers or routes never collide.
    pub scope: String,
    pub key: String,
    /// Digest of the request (route and canonical body).
    pub request_hash: Vec<u8>,
}

impl Key {
    pub fn new(scope: String, key: &str, request: &[u8]) -> Result<Self> {
        let key = key.trim();
        let printable = key.chars().all(|c| c.is_ascii_graphic());
        if key.is_empty() || key.len() > 255 || !printable {
            return Err(Error::invalid_query(
                "Idempotency-Key",
                "invalid_idempotency_key",
                "1 to 255 printable ASCII characters",
            ));
        }
        Ok(Self {
            scope,
            key: key.to_owned(),
            request_hash: Sha256::digest(request).to_vec(),
        })
    }

    fn lock_id(&self) -> i64 {
        let digest = Sha256::digest(format!("{}\u{0}{}", self.scope, self.key).as_bytes());
        let mut bytes = [0_u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(bytes)
    }
}

/// The response to send, and whether it is a replay of the first.
pub struct Stored {
    pub status: u16,
    pub body: serde_json::Value,
    pub replayed: bool,
}

diesel::define_sql_function!(fn pg_try_advisory_xact_lock(key: BigInt) -> Bool);

/// Inside the effect's transaction: the stored response when this is a repeat.
async fn within(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    key: &Key,
) -> Result<Option<Stored>> {
    // One round trip: PostgreSQL runs the three in order, each statement with its own
    // snapshot, so the lookup sees whatever a finished holder of the lock committed.
    let (_, locked, existing) = {
        let mut c: &AsyncPgConnection = conn;
        // The money paths bind arrays (`= ANY`, `unnest`), for which PostgreSQL keeps
        // planning each run afresh: their plans do not depend on the values.
        let generic =
            diesel::sql_query("SET LOCAL plan_cache_mode = force_generic_plan").execute(&mut c);
        let lock =
            diesel::select(pg_try_advisory_xact_lock(key.lock_id())).get_result::<bool>(&mut c);
        let lookup = idempotency_keys::table
            .find((&key.scope, &key.key))
            .select((
                idempotency_keys::request_hash,
                idempotency_keys::response_status,
                idempotency_keys::response_body,
                idempotency_keys::expires_at,
            ))
            .first::<(Vec<u8>, i32, serde_json::Value, DateTime<Utc>)>(&mut c);
        let lookup = async move { lookup.await.optional() };
        futures_util::try_join!(generic, lock, lookup)?
    };
    if !locked {
        return Err(Error::conflict(
            ProblemCode::IdempotencyInFlight,
            "a request with this Idempotency-Key is still being processed",
        ));
    }
    match existing {
        Some((hash, status, body, expires_at)) if expires_at > now => {
            if hash != key.request_hash {
                return Err(Error::Unprocessable {
                    code: ProblemCode::IdempotencyKeyReused,
                    detail: "this Idempotency-Key was used for a different request".into(),
                });
            }
            Ok(Some(Stored {
                status: u16::try_from(status).unwrap_or(200),
                body,
                replayed: true,
            }))
        }
        Some(_) => {
            diesel::delete(idempotency_keys::table.find((&key.scope, &key.key)))
                .execute(conn)
                .await?;
            Ok(None)
        }
        None => Ok(None),
    }
}

/// The first response to a key, to be stored in the transaction of its effect.
pub(crate) struct Receipt<'k> {
    key: &'k Key,
    now: DateTime<Utc>,
    status: u16,
}

impl Receipt<'_> {
    /// The insert of the key with `body`, on a shared connection so that an operation
    /// can send it pipelined with its own writes (a payment does).
    pub(crate) fn write<'a>(
        &'a self,
        conn: &'a AsyncPgConnection,
        body: &'a serde_json::Value,
    ) -> crate::db::Write<'a> {
        let mut c = conn;
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::scope.eq(&self.key.scope),
                idempotency_keys::key.eq(&self.key.key),
                idempotency_keys::request_hash.eq(&self.key.request_hash),
                idempotency_keys::response_status.eq(i32::from(self.status)),
                idempotency_keys::response_body.eq(body),
                idempotency_keys::created_at.eq(self.now),
                idempotency_keys::expires_at.eq(self.now + Duration::hours(RETENTION_HOURS)),
            ))
            .execute(&mut c)
    }
}

/// Every POST that moves money.
#[derive(Debug, Clone)]
pub enum Command {
    PostPayment(payment::NewPayment),
    ApplyPayment(Uuid, payment::ApplyRequest),
    ReturnPayment(Uuid, payment::ReturnRequest),
    RefundPayment(Uuid, payment::RefundRequest),
    PostCreditMemo(credit_memo::NewCreditMemo),
    PostAdjustment(adjustment::NewAdjustment),
    RequestWriteOff {
        input: write_off::NewWriteOff,
        approval_threshold: Decimal,
    },
    RecoverWriteOff(Uuid, write_off::NewRecovery),
}

pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::Internal(format!("serialising a response: {e}")))
}

impl Command {
    /// Runs the command and stores its response under `key`, in the caller's
    /// transaction; a payment sends the key with its own writes, saving a round trip.
    async fn run(
        self,
        conn: &mut AsyncPgConnection,
        ctx: &Context,
        key: &Key,
    ) -> Result<(u16, serde_json::Value)> {
        let receipt = |status| Receipt {
            key,
            now: ctx.now,
            status,
        };
        let (status, body) = match self {
            Command::PostPayment(input) => {
                // Stored with the payment's writes; answered with the same JSON.
                let status = 201;
                let payment = payment::post_within(conn, ctx, input, &receipt(status)).await?;
                return Ok((status, json(&payment)?));
            }
            Command::ApplyPayment(id, input) => {
                (200, json(&payment::apply(conn, ctx, id, input).await?)?)
            }
            Command::ReturnPayment(id, input) => (
                200,
                json(&payment::return_payment(conn, ctx, id, input).await?)?,
            ),
            Command::RefundPayment(id, input) => {
                (200, json(&payment::refund(conn, ctx, id, input).await?)?)
            }
            Command::PostCreditMemo(input) => {
                (201, json(&credit_memo::create(conn, ctx, input).await?)?)
            }
            Command::PostAdjustment(input) => {
                (201, json(&adjustment::create(conn, ctx, input).await?)?)
            }
            Command::RequestWriteOff {
                input,
                approval_threshold,
            } => (
                201,
                json(&write_off::request(conn, ctx, input, approval_threshold).await?)?,
            ),
            Command::RecoverWriteOff(id, input) => {
                (201, json(&write_off::recover(conn, ctx, id, input).await?)?)
            }
        };
        let receipt = receipt(status);
        receipt.write(conn, &body).await?;
        Ok((status, body))
    }
}

/// Deletes the keys whose retention has passed (the nightly purge); a replay after
/// that runs the command anew, which is what an expired key means.
pub async fn purge_expired(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> Result<usize> {
    Ok(
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::expires_at.le(now)))
            .execute(conn)
            .await?,
    )
}

/// Runs a money command once per idempotency key, in one transaction with the key.
pub async fn execute(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    key: &Key,
    command: Command,
) -> Result<Stored> {
    conn.transaction(async |conn| {
        if let Some(stored) = within(conn, ctx.now, key).await? {
            return Ok(stored);
        }
        let (status, body) = command.run(conn, ctx, key).await?;
        Ok(Stored {
            status,
            body,
            replayed: false,
        })
    })
    .await
}
