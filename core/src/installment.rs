//! Installment tracking, pure: which installments the cash received on a plan's
//! invoices pays (oldest installment first, in the order the cash arrived), the status
//! each installment is in on a given day, and what that means for the plan.
//!
//! An installment is
//! - `scheduled` before its due date, nothing paid on it;
//! - `due` from its due date through the grace days, nothing paid on it;
//! - `partially_paid` while something but not all is paid and grace has not run out;
//! - `paid` when paid in full by its due date plus grace;
//! - `late` when paid in full, but after the grace days (a late payment cures a miss);
//! - `missed` when grace has run out and it is not paid in full.
//!
//! A returned (NSF) payment is no longer cash received, so whatever it paid opens again
//! at the next tracking: nothing here remembers a payment that has been taken back.

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;

text_enum! {
    pub enum InstallmentStatus {
        Scheduled = "scheduled",
        Due = "due",
        Paid = "paid",
        PartiallyPaid = "partially_paid",
        Late = "late",
        Missed = "missed",
    }
}

impl InstallmentStatus {
    /// Paid in full, on time or late.
    pub fn settled(self) -> bool {
        matches!(self, Self::Paid | Self::Late)
    }
}

text_enum! {
    pub enum PlanStatus {
        /// Outside the policy: waits for a manager.
        Proposed = "proposed",
        /// Approved (or within policy), waiting for its down payment.
        Approved = "approved",
        /// Running: the down payment (if any) is in.
        Active = "active",
        /// Every installment paid.
        Completed = "completed",
        /// Too many installments missed; a referral candidate.
        Defaulted = "defaulted",
        Cancelled = "cancelled",
    }
}

impl PlanStatus {
    /// The plan still governs its invoices (their cash is tracked against it).
    pub fn live(self) -> bool {
        matches!(self, Self::Approved | Self::Active)
    }
}

/// An installment as scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// 0 for the down payment.
    pub number: u32,
    pub due_date: NaiveDate,
    pub amount: Decimal,
}

/// Cash received on the plan's invoices: one live application of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub received_on: NaiveDate,
    pub amount: Decimal,
}

/// How one installment stands on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub status: InstallmentStatus,
    pub paid: Decimal,
    /// The day the cash that completed it was received.
    pub paid_on: Option<NaiveDate>,
}

/// Fills the installments, in order, with the receipts in the order they arrived
/// (receipts on the same day keep their given order). Returns what each installment
/// received and the day it was paid in full; cash beyond the schedule is left over.
pub fn allocate(installments: &[Due], receipts: &[Receipt]) -> Vec<(Decimal, Option<NaiveDate>)> {
    let mut receipts: Vec<Receipt> = receipts
        .iter()
        .copied()
        .filter(|r| r.amount > Decimal::ZERO)
        .collect();
    receipts.sort_by_key(|r| r.received_on);
    let mut out = Vec::with_capacity(installments.len());
    let mut next = receipts.iter();
    let mut current: Option<Receipt> = None;
    for due in installments {
        let mut paid = Decimal::ZERO;
        let mut paid_on = None;
        if due.amount <= Decimal::ZERO {
            out.push((Decimal::ZERO, None));
            continue;
        }
        while paid < due.amount {
            let r = match current.take() {
                Some(r) => r,
                None => match next.next() {
                    Some(r) => *r,
                    None => break,
                },
            };
            let take = r.amount.min(due.amount - paid);
            paid += take;
            if paid == due.amount {
                paid_on = Some(r.received_on);
            }
            if take < r.amount {
                current = Some(Receipt {
                    received_on: r.received_on,
                    amount: r.amount - take,
                });
            }
        }
        out.push((paid, paid_on));
    }
    out
}

/// The last day an installment may be paid on time.
pub fn deadline(due_date: NaiveDate, grace_days: u32) -> NaiveDate {
    due_date
        .checked_add_days(Days::new(u64::from(grace_days)))
        .unwrap_or(NaiveDate::MAX)
}

/// The status of an installment that has received `paid` (completed on `paid_on`), on
/// `today`.
pub fn status(
    due: &Due,
    paid: Decimal,
    paid_on: Option<NaiveDate>,
    today: NaiveDate,
    grace_days: u32,
) -> InstallmentStatus {
    let last = deadline(due.due_date, grace_days);
    if paid >= due.amount {
        return match paid_on {
            Some(on) if on > last => InstallmentStatus::Late,
            _ => InstallmentStatus::Paid,
        };
    }
    if today > last {
        InstallmentStatus::Missed
    } else if paid > Decimal::ZERO {
        InstallmentStatus::PartiallyPaid
    } else if today >= due.due_date {
        InstallmentStatus::Due
    } else {
        InstallmentStatus::Scheduled
    }
}

/// Every installment's standing on `today`, from the receipts.
pub fn track(
    installments: &[Due],
    receipts: &[Receipt],
    today: NaiveDate,
    grace_days: u32,
) -> Vec<Standing> {
    installments
        .iter()
        .zip(allocate(installments, receipts))
        .map(|(due, (paid, paid_on))| Standing {
            status: status(due, paid, paid_on, today, grace_days),
            paid,
            paid_on,
        })
        .collect()
}

/// What the standings make of a plan. Proposed, cancelled and defaulted plans stay as
/// they are (a default is final: the account moves on to referral). Otherwise: every
/// installment settled → completed; `default_after_missed` missed → defaulted; the
/// down payment settled (or none asked) → active; else approved. A completed plan whose
/// cash was returned runs again.
pub fn plan_status(
    current: PlanStatus,
    installments: &[Due],
    standings: &[Standing],
    default_after_missed: u32,
) -> PlanStatus {
    if !matches!(
        current,
        PlanStatus::Approved | PlanStatus::Active | PlanStatus::Completed
    ) {
        return current;
    }
    if standings.iter().all(|s| s.status.settled()) {
        return PlanStatus::Completed;
    }
    let missed = standings
        .iter()
        .filter(|s| s.status == InstallmentStatus::Missed)
        .count();
    if missed >= usize::try_from(default_after_missed).unwrap_or(usize::MAX) {
        return PlanStatus::Defaulted;
    }
    let down_settled = installments
        .iter()
        .zip(standings)
        .find(|(d, _)| d.number == 0)
        .is_none_or(|(_, s)| s.status.settled());
    if down_settled {
        PlanStatus::Active
    } else {
        PlanStatus::Approved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
    }

    fn due(number: u32, on: NaiveDate, cents: i64) -> Due {
        Due {
            number,
            due_date: on,
            amount: Decimal::new(cents, 2),
        }
    }

    fn got(on: NaiveDate, cents: i64) -> Receipt {
        Receipt {
            received_on: on,
            amount: Decimal::new(cents, 2),
        }
    }

    /// 1000.00 over three months: 333.33, 333.33, 333.34.
    fn plan() -> Vec<Due> {
        vec![
            due(1, day(2026, 4, 1), 33_333),
            due(2, day(2026, 5, 1), 33_333),
            due(3, day(2026, 6, 1), 33_334),
        ]
    }

    fn statuses(s: &[Standing]) -> Vec<InstallmentStatus> {
        s.iter().map(|s| s.status).collect()
    }

    #[test]
    fn statuses_move_along_with_the_days() {
        use InstallmentStatus::*;
        let p = plan();
        assert_eq!(
            statuses(&track(&p, &[], day(2026, 3, 31), 5)),
            [Scheduled, Scheduled, Scheduled]
        );
        assert_eq!(
            statuses(&track(&p, &[], day(2026, 4, 1), 5)),
            [Due, Scheduled, Scheduled]
        );
        // The last day of grace is still on time…
        assert_eq!(
            statuses(&track(&p, &[], day(2026, 4, 6), 5)),
            [Due, Scheduled, Scheduled]
        );
        // …the next is a miss.
        assert_eq!(
            statuses(&track(&p, &[], day(2026, 4, 7), 5)),
            [Missed, Scheduled, Scheduled]
        );
    }

    #[test]
    fn cash_pays_the_oldest_installment_first() {
        use InstallmentStatus::*;
        let p = plan();
        // 400.00 on time pays the first and 66.67 of the second.
        let s = track(&p, &[got(day(2026, 4, 3), 40_000)], day(2026, 4, 10), 5);
        assert_eq!(statuses(&s), [Paid, PartiallyPaid, Scheduled]);
        assert_eq!(s[1].paid, Decimal::new(6_667, 2));
        assert_eq!(s[0].paid_on, Some(day(2026, 4, 3)));
        assert_eq!(s[1].paid_on, None);
    }

    #[test]
    fn a_late_payment_cures_a_miss_as_late() {
        use InstallmentStatus::*;
        let p = plan();
        let s = track(&p, &[got(day(2026, 4, 20), 33_333)], day(2026, 4, 21), 5);
        assert_eq!(statuses(&s), [Late, Scheduled, Scheduled]);
    }

    #[test]
    fn a_partial_payment_past_grace_is_missed() {
        use InstallmentStatus::*;
        let p = plan();
        let s = track(&p, &[got(day(2026, 4, 2), 10_000)], day(2026, 4, 7), 5);
        assert_eq!(statuses(&s), [Missed, Scheduled, Scheduled]);
        assert_eq!(s[0].paid, Decimal::new(10_000, 2));
    }

    #[test]
    fn plans_complete_default_and_activate() {
        let p = plan();
        let paid_all = track(&p, &[got(day(2026, 4, 1), 100_000)], day(2026, 4, 1), 5);
        assert_eq!(
            plan_status(PlanStatus::Active, &p, &paid_all, 2),
            PlanStatus::Completed
        );
        let two_missed = track(&p, &[], day(2026, 5, 7), 5);
        assert_eq!(
            plan_status(PlanStatus::Active, &p, &two_missed, 2),
            PlanStatus::Defaulted
        );
        let one_missed = track(&p, &[], day(2026, 5, 6), 5);
        assert_eq!(
            plan_status(PlanStatus::Active, &p, &one_missed, 2),
            PlanStatus::Active
        );
        // Returned cash reopens a completed plan.
        assert_eq!(
            plan_status(PlanStatus::Completed, &p, &one_missed, 2),
            PlanStatus::Active
        );
        // A default is final; proposals wait for a manager.
        assert_eq!(
            plan_status(PlanStatus::Defaulted, &p, &paid_all, 2),
            PlanStatus::Defaulted
        );
        assert_eq!(
            plan_status(PlanStatus::Proposed, &p, &paid_all, 2),
            PlanStatus::Proposed
        );
    }

    #[test]
    fn a_plan_waits_for_its_down_payment() {
        let mut p = plan();
        p.insert(0, due(0, day(2026, 3, 2), 10_000));
        let none = track(&p, &[], day(2026, 3, 2), 5);
        assert_eq!(
            plan_status(PlanStatus::Approved, &p, &none, 2),
            PlanStatus::Approved
        );
        let down = track(&p, &[got(day(2026, 3, 3), 10_000)], day(2026, 3, 3), 5);
        assert_eq!(
            plan_status(PlanStatus::Approved, &p, &down, 2),
            PlanStatus::Active
        );
    }

    fn schedule() -> impl Strategy<Value = Vec<Due>> {
        prop::collection::vec((0i64..100_000, 1u64..40), 1..24).prop_map(|rows| {
            let mut on = day(2026, 1, 1);
            rows.into_iter()
                .enumerate()
                .map(|(i, (cents, gap))| {
                    on = on.checked_add_days(Days::new(gap)).unwrap_or(on);
                    due(u32::try_from(i).unwrap_or(0) + 1, on, cents)
                })
                .collect()
        })
    }

    fn receipts() -> impl Strategy<Value = Vec<Receipt>> {
        prop::collection::vec((0u64..600, 1i64..150_000), 0..30).prop_map(|rows| {
            rows.into_iter()
                .map(|(offset, cents)| {
                    got(
                        day(2026, 1, 1)
                            .checked_add_days(Days::new(offset))
                            .unwrap_or(NaiveDate::MIN),
                        cents,
                    )
                })
                .collect()
        })
    }

    proptest! {
        /// Allocation neither creates nor loses a cent: what the installments get is
        /// the cash received, up to what the schedule asks.
        #[test]
        fn allocation_is_exact(p in schedule(), r in receipts()) {
            let got: Decimal = allocate(&p, &r).iter().map(|(paid, _)| *paid).sum();
            let asked: Decimal = p.iter().map(|d| d.amount).sum();
            let received: Decimal = r.iter().map(|r| r.amount).sum();
            prop_assert_eq!(got, asked.min(received));
            for (d, (paid, _)) in p.iter().zip(allocate(&p, &r)) {
                prop_assert!(paid >= Decimal::ZERO && paid <= d.amount);
            }
        }

        /// Oldest first: no installment receives cash while an earlier one is unpaid.
        #[test]
        fn oldest_first(p in schedule(), r in receipts()) {
            let a = allocate(&p, &r);
            for i in 1..p.len() {
                if a[i].0 > Decimal::ZERO {
                    prop_assert_eq!(a[i - 1].0, p[i - 1].amount);
                }
            }
        }

        /// More cash never makes an installment worse off, and a later day never un-misses
        /// one without cash.
        #[test]
        fn more_cash_never_hurts(p in schedule(), r in receipts(), extra in receipts(), offset in 0u64..700) {
            let today = day(2026, 1, 1).checked_add_days(Days::new(offset)).unwrap_or(NaiveDate::MIN);
            let base = track(&p, &r, today, 5);
            let mut more = r.clone();
            more.extend(extra);
            let better = track(&p, &more, today, 5);
            for (b, m) in base.iter().zip(&better) {
                prop_assert!(m.paid >= b.paid);
                if b.status.settled() {
                    prop_assert!(m.status.settled());
                }
            }
            let tomorrow = today.succ_opt().unwrap_or(today);
            let later = track(&p, &r, tomorrow, 5);
            for (b, l) in base.iter().zip(&later) {
                if b.status == InstallmentStatus::Missed {
                    prop_assert_eq!(l.status, InstallmentStatus::Missed);
                }
            }
        }

        /// Tracking the same day twice gives the same answer (the job is idempotent).
        #[test]
        fn tracking_is_a_function_of_the_day(p in schedule(), r in receipts(), offset in 0u64..700) {
            let today = day(2026, 1, 1).checked_add_days(Days::new(offset)).unwrap_or(NaiveDate::MIN);
            let s = track(&p, &r, today, 3);
            prop_assert_eq!(&s, &track(&p, &r, today, 3));
            let status = plan_status(PlanStatus::Active, &p, &s, 2);
            let again = plan_status(status, &p, &s, 2);
            prop_assert_eq!(status, again);
        }
    }
}
