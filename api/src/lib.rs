//! The Recoup REST API: actix-web handlers over `recoup_core`, with the OpenAPI document
//! generated from the same handlers.

pub mod auth;
pub mod body;
pub mod config;
pub mod csv;
pub mod demo;
pub mod error;
pub mod etag;
pub mod idempotency;
pub mod methods;
pub mod observe;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod throttle;

use recoup_core::ProblemCode;
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context as _;
use recoup_core::{Clock, db, user};
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::error::ApiError;
use crate::state::AppState;

/// The interactive docs page.
const DOCS: &str = "/docs";
/// The served OpenAPI document.
const SPEC: &str = "/openapi.json";

pub struct Application {
    port: u16,
    server: Server,
}

/// Connects Redis with a response timeout longer than redis-rs's 500 ms default, which
/// turns a busy moment into errors.
pub async fn redis_connection(url: &str) -> anyhow::Result<redis::aio::ConnectionManager> {
    let client = redis::Client::open(url).context("RECOUP_REDIS_URL")?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(std::time::Duration::from_secs(5)))
        .set_response_timeout(Some(std::time::Duration::from_secs(5)))
        .set_number_of_retries(3);
    client
        .get_connection_manager_with_config(config)
        .await
        .context("connecting to Redis")
}

impl Application {
    /// Migrates, bootstraps the first admin when configured, binds and returns the
    /// server ready to run. `RECOUP_BIND` with port 0 picks a free port (tests).
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        db::migrate(&config.database_url)
            .await
            .context("migrating the database")?;
        let pool = db::pool(&config.database_url, config.db_pool_size)?;
        if let (Some(email), Some(password)) = (&config.admin_email, &config.admin_password) {
            let mut conn = db::conn(&pool).await?;
            if user::bootstrap_admin(&mut conn, clock.now(), email, password).await? {
                tracing::info!(%email, "created the first admin");
            }
        }
        let redis = redis_connection(&config.redis_url).await?;
        let listener =
            TcpListener::bind(&config.bind).with_context(|| format!("binding {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let workers = config.http_workers.max(1);
        let reports = match &config.replica_database_url {
            Some(url) => db::pool(url, config.db_pool_size)?,
            None => pool.clone(),
        };
        let state = AppState {
            pool,
            reports,
            redis,
            jwt: Arc::new(auth::JwtKeys::new(&config.jwt_secret)),
            metrics: Arc::new(observe::Metrics::new()?),
            config: Arc::new(config),
            clock,
        };
        let document = openapi::document();
        // The methods of every path, for 405 and `Allow`: the spec's and the docs page's.
        let methods = web::Data::new(methods::Methods::new(
            &document,
            &[
                (DOCS, Method::GET),
                ("/docs/", Method::GET),
                ("/docs/{*file}", Method::GET),
                (SPEC, Method::GET),
            ],
        ));
        let server = HttpServer::new(move || {
            let (app, _) = App::new()
                .into_utoipa_app()
                .service(scope::scope("/v1").configure(routes::v1))
                .configure(routes::root)
                .split_for_parts();
            app.app_data(web::Data::new(state.clone()))
                .app_data(methods.clone())
                .app_data(web::PayloadConfig::new(body::MAX_BODY_BYTES))
                .app_data(web::QueryConfig::default().error_handler(|e, _| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        ProblemCode::InvalidQuery,
                        e.to_string(),
                    )
                    .into()
                }))
                .app_data(web::PathConfig::default().error_handler(|e, _| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        ProblemCode::InvalidPathParameter,
                        e.to_string(),
                    )
                    .into()
                }))
                .service(SwaggerUi::new("/docs/{_:.*}").url(SPEC, document.clone()))
                .route(DOCS, web::get().to(docs_redirect))
                .default_service(web::to(methods::unrouted))
                .wrap(from_fn(methods::check))
                .wrap(from_fn(observe::observe))
        })
        .workers(workers)
        .listen(listener)?
        .run();
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/docs/"))
        .finish()
}
