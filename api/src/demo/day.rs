//! The demo collector's last weeks of work, seeded so that their worklist, the aging
//! report and the hit list have something in every column on the day of seeding.
//!
//! IBM's sample, moved to the present, leaves open only the invoices it settles in the
//! next weeks (it settles every invoice within 45 days of its due date, so none is
//! further past due than that: with the default lead, none beyond 1–30). So six of the demo collector's accounts (the first six by
//! name, A–F below) also get an older invoice of their own, numbered `DEMO-1001`…, and
//! the weeks of work a collector would have done on them. `d−n` is n days before today:
//!
//! - A, 612.40 due d−130 (120+): on d−12 a call, promised 300.00 for d−5; nothing paid,
//!   so the morning run of d−2 marks it broken (a task and an activity of the
//!   system's); on d−1 a call, no answer.
//! - B, 540.00 due d−70 (61–90): on d−35 a call and a plan of 27.00 down (5%; the policy
//!   asks 10%, so it is proposed) and three installments every two weeks; the manager
//!   approves it on d−34; the down payment and the first installment are paid on their
//!   dates, the second is missed (tracked every morning); on d−3 a call, left a message.
//! - C, 388.75 due d−95 (91–120): on d−30 a call, no answer; on d−7 a task to send a
//!   copy, due d−2 (overdue); on d−6 a call, 88.75 disputed on price (open).
//! - D, 296.50 due d−45 (31–60): on d−20 a call, 120.00 disputed as damaged;
//!   investigating from d−15 (a note); on d−3 a call, the rest (176.50) promised for
//!   today.
//! - E, 415.20 due d−50 (31–60): on d−10 a call, 200.00 promised for d−4; paid on d−5,
//!   so kept.
//! - F, 164.90 due d−15 (1–30): on d−2 a reminder by e-mail with a follow-up today (a
//!   task due today).
//!
//! Each step is the operation the API's handler (or the worker) calls, as the demo
//! collector, accountant or manager, at an instant of its day (work from 15:00 UTC, a
//! few minutes apart, never after now). Every morning of the story the worker's daily
//! runs happen as they would: promise evaluation at 05:00 and installment tracking at
//! 05:15 (`promise::evaluate_due`, `payment_plan::track_live`); after cash on a
//! promised or planned invoice, its customer's re-evaluation, as the job the payment
//! queued does (that job is still queued, and finds nothing left to change).

use std::fmt;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Utc};
use diesel_async::AsyncPgConnection;
use recoup_core::activity::{self, ActivityKind, Direction, NewActivityRequest, Outcome};
use recoup_core::customer::{self, Customer, CustomerFilter};
use recoup_core::dispute::{self, DisputePatch, DisputeReason, DisputeStatus, DisputedInvoice};
use recoup_core::invoice::{self, Invoice, NewInvoice};
use recoup_core::payment::{self, NewApplication, NewPayment, PaymentMethod};
use recoup_core::payment_plan::{self, PlanTerms};
use recoup_core::promise::{self, NewPromise};
use recoup_core::schedule::Frequency;
use recoup_core::task::{self, NewTaskRequest};
use recoup_core::user::{self, UserFilter};
use recoup_core::{Actor, Context};
use rust_decimal::Decimal;
use uuid::Uuid;

/// Accounts the story needs.
const ACCOUNTS: usize = 6;
/// The story's first day: the oldest demo invoice's issue date, in days before today.
const FIRST_DAY: u64 = 160;
/// Marks the audit events of the demo as its own.
const REQUEST: &str = "seed-demo";

/// What the collector's weeks left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectorDay {
    /// The collector's name and e-mail.
    pub collector: String,
    pub email: String,
    /// The accounts of the story, A–F.
    pub accounts: Vec<String>,
    pub invoices: usize,
    pub payments: usize,
    pub promises: usize,
    pub disputes: usize,
    pub plans: usize,
    /// Made by hand, or by a follow-up date logged by hand (the system's follow-ups,
    /// such as a broken promise's, not counted).
    pub tasks: usize,
    /// Logged by hand (the system's not counted).
    pub activities: usize,
}

impl fmt::Display for CollectorDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  {}'s last weeks ({}) on {}: {} invoices, {} payments, {} promises (kept, broken, due today), {} disputes (open, investigating), {} payment plan with a missed installment, {} tasks and {} activities by hand",
            self.collector,
            self.email,
            self.accounts.join(", "),
            self.invoices,
            self.payments,
            self.promises,
            self.disputes,
            self.plans,
            self.tasks,
            self.activities
        )
    }
}

/// The people of the story.
struct Cast {
    collector: Actor,
    accountant: Actor,
    manager: Actor,
}

/// An amount in cents.
fn usd(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

fn days_before(day: NaiveDate, n: u64) -> NaiveDate {
    day.checked_sub_days(Days::new(n)).unwrap_or(day)
}

fn days_after(day: NaiveDate, n: u64) -> NaiveDate {
    day.checked_add_days(Days::new(n)).unwrap_or(day)
}

/// The `step`-th instant of work on `day`: from 15:00 UTC, five minutes apart, never
/// after `now` (today's work happens now).
fn work_instant(day: NaiveDate, step: u32, now: DateTime<Utc>) -> DateTime<Utc> {
    let start = day.and_time(NaiveTime::from_hms_opt(15, 0, 0).unwrap_or(NaiveTime::MIN));
    (start.and_utc() + TimeDelta::minutes(i64::from(step) * 5)).min(now)
}

/// A payment the customer will make on a day to come.
struct Coming {
    on: NaiveDate,
    customer_id: Uuid,
    invoice_id: Uuid,
    amount: Decimal,
    reference: String,
}

struct Story<'c> {
    conn: &'c mut AsyncPgConnection,
    now: DateTime<Utc>,
    today: NaiveDate,
    /// The day the story has reached, and the work done on it so far.
    day: NaiveDate,
    step: u32,
    cast: Cast,
    /// Plan payments to come, made on their day.
    coming: Vec<Coming>,
    told: CollectorDay,
}

impl Story<'_> {
    fn ago(&self, n: u64) -> NaiveDate {
        days_before(self.today, n)
    }

    /// A context for `actor` at the next instant of the day's work.
    fn at_work(&mut self, actor: &Actor) -> Context {
        let at = work_instant(self.day, self.step, self.now);
        self.step += 1;
        Context::new(actor.clone(), Some(REQUEST.into()), at)
    }

    fn collector(&mut self) -> Context {
        let actor = self.cast.collector.clone();
        self.at_work(&actor)
    }

    fn accountant(&mut self) -> Context {
        let actor = self.cast.accountant.clone();
        self.at_work(&actor)
    }

    /// Moves the story to `n` days before today: every morning passed on the way, the
    /// worker's daily runs, then the plan payments due that day.
    async fn go_to(&mut self, n: u64) -> anyhow::Result<()> {
        let target = self.ago(n);
        while self.day < target {
            self.day = days_after(self.day, 1);
            self.step = 0;
            self.morning().await?;
            let due: Vec<Coming> = {
                let (due, later) = std::mem::take(&mut self.coming)
                    .into_iter()
                    .partition(|p| p.on <= self.day);
                self.coming = later;
                due
            };
            for p in due {
                self.pay(p.customer_id, p.invoice_id, p.amount, &p.reference)
                    .await?;
                let ctx = self.worker();
                payment_plan::track_customer(self.conn, &ctx, p.customer_id).await?;
            }
        }
        Ok(())
    }

    /// The system at the current instant (what the worker does right after a payment).
    fn worker(&self) -> Context {
        let at = work_instant(self.day, self.step.saturating_sub(1), self.now);
        Context::new(Actor::System, Some(REQUEST.into()), at)
    }

    /// The worker's daily runs of the current day (promise evaluation at 05:00,
    /// installment tracking at 05:15), once their time has come.
    async fn morning(&mut self) -> anyhow::Result<()> {
        if let Some(ctx) = self.system_at(5, 0) {
            promise::evaluate_due(self.conn, &ctx).await?;
        }
        if let Some(ctx) = self.system_at(5, 15) {
            payment_plan::track_live(self.conn, &ctx).await?;
        }
        Ok(())
    }

    /// The system at a time of the current day, unless that is still to come.
    fn system_at(&self, hour: u32, minute: u32) -> Option<Context> {
        let at = self
            .day
            .and_time(NaiveTime::from_hms_opt(hour, minute, 0)?)
            .and_utc();
        (at <= self.now).then(|| Context::new(Actor::System, Some(REQUEST.into()), at))
    }

    /// The accountant issues an invoice today (of the story), due in 30 days.
    async fn issue(
        &mut self,
        to: &Customer,
        number: &str,
        amount: Decimal,
    ) -> anyhow::Result<Invoice> {
        let ctx = self.accountant();
        let issued = self.day;
        let inv = invoice::create(
            self.conn,
            &ctx,
            NewInvoice {
                number: number.into(),
                customer_id: to.id,
                issue_date: issued,
                due_date: Some(days_after(issued, 30)),
                amount,
                currency: None,
                po_number: None,
                project: None,
                external_id: None,
            },
        )
        .await?;
        self.told.invoices += 1;
        Ok(inv)
    }

    /// The accountant posts a payment received today, applied to one invoice.
    async fn pay(
        &mut self,
        customer_id: Uuid,
        invoice_id: Uuid,
        amount: Decimal,
        reference: &str,
    ) -> anyhow::Result<()> {
        let ctx = self.accountant();
        payment::post(
            self.conn,
            &ctx,
            NewPayment {
                customer_id,
                received_on: self.day,
                amount,
                currency: None,
                method: PaymentMethod::Ach,
                reference: Some(reference.into()),
                external_id: None,
                applications: Some(vec![NewApplication {
                    invoice_id,
                    amount,
                    short_pay_reason: None,
                }]),
            },
        )
        .await?;
        self.told.payments += 1;
        Ok(())
    }

    /// The collector logs a call, an e-mail or a note.
    async fn log(&mut self, on: &Customer, what: Log<'_>) -> anyhow::Result<()> {
        let ctx = self.collector();
        activity::create_by_hand(
            self.conn,
            &ctx,
            NewActivityRequest {
                customer_id: on.id,
                kind: what.kind,
                direction: what.direction,
                contact_id: None,
                outcome: what.outcome,
                subject: Some(what.subject.into()),
                notes: what.notes.into(),
                occurred_at: None,
                follow_up_on: what.follow_up_on,
            },
        )
        .await?;
        self.told.activities += 1;
        if what.follow_up_on.is_some() {
            self.told.tasks += 1;
        }
        Ok(())
    }

    /// The collector records a promise on one invoice.
    async fn promise(
        &mut self,
        on: &Customer,
        invoice: &Invoice,
        amount: Decimal,
        promised_on: NaiveDate,
        note: &str,
    ) -> anyhow::Result<()> {
        let ctx = self.collector();
        promise::create(
            self.conn,
            &ctx,
            NewPromise {
                customer_id: on.id,
                invoice_ids: vec![invoice.id],
                amount,
                promised_on,
                grace_days: None,
                contact_id: None,
                note: Some(note.into()),
            },
        )
        .await?;
        self.told.promises += 1;
        Ok(())
    }

    /// The collector records a dispute of part of one invoice.
    async fn dispute(
        &mut self,
        on: &Customer,
        invoice: &Invoice,
        amount: Decimal,
        reason_code: DisputeReason,
        description: &str,
        due_on: Option<NaiveDate>,
    ) -> anyhow::Result<dispute::Dispute> {
        let ctx = self.collector();
        let made = dispute::create(
            self.conn,
            &ctx,
            dispute::NewDispute {
                customer_id: on.id,
                invoices: vec![DisputedInvoice {
                    invoice_id: invoice.id,
                    amount,
                }],
                reason_code,
                description: description.into(),
                owner_id: None,
                due_on,
            },
        )
        .await?;
        self.told.disputes += 1;
        Ok(made)
    }
}

/// One activity logged by hand.
struct Log<'a> {
    kind: ActivityKind,
    direction: Option<Direction>,
    outcome: Option<Outcome>,
    subject: &'a str,
    notes: &'a str,
    follow_up_on: Option<NaiveDate>,
}

/// A call with its outcome.
fn call<'a>(direction: Direction, outcome: Outcome, subject: &'a str, notes: &'a str) -> Log<'a> {
    Log {
        kind: ActivityKind::Call,
        direction: Some(direction),
        outcome: Some(outcome),
        subject,
        notes,
        follow_up_on: None,
    }
}

/// The demo user with this e-mail, as an actor, with their name.
async fn demo_user(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    email: &str,
) -> anyhow::Result<Option<(Actor, String)>> {
    let users = user::list(
        conn,
        ctx,
        &UserFilter {
            limit: Some(200),
            ..Default::default()
        },
    )
    .await?
    .data;
    Ok(users
        .into_iter()
        .find(|u| u.email == email && u.active)
        .map(|u| {
            (
                Actor::User {
                    id: u.id,
                    role: u.role,
                },
                u.name,
            )
        }))
}

/// Seeds the demo collector's weeks up to `now`, on their first accounts by name;
/// `None` when the collector, accountant or manager of the demo is missing.
pub async fn seed(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<CollectorDay>> {
    let system = Context::new(Actor::System, Some(REQUEST.into()), now);
    let (Some((collector, name)), Some((accountant, _)), Some((manager, _))) = (
        demo_user(conn, &system, super::COLLECTOR).await?,
        demo_user(conn, &system, super::ACCOUNTANT).await?,
        demo_user(conn, &system, super::MANAGER).await?,
    ) else {
        return Ok(None);
    };
    let mine = customer::list(
        conn,
        &Context::new(collector.clone(), Some(REQUEST.into()), now),
        &CustomerFilter {
            limit: Some(i64::try_from(ACCOUNTS).unwrap_or(6)),
            ..Default::default()
        },
    )
    .await?
    .data;
    let [a, b, c, d, e, f] = <[Customer; ACCOUNTS]>::try_from(mine).map_err(|got| {
        anyhow::anyhow!(
            "the demo collector has {} accounts; the story needs {ACCOUNTS}",
            got.len()
        )
    })?;
    let today = now.date_naive();
    let mut s = Story {
        conn,
        now,
        today,
        day: days_before(today, FIRST_DAY + 1),
        step: 0,
        cast: Cast {
            collector,
            accountant,
            manager,
        },
        coming: Vec::new(),
        told: CollectorDay {
            collector: name,
            email: super::COLLECTOR.into(),
            accounts: [&a, &b, &c, &d, &e, &f]
                .iter()
                .map(|c| c.name.clone())
                .collect(),
            ..CollectorDay::default()
        },
    };

    // The older invoices the sample lacks, each issued on its day.
    s.go_to(160).await?;
    let inv_a = s.issue(&a, "DEMO-1001", usd(61_240)).await?;
    s.go_to(125).await?;
    let inv_c = s.issue(&c, "DEMO-1003", usd(38_875)).await?;
    s.go_to(100).await?;
    let inv_b = s.issue(&b, "DEMO-1002", usd(54_000)).await?;
    s.go_to(80).await?;
    let inv_e = s.issue(&e, "DEMO-1005", usd(41_520)).await?;
    s.go_to(75).await?;
    let inv_d = s.issue(&d, "DEMO-1004", usd(29_650)).await?;
    s.go_to(45).await?;
    s.issue(&f, "DEMO-1006", usd(16_490)).await?;

    // B: a plan outside the policy (5% down), approved by the manager the next day.
    s.go_to(35).await?;
    s.log(
        &b,
        call(
            Direction::Outbound,
            Outcome::Reached,
            "Payment plan agreed",
            "AP cannot pay DEMO-1002 at once: 27.00 down, then three installments every two weeks.",
        ),
    )
    .await?;
    let first_due = s.ago(28);
    let ctx = s.collector();
    let plan = payment_plan::create(
        s.conn,
        &ctx,
        PlanTerms {
            customer_id: b.id,
            invoice_ids: vec![inv_b.id],
            total: None,
            down_payment: Some(usd(2_700)),
            installment_count: Some(3),
            installment_amount: None,
            frequency: Frequency::Biweekly,
            first_due_date: first_due,
            fee: None,
            annual_interest_percent: None,
            note: Some(
                "5% down: the customer's cash is tight until their spring orders ship".into(),
            ),
        },
    )
    .await?;
    s.told.plans += 1;
    s.go_to(34).await?;
    let manager = s.cast.manager.clone();
    let ctx = s.at_work(&manager);
    let plan = payment_plan::approve(s.conn, &ctx, plan.id).await?;
    // The customer pays the down payment and the first installment on their due
    // dates (the down payment at once if that day has passed), and no more.
    for i in plan.installments.iter().take(2) {
        s.coming.push(Coming {
            on: i.due_date.max(s.day),
            customer_id: b.id,
            invoice_id: inv_b.id,
            amount: i.amount,
            reference: if i.number == 0 {
                "plan down payment".into()
            } else {
                format!("plan installment {}", i.number)
            },
        });
    }

    s.go_to(30).await?;
    s.log(
        &c,
        call(
            Direction::Outbound,
            Outcome::NoAnswer,
            "About DEMO-1003",
            "No answer at AP; no voicemail.",
        ),
    )
    .await?;

    // D: part of the invoice disputed, then investigated.
    s.go_to(20).await?;
    s.log(
        &d,
        call(
            Direction::Inbound,
            Outcome::Disputed,
            "Damaged goods on DEMO-1004",
            "Two of the cases arrived crushed; they will pay for the rest.",
        ),
    )
    .await?;
    let resolve_by = s.ago(0).checked_add_days(Days::new(7));
    let damaged = s
        .dispute(
            &d,
            &inv_d,
            usd(12_000),
            DisputeReason::Damaged,
            "Two cases crushed in transit",
            resolve_by,
        )
        .await?;
    s.go_to(15).await?;
    let ctx = s.collector();
    dispute::update(
        s.conn,
        &ctx,
        damaged.id,
        DisputePatch {
            status: Some(DisputeStatus::Investigating),
            ..DisputePatch::default()
        },
        |_| true,
    )
    .await?;
    s.log(
        &d,
        Log {
            kind: ActivityKind::Note,
            direction: None,
            outcome: None,
            subject: "Carrier asked for the delivery receipt",
            notes: "Claim opened with the carrier; waiting for the signed delivery receipt.",
            follow_up_on: None,
        },
    )
    .await?;

    // A: a promise that will be broken; E: one that will be kept.
    s.go_to(12).await?;
    s.log(
        &a,
        call(
            Direction::Outbound,
            Outcome::Promised,
            "Promise on DEMO-1001",
            "The controller promised 300.00 by wire, the rest next month.",
        ),
    )
    .await?;
    let by = s.ago(5);
    s.promise(
        &a,
        &inv_a,
        usd(30_000),
        by,
        "Wire promised by the controller",
    )
    .await?;
    s.go_to(10).await?;
    s.log(
        &e,
        call(
            Direction::Outbound,
            Outcome::Promised,
            "Promise on DEMO-1005",
            "AP will send 200.00 with this week's check run.",
        ),
    )
    .await?;
    let by = s.ago(4);
    s.promise(&e, &inv_e, usd(20_000), by, "Check run this week")
        .await?;

    // C: an overdue task, then a dispute on price.
    s.go_to(7).await?;
    let due_on = s.ago(2);
    let ctx = s.collector();
    task::create_by_hand(
        s.conn,
        &ctx,
        NewTaskRequest {
            customer_id: c.id,
            assignee_id: None,
            kind: "email".into(),
            title: "Send AP a copy of DEMO-1003 and the signed quote".into(),
            due_on,
        },
    )
    .await?;
    s.told.tasks += 1;
    s.go_to(6).await?;
    s.log(
        &c,
        call(
            Direction::Inbound,
            Outcome::Disputed,
            "Price on DEMO-1003",
            "Says the unit price is above the quote: 88.75 in question; will pay the rest once they have the quote.",
        ),
    )
    .await?;
    s.dispute(
        &c,
        &inv_c,
        usd(8_875),
        DisputeReason::Pricing,
        "Unit price above the quote",
        None,
    )
    .await?;

    // E pays before the promised date: kept at once (the customer's re-evaluation the
    // payment queued).
    s.go_to(5).await?;
    s.pay(e.id, inv_e.id, usd(20_000), "check 4471").await?;
    let ctx = s.worker();
    promise::evaluate_customer(s.conn, &ctx, e.id, &mut promise::Evaluation::default()).await?;

    // D promises the rest for today; B's missed installment gets a message.
    s.go_to(3).await?;
    s.log(
        &d,
        call(
            Direction::Outbound,
            Outcome::Promised,
            "Promise on DEMO-1004",
            "Will pay the undisputed 176.50 on the due day of the promise.",
        ),
    )
    .await?;
    let today = s.ago(0);
    s.promise(&d, &inv_d, usd(17_650), today, "The undisputed part")
        .await?;
    s.log(
        &b,
        call(
            Direction::Outbound,
            Outcome::LeftMessage,
            "Missed plan installment",
            "Left a message about the missed installment on DEMO-1002.",
        ),
    )
    .await?;

    // F: a reminder by e-mail, followed up today.
    s.go_to(2).await?;
    s.log(
        &f,
        Log {
            kind: ActivityKind::Email,
            direction: Some(Direction::Outbound),
            outcome: Some(Outcome::Sent),
            subject: "Reminder: DEMO-1006 is past due",
            notes: "Sent the invoice again with the remittance details.",
            follow_up_on: Some(today),
        },
    )
    .await?;

    // A: the broken promise (the morning run of d−2) chased.
    s.go_to(1).await?;
    s.log(
        &a,
        call(
            Direction::Outbound,
            Outcome::NoAnswer,
            "About the broken promise",
            "No answer from the controller.",
        ),
    )
    .await?;

    // Today's morning runs, if their time has come.
    s.go_to(0).await?;
    Ok(Some(s.told))
}
