//! Background jobs as callers see them (status, progress, result or problem), and the
//! outbox that hands them to the queue. A job is enqueued by writing its row and an
//! outbox row in the transaction of the change that needs it; the worker's relay
//! pushes outbox rows to Redis after commit (`claim_unsent` / `mark_sent`).

use crate::error::ProblemCode;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::error::{Error, Result};
use crate::schema::{jobs, outbox};

text_enum! {
    pub enum JobKind {
        Import = "import",
        /// Decide a customer's promises that are past date + grace.
        PromiseEvaluation = "promise_evaluation",
        /// Move a plan's installments along and default it after N misses.
        InstallmentTracking = "installment_tracking",
        /// Store the aging snapshot of a date.
        AgingSnapshot = "aging_snapshot",
        /// Task the owners of disputes past their due date.
        DisputeFollowUp = "dispute_follow_up",
        /// Delete expired idempotency keys.
        IdempotencyPurge = "idempotency_purge",
        /// Recompute every account's worklist standing for the new day.
        AccountStandings = "account_standings",
    }
}

text_enum! {
    pub enum JobStatus {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        /// Given up after its attempts; an admin may retry it.
        Dead = "dead",
    }
}

/// The queue of each job family (prefixed per deployment by the worker's config).
pub fn queue_of(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Import => "imports",
        JobKind::PromiseEvaluation => "promise_evaluation",
        JobKind::InstallmentTracking => "installment_tracking",
        JobKind::AgingSnapshot => "aging_snapshot",
        JobKind::DisputeFollowUp => "dispute_follow_up",
        JobKind::IdempotencyPurge => "idempotency_purge",
        JobKind::AccountStandings => "account_standings",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = jobs)]
pub struct Job {
    pub id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    /// Units done so far (rows, for an import).
    pub progress_done: i64,
    /// Units in all, once known.
    pub progress_total: Option<i64>,
    /// What the job produced (an import's report).
    pub result: Option<serde_json::Value>,
    /// Why it failed, as a problem.
    pub problem: Option<serde_json::Value>,
    pub attempts: i32,
    #[serde(skip)]
    pub actor_kind: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// What the job is about (`customer`, `payment_plan`, …), for jobs about one thing.
    pub subject_type: Option<String>,
    pub subject_id: Option<Uuid>,
    /// `progress_done` when the current run started: a run that moved it on does not
    /// use up an attempt (see [`start`]).
    #[serde(skip)]
    pub progress_at_start: i64,
}

/// Writes a queued job and its outbox row, inside the caller's transaction.
pub(crate) async fn enqueue(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    kind: JobKind,
    total: Option<i64>,
) -> Result<Job> {
    enqueue_about(conn, ctx, kind, total, None).await
}

/// What depends on cash moving on invoices: the job kind to queue about their customer,
/// and the query on `$5` (the invoice ids) that finds something live depending on them.
type CashDependent = (JobKind, &'static str);

const AFTER_CASH: [CashDependent; 2] = [
    (JobKind::PromiseEvaluation, crate::promise::LIVE_ON_INVOICES),
    (
        JobKind::InstallmentTracking,
        crate::payment_plan::LIVE_ON_INVOICES,
    ),
];

/// The statement of [`enqueue_after_cash`], built once: one row per dependent kind whose
/// query finds something, each a job and its outbox row. The kinds' job ids, names and
/// queues come as arrays (`$6`, `$7`, `$8`) in [`AFTER_CASH`]'s order.
static AFTER_CASH_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let wanted: Vec<String> = AFTER_CASH
        .iter()
        .enumerate()
        .map(|(i, (_, live))| {
            let n = i + 1;
            format!(
                "SELECT ($6::uuid[])[{n}], ($7::text[])[{n}], ($8::text[])[{n}] WHERE EXISTS ({live})"
            )
        })
        .collect();
    format!(
        "WITH wanted (id, kind, queue) AS ({}),
         j AS (
            INSERT INTO jobs (id, kind, status, actor_kind, created_by, created_at, updated_at,
                              subject_type, subject_id)
            SELECT id, kind, 'queued', $1, $2, $3, $3, 'customer', $4 FROM wanted
            RETURNING id)
         INSERT INTO outbox (queue, job_id, created_at)
         SELECT w.queue, j.id, $3 FROM j JOIN wanted w ON w.id = j.id",
        wanted.join(" UNION ALL ")
    )
});

/// Queues, in the transaction of cash applied to or returned from a customer's
/// invoices, a re-evaluation of the promises and the tracking of the plans that name
/// them (only those that find something live). One prepared statement, so the payment
/// path sends it pipelined with its other writes and PostgreSQL plans it once.
pub(crate) fn enqueue_after_cash<'a>(
    conn: &'a AsyncPgConnection,
    ctx: &Context,
    customer_id: Uuid,
    invoice_ids: &[Uuid],
) -> impl std::future::Future<Output = QueryResult<usize>> + Send + 'a {
    use diesel::sql_types::{Array, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    let mut c: &AsyncPgConnection = conn;
    let ids: Vec<Uuid> = AFTER_CASH.iter().map(|_| Uuid::now_v7()).collect();
    let kinds: Vec<&str> = AFTER_CASH.iter().map(|(k, _)| k.as_str()).collect();
    let queues: Vec<&str> = AFTER_CASH.iter().map(|(k, _)| queue_of(*k)).collect();
    crate::db::prepared(AFTER_CASH_SQL.as_str())
        .bind::<Text, _>(ctx.actor.kind())
        .bind::<Nullable<SqlUuid>, _>(ctx.actor.id())
        .bind::<Timestamptz, _>(ctx.now)
        .bind::<SqlUuid, _>(customer_id)
        .bind::<Array<SqlUuid>, _>(invoice_ids.to_vec())
        .bind::<Array<SqlUuid>, _>(ids)
        .bind::<Array<Text>, _>(kinds)
        .bind::<Array<Text>, _>(queues)
        .execute(&mut c)
}

/// [`enqueue`] for a job about one thing (`("customer", id)`): the handler reads the
/// subject from the job row, since messages carry the job id only.
pub async fn enqueue_about(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    kind: JobKind,
    total: Option<i64>,
    subject: Option<(&str, Uuid)>,
) -> Result<Job> {
    let job: Job = diesel::insert_into(jobs::table)
        .values((
            jobs::id.eq(Uuid::now_v7()),
            jobs::kind.eq(kind),
            jobs::subject_type.eq(subject.map(|s| s.0)),
            jobs::subject_id.eq(subject.map(|s| s.1)),
            jobs::status.eq(JobStatus::Queued),
            jobs::progress_total.eq(total),
            jobs::actor_kind.eq(ctx.actor.kind()),
            jobs::created_by.eq(ctx.actor.id()),
            jobs::created_at.eq(ctx.now),
            jobs::updated_at.eq(ctx.now),
        ))
        .returning(Job::as_returning())
        .get_result(conn)
        .await?;
    diesel::insert_into(outbox::table)
        .values((
            outbox::queue.eq(queue_of(kind)),
            outbox::job_id.eq(job.id),
            outbox::created_at.eq(ctx.now),
        ))
        .execute(conn)
        .await?;
    Ok(job)
}

/// A job the caller started, or any job for those who may start imports for everyone
/// (admins, managers); others' jobs are 404.
pub async fn get(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<Job> {
    let job: Option<Job> = jobs::table
        .find(id)
        .select(Job::as_select())
        .first(conn)
        .await
        .optional()?;
    let sees_all = matches!(
        &ctx.actor,
        crate::Actor::User {
            role: crate::user::Role::Admin | crate::user::Role::Manager,
            ..
        }
    ) || ctx.actor == crate::Actor::System;
    match job {
        Some(job) if sees_all || (job.created_by.is_some() && job.created_by == ctx.actor.id()) => {
            Ok(job)
        }
        _ => Err(Error::NotFound { entity: "job" }),
    }
}

/// Marks a job running and counts the attempt. Finished jobs are not run again: a
/// message delivered twice does nothing the second time.
///
/// An attempt counts only when the run before it did not move the job's progress on.
/// A long import may be interrupted many times (a deploy, a SIGKILL, a crash) and each
/// run resumes from its last committed batch: such runs bring the end nearer, and as
/// progress is bounded by the file they cannot loop forever. A job whose runs keep
/// dying or failing without progress still uses up its attempts and goes dead.
pub async fn start(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Job>> {
    use diesel::dsl::sql;
    use diesel::sql_types::Integer;
    Ok(diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::status.eq_any([JobStatus::Queued, JobStatus::Running])),
    )
    .set((
        jobs::status.eq(JobStatus::Running),
        jobs::attempts.eq(sql::<Integer>(
            "attempts + CASE WHEN progress_done > progress_at_start THEN 0 ELSE 1 END",
        )),
        jobs::progress_at_start.eq(jobs::progress_done),
        jobs::started_at.eq(now),
        jobs::updated_at.eq(now),
    ))
    .returning(Job::as_returning())
    .get_result(conn)
    .await
    .optional()?)
}

/// Ends a run of a job: success stores the result; a failure after progress queues the
/// job again; a failure before the last attempt is handed back for the queue to retry
/// (with its backoff), and the last attempt's failure marks the job dead with a problem
/// an admin can read and retry.
pub async fn conclude(
    conn: &mut AsyncPgConnection,
    job: &Job,
    now: DateTime<Utc>,
    max_attempts: i32,
    outcome: Result<serde_json::Value>,
) -> Result<()> {
    let moved_on = outcome.is_err() && progressed(conn, job).await?;
    match outcome {
        Ok(result) => finish(conn, job.id, now, Ok(result)).await,
        Err(e) if moved_on => {
            // It got further before failing: not an attempt used up (see `start`). It goes
            // back through the outbox rather than to the queue's retries, which count
            // every failure.
            tracing::warn!(job = %job.id, kind = %job.kind, "run failed after progress, queued again: {e}");
            requeue(conn, job.id, now).await
        }
        Err(e) if job.attempts >= max_attempts => {
            tracing::error!(job = %job.id, kind = %job.kind, "job failed for good: {e}");
            let problem = serde_json::json!({
                "type": "urn:recoup:problem:job_failed", "title": "Job failed", "status": 500,
                "code": "job_failed",
                "detail": format!("the {} job failed {max_attempts} times; see the worker log", job.kind),
            });
            finish(conn, job.id, now, Err(problem)).await
        }
        Err(e) => Err(e),
    }
}

/// Whether the run that started as `job` moved its progress on (see [`start`]).
async fn progressed(conn: &mut AsyncPgConnection, job: &Job) -> Result<bool> {
    let done: i64 = jobs::table
        .find(job.id)
        .select(jobs::progress_done)
        .first(conn)
        .await?;
    Ok(done > job.progress_at_start)
}

/// Hands a running job back to its queue (the worker is stopping): queued again with a
/// new outbox row, to resume in the next worker that takes it.
pub async fn requeue(conn: &mut AsyncPgConnection, id: Uuid, now: DateTime<Utc>) -> Result<()> {
    use diesel_async::AsyncConnection;
    conn.transaction(async |conn| {
        let kind: JobKind = diesel::update(jobs::table.find(id))
            .set((jobs::status.eq(JobStatus::Queued), jobs::updated_at.eq(now)))
            .returning(jobs::kind)
            .get_result(conn)
            .await?;
        diesel::insert_into(outbox::table)
            .values((
                outbox::queue.eq(queue_of(kind)),
                outbox::job_id.eq(id),
                outbox::created_at.eq(now),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await
}

pub async fn progress(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    done: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(jobs::table.find(id))
        .set((jobs::progress_done.eq(done), jobs::updated_at.eq(now)))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn finish(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    now: DateTime<Utc>,
    outcome: std::result::Result<serde_json::Value, serde_json::Value>,
) -> Result<()> {
    let (status, result, problem) = match outcome {
        Ok(result) => (JobStatus::Succeeded, Some(result), None),
        Err(problem) => (JobStatus::Dead, None, Some(problem)),
    };
    diesel::update(jobs::table.find(id))
        .set((
            jobs::status.eq(status),
            jobs::result.eq(result),
            jobs::problem.eq(problem),
            jobs::finished_at.eq(now),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// An outbox row to relay.
#[derive(Debug, Clone, Queryable)]
pub struct Pending {
    pub id: i64,
    pub queue: String,
    pub job_id: Uuid,
}

/// Unsent outbox rows, oldest first, locked so that concurrent relays (several worker
/// processes) each take different rows. Call inside a transaction; mark what was pushed.
pub async fn claim_unsent(conn: &mut AsyncPgConnection, limit: i64) -> Result<Vec<Pending>> {
    Ok(outbox::table
        .filter(outbox::sent_at.is_null())
        .order(outbox::id.asc())
        .select((outbox::id, outbox::queue, outbox::job_id))
        .limit(limit)
        .for_update()
        .skip_locked()
        .load(conn)
        .await?)
}

pub async fn mark_sent(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
        .set(outbox::sent_at.eq(now))
        .execute(conn)
        .await?;
    Ok(())
}

fn sees_all(ctx: &Context) -> bool {
    matches!(
        &ctx.actor,
        crate::Actor::User {
            role: crate::user::Role::Admin | crate::user::Role::Manager,
            ..
        }
    ) || ctx.actor == crate::Actor::System
}

#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub kind: Option<JobKind>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The cursors of this list.
const LISTING: crate::page::Listing = crate::page::Listing::new("jobs", "-created_at");

/// Jobs newest first: the caller's own, or all for admins and managers.
pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    filter: &JobFilter,
) -> Result<crate::page::Page<Job>> {
    let page = crate::page::PageRequest::<(DateTime<Utc>, Uuid)>::parse(
        LISTING,
        filter.limit,
        filter.cursor.as_deref(),
    )?;
    let mut q = jobs::table.select(Job::as_select()).into_boxed();
    if !sees_all(ctx) {
        q = q.filter(
            jobs::created_by
                .eq(ctx.actor.id())
                .and(jobs::created_by.is_not_null()),
        );
    }
    if let Some(s) = filter.status {
        q = q.filter(jobs::status.eq(s));
    }
    if let Some(k) = filter.kind {
        q = q.filter(jobs::kind.eq(k));
    }
    if let Some((t, id)) = page.after {
        q = q.filter(
            jobs::created_at
                .lt(t)
                .or(jobs::created_at.eq(t).and(jobs::id.lt(id))),
        );
    }
    let rows = q
        .order((jobs::created_at.desc(), jobs::id.desc()))
        .limit(page.fetch())
        .load(conn)
        .await?;
    Ok(crate::page::Page::from_rows(rows, &page, |j: &Job| {
        (j.created_at, j.id)
    }))
}

/// Queues a dead job again (admins): attempts start over and a new outbox row hands it
/// to the queue, in one transaction.
pub async fn retry(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<Job> {
    use diesel_async::AsyncConnection;
    ctx.actor.require(Permission::JobsManage)?;
    conn.transaction(async |conn| {
        let before: Job = jobs::table
            .find(id)
            .select(Job::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or(Error::NotFound { entity: "job" })?;
        if before.status != JobStatus::Dead {
            return Err(Error::conflict(
                ProblemCode::JobNotDead,
                "only a dead job can be retried",
            ));
        }
        let after: Job = diesel::update(jobs::table.find(id))
            .set((
                jobs::status.eq(JobStatus::Queued),
                jobs::attempts.eq(0),
                jobs::problem.eq(None::<serde_json::Value>),
                jobs::finished_at.eq(None::<DateTime<Utc>>),
                jobs::updated_at.eq(ctx.now),
            ))
            .returning(Job::as_returning())
            .get_result(conn)
            .await?;
        diesel::insert_into(outbox::table)
            .values((
                outbox::queue.eq(queue_of(after.kind)),
                outbox::job_id.eq(id),
                outbox::created_at.eq(ctx.now),
            ))
            .execute(conn)
            .await?;
        crate::audit::record(
            conn,
            ctx,
            "job.retry",
            "job",
            id,
            Some(&before),
            Some(&after),
        )
        .await?;
        Ok(after)
    })
    .await
}

/// Guards the permission to start an import.
pub(crate) fn require_import(ctx: &Context) -> Result<()> {
    ctx.actor.require(Permission::ImportsCreate)
}
