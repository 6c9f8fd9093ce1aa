//! Admin-configurable settings: one JSON document per key (worklist weights, payment
//! plan policy, …). Each owner module defines a typed [`Setting`] with its defaults
//! and validation; this module only stores, loads and audits them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::access::{Context, Permission};
use crate::audit;
use crate::error::{Error, Result};
use crate::schema::settings;

/// A typed setting. `Default` is the documented default used until an admin saves one.
pub trait Setting: Serialize + DeserializeOwned + Default + Send + Sync {
    /// The storage key (`worklist_weights`, `payment_plan_policy`, …).
    const KEY: &'static str;
    /// Checks a value before it is saved; field errors use the setting's field names.
    fn validate(&self) -> Result<()>;
}

/// The saved value, or the default. A stored document that no longer parses (a field
/// renamed in an upgrade) falls back to the default rather than failing every caller.
pub async fn load<S: Setting>(conn: &mut AsyncPgConnection) -> Result<S> {
    let stored: Option<serde_json::Value> = settings::table
        .find(S::KEY)
        .select(settings::value)
        .first(conn)
        .await
        .optional()?;
    Ok(stored
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default())
}

/// When and by whom a setting was last saved (`None`: still the default).
pub async fn saved_at(conn: &mut AsyncPgConnection, key: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(settings::table
        .find(key)
        .select(settings::updated_at)
        .first(conn)
        .await
        .optional()?)
}

/// A stable id per key for the audit log (its entity ids are UUIDs).
fn entity_id(key: &str) -> uuid::Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::from_bytes(bytes)
}

/// Validates and saves a setting (admins), with an audit event of before and after.
pub async fn save<S: Setting>(conn: &mut AsyncPgConnection, ctx: &Context, value: S) -> Result<S> {
    ctx.actor.require(Permission::SettingsManage)?;
    value.validate()?;
    let json = serde_json::to_value(&value)
        .map_err(|e| Error::Internal(format!("setting {}: {e}", S::KEY)))?;
    conn.transaction(async |conn| {
        let before: Option<serde_json::Value> = settings::table
            .find(S::KEY)
            .select(settings::value)
            .for_update()
            .first(conn)
            .await
            .optional()?;
        diesel::insert_into(settings::table)
            .values((
                settings::key.eq(S::KEY),
                settings::value.eq(&json),
                settings::updated_at.eq(ctx.now),
                settings::updated_by.eq(ctx.actor.id()),
            ))
            .on_conflict(settings::key)
            .do_update()
            .set((
                settings::value.eq(&json),
                settings::updated_at.eq(ctx.now),
                settings::updated_by.eq(ctx.actor.id()),
            ))
            .execute(conn)
            .await?;
        audit::record(
            conn,
            ctx,
            "setting.update",
            "setting",
            entity_id(S::KEY),
            before.as_ref(),
            Some(&json),
        )
        .await?;
        Ok(value)
    })
    .await
}
