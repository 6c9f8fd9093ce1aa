//! Authentication: access JWTs (HS256 pinned; `exp`, `iss`, `aud`, `sub` and `role`
//! required; expiry judged by the injected clock) and API keys (`X-Api-Key`). The
//! [`Caller`] extractor turns either into a domain [`Actor`]; authorization itself is
//! the domain's (`Actor::require`, visibility filters).

use recoup_core::ProblemCode;
use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use recoup_core::user::Role;
use recoup_core::{Actor, Context, api_key, db};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;
use crate::observe::RequestId;
use crate::state::AppState;

pub const ISSUER: &str = "recoup";
pub const AUDIENCE: &str = "recoup-api";
pub const API_KEY_HEADER: &str = "X-Api-Key";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: Uuid,
    pub role: Role,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against the injected clock below, not the system clock.
        validation.validate_exp = false;
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    pub fn issue(
        &self,
        user_id: Uuid,
        role: Role,
        now: DateTime<Utc>,
        ttl: std::time::Duration,
    ) -> Result<String, ApiError> {
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(900);
        let claims = Claims {
            sub: user_id,
            role,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now.timestamp(),
            exp: now.timestamp() + ttl,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|e| {
            tracing::error!(error = %e, "signing an access token failed");
            ApiError::internal()
        })
    }

    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                tracing::debug!(error = %e, "access token refused");
                ApiError::unauthenticated(
                    ProblemCode::InvalidToken,
                    "the access token is not valid",
                )
            })?;
        if data.claims.exp <= now.timestamp() {
            return Err(ApiError::unauthenticated(
                ProblemCode::TokenExpired,
                "the access token has expired; refresh it",
            ));
        }
        Ok(data.claims)
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub request_id: Option<String>,
    pub now: DateTime<Utc>,
}

impl Caller {
    pub fn ctx(&self) -> Context {
        Context::new(self.actor.clone(), self.request_id.clone(), self.now)
    }
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(ApiError::internal)
}

pub fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<RequestId>().map(|r| r.0.clone())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = state(req);
        let request_id = request_id(req);
        let bearer = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let key = req
            .headers()
            .get(API_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Box::pin(async move {
            let state = state?;
            let now = state.clock.now();
            let actor = match (bearer, key) {
                (Some(_), Some(_)) => {
                    return Err(ApiError::unauthenticated(
                        ProblemCode::AmbiguousCredentials,
                        "send either a bearer token or an API key, not both",
                    ));
                }
                (Some(header), None) => {
                    let token = header
                        .strip_prefix("Bearer ")
                        .or_else(|| header.strip_prefix("bearer "))
                        .ok_or_else(|| {
                            ApiError::unauthenticated(
                                ProblemCode::InvalidToken,
                                "use `Authorization: Bearer <token>`",
                            )
                        })?;
                    let claims = state.jwt.verify(token.trim(), now)?;
                    Actor::User {
                        id: claims.sub,
                        role: claims.role,
                    }
                }
                (None, Some(key)) => {
                    let mut conn = db::conn(&state.pool).await?;
                    api_key::authenticate(&mut conn, key.trim(), now)
                        .await?
                        .ok_or_else(|| {
                            ApiError::unauthenticated(
                                ProblemCode::InvalidApiKey,
                                "the API key is not valid or was revoked",
                            )
                        })?
                }
                (None, None) => {
                    return Err(ApiError::unauthenticated(
                        ProblemCode::Unauthenticated,
                        "log in and send `Authorization: Bearer <access_token>`, or send an API key",
                    ));
                }
            };
            Ok(Caller {
                actor,
                request_id,
                now,
            })
        })
    }
}
