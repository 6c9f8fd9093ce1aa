//! Payment-plan schedules, pure: from a total, a down payment, a count or an amount per
//! installment, a frequency and a first due date, the installments with their dates.
//!
//! Rules (issue "Payment plans"): amounts are rounded half-up to the currency's minor
//! unit and the last installment absorbs the remainder, so a schedule always sums
//! exactly to its total; monthly dates keep the first date's day and clamp to month end
//! (Jan 31 → Feb 28/29 → Mar 31); a date that falls on a non-business day moves by the
//! configured rule. An optional fee and flat (add-on) interest are added to what is
//! financed before it is split.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::error::{FieldError, Problems};
use crate::money::Currency;

text_enum! {
    pub enum Frequency {
        Weekly = "weekly",
        Biweekly = "biweekly",
        /// Twice a month, about fifteen days apart (the 5th and 20th, the 1st and 16th…).
        Semimonthly = "semimonthly",
        Monthly = "monthly",
    }
}

text_enum! {
    /// What happens to a due date that falls on a weekend or holiday.
    pub enum BusinessDayRule {
        /// Keep the date.
        Keep = "keep",
        /// Move to the next business day.
        Next = "next",
        /// Move to the previous business day.
        Previous = "previous",
    }
}

/// Most installments a plan may have, whatever the policy says.
pub const MAX_INSTALLMENTS: u32 = 360;

/// How the financed amount is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// This many equal installments (the last absorbs rounding).
    Count(u32),
    /// Installments of this amount until paid (the last is what remains).
    #[schema(value_type = String)]
    Amount(Decimal),
}

/// The terms to schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub currency: Currency,
    pub total: Decimal,
    pub down_payment: Decimal,
    pub split: Split,
    pub frequency: Frequency,
    /// Due date of the down payment (typically the day the plan is agreed).
    pub start_date: NaiveDate,
    pub first_due_date: NaiveDate,
    /// A one-off fee added to what is financed.
    pub fee: Decimal,
    /// Flat add-on interest, percent a year, on what is financed over the plan's term.
    pub annual_interest_percent: Decimal,
    pub business_day_rule: BusinessDayRule,
    pub holidays: Vec<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ScheduledInstallment {
    /// 0 for the down payment, then 1, 2, …
    pub number: u32,
    pub due_date: NaiveDate,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "333.33")]
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Schedule {
    /// The balance the plan covers (before fee and interest).
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "1000.00")]
    pub total: Decimal,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "0.00")]
    pub fee: Decimal,
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "0.00")]
    pub interest: Decimal,
    /// Everything the customer pays: total + fee + interest = Σ installments.
    #[schema(value_type = String, pattern = r"^-?[0-9]+(\.[0-9]+)?$", example = "1000.00")]
    pub total_payable: Decimal,
    pub installments: Vec<ScheduledInstallment>,
}

fn round(amount: Decimal, currency: Currency) -> Decimal {
    let mut rounded = amount.round_dp_with_strategy(
        currency.minor_units(),
        RoundingStrategy::MidpointAwayFromZero,
    );
    rounded.rescale(currency.minor_units());
    rounded
}

fn last_day_of_month(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|d| d.pred_opt()).map_or(28, |d| d.day())
}

/// The `day` of the month `months` after `anchor`'s month, clamped to its last day.
fn month_day(anchor: NaiveDate, months: u32, day: u32) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(anchor.year(), anchor.month(), 1)?
        .checked_add_months(Months::new(months))?;
    let day = day.min(last_day_of_month(first.year(), first.month()));
    NaiveDate::from_ymd_opt(first.year(), first.month(), day)
}

/// The unadjusted due date of installment `index` (0-based) of a plan starting `first`.
pub fn nominal_date(first: NaiveDate, frequency: Frequency, index: u32) -> Option<NaiveDate> {
    match frequency {
        Frequency::Weekly => first.checked_add_days(Days::new(7 * u64::from(index))),
        Frequency::Biweekly => first.checked_add_days(Days::new(14 * u64::from(index))),
        Frequency::Monthly => month_day(first, index, first.day()),
        Frequency::Semimonthly => {
            // Two days a month fifteen apart: (d, d + 15) from the 1st–15th, else
            // (d − 15, d); installments alternate between them, starting at `first`.
            let (early, late) = if first.day() <= 15 {
                (first.day(), first.day() + 15)
            } else {
                (first.day() - 15, first.day())
            };
            let starts_late = first.day() > 15;
            let position = index + u32::from(starts_late);
            let day = if position.is_multiple_of(2) {
                early
            } else {
                late
            };
            month_day(first, position / 2, day)
        }
    }
}

fn is_business_day(date: NaiveDate, holidays: &[NaiveDate]) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !holidays.contains(&date)
}

/// Moves a date off weekends and holidays by the rule.
pub fn adjust(date: NaiveDate, rule: BusinessDayRule, holidays: &[NaiveDate]) -> NaiveDate {
    let mut d = date;
    // A year of consecutive holidays is not a calendar anyone has; stop looking then.
    for _ in 0..366 {
        if is_business_day(d, holidays) {
            return d;
        }
        let step = match rule {
            BusinessDayRule::Keep => return date,
            BusinessDayRule::Next => d.succ_opt(),
            BusinessDayRule::Previous => d.pred_opt(),
        };
        match step {
            Some(next) => d = next,
            None => return date,
        }
    }
    date
}

/// Builds the schedule, or every reason the terms cannot be scheduled.
pub fn build(terms: &Terms) -> Result<Schedule, Vec<FieldError>> {
    let mut p = Problems::new();
    let c = terms.currency;
    let places = c.minor_units();
    let check_places = |field: &str, amount: Decimal, p: &mut Problems| {
        if amount.normalize().scale() > places {
            p.add(
                field,
                "too_many_decimals",
                format!("{} allows {places} decimal place(s)", c.code()),
            );
        }
    };
    if terms.total <= Decimal::ZERO {
        p.add("total", "not_positive", "must be greater than zero");
    }
    check_places("total", terms.total, &mut p);
    if terms.down_payment < Decimal::ZERO || terms.down_payment >= terms.total {
        p.add(
            "down_payment",
            "out_of_range",
            "must be at least zero and less than the total",
        );
    }
    check_places("down_payment", terms.down_payment, &mut p);
    if terms.fee < Decimal::ZERO {
        p.add("fee", "negative_amount", "must not be negative");
    }
    check_places("fee", terms.fee, &mut p);
    if terms.annual_interest_percent < Decimal::ZERO
        || terms.annual_interest_percent > Decimal::ONE_HUNDRED
    {
        p.add(
            "annual_interest_percent",
            "out_of_range",
            "must be 0 to 100",
        );
    }
    if terms.first_due_date < terms.start_date {
        p.add(
            "first_due_date",
            "before_start",
            "must not be before the start date",
        );
    }
    let financed = terms.total - terms.down_payment + terms.fee;
    let count = match terms.split {
        Split::Count(n) if (1..=MAX_INSTALLMENTS).contains(&n) => Some(n),
        Split::Count(_) => {
            p.add(
                "installment_count",
                "out_of_range",
                format!("must be 1 to {MAX_INSTALLMENTS}"),
            );
            None
        }
        Split::Amount(a) if a <= Decimal::ZERO => {
            p.add(
                "installment_amount",
                "not_positive",
                "must be greater than zero",
            );
            None
        }
        Split::Amount(a) => {
            check_places("installment_amount", a, &mut p);
            // Installments of `a` until the financed amount (interest comes on top and
            // lands in the last ones) is covered.
            let n = (financed / a).ceil();
            match u32::try_from(n.mantissa()).ok().filter(|_| n.scale() == 0) {
                Some(n) if (1..=MAX_INSTALLMENTS).contains(&n) => Some(n),
                _ => {
                    p.add(
                        "installment_amount",
                        "too_small",
                        format!("would need more than {MAX_INSTALLMENTS} installments"),
                    );
                    None
                }
            }
        }
    };
    p.into_result().map_err(|e| match e {
        crate::error::Error::Validation(errors) => errors,
        _ => Vec::new(),
    })?;
    let Some(count) = count else {
        return Err(Vec::new());
    };

    let mut nominal = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for i in 0..count {
        match nominal_date(terms.first_due_date, terms.frequency, i) {
            Some(d) => nominal.push(d),
            None => {
                return Err(vec![FieldError::new(
                    "first_due_date",
                    "out_of_range",
                    "the schedule runs past the calendar",
                )]);
            }
        }
    }
    let last = nominal.last().copied().unwrap_or(terms.first_due_date);
    let term_days = Decimal::from((last - terms.start_date).num_days().max(0));
    let interest = round(
        (terms.total - terms.down_payment) * terms.annual_interest_percent / Decimal::ONE_HUNDRED
            * term_days
            / Decimal::from(365),
        c,
    );
    let payable = financed + interest;
    let per = match terms.split {
        Split::Count(n) => round(payable / Decimal::from(n), c),
        Split::Amount(a) => a,
    };

    let mut installments = Vec::with_capacity(nominal.len() + 1);
    if terms.down_payment > Decimal::ZERO {
        installments.push(ScheduledInstallment {
            number: 0,
            due_date: adjust(terms.start_date, terms.business_day_rule, &terms.holidays),
            amount: round(terms.down_payment, c),
        });
    }
    let mut remaining = payable;
    let mut previous = installments.last().map(|i| i.due_date);
    for (i, date) in nominal.iter().enumerate() {
        let number = u32::try_from(i).unwrap_or(u32::MAX).saturating_add(1);
        let is_last = i + 1 == nominal.len();
        let amount = if is_last {
            remaining
        } else {
            per.min(remaining)
        };
        remaining -= amount;
        let mut due_date = adjust(*date, terms.business_day_rule, &terms.holidays);
        // Moving off a holiday must never reorder or merge two due dates.
        if let Some(prev) = previous
            && due_date <= prev
        {
            due_date = prev.succ_opt().unwrap_or(prev);
        }
        previous = Some(due_date);
        installments.push(ScheduledInstallment {
            number,
            due_date,
            amount: round(amount, c),
        });
    }
    // Installments of a fixed amount can run out before the last date: drop empty ones.
    installments.retain(|i| i.amount > Decimal::ZERO || i.number == 0);
    Ok(Schedule {
        total: round(terms.total, c),
        fee: round(terms.fee, c),
        interest,
        total_payable: round(terms.total + terms.fee + interest, c),
        installments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap_or_default()
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn terms(
        currency: &str,
        total: &str,
        split: Split,
        frequency: Frequency,
        first: &str,
    ) -> Terms {
        Terms {
            currency: Currency::parse(currency).unwrap_or_else(|| unreachable!()),
            total: dec(total),
            down_payment: Decimal::ZERO,
            split,
            frequency,
            start_date: date(first),
            first_due_date: date(first),
            fee: Decimal::ZERO,
            annual_interest_percent: Decimal::ZERO,
            business_day_rule: BusinessDayRule::Keep,
            holidays: Vec::new(),
        }
    }

    fn amounts(s: &Schedule) -> Vec<String> {
        s.installments
            .iter()
            .map(|i| i.amount.to_string())
            .collect()
    }

    fn dates(s: &Schedule) -> Vec<String> {
        s.installments
            .iter()
            .map(|i| i.due_date.to_string())
            .collect()
    }

    #[test]
    fn a_thousand_in_three_is_333_33_twice_and_333_34() {
        let s = build(&terms(
            "USD",
            "1000.00",
            Split::Count(3),
            Frequency::Monthly,
            "2026-01-15",
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(amounts(&s), ["333.33", "333.33", "333.34"]);
        assert_eq!(dates(&s), ["2026-01-15", "2026-02-15", "2026-03-15"]);
    }

    #[test]
    fn yen_have_no_minor_unit_and_dinars_three() {
        let s = build(&terms(
            "JPY",
            "100000",
            Split::Count(3),
            Frequency::Monthly,
            "2026-01-01",
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(amounts(&s), ["33333", "33333", "33334"]);
        let s = build(&terms(
            "KWD",
            "100.000",
            Split::Count(3),
            Frequency::Monthly,
            "2026-01-01",
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(amounts(&s), ["33.333", "33.333", "33.334"]);
        let bad = build(&terms(
            "JPY",
            "100.5",
            Split::Count(3),
            Frequency::Monthly,
            "2026-01-01",
        ));
        assert!(bad.is_err_and(|e| e.iter().any(|f| f.code == "too_many_decimals")));
    }

    #[test]
    fn rounding_is_half_up() {
        // 100.00 / 8 = 12.5 cents short of even: 12.50 exactly; 10.00 / 8 = 1.25 → 1.25;
        // 0.05 / 2 = 0.025 → 0.03 (half up), last absorbs: 0.02.
        let s = build(&terms(
            "USD",
            "0.05",
            Split::Count(2),
            Frequency::Weekly,
            "2026-01-05",
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(amounts(&s), ["0.03", "0.02"]);
    }

    #[test]
    fn monthly_dates_clamp_to_month_end_and_come_back() {
        let s = build(&terms(
            "USD",
            "400.00",
            Split::Count(4),
            Frequency::Monthly,
            "2026-01-31",
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            dates(&s),
            ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]
        );
        let leap = build(&terms(
            "USD",
            "200.00",
            Split::Count(2),
            Frequency::Monthly,
            "2028-01-31",
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(dates(&leap), ["2028-01-31", "2028-02-29"]);
    }

    #[test]
    fn semimonthly_alternates_two_days_a_month() {
        let s = build(&terms(
            "USD",
            "400.00",
            Split::Count(4),
            Frequency::Semimonthly,
            "2026-01-20",
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            dates(&s),
            ["2026-01-20", "2026-02-05", "2026-02-20", "2026-03-05"]
        );
        let s = build(&terms(
            "USD",
            "300.00",
            Split::Count(3),
            Frequency::Semimonthly,
            "2026-01-15",
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(dates(&s), ["2026-01-15", "2026-01-30", "2026-02-15"]);
        let s = build(&terms(
            "USD",
            "300.00",
            Split::Count(3),
            Frequency::Semimonthly,
            "2026-01-31",
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(dates(&s), ["2026-01-31", "2026-02-16", "2026-02-28"]);
    }

    #[test]
    fn weekends_and_holidays_move_by_the_rule() {
        // 2026-01-03 is a Saturday; 2026-01-05 a Monday (declared a holiday below).
        let mut t = terms(
            "USD",
            "200.00",
            Split::Count(2),
            Frequency::Weekly,
            "2026-01-03",
        );
        t.business_day_rule = BusinessDayRule::Next;
        t.holidays = vec![date("2026-01-05")];
        let s = build(&t).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(dates(&s), ["2026-01-06", "2026-01-12"]);
        t.business_day_rule = BusinessDayRule::Previous;
        let s = build(&t).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(dates(&s), ["2026-01-02", "2026-01-09"]);
    }

    #[test]
    fn down_payment_fee_and_interest() {
        let mut t = terms(
            "USD",
            "1200.00",
            Split::Count(4),
            Frequency::Monthly,
            "2026-02-01",
        );
        t.start_date = date("2026-01-02");
        t.down_payment = dec("200.00");
        t.fee = dec("25.00");
        t.annual_interest_percent = dec("12");
        let s = build(&t).unwrap_or_else(|e| panic!("{e:?}"));
        // Interest: 1000.00 financed × 12% × 119 days (Jan 2 → May 1) / 365 = 39.1233 → 39.12.
        assert_eq!(s.interest.to_string(), "39.12");
        assert_eq!(s.total_payable.to_string(), "1264.12");
        assert_eq!(s.installments[0].amount.to_string(), "200.00");
        assert_eq!(s.installments[0].due_date, date("2026-01-02"));
        let sum: Decimal = s.installments.iter().map(|i| i.amount).sum();
        assert_eq!(sum, s.total_payable);
        // (1000.00 + 25.00 fee + 39.12 interest) / 4 = 266.03 each.
        assert_eq!(
            amounts(&s),
            ["200.00", "266.03", "266.03", "266.03", "266.03"]
        );
    }

    #[test]
    fn a_fixed_installment_amount_sets_the_count() {
        let s = build(&terms(
            "USD",
            "1000.00",
            Split::Amount(dec("300.00")),
            Frequency::Biweekly,
            "2026-01-05",
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(amounts(&s), ["300.00", "300.00", "300.00", "100.00"]);
        assert_eq!(
            dates(&s),
            ["2026-01-05", "2026-01-19", "2026-02-02", "2026-02-16"]
        );
    }

    #[test]
    fn impossible_terms_name_every_problem() {
        let mut t = terms(
            "USD",
            "0",
            Split::Count(0),
            Frequency::Monthly,
            "2026-01-01",
        );
        t.down_payment = dec("-1");
        t.fee = dec("-1");
        t.start_date = date("2026-02-01");
        let errors = build(&t).err().unwrap_or_default();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "total",
            "down_payment",
            "fee",
            "first_due_date",
            "installment_count",
        ] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
        let t = terms(
            "USD",
            "1000.00",
            Split::Amount(dec("1.00")),
            Frequency::Weekly,
            "2026-01-01",
        );
        assert!(build(&t).is_err_and(|e| e[0].code == "too_small"));
    }

    fn frequency() -> impl Strategy<Value = Frequency> {
        prop_oneof![
            Just(Frequency::Weekly),
            Just(Frequency::Biweekly),
            Just(Frequency::Semimonthly),
            Just(Frequency::Monthly)
        ]
    }

    proptest! {
        #[test]
        fn schedules_sum_exactly_and_run_forward(
            cents in 1_i64..100_000_000,
            count in 1_u32..=120,
            freq in frequency(),
            day in 0_u64..3650,
            down_share in 0_i64..90,
            currency in prop_oneof![Just("USD"), Just("JPY"), Just("KWD")],
            rule in prop_oneof![Just(BusinessDayRule::Keep), Just(BusinessDayRule::Next), Just(BusinessDayRule::Previous)],
        ) {
            let c = Currency::parse(currency).unwrap_or_else(|| unreachable!());
            let scale = c.minor_units();
            let total = Decimal::new(cents, scale);
            let down = round(total * Decimal::new(down_share, 2), c);
            let first = date("2020-01-01").checked_add_days(Days::new(day)).unwrap_or_default();
            let t = Terms {
                currency: c, total, down_payment: if down >= total { Decimal::ZERO } else { down },
                split: Split::Count(count), frequency: freq, start_date: first, first_due_date: first,
                fee: Decimal::ZERO, annual_interest_percent: Decimal::ZERO, business_day_rule: rule, holidays: Vec::new(),
            };
            let s = build(&t).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            let sum: Decimal = s.installments.iter().map(|i| i.amount).sum();
            prop_assert_eq!(sum, total, "sums exactly to the total");
            prop_assert!(s.installments.iter().all(|i| i.amount >= Decimal::ZERO), "none negative");
            prop_assert!(s.installments.iter().all(|i| i.amount.scale() == scale), "in minor units");
            prop_assert!(s.installments.windows(2).all(|w| w[0].due_date < w[1].due_date), "dates strictly increase");
            let regular: Vec<&ScheduledInstallment> = s.installments.iter().filter(|i| i.number > 0).collect();
            prop_assert_eq!(regular.len(), usize::try_from(count).unwrap_or(0));
            // Every installment but the last is the same rounded share; the last absorbs.
            if let Some((_, rest)) = regular.split_last()
                && let Some(first_one) = rest.first()
            {
                prop_assert!(rest.iter().all(|i| i.amount == first_one.amount));
            }
        }
    }
}
