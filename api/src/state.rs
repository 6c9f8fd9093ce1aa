//! What every request can reach: the pool, Redis, the clock, keys and metrics.

use std::sync::Arc;

use recoup_core::Clock;
use recoup_core::db::PgPool;

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::observe::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// Where reports read: the replica when `RECOUP_REPLICA_DATABASE_URL` is set, else
    /// the primary. Reports never write.
    pub reports: PgPool,
    pub redis: redis::aio::ConnectionManager,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub jwt: Arc<JwtKeys>,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn redis_key(&self, parts: &[&str]) -> String {
        let mut key = self.config.redis_prefix.clone();
        for p in parts {
            key.push(':');
            key.push_str(p);
        }
        key
    }
}
