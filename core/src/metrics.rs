//! Collection metrics, pure: the textbook accounts-receivable measures computed from
//! figures the caller has already gathered (balances, credit sales, paid invoices). No
//! database, no dates of "today"; the reports feed these functions.
//!
//! Definitions (the same text is published in the API spec, see [`definition`]):
//!
//! - **DSO** (days sales outstanding, simple method): ending AR ÷ credit sales in the
//!   period × days in the period.
//! - **Count-back DSO**: going back month by month from the newest, the days of each
//!   month whose credit sales the ending AR still covers in full, plus the covered
//!   fraction of the first month it does not.
//! - **Best possible DSO**: current (not yet due) AR ÷ credit sales × days.
//! - **Average days delinquent**: DSO − best possible DSO.
//! - **Collection effectiveness index**: (beginning AR + credit sales − ending total
//!   AR) ÷ (beginning AR + credit sales − ending current AR) × 100.
//! - **Average days to pay**, simple and amount-weighted: days from invoice date to
//!   paid date over paid invoices.
//! - **Average days late**: days from due date to paid date over paid invoices, an
//!   invoice paid on or before its due date counting as 0.
//! - **Percent paid late**: paid invoices paid after their due date ÷ paid invoices ×
//!   100.
//! - **Bad-debt ratio**: write-offs net of recoveries ÷ credit sales × 100.
//!
//! Results are exact decimals, not rounded: a quotient carries up to 28 significant
//! digits (1 ÷ 3 = 0.3333…). Rounding for display belongs to the caller. Where a
//! division is undefined (zero credit sales, no invoices) the result is `None`, never
//! zero; `None` also covers the (unrealistic) overflow of `Decimal`. Every figure must
//! be in one currency: nothing here converts.

use chrono::NaiveDate;
use rust_decimal::Decimal;

text_enum! {
    /// A collection metric, named as in the API.
    pub enum Metric {
        Dso = "dso",
        DsoCountBack = "dso_count_back",
        BestPossibleDso = "best_possible_dso",
        AverageDaysDelinquent = "average_days_delinquent",
        CollectionEffectivenessIndex = "collection_effectiveness_index",
        AverageDaysToPay = "average_days_to_pay",
        AverageDaysToPayWeighted = "average_days_to_pay_weighted",
        AverageDaysLate = "average_days_late",
        PercentPaidLate = "percent_paid_late",
        BadDebtRatio = "bad_debt_ratio",
    }
}

/// The published definition of a metric: one or two plain sentences with the formula,
/// for the API spec and report footers.
pub fn definition(metric: Metric) -> &'static str {
    match metric {
        Metric::Dso => {
            "Days sales outstanding (simple method): ending accounts receivable ÷ credit \
             sales in the period × days in the period. Undefined when credit sales are zero."
        }
        Metric::DsoCountBack => {
            "Days sales outstanding (count-back method): starting from the newest month, \
             subtract each month's credit sales from ending accounts receivable and add that \
             month's days while the receivable covers the month's sales in full; for the \
             first month it does not cover, add the remaining receivable ÷ that month's \
             credit sales × that month's days. A month with credit sales below zero counts \
             as zero. If the months given run out before the receivable does, the result is \
             the days of all months given, a lower bound."
        }
        Metric::BestPossibleDso => {
            "Best possible DSO: current (not yet due) accounts receivable ÷ credit sales in \
             the period × days in the period. Undefined when credit sales are zero."
        }
        Metric::AverageDaysDelinquent => {
            "Average days delinquent: DSO − best possible DSO, both over the same period \
             and credit sales."
        }
        Metric::CollectionEffectivenessIndex => {
            "Collection effectiveness index, in percent: (beginning receivables + credit \
             sales − ending total receivables) ÷ (beginning receivables + credit sales − \
             ending current receivables) × 100, where current means not yet due. Undefined \
             when the denominator is zero."
        }
        Metric::AverageDaysToPay => {
            "Average days to pay: the mean, over paid invoices, of the days from invoice \
             date to paid date."
        }
        Metric::AverageDaysToPayWeighted => {
            "Amount-weighted average days to pay: Σ(amount × days from invoice date to paid \
             date) ÷ Σ amount, over paid invoices with an amount above zero."
        }
        Metric::AverageDaysLate => {
            "Average days late: the mean, over paid invoices, of the days from due date to \
             paid date, an invoice paid on or before its due date counting as 0."
        }
        Metric::PercentPaidLate => {
            "Percent paid late: paid invoices paid after their due date ÷ paid invoices × \
             100."
        }
        Metric::BadDebtRatio => {
            "Bad-debt ratio, in percent: write-offs net of recoveries in the period ÷ credit \
             sales in the period × 100. Undefined when credit sales are zero."
        }
    }
}

/// `amount × days ÷ sales`, multiplying first so that whole results stay whole
/// (`1 × 90 ÷ 3` is 30, where `1 ÷ 3 × 90` would be 29.99…).
fn days_of_sales(amount: Decimal, sales: Decimal, days: u32) -> Option<Decimal> {
    amount.checked_mul(Decimal::from(days))?.checked_div(sales)
}

/// Days sales outstanding, simple method: `ending_ar ÷ credit_sales × days`, where
/// `credit_sales` are the credit sales over the `days` of the period that ends on the
/// AR date. `None` when credit sales are zero.
pub fn dso_simple(ending_ar: Decimal, credit_sales: Decimal, days: u32) -> Option<Decimal> {
    days_of_sales(ending_ar, credit_sales, days)
}

/// One month (or any period) of credit sales, for the count-back method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// Days in the period (28 to 31 for a calendar month).
    pub days: u32,
    /// Credit sales in the period, net of credit memos.
    pub credit_sales: Decimal,
}

/// Days sales outstanding, count-back (exhaustion) method. `periods` are newest first,
/// the newest being the one that ends on the AR date.
///
/// Starting with `remaining = ending_ar`, for each period: while `remaining ≥ sales`,
/// add the period's days and subtract its sales; at the first period whose sales exceed
/// what remains, add `remaining ÷ sales × days` and stop. A period with sales below zero
/// counts as zero sales (its days count in full). Zero or negative AR gives 0.
///
/// If the periods run out before the AR does, the result is the days of all periods
/// given: a lower bound of the true figure, since older sales were not supplied.
pub fn dso_count_back(ending_ar: Decimal, periods: &[Period]) -> Decimal {
    let mut remaining = ending_ar;
    let mut days = Decimal::ZERO;
    for period in periods {
        if remaining <= Decimal::ZERO {
            break;
        }
        let sales = period.credit_sales.max(Decimal::ZERO);
        if remaining >= sales {
            remaining -= sales;
            days += Decimal::from(period.days);
        } else {
            // 0 < remaining < sales, so the division is defined and the fraction < 1.
            let fraction = days_of_sales(remaining, sales, period.days)
                .or_else(|| {
                    remaining
                        .checked_div(sales)?
                        .checked_mul(Decimal::from(period.days))
                })
                .unwrap_or_default();
            days += fraction;
            break;
        }
    }
    days
}

/// Best possible DSO: `current_ar ÷ credit_sales × days`, where `current_ar` is the part
/// of ending AR not yet due. The DSO the receivables would have if every invoice were
/// paid on its due date. `None` when credit sales are zero.
pub fn best_possible_dso(current_ar: Decimal, credit_sales: Decimal, days: u32) -> Option<Decimal> {
    days_of_sales(current_ar, credit_sales, days)
}

/// Average days delinquent: `dso − bpdso`, the days by which customers on average pay
/// later than their terms. Both must be over the same period and credit sales.
pub fn average_days_delinquent(dso: Decimal, bpdso: Decimal) -> Decimal {
    dso - bpdso
}

/// Collection effectiveness index, in percent:
/// `(beginning_ar + credit_sales − ending_total_ar) ÷ (beginning_ar + credit_sales −
/// ending_current_ar) × 100`: what was collected out of what was collectible (all but
/// what is not yet due at the end). 100 is perfect. `None` when the denominator is
/// zero.
pub fn collection_effectiveness_index(
    beginning_ar: Decimal,
    credit_sales: Decimal,
    ending_total_ar: Decimal,
    ending_current_ar: Decimal,
) -> Option<Decimal> {
    let available = beginning_ar.checked_add(credit_sales)?;
    let collected = available.checked_sub(ending_total_ar)?;
    let collectible = available.checked_sub(ending_current_ar)?;
    collected
        .checked_mul(Decimal::ONE_HUNDRED)?
        .checked_div(collectible)
}

/// An invoice paid in full, for the payment-behaviour metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaidInvoice {
    pub invoice_date: NaiveDate,
    pub due_date: NaiveDate,
    /// The date of the payment that closed it.
    pub paid_date: NaiveDate,
    pub amount: Decimal,
}

impl PaidInvoice {
    /// `paid_date − invoice_date` in days (negative if paid before it was issued).
    pub fn days_to_pay(&self) -> i64 {
        (self.paid_date - self.invoice_date).num_days()
    }

    /// `max(0, paid_date − due_date)` in days.
    pub fn days_late(&self) -> i64 {
        (self.paid_date - self.due_date).num_days().max(0)
    }
}

fn mean(values: impl Iterator<Item = i64>) -> Option<Decimal> {
    let mut sum = Decimal::ZERO;
    let mut count = Decimal::ZERO;
    for value in values {
        sum = sum.checked_add(Decimal::from(value))?;
        count += Decimal::ONE;
    }
    sum.checked_div(count)
}

/// Average days to pay: `Σ (paid_date − invoice_date) ÷ n` over the paid invoices.
/// `None` when there are none.
pub fn average_days_to_pay(invoices: &[PaidInvoice]) -> Option<Decimal> {
    mean(invoices.iter().map(PaidInvoice::days_to_pay))
}

/// Amount-weighted average days to pay: `Σ (amount × (paid_date − invoice_date)) ÷
/// Σ amount`, over the invoices with an amount above zero (a weight below zero would
/// make it no average). `None` when there are none.
pub fn average_days_to_pay_weighted(invoices: &[PaidInvoice]) -> Option<Decimal> {
    let mut weighted = Decimal::ZERO;
    let mut total = Decimal::ZERO;
    for invoice in invoices.iter().filter(|i| i.amount > Decimal::ZERO) {
        let days = Decimal::from(invoice.days_to_pay());
        weighted = weighted.checked_add(invoice.amount.checked_mul(days)?)?;
        total = total.checked_add(invoice.amount)?;
    }
    weighted.checked_div(total)
}

/// Average days late: `Σ max(0, paid_date − due_date) ÷ n` over all the paid invoices,
/// those paid on time counting as 0 days. `None` when there are none.
pub fn average_days_late(invoices: &[PaidInvoice]) -> Option<Decimal> {
    mean(invoices.iter().map(PaidInvoice::days_late))
}

/// Percent paid late: `(invoices with paid_date > due_date) ÷ n × 100`. `None` when
/// there are none.
pub fn percent_paid_late(invoices: &[PaidInvoice]) -> Option<Decimal> {
    mean(
        invoices
            .iter()
            .map(|i| if i.days_late() > 0 { 100 } else { 0 }),
    )
}

/// Bad-debt ratio, in percent: `write_offs_net_of_recoveries ÷ credit_sales × 100`,
/// both over the same period. `None` when credit sales are zero.
pub fn bad_debt_ratio(
    write_offs_net_of_recoveries: Decimal,
    credit_sales: Decimal,
) -> Option<Decimal> {
    write_offs_net_of_recoveries
        .checked_mul(Decimal::ONE_HUNDRED)?
        .checked_div(credit_sales)
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

    fn month(days: u32, credit_sales: i64) -> Period {
        Period {
            days,
            credit_sales: Decimal::from(credit_sales),
        }
    }

    fn paid(invoice: &str, due: &str, paid: &str, amount: i64) -> PaidInvoice {
        PaidInvoice {
            invoice_date: date(invoice),
            due_date: date(due),
            paid_date: date(paid),
            amount: Decimal::from(amount),
        }
    }

    #[test]
    fn every_metric_has_a_definition() {
        for metric in Metric::ALL {
            assert!(definition(*metric).len() > 40, "{metric}");
            assert_eq!(Metric::from_str(metric.as_str()).ok(), Some(*metric));
        }
    }

    #[test]
    fn simple_dso_best_possible_and_delinquent() {
        // AR 70,000 at the end of a 90-day quarter with credit sales of 100,000:
        // DSO = 70,000 ÷ 100,000 × 90 = 63 days.
        let dso = dso_simple(dec("70000"), dec("100000"), 90);
        assert_eq!(dso, Some(dec("63")));
        // Of that AR, 40,000 is not yet due: BPDSO = 40,000 ÷ 100,000 × 90 = 36 days,
        // so ADD = 63 − 36 = 27 days.
        let bpdso = best_possible_dso(dec("40000"), dec("100000"), 90);
        assert_eq!(bpdso, Some(dec("36")));
        assert_eq!(
            average_days_delinquent(dso.unwrap_or_default(), bpdso.unwrap_or_default()),
            dec("27")
        );
        // AR 1,000 on sales of 3,000 over 90 days: 1,000 × 90 ÷ 3,000 = 30 exactly,
        // not 0.333… × 90 = 29.99….
        assert_eq!(dso_simple(dec("1000"), dec("3000"), 90), Some(dec("30")));
        // No sales, no DSO.
        assert_eq!(dso_simple(dec("70000"), Decimal::ZERO, 90), None);
        assert_eq!(best_possible_dso(dec("40000"), Decimal::ZERO, 90), None);
    }

    #[test]
    fn count_back_dso_exhausts_the_receivable_month_by_month() {
        // AR 120,000; newest first: Dec (31 days) 50,000, Nov (30) 40,000, Oct (31) 60,000.
        // Dec is covered (70,000 left, 31 days), Nov too (30,000 left, 61 days); Oct is
        // not: 30,000 ÷ 60,000 × 31 = 15.5, so DSO = 31 + 30 + 15.5 = 76.5 days.
        let months = [month(31, 50_000), month(30, 40_000), month(31, 60_000)];
        assert_eq!(dso_count_back(dec("120000"), &months), dec("76.5"));
        // AR exactly Dec's sales: Dec in full, nothing of Nov.
        assert_eq!(dso_count_back(dec("50000"), &months), dec("31"));
        // AR 20,000, less than Dec's sales: 20,000 ÷ 50,000 × 31 = 12.4.
        assert_eq!(dso_count_back(dec("20000"), &months), dec("12.4"));
        // AR 200,000 outlasts the 150,000 of sales given: all 92 days, a lower bound.
        assert_eq!(dso_count_back(dec("200000"), &months), dec("92"));
        // No AR, no days; nor with no months.
        assert_eq!(dso_count_back(Decimal::ZERO, &months), Decimal::ZERO);
        assert_eq!(dso_count_back(dec("-500"), &months), Decimal::ZERO);
        assert_eq!(dso_count_back(dec("120000"), &[]), Decimal::ZERO);
        // A month of net credits (−10,000) counts as no sales: its 30 days in full,
        // then 20,000 of Oct's 60,000: 31 + 30 + 20,000 ÷ 60,000 × 31 = 71.333….
        let credits = [month(31, 50_000), month(30, -10_000), month(31, 60_000)];
        assert_eq!(
            dso_count_back(dec("70000"), &credits).round_dp(6),
            dec("71.333333")
        );
    }

    #[test]
    fn collection_effectiveness_index_worked_example() {
        // Beginning AR 200,000, credit sales 300,000, ending total AR 250,000 of which
        // 180,000 is current: (500,000 − 250,000) ÷ (500,000 − 180,000) × 100
        // = 250,000 ÷ 320,000 × 100 = 78.125 percent.
        assert_eq!(
            collection_effectiveness_index(
                dec("200000"),
                dec("300000"),
                dec("250000"),
                dec("180000")
            ),
            Some(dec("78.125"))
        );
        // Nothing past due at the end: everything collectible was collected, 100.
        assert_eq!(
            collection_effectiveness_index(
                dec("200000"),
                dec("300000"),
                dec("250000"),
                dec("250000")
            ),
            Some(dec("100"))
        );
        // Everything ending current and nothing else to collect: undefined.
        assert_eq!(
            collection_effectiveness_index(
                dec("100000"),
                dec("50000"),
                dec("150000"),
                dec("150000")
            ),
            None
        );
    }

    #[test]
    fn days_to_pay_and_days_late_over_three_invoices() {
        // A: issued Jan 1, due Jan 31, paid Jan 21, 1,000: 20 days to pay, 0 late.
        // B: issued Jan 10, due Feb 9, paid Feb 19, 3,000: 40 days to pay, 10 late.
        // C: issued Feb 1, due Mar 3, paid Mar 18 (2026: February has 28 days), 6,000:
        //    45 days to pay, 15 late.
        let invoices = [
            paid("2026-01-01", "2026-01-31", "2026-01-21", 1_000),
            paid("2026-01-10", "2026-02-09", "2026-02-19", 3_000),
            paid("2026-02-01", "2026-03-03", "2026-03-18", 6_000),
        ];
        let days: Vec<_> = invoices
            .iter()
            .map(|i| (i.days_to_pay(), i.days_late()))
            .collect();
        assert_eq!(days, [(20, 0), (40, 10), (45, 15)]);
        // ADP = (20 + 40 + 45) ÷ 3 = 105 ÷ 3 = 35.
        assert_eq!(average_days_to_pay(&invoices), Some(dec("35")));
        // Weighted = (1,000×20 + 3,000×40 + 6,000×45) ÷ 10,000
        //          = (20,000 + 120,000 + 270,000) ÷ 10,000 = 41.
        assert_eq!(average_days_to_pay_weighted(&invoices), Some(dec("41")));
        // ADL = (0 + 10 + 15) ÷ 3 = 8.333…, unrounded to 28 significant digits.
        assert_eq!(
            average_days_late(&invoices),
            Some(dec("8.3333333333333333333333333333"))
        );
        // Paid late: B and C, 2 of 3 = 66.666…%.
        assert_eq!(
            percent_paid_late(&invoices).map(|p| p.round_dp(4)),
            Some(dec("66.6667"))
        );
        // Paid on the due date is not late.
        let on_the_day = [paid("2026-01-01", "2026-01-31", "2026-01-31", 100)];
        assert_eq!(average_days_late(&on_the_day), Some(Decimal::ZERO));
        assert_eq!(percent_paid_late(&on_the_day), Some(Decimal::ZERO));
    }

    #[test]
    fn no_invoices_no_averages() {
        assert_eq!(average_days_to_pay(&[]), None);
        assert_eq!(average_days_to_pay_weighted(&[]), None);
        assert_eq!(average_days_late(&[]), None);
        assert_eq!(percent_paid_late(&[]), None);
        // Only zero amounts: nothing to weigh by, though the simple mean exists.
        let free = [paid("2026-01-01", "2026-01-31", "2026-01-11", 0)];
        assert_eq!(average_days_to_pay_weighted(&free), None);
        assert_eq!(average_days_to_pay(&free), Some(dec("10")));
    }

    #[test]
    fn bad_debt_ratio_worked_example() {
        // Write-offs 5,000 less recoveries 1,000 = 4,000 on credit sales of 400,000:
        // 4,000 ÷ 400,000 × 100 = 1 percent.
        assert_eq!(bad_debt_ratio(dec("4000"), dec("400000")), Some(dec("1")));
        // Recoveries above write-offs give a negative ratio, kept as is.
        assert_eq!(
            bad_debt_ratio(dec("-800"), dec("400000")),
            Some(dec("-0.2"))
        );
        assert_eq!(bad_debt_ratio(dec("4000"), Decimal::ZERO), None);
    }

    fn money() -> impl Strategy<Value = Decimal> {
        (0_i64..100_000_000_000).prop_map(|cents| Decimal::new(cents, 2))
    }

    fn invoices() -> impl Strategy<Value = Vec<PaidInvoice>> {
        proptest::collection::vec((0_i64..60, 0_i64..200, 1_i64..10_000_000), 1..40).prop_map(
            |raw| {
                let issued = date("2026-01-01");
                raw.into_iter()
                    .map(|(terms, days, cents)| PaidInvoice {
                        invoice_date: issued,
                        due_date: issued + chrono::Duration::days(terms),
                        paid_date: issued + chrono::Duration::days(days),
                        amount: Decimal::new(cents, 2),
                    })
                    .collect()
            },
        )
    }

    proptest! {
        #[test]
        fn days_delinquent_are_never_negative(
            ending_ar in money(),
            share in 0_u32..=100,
            sales in money().prop_filter("sales", |s| !s.is_zero()),
            days in 1_u32..=366,
        ) {
            // Current AR is a part of ending AR.
            let current_ar = ending_ar * Decimal::from(share) / Decimal::ONE_HUNDRED;
            let dso = dso_simple(ending_ar, sales, days).unwrap_or_default();
            let bpdso = best_possible_dso(current_ar, sales, days).unwrap_or_default();
            prop_assert!(average_days_delinquent(dso, bpdso) >= Decimal::ZERO);
        }

        #[test]
        fn cei_is_at_most_100_when_current_is_part_of_total(
            beginning in money(),
            sales in money(),
            ending_total in money(),
            share in 0_u32..=100,
        ) {
            let ending_current = ending_total * Decimal::from(share) / Decimal::ONE_HUNDRED;
            // Numerator = denominator − past-due ending AR ≤ denominator.
            if let Some(cei) = collection_effectiveness_index(beginning, sales, ending_total, ending_current) {
                if beginning + sales > ending_current {
                    prop_assert!(cei <= Decimal::ONE_HUNDRED, "{}", cei);
                }
                if ending_current == ending_total {
                    prop_assert_eq!(cei, Decimal::ONE_HUNDRED);
                }
            }
        }

        #[test]
        fn count_back_with_level_sales_is_the_simple_dso(
            sales in money().prop_filter("sales", |s| !s.is_zero()),
            months in 1_usize..13,
            share in 0_u32..=1000,
            days in 28_u32..=31,
        ) {
            // Equal months of equal sales: every full month is days of sales, and so is
            // the fraction, so count-back = AR ÷ sales × days whenever AR ≤ all sales.
            let periods = vec![Period { days, credit_sales: sales }; months];
            let total_sales = sales * Decimal::from(months);
            let ar = total_sales * Decimal::from(share) / Decimal::from(1000);
            let count_back = dso_count_back(ar, &periods);
            let simple = dso_simple(ar, sales, days).unwrap_or_default();
            prop_assert!((count_back - simple).abs() < dec("0.000000000001"), "{} {}", count_back, simple);
            let all_days = Decimal::from(days) * Decimal::from(months);
            prop_assert!(count_back <= all_days);
        }

        #[test]
        fn count_back_grows_with_the_receivable(
            raw in proptest::collection::vec((28_u32..=31, -1_000_000_i64..100_000_000), 0..13),
            a in money(),
            b in money(),
        ) {
            let periods: Vec<Period> = raw.into_iter()
                .map(|(days, cents)| Period { days, credit_sales: Decimal::new(cents, 2) })
                .collect();
            let (low, high) = (a.min(b), a.max(b));
            let all_days: Decimal = periods.iter().map(|p| Decimal::from(p.days)).sum();
            let (at_low, at_high) = (dso_count_back(low, &periods), dso_count_back(high, &periods));
            prop_assert!(Decimal::ZERO <= at_low && at_low <= at_high && at_high <= all_days);
        }

        #[test]
        fn payment_averages_stay_within_the_invoices(invoices in invoices()) {
            let to_pay: Vec<i64> = invoices.iter().map(PaidInvoice::days_to_pay).collect();
            let late: Vec<i64> = invoices.iter().map(PaidInvoice::days_late).collect();
            let (min_pay, max_pay) = (
                Decimal::from(to_pay.iter().copied().min().unwrap_or_default()),
                Decimal::from(to_pay.iter().copied().max().unwrap_or_default()),
            );
            let max_late = Decimal::from(late.iter().copied().max().unwrap_or_default());
            let weighted = average_days_to_pay_weighted(&invoices).unwrap_or_default();
            prop_assert!((min_pay..=max_pay).contains(&weighted), "{}", weighted);
            let simple = average_days_to_pay(&invoices).unwrap_or_default();
            prop_assert!((min_pay..=max_pay).contains(&simple), "{}", simple);
            let adl = average_days_late(&invoices).unwrap_or(dec("-1"));
            prop_assert!((Decimal::ZERO..=max_late).contains(&adl), "{}", adl);
            let share = percent_paid_late(&invoices).unwrap_or(dec("-1"));
            prop_assert!((Decimal::ZERO..=Decimal::ONE_HUNDRED).contains(&share), "{}", share);
            // Nobody late exactly when the average lateness is zero.
            prop_assert_eq!(adl.is_zero(), share.is_zero());
        }
    }
}
