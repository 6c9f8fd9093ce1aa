//! Unversioned operational routes: liveness, readiness, Prometheus metrics.

use actix_web::{HttpResponse, get, web};
use diesel_async::RunQueryDsl;
use serde::Serialize;

use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when a dependency is down.
    #[schema(example = "ok")]
    pub status: String,
    /// Per dependency: `ok` or `unavailable`.
    pub checks: std::collections::BTreeMap<String, String>,
}

/// Liveness: the process answers.
#[utoipa::path(tag = "system", operation_id = "healthz", responses((status = 200, description = "Alive", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
        checks: Default::default(),
    })
}

/// Readiness: PostgreSQL and Redis both answer.
#[utoipa::path(
    operation_id = "readyz",
    tag = "system",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "A dependency is down", body = Health),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let timeout = std::time::Duration::from_secs(2);
    let database = tokio::time::timeout(timeout, async {
        let mut conn = recoup_core::db::conn(&state.pool).await.ok()?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await.ok()
    })
    .await
    .ok()
    .flatten()
    .is_some();
    let redis = tokio::time::timeout(timeout, async {
        let mut redis = state.redis.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut redis)
            .await
            .ok()
    })
    .await
    .ok()
    .flatten()
    .is_some();
    let word = |ok: bool| if ok { "ok" } else { "unavailable" }.to_owned();
    let checks = [
        ("database".to_owned(), word(database)),
        ("redis".to_owned(), word(redis)),
    ]
    .into();
    let body = Health {
        status: word(database && redis),
        checks,
    };
    if database && redis {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(
    operation_id = "metrics",
    tag = "system",
    responses((status = 200, description = "Metrics", content_type = "text/plain; version=0.0.4", body = String))
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let status = state.pool.status();
    let mut text = String::new();
    let encoder = prometheus::TextEncoder::new();
    if let Err(e) = encoder.encode_utf8(&state.metrics.registry.gather(), &mut text) {
        tracing::error!(error = %e, "encoding metrics failed");
        return HttpResponse::InternalServerError().finish();
    }
    text.push_str(&format!(
        "# HELP recoup_db_pool_connections Database pool connections by state\n\
         # TYPE recoup_db_pool_connections gauge\n\
         recoup_db_pool_connections{{state=\"open\"}} {}\n\
         recoup_db_pool_connections{{state=\"idle\"}} {}\n\
         recoup_db_pool_connections{{state=\"max\"}} {}\n",
        status.size, status.available, status.max_size
    ));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
}
