//! The daily and nightly occurrences, read in the business timezone. Every process
//! checks them; `recoup_core::scheduled::claim` lets exactly one enqueue each.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveTime;
use recoup_core::clock::Clock;
use recoup_core::db::{self, PgPool};
use recoup_core::job::JobKind;
use recoup_core::scheduled::{self, Schedule};
use recoup_core::{Actor, Context};

const fn at(h: u32, m: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(h, m, 0) {
        Some(t) => t,
        None => NaiveTime::MIN,
    }
}

/// What runs when, business time. Nightly housekeeping first; the collectors' day is
/// ready before they start.
pub const SCHEDULES: [Schedule; 6] = [
    Schedule {
        name: "aging_snapshot",
        kind: JobKind::AgingSnapshot,
        at: at(0, 30),
    },
    Schedule {
        name: "idempotency_purge",
        kind: JobKind::IdempotencyPurge,
        at: at(2, 0),
    },
    Schedule {
        name: "promise_evaluation",
        kind: JobKind::PromiseEvaluation,
        at: at(5, 0),
    },
    Schedule {
        name: "installment_tracking",
        kind: JobKind::InstallmentTracking,
        at: at(5, 15),
    },
    Schedule {
        name: "dispute_follow_up",
        kind: JobKind::DisputeFollowUp,
        at: at(5, 30),
    },
    // After the jobs above have decided promises, installments and disputes: the
    // worklist's standings for the day (a read recomputes any it finds stale).
    Schedule {
        name: "account_standings",
        kind: JobKind::AccountStandings,
        at: at(5, 45),
    },
];

/// Claims each schedule's latest occurrence not yet claimed; returns the jobs enqueued.
pub async fn tick(pool: &PgPool, clock: &dyn Clock, tz: chrono_tz::Tz) -> anyhow::Result<usize> {
    let mut conn = db::conn(pool).await?;
    let mut enqueued = 0;
    for s in &SCHEDULES {
        let now = clock.now();
        let occurrence = scheduled::latest_occurrence(now, tz, s.at);
        let ctx = Context::new(
            Actor::System,
            Some(format!("schedule:{}:{occurrence}", s.name)),
            now,
        );
        if let Some(job) = scheduled::claim(&mut conn, &ctx, s, occurrence).await? {
            tracing::info!(schedule = s.name, %occurrence, job = %job.id, "scheduled job enqueued");
            enqueued += 1;
        }
    }
    Ok(enqueued)
}

pub(crate) async fn run(pool: PgPool, clock: Arc<dyn Clock>, tz: chrono_tz::Tz, every: Duration) {
    loop {
        if let Err(e) = tick(&pool, clock.as_ref(), tz).await {
            tracing::error!("schedules: {e:#}");
        }
        tokio::time::sleep(every).await;
    }
}
