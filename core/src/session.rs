//! Login sessions: rotating refresh tokens, stored as digests. Every token descends from
//! one login (its family); presenting a token that was already spent means it leaked,
//! so the whole family is revoked and the thief and the owner both have to log in again.

use crate::error::ProblemCode;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::access::{Actor, Context};
use crate::audit;
use crate::error::{Error, Result};
use crate::password::{self, random_secret, token_digest};
use crate::schema::refresh_tokens;
use crate::user::{self, User};

/// A freshly issued refresh token (the plain text exists only here and in the response).
#[derive(Debug, Clone)]
pub struct Issued {
    pub user: User,
    pub refresh_token: String,
    pub family_id: Uuid,
}

fn invalid_credentials() -> Error {
    Error::Unauthenticated {
        code: ProblemCode::InvalidCredentials,
        detail: "the e-mail or password is not correct".into(),
    }
}

fn invalid_refresh() -> Error {
    Error::Unauthenticated {
        code: ProblemCode::InvalidRefreshToken,
        detail: "the refresh token is not valid; log in again".into(),
    }
}

#[derive(serde::Serialize)]
struct SessionAudit {
    family_id: Uuid,
    user_id: Uuid,
}

/// Checks the password and opens a session. Unknown e-mail, wrong password and an
/// inactive user all fail the same way, in the same time.
pub async fn login(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    request_id: Option<String>,
    email: &str,
    password_text: &str,
    ttl: Duration,
) -> Result<Issued> {
    let found = user::credentials(conn, email).await?;
    let stored = found
        .as_ref()
        .map_or(password::DECOY_HASH.to_owned(), |(_, h)| h.clone());
    let ok = password::verify(password_text.to_owned(), stored).await?;
    let user = match found {
        Some((user, _)) if ok && user.active => user,
        _ => return Err(invalid_credentials()),
    };
    let family_id = Uuid::now_v7();
    let ctx = Context::new(
        Actor::User {
            id: user.id,
            role: user.role,
        },
        request_id,
        now,
    );
    conn.transaction(async |conn| {
        let token = insert(conn, user.id, family_id, now, ttl).await?;
        let event = SessionAudit {
            family_id,
            user_id: user.id,
        };
        audit::record(
            conn,
            &ctx,
            "session.login",
            "session",
            family_id,
            None::<&()>,
            Some(&event),
        )
        .await?;
        Ok(Issued {
            user: user.clone(),
            refresh_token: token,
            family_id,
        })
    })
    .await
}

async fn insert(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    family_id: Uuid,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<String> {
    let token = random_secret();
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(Uuid::now_v7()),
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::token_hash.eq(token_digest(&token)),
            refresh_tokens::issued_at.eq(now),
            refresh_tokens::expires_at.eq(now + ttl),
        ))
        .execute(conn)
        .await?;
    Ok(token)
}

#[derive(Queryable)]
struct TokenRow {
    id: Uuid,
    user_id: Uuid,
    family_id: Uuid,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

async fn lock_token(conn: &mut AsyncPgConnection, token: &str) -> Result<Option<TokenRow>> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_digest(token)))
        .select((
            refresh_tokens::id,
            refresh_tokens::user_id,
            refresh_tokens::family_id,
            refresh_tokens::expires_at,
            refresh_tokens::used_at,
            refresh_tokens::revoked_at,
        ))
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

async fn revoke_family(
    conn: &mut AsyncPgConnection,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends every session of a user (password change, deactivation, role change).
pub async fn revoke_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// What a refresh attempt found; reuse is committed (the family stays revoked) even
/// though the caller gets an error.
enum Rotation {
    Rotated(Issued),
    Refused,
}

/// Spends a refresh token and issues its successor in the same family.
pub async fn refresh(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    request_id: Option<String>,
    token: &str,
    ttl: Duration,
) -> Result<Issued> {
    let outcome = conn
        .transaction(async |conn| {
            let Some(row) = lock_token(conn, token).await? else {
                return Ok(Rotation::Refused);
            };
            if row.used_at.is_some() && row.revoked_at.is_none() {
                revoke_family(conn, row.family_id, now).await?;
                let ctx = Context::new(Actor::System, request_id.clone(), now);
                let event = SessionAudit {
                    family_id: row.family_id,
                    user_id: row.user_id,
                };
                audit::record(
                    conn,
                    &ctx,
                    "session.reuse_detected",
                    "session",
                    row.family_id,
                    None::<&()>,
                    Some(&event),
                )
                .await?;
                return Ok(Rotation::Refused);
            }
            if row.used_at.is_some() || row.revoked_at.is_some() || row.expires_at <= now {
                return Ok(Rotation::Refused);
            }
            let user = match user::find(conn, row.user_id).await? {
                Some(u) if u.active => u,
                _ => return Ok(Rotation::Refused),
            };
            diesel::update(refresh_tokens::table.find(row.id))
                .set(refresh_tokens::used_at.eq(now))
                .execute(conn)
                .await?;
            let refresh_token = insert(conn, user.id, row.family_id, now, ttl).await?;
            Ok::<_, Error>(Rotation::Rotated(Issued {
                user,
                refresh_token,
                family_id: row.family_id,
            }))
        })
        .await?;
    match outcome {
        Rotation::Rotated(issued) => Ok(issued),
        Rotation::Refused => Err(invalid_refresh()),
    }
}

/// Ends the session the token belongs to. Unknown or spent tokens are accepted
/// silently: logging out is idempotent and reveals nothing.
pub async fn logout(conn: &mut AsyncPgConnection, ctx: &Context, token: &str) -> Result<()> {
    conn.transaction(async |conn| {
        let Some(row) = lock_token(conn, token).await? else {
            return Ok(());
        };
        // A token can only end its own user's session.
        if ctx.actor.id() != Some(row.user_id) {
            return Ok(());
        }
        if row.revoked_at.is_none() {
            revoke_family(conn, row.family_id, ctx.now).await?;
            let event = SessionAudit {
                family_id: row.family_id,
                user_id: row.user_id,
            };
            audit::record(
                conn,
                ctx,
                "session.logout",
                "session",
                row.family_id,
                Some(&event),
                None::<&()>,
            )
            .await?;
        }
        Ok::<_, Error>(())
    })
    .await
}
