//! The background worker: relays the outbox to Redis queues, claims scheduled
//! occurrences, and runs each job family with apalis. Jobs carry only ids; every
//! handler is idempotent, so a message delivered twice (a retry, a crash between push
//! and mark, a SIGKILL mid-job) changes nothing twice.
//!
//! One module per job family (`promises`, `disputes`, `idempotency`; imports and aging
//! snapshots call `recoup_core` directly) and `schedules` for the daily and nightly occurrences.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use apalis::layers::retry::RetryPolicy;
use apalis::prelude::*;
use apalis_redis::RedisStorage;
use diesel_async::AsyncConnection;
use futures_util::FutureExt;
use recoup_core::clock::Clock;
use recoup_core::db::{self, PgPool};
use recoup_core::import::RunOutcome;
use recoup_core::job::{self, Job, JobKind};
use serde::{Deserialize, Serialize};
use tower::retry::backoff::{ExponentialBackoffMaker, MakeBackoff};
use tower::util::rng::HasherRng;
use uuid::Uuid;

mod disputes;
mod idempotency;
mod promises;
pub mod schedules;

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
    /// The timezone the daily and nightly schedules are read in.
    pub business_timezone: chrono_tz::Tz,
    /// How often the schedules are checked.
    pub schedule_every: Duration,
}

/// How one job family runs. Set here on purpose, per family, rather than left to the
/// library's defaults: what a retry costs and how long a run may take differ a lot
/// between an import of a million rows and a promise evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    pub kind: JobKind,
    /// Runs in all (first try and retries) before the job is marked dead.
    pub attempts: i32,
    /// Exponential backoff between retries, from `backoff_min` up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// One run's limit; a run that takes longer fails and is retried.
    pub timeout: Duration,
    /// Jobs of this family run at once in one process.
    pub concurrency: usize,
    /// How often a worker tells Redis it is alive; a worker silent for `missed_heartbeats`
    /// of these is taken for dead and its jobs go to the live workers of the queue. This
    /// is how a job whose process was killed is picked up again.
    pub heartbeat: Duration,
    pub missed_heartbeats: usize,
}

pub const FAMILIES: [Family; 5] = [
    Family {
        kind: JobKind::Import,
        // Attempts are runs that failed or died *without progress* (`job::start`): an
        // import interrupted by a deploy or a SIGKILL resumes from its last committed
        // batch and does not use one up, however often that happens; five runs in a
        // row that get nowhere mean the file or the system is broken.
        attempts: 5,
        backoff_min: Duration::from_secs(2),
        backoff_max: Duration::from_secs(120),
        timeout: Duration::from_secs(2 * 60 * 60),
        concurrency: 1,
        // A killed import should resume within seconds, not the library's five minutes;
        // a live worker heartbeats through any batch, so 4 × 3 s is a safe silence.
        heartbeat: Duration::from_secs(3),
        missed_heartbeats: 4,
    },
    Family {
        kind: JobKind::PromiseEvaluation,
        attempts: 5,
        backoff_min: Duration::from_secs(1),
        backoff_max: Duration::from_secs(60),
        timeout: Duration::from_secs(10 * 60),
        concurrency: 4,
        heartbeat: Duration::from_secs(30),
        missed_heartbeats: 10,
    },
    Family {
        kind: JobKind::DisputeFollowUp,
        attempts: 5,
        backoff_min: Duration::from_secs(1),
        backoff_max: Duration::from_secs(60),
        timeout: Duration::from_secs(10 * 60),
        concurrency: 1,
        heartbeat: Duration::from_secs(30),
        missed_heartbeats: 10,
    },
    Family {
        kind: JobKind::IdempotencyPurge,
        attempts: 3,
        backoff_min: Duration::from_secs(5),
        backoff_max: Duration::from_secs(300),
        timeout: Duration::from_secs(10 * 60),
        concurrency: 1,
        heartbeat: Duration::from_secs(30),
        missed_heartbeats: 10,
    },
    Family {
        kind: JobKind::AgingSnapshot,
        attempts: 5,
        backoff_min: Duration::from_secs(5),
        backoff_max: Duration::from_secs(300),
        timeout: Duration::from_secs(60 * 60),
        concurrency: 1,
        heartbeat: Duration::from_secs(30),
        missed_heartbeats: 10,
    },
];

pub fn family(kind: JobKind) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.kind == kind)
}

#[derive(Clone)]
struct WorkerState {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    /// Set when the worker is asked to stop: long jobs hand themselves back at their
    /// next safe point instead of holding the shutdown up.
    stopping: Arc<std::sync::atomic::AtomicBool>,
}

pub type Storage = RedisStorage<JobMessage>;

/// The Redis storage of a family's queue, with a response timeout well above
/// redis-rs's 500 ms and the family's heartbeat.
pub async fn storage(redis_url: &str, queue: &str, family: &Family) -> anyhow::Result<Storage> {
    let client = redis::Client::open(redis_url)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    let conn = client.get_connection_manager_with_config(config).await?;
    Ok(RedisStorage::new(conn).with_config(
        apalis_redis::Config::default()
            .queue(queue)
            .heartbeat_interval(family.heartbeat)
            .missed_heartbeats(family.missed_heartbeats),
    ))
}

pub fn queue_name(prefix: &str, family: &str) -> String {
    format!("{prefix}::{family}")
}

/// Every family's queue, by the queue name the outbox rows carry.
#[derive(Clone)]
pub struct Queues(HashMap<&'static str, Storage>);

impl Queues {
    pub async fn connect(redis_url: &str, prefix: &str) -> anyhow::Result<Self> {
        let mut map = HashMap::new();
        for f in &FAMILIES {
            let queue = job::queue_of(f.kind);
            map.insert(
                queue,
                storage(redis_url, &queue_name(prefix, queue), f).await?,
            );
        }
        Ok(Self(map))
    }

    fn get(&self, queue: &str) -> Option<&Storage> {
        self.0.get(queue)
    }
}

/// Pushes a batch of unsent outbox rows to their queues and marks them sent, in one
/// transaction: a failed push leaves the rows for the next round, and concurrent relays
/// (several worker processes) take different rows. Returns how many were relayed.
pub async fn relay_once(
    pool: &PgPool,
    queues: &mut Queues,
    clock: &dyn Clock,
) -> anyhow::Result<usize> {
    let mut conn = db::conn(pool).await?;
    let relayed = conn
        .transaction(async |conn| {
            let pending = job::claim_unsent(conn, 100).await?;
            for p in &pending {
                match queues.0.get_mut(p.queue.as_str()) {
                    Some(storage) => storage
                        .push(JobMessage { job_id: p.job_id })
                        .await
                        .map_err(|e| recoup_core::Error::Unavailable(format!("redis: {e}")))?,
                    None => tracing::error!(queue = p.queue, "outbox row for an unknown queue"),
                }
            }
            let ids: Vec<i64> = pending.iter().map(|p| p.id).collect();
            job::mark_sent(conn, &ids, clock.now()).await?;
            Ok::<_, recoup_core::Error>(pending.len())
        })
        .await?;
    Ok(relayed)
}

/// The system acting for a job: the audit trail names the job as the request.
fn system_context(job: &Job, clock: &dyn Clock) -> recoup_core::Context {
    recoup_core::Context::new(
        recoup_core::Actor::System,
        Some(format!("job:{}", job.id)),
        clock.now(),
    )
}

/// Every family's handler: marks the job running, runs its family's work and records
/// the outcome (a failure before the last attempt goes back to apalis to retry).
async fn handle(message: JobMessage, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut conn = db::conn(&state.pool).await?;
    let clock = state.clock.as_ref();
    let Some(job) = job::start(&mut conn, message.job_id, clock.now()).await? else {
        return Ok(());
    };
    let Some(family) = family(job.kind) else {
        return Err(format!("no worker family for {}", job.kind).into());
    };
    let outcome = if job.attempts > family.attempts {
        // Runs that never reported back (the process was killed) count too; whatever
        // keeps dying will not pass on one more try.
        Err(recoup_core::Error::Internal(
            "gave up after repeated interrupted runs".into(),
        ))
    } else {
        let ctx = system_context(&job, clock);
        match job.kind {
            JobKind::Import => {
                let stopping = state.stopping.clone();
                let stop = move || stopping.load(std::sync::atomic::Ordering::Relaxed);
                match recoup_core::import::run_job(&mut conn, &job, || clock.now(), stop).await {
                    Ok(RunOutcome::Finished(report)) => Ok(report),
                    // Queued again (shutdown) or left to the run that is ahead of this
                    // one: either way this run has nothing to conclude.
                    Ok(RunOutcome::Returned | RunOutcome::Superseded) => return Ok(()),
                    Err(e) => Err(e),
                }
            }
            JobKind::PromiseEvaluation => promises::run(&mut conn, &ctx, &job).await,
            JobKind::DisputeFollowUp => disputes::run(&mut conn, &ctx).await,
            JobKind::IdempotencyPurge => idempotency::run(&mut conn, &ctx).await,
            JobKind::AgingSnapshot => {
                recoup_core::aging_snapshot::take_nightly(&mut conn, &ctx).await
            }
            // Payment plans are not saved yet, so nothing enqueues this kind.
            JobKind::InstallmentTracking => Err(recoup_core::Error::Internal(format!(
                "{} jobs have no handler yet",
                job.kind
            ))),
        }
    };
    job::conclude(&mut conn, &job, clock.now(), family.attempts, outcome).await?;
    Ok(())
}

/// Runs the relay, the scheduler and one apalis worker per family until `shutdown`
/// completes; in-flight jobs finish (or are left to be redelivered: they are
/// idempotent).
pub async fn run(
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let pool = db::pool(&settings.database_url, 6)?;
    let queues = Queues::connect(&settings.redis_url, &settings.redis_prefix).await?;
    let mut relay_queues = queues.clone();
    let relay_pool = pool.clone();
    let relay_clock = settings.clock.clone();
    let relay = tokio::spawn(async move {
        loop {
            let wait = match relay_once(&relay_pool, &mut relay_queues, relay_clock.as_ref()).await
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
    let scheduler = tokio::spawn(schedules::run(
        pool.clone(),
        settings.clock.clone(),
        settings.business_timezone,
        settings.schedule_every,
    ));
    let shutdown = shutdown.shared();
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stopping.clone();
    let signalled = shutdown.clone();
    tokio::spawn(async move {
        signalled.await;
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let state = WorkerState {
        pool,
        clock: settings.clock.clone(),
        stopping,
    };
    let mut workers = Vec::new();
    for f in &FAMILIES {
        let queue = job::queue_of(f.kind);
        let Some(storage) = queues.get(queue).cloned() else {
            continue;
        };
        // A unique name per process: two processes sharing one never take over each
        // other's orphaned tasks, and a quick restart is not refused as "still active".
        let name = format!(
            "recoup-{queue}-{}-{}",
            std::process::id(),
            Uuid::new_v4().simple()
        );
        let backoff =
            ExponentialBackoffMaker::new(f.backoff_min, f.backoff_max, 0.5, HasherRng::default())
                .map_err(|e| anyhow::anyhow!("backoff of {queue}: {e:?}"))?
                .make_backoff();
        // Retry wraps the timeout, so each attempt has its own limit. Poll often: the
        // default backs off to a minute when idle, and a caller may be waiting.
        let worker = WorkerBuilder::new(name)
            .backend(storage.poll_with_interval(Duration::from_millis(250)))
            .retry(
                RetryPolicy::retries(usize::try_from(f.attempts - 1).unwrap_or(0))
                    .with_backoff(backoff),
            )
            .timeout(f.timeout)
            .concurrency(f.concurrency)
            .data(state.clone())
            .build(handle);
        let stop = shutdown.clone();
        workers.push(tokio::spawn(worker.run_until(async move {
            stop.await;
            Ok::<(), std::io::Error>(())
        })));
    }
    let mut outcome = Ok(());
    for w in workers {
        match w.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => outcome = Err(anyhow::anyhow!("worker: {e}")),
            Err(e) => outcome = Err(anyhow::anyhow!("worker task: {e}")),
        }
    }
    relay.abort();
    scheduler.abort();
    outcome
}
