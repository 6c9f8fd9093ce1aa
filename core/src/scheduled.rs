//! Scheduled jobs: daily and nightly work at a wall-clock time in the business
//! timezone. Every worker process evaluates the schedules; the first to claim an
//! occurrence (one `schedule_runs` row per schedule and date) enqueues its job, so two
//! processes never run the same occurrence twice and a worker that was down catches
//! up on the latest occurrence when it starts.

use crate::error::ProblemCode;
use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::access::Context;
use crate::error::{Error, Result};
use crate::job::{self, Job, JobKind};
use crate::schema::schedule_runs;

/// A job that runs once a day at a local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Stable name: the guard's key.
    pub name: &'static str,
    pub kind: JobKind,
    /// Wall-clock time in the business timezone.
    pub at: NaiveTime,
}

/// The business date of the latest occurrence at or before `now`: today's if the local
/// time has reached `at`, else yesterday's.
pub fn latest_occurrence(now: DateTime<Utc>, tz: Tz, at: NaiveTime) -> NaiveDate {
    let local = now.with_timezone(&tz);
    let today = local.date_naive();
    if local.time() >= at {
        today
    } else {
        today.checked_sub_days(Days::new(1)).unwrap_or(today)
    }
}

/// Claims an occurrence and enqueues its job, in one transaction; `None` when another
/// process (or an earlier round) already claimed it.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    schedule: &Schedule,
    occurrence: NaiveDate,
) -> Result<Option<Job>> {
    let already: Option<Uuid> = schedule_runs::table
        .find((schedule.name, occurrence))
        .select(schedule_runs::job_id)
        .first(conn)
        .await
        .optional()?;
    if already.is_some() {
        return Ok(None);
    }
    let claimed = conn
        .transaction(async |conn| {
            let job = job::enqueue_about(conn, ctx, schedule.kind, None, None).await?;
            // A concurrent claimer blocks here on the key until the first commits, then
            // inserts nothing; its job and outbox row roll back with the error below.
            let inserted = diesel::insert_into(schedule_runs::table)
                .values((
                    schedule_runs::schedule.eq(schedule.name),
                    schedule_runs::occurrence.eq(occurrence),
                    schedule_runs::job_id.eq(job.id),
                    schedule_runs::created_at.eq(ctx.now),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            if inserted == 0 {
                return Err(Error::conflict(
                    ProblemCode::OccurrenceClaimed,
                    "claimed elsewhere",
                ));
            }
            Ok(job)
        })
        .await;
    match claimed {
        Ok(job) => Ok(Some(job)),
        Err(Error::Conflict {
            code: ProblemCode::OccurrenceClaimed,
            ..
        }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
    }

    #[test]
    fn the_occurrence_is_in_the_business_timezone() {
        let tz: Tz = chrono_tz::America::New_York;
        // 03:30 UTC on 2 March is 22:30 on 1 March in New York.
        let now = Utc
            .with_ymd_and_hms(2026, 3, 2, 3, 30, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(
            latest_occurrence(now, tz, at(6, 0)),
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default()
        );
        assert_eq!(
            latest_occurrence(now, tz, at(22, 0)),
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default()
        );
        assert_eq!(
            latest_occurrence(now, tz, at(23, 0)),
            NaiveDate::from_ymd_opt(2026, 2, 28).unwrap_or_default()
        );
        assert_eq!(
            latest_occurrence(now, chrono_tz::UTC, at(3, 0)),
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default()
        );
    }
}
