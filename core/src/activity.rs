//! Activities: every collection action on an account (calls, e-mails, letters, visits,
//! notes), logged by people and by the worker. They are never edited or deleted (the
//! database refuses it); a correction is a new note. An activity with a follow-up date
//! makes a task for the account's collector.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Context, Permission};
use crate::audit;
use crate::customer;
use crate::error::{Error, Problems, Result};
use crate::page::{Listing, Page, PageRequest};
use crate::schema::{activities, contacts};
use crate::task::{self, NewTask};

text_enum! {
    /// The channel or form of the action.
    pub enum ActivityKind {
        Call = "call",
        Email = "email",
        Letter = "letter",
        Sms = "sms",
        Visit = "visit",
        Meeting = "meeting",
        Note = "note",
    }
}

text_enum! {
    pub enum Direction {
        Inbound = "inbound",
        Outbound = "outbound",
    }
}

text_enum! {
    /// How it went. The last group is written by the worker about what it decided.
    pub enum Outcome {
        NoAnswer = "no_answer",
        LeftMessage = "left_message",
        Promised = "promised",
        Disputed = "disputed",
        Refused = "refused",
        WrongNumber = "wrong_number",
        Paid = "paid",
        CallbackRequested = "callback_requested",
        /// Spoke with the customer; none of the above.
        Reached = "reached",
        Sent = "sent",
        Bounced = "bounced",
        PromiseBroken = "promise_broken",
        PromiseKept = "promise_kept",
        PromisePartiallyKept = "promise_partially_kept",
        InstallmentMissed = "installment_missed",
        PlanDefaulted = "plan_defaulted",
        Other = "other",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = activities)]
pub struct Activity {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub kind: ActivityKind,
    pub direction: Option<Direction>,
    pub contact_id: Option<Uuid>,
    pub outcome: Option<Outcome>,
    #[schema(example = "Spoke with AP")]
    pub subject: Option<String>,
    #[schema(example = "AP says the March invoices are scheduled for Friday's run")]
    pub notes: String,
    pub follow_up_on: Option<NaiveDate>,
    /// The task the follow-up date made.
    pub task_id: Option<Uuid>,
    /// `user`, `api_key` or `system` (the worker).
    #[schema(example = "user")]
    pub actor_kind: String,
    pub actor_id: Option<Uuid>,
    /// What made it, when the system did (`promise`, `payment_plan`, …).
    pub source_type: Option<String>,
    pub source_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// An activity the system logs inside another operation's transaction.
pub struct NewActivity<'a> {
    pub customer_id: Uuid,
    pub kind: ActivityKind,
    pub outcome: Option<Outcome>,
    pub subject: Option<String>,
    pub notes: String,
    pub task_id: Option<Uuid>,
    /// What made it. With a source, logging the same (source, outcome) twice is a
    /// no-op, so a job that runs again logs once.
    pub source: Option<(&'a str, Uuid)>,
}

/// Logs a system activity in the caller's transaction; `None` when this source had
/// already logged this outcome.
pub async fn record(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    new: NewActivity<'_>,
) -> Result<Option<Activity>> {
    let inserted: Option<Activity> = diesel::insert_into(activities::table)
        .values((
            activities::id.eq(Uuid::now_v7()),
            activities::customer_id.eq(new.customer_id),
            activities::kind.eq(new.kind),
            activities::outcome.eq(new.outcome),
            activities::subject.eq(&new.subject),
            activities::notes.eq(&new.notes),
            activities::task_id.eq(new.task_id),
            activities::actor_kind.eq(ctx.actor.kind()),
            activities::actor_id.eq(ctx.actor.id()),
            activities::source_type.eq(new.source.map(|s| s.0)),
            activities::source_id.eq(new.source.map(|s| s.1)),
            activities::occurred_at.eq(ctx.now),
            activities::created_at.eq(ctx.now),
        ))
        .on_conflict_do_nothing()
        .returning(Activity::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    if let Some(a) = &inserted {
        audit::record(
            conn,
            ctx,
            "activity.create",
            "activity",
            a.id,
            None::<&()>,
            Some(a),
        )
        .await?;
    }
    Ok(inserted)
}

/// `POST /v1/activities`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActivityRequest {
    pub customer_id: Uuid,
    pub kind: ActivityKind,
    pub direction: Option<Direction>,
    /// One of the customer's contacts.
    pub contact_id: Option<Uuid>,
    pub outcome: Option<Outcome>,
    #[schema(example = "Spoke with AP")]
    pub subject: Option<String>,
    #[serde(default)]
    #[schema(example = "AP says the March invoices are scheduled for Friday's run")]
    pub notes: String,
    /// When it happened (default: now). Not in the future.
    pub occurred_at: Option<DateTime<Utc>>,
    /// Makes a follow-up task due that day for the customer's collector (else the caller).
    pub follow_up_on: Option<NaiveDate>,
}

const MAX_NOTES: usize = 10_000;

fn check(input: &NewActivityRequest, now: DateTime<Utc>, p: &mut Problems) {
    if input.notes.chars().count() > MAX_NOTES {
        p.add("notes", "too_long", "at most 10000 characters");
    }
    if let Some(s) = &input.subject
        && (s.trim().is_empty() || s.chars().count() > 500)
    {
        p.add("subject", "invalid_length", "must be 1 to 500 characters");
    }
    if input.kind == ActivityKind::Note {
        if input.notes.trim().is_empty() {
            p.add("notes", "required", "a note needs text");
        }
        if input.direction.is_some() {
            p.add("direction", "not_applicable", "a note has no direction");
        }
    }
    if let Some(at) = input.occurred_at
        && at > now
    {
        p.add(
            "occurred_at",
            "in_future",
            "an activity cannot happen in the future",
        );
    }
    if let Some(d) = input.follow_up_on
        && d < now.date_naive()
    {
        p.add(
            "follow_up_on",
            "in_past",
            "a follow-up cannot be due before today",
        );
    }
}

/// Logs an activity by hand. Sales may log notes only.
pub async fn create_by_hand(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: NewActivityRequest,
) -> Result<Activity> {
    if input.kind == ActivityKind::Note && !ctx.actor.may(Permission::ActivitiesWrite) {
        ctx.actor.require(Permission::NotesWrite)?;
    } else {
        ctx.actor.require(Permission::ActivitiesWrite)?;
    }
    let mut p = Problems::new();
    check(&input, ctx.now, &mut p);
    p.into_result()?;
    conn.transaction(async |conn| {
        let customer = customer::load_named(conn, ctx, input.customer_id, false).await?;
        if let Some(contact) = input.contact_id {
            let owner: Option<Uuid> = contacts::table
                .find(contact)
                .select(contacts::customer_id)
                .first(conn)
                .await
                .optional()?;
            if owner != Some(customer.id) {
                return Err(Error::validation(
                    "contact_id",
                    "unknown_contact",
                    "not a contact of this customer",
                ));
            }
        }
        let task_id = match input.follow_up_on {
            Some(due_on) => {
                let title = match &input.subject {
                    Some(s) => format!("Follow up: {}", s.trim()),
                    None => format!("Follow up on the {}", input.kind),
                };
                let task = task::create(
                    conn,
                    ctx,
                    NewTask {
                        customer_id: customer.id,
                        assignee_id: customer.assigned_collector_id.or(ctx.actor.id()),
                        kind: "follow_up",
                        title,
                        due_on,
                        source: None,
                    },
                )
                .await?;
                Some(task.id)
            }
            None => None,
        };
        let activity: Activity = diesel::insert_into(activities::table)
            .values((
                activities::id.eq(Uuid::now_v7()),
                activities::customer_id.eq(customer.id),
                activities::kind.eq(input.kind),
                activities::direction.eq(input.direction),
                activities::contact_id.eq(input.contact_id),
                activities::outcome.eq(input.outcome),
                activities::subject.eq(input.subject.as_deref().map(str::trim)),
                activities::notes.eq(&input.notes),
                activities::follow_up_on.eq(input.follow_up_on),
                activities::task_id.eq(task_id),
                activities::actor_kind.eq(ctx.actor.kind()),
                activities::actor_id.eq(ctx.actor.id()),
                activities::occurred_at.eq(input.occurred_at.unwrap_or(ctx.now)),
                activities::created_at.eq(ctx.now),
            ))
            .returning(Activity::as_returning())
            .get_result(conn)
            .await?;
        if let Some(task_id) = task_id {
            // The task points back at what made it.
            diesel::update(crate::schema::tasks::table.find(task_id))
                .set((
                    crate::schema::tasks::source_type.eq("activity"),
                    crate::schema::tasks::source_id.eq(activity.id),
                ))
                .execute(conn)
                .await?;
        }
        audit::record(
            conn,
            ctx,
            "activity.create",
            "activity",
            activity.id,
            None::<&()>,
            Some(&activity),
        )
        .await?;
        Ok(activity)
    })
    .await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActivityFilter {
    pub customer_id: Option<Uuid>,
    pub kind: Option<ActivityKind>,
    pub outcome: Option<Outcome>,
    /// Only activities logged by this user.
    pub actor_id: Option<Uuid>,
    /// Occurred at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Occurred before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The cursors of this list.
const LISTING: Listing = Listing::new("activities", "-occurred_at");

/// Activities on customers the caller may see, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    filter: &ActivityFilter,
) -> Result<Page<Activity>> {
    ctx.actor.require(Permission::ActivitiesRead)?;
    let page = PageRequest::<(DateTime<Utc>, Uuid)>::parse(
        LISTING,
        filter.limit,
        filter.cursor.as_deref(),
    )?;
    let mut q = activities::table.select(Activity::as_select()).into_boxed();
    if let Some(ids) = customer::visible_ids(ctx.actor.customer_visibility()) {
        q = q.filter(activities::customer_id.eq_any(ids));
    }
    if let Some(id) = filter.customer_id {
        q = q.filter(activities::customer_id.eq(id));
    }
    if let Some(k) = filter.kind {
        q = q.filter(activities::kind.eq(k));
    }
    if let Some(o) = filter.outcome {
        q = q.filter(activities::outcome.eq(o));
    }
    if let Some(id) = filter.actor_id {
        q = q.filter(activities::actor_id.eq(id));
    }
    if let Some(t) = filter.from {
        q = q.filter(activities::occurred_at.ge(t));
    }
    if let Some(t) = filter.to {
        q = q.filter(activities::occurred_at.lt(t));
    }
    if let Some((t, id)) = page.after {
        q = q.filter(
            activities::occurred_at
                .lt(t)
                .or(activities::occurred_at.eq(t).and(activities::id.lt(id))),
        );
    }
    let rows = q
        .order((activities::occurred_at.desc(), activities::id.desc()))
        .limit(page.fetch())
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, &page, |a: &Activity| {
        (a.occurred_at, a.id)
    }))
}

/// One activity on an account the caller may see.
pub async fn get(conn: &mut AsyncPgConnection, ctx: &Context, id: Uuid) -> Result<Activity> {
    ctx.actor.require(Permission::ActivitiesRead)?;
    let found: Option<Activity> = activities::table
        .find(id)
        .select(Activity::as_select())
        .first(conn)
        .await
        .optional()?;
    let activity = found.ok_or(Error::NotFound { entity: "activity" })?;
    customer::check_visible_for(conn, ctx, activity.customer_id, false, "activity").await?;
    Ok(activity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn request(kind: ActivityKind) -> NewActivityRequest {
        NewActivityRequest {
            customer_id: Uuid::nil(),
            kind,
            direction: None,
            contact_id: None,
            outcome: None,
            subject: None,
            notes: String::new(),
            occurred_at: None,
            follow_up_on: None,
        }
    }

    fn codes(input: &NewActivityRequest) -> Vec<String> {
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 14, 30, 0).single();
        let mut p = Problems::new();
        if let Some(now) = now {
            check(input, now, &mut p);
        }
        match p.into_result() {
            Ok(()) => vec![],
            Err(Error::Validation(errors)) => errors.into_iter().map(|e| e.code).collect(),
            Err(other) => vec![format!("{other:?}")],
        }
    }

    #[test]
    fn a_note_needs_text_and_no_direction() {
        let mut note = request(ActivityKind::Note);
        note.direction = Some(Direction::Outbound);
        assert_eq!(codes(&note), vec!["required", "not_applicable"]);
        let mut call = request(ActivityKind::Call);
        call.direction = Some(Direction::Outbound);
        assert!(codes(&call).is_empty());
    }

    #[test]
    fn no_future_activity_and_no_past_follow_up() {
        let mut call = request(ActivityKind::Call);
        call.occurred_at = Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).single();
        call.follow_up_on = NaiveDate::from_ymd_opt(2026, 3, 1);
        assert_eq!(codes(&call), vec!["in_future", "in_past"]);
        call.occurred_at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single();
        call.follow_up_on = NaiveDate::from_ymd_opt(2026, 3, 2);
        assert!(codes(&call).is_empty());
    }
}
