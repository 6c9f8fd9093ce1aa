//! The background worker: relays the outbox to Redis queues and runs each job family
//! with apalis. Jobs carry only ids; every handler is idempotent, so a message
//! delivered twice (a retry, a crash between push and mark) changes nothing twice.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_redis::RedisStorage;
use diesel_async::AsyncConnection;
use recoup_core::clock::Clock;
use recoup_core::db::{self, PgPool};
use recoup_core::{import, job};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What travels through a queue: a job id, never the job's data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobMessage {
    pub job_id: Uuid,
}

pub struct Settings {
    pub database_url: String,
    pub redis_url: String,
    /// Prefix of the queue names (tests isolate themselves with it).
    pub redis_prefix: String,
    pub clock: Arc<dyn Clock>,
}

#[derive(Clone)]
struct WorkerState {
    pool: PgPool,
    clock: Arc<dyn Clock>,
}

pub type Storage = RedisStorage<JobMessage>;

/// The Redis storage of a queue, with a response timeout well above redis-rs's 500 ms.
pub async fn storage(redis_url: &str, queue: &str) -> anyhow::Result<Storage> {
    let client = redis::Client::open(redis_url)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    let conn = client.get_connection_manager_with_config(config).await?;
    Ok(RedisStorage::new(conn).with_config(apalis_redis::Config::default().queue(queue)))
}

pub fn queue_name(prefix: &str, family: &str) -> String {
    format!("{prefix}::{family}")
}

/// Pushes a batch of unsent outbox rows to their queues and marks them sent, in one
/// transaction: a failed push leaves the rows for the next round, and concurrent relays
/// (several worker processes) take different rows. Returns how many were relayed.
pub async fn relay_once(
    pool: &PgPool,
    imports: &mut Storage,
    clock: &dyn Clock,
) -> anyhow::Result<usize> {
    let mut conn = db::conn(pool).await?;
    let relayed = conn
        .transaction(async |conn| {
            let pending = job::claim_unsent(conn, 100).await?;
            for p in &pending {
                match p.queue.as_str() {
                    "imports" => imports
                        .push(JobMessage { job_id: p.job_id })
                        .await
                        .map_err(|e| recoup_core::Error::Unavailable(format!("redis: {e}")))?,
                    other => tracing::error!(queue = other, "outbox row for an unknown queue"),
                }
            }
            let ids: Vec<i64> = pending.iter().map(|p| p.id).collect();
            job::mark_sent(conn, &ids, clock.now()).await?;
            Ok::<_, recoup_core::Error>(pending.len())
        })
        .await?;
    Ok(relayed)
}

async fn run_import(message: JobMessage, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut conn = db::conn(&state.pool).await?;
    let clock = state.clock.clone();
    import::run_job(&mut conn, message.job_id, || clock.now()).await?;
    Ok(())
}

/// Runs the relay and the workers until `shutdown` completes; in-flight jobs finish
/// (or are left to be redelivered: they are idempotent).
pub async fn run(
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let pool = db::pool(&settings.database_url, 4)?;
    let queue = queue_name(&settings.redis_prefix, job::queue_of(job::JobKind::Import));
    let imports = storage(&settings.redis_url, &queue).await?;
    let mut relay_storage = imports.clone();
    let relay_pool = pool.clone();
    let relay_clock = settings.clock.clone();
    let relay = tokio::spawn(async move {
        loop {
            let wait = match relay_once(&relay_pool, &mut relay_storage, relay_clock.as_ref()).await
            {
                Ok(0) => Duration::from_millis(200),
                Ok(_) => Duration::ZERO,
                Err(e) => {
                    tracing::error!("outbox relay: {e:#}");
                    Duration::from_secs(1)
                }
            };
            tokio::time::sleep(wait).await;
        }
    });
    // A unique name per process: two processes sharing one never take over each
    // other's orphaned tasks, and a quick restart is not refused as "still active".
    let name = format!(
        "recoup-imports-{}-{}",
        std::process::id(),
        Uuid::new_v4().simple()
    );
    // Poll often: the default backs off to a minute when the queue is idle, and a
    // caller who just uploaded a file is waiting.
    let worker = WorkerBuilder::new(name)
        .backend(imports.poll_with_interval(Duration::from_millis(250)))
        .retry(RetryPolicy::retries(3))
        .data(WorkerState {
            pool,
            clock: settings.clock.clone(),
        })
        .build(run_import);
    let outcome = worker
        .run_until(async move {
            shutdown.await;
            Ok::<(), std::io::Error>(())
        })
        .await;
    relay.abort();
    outcome.map_err(|e| anyhow::anyhow!("worker: {e}"))
}
