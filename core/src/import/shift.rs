//! Moving IBM's sample to the present. The sample is a ledger of 2012–2013 in which
//! every invoice is settled; a demo wants the same customers and payment habits as if
//! the file had been exported a few days ago. [`DateShift`] moves every date of a row by
//! one whole number of days, so each row keeps its terms (due − issue) and the days it
//! took to settle (settled − issue), and a settlement that the shift puts after today
//! has not happened yet: the row loses it and its invoice stays open.
//!
//! The dates moved are those the import reads: `InvoiceDate`, `DueDate` and
//! `SettledDate`. `PaperlessDate` (when the customer went paperless) is not imported,
//! so there is nothing of it to move; `DaysToSettle` and `DaysLate` are differences,
//! which a shift keeps, and are dropped with the settlement they describe.
//!
//! Pure: no database, no clock (today is given).

use chrono::{Days, NaiveDate};

use super::rows::{IbmRow, Row, RowError};

/// A shift of every date of IBM rows by `days`, as of `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateShift {
    days: i64,
    today: NaiveDate,
}

impl DateShift {
    /// A shift of `days` (negative moves dates back), judged as of `today`.
    pub fn by(days: i64, today: NaiveDate) -> Self {
        Self { days, today }
    }

    /// The shift that puts the file's last invoice date `lead_days` before `today`.
    pub fn landing(last_invoice_date: NaiveDate, today: NaiveDate, lead_days: u32) -> Self {
        let target = today
            .checked_sub_days(Days::new(u64::from(lead_days)))
            .unwrap_or(NaiveDate::MIN);
        Self::by((target - last_invoice_date).num_days(), today)
    }

    /// Days every date moves (negative: into the past).
    pub fn days(&self) -> i64 {
        self.days
    }

    /// The day a settlement must not fall after.
    pub fn today(&self) -> NaiveDate {
        self.today
    }

    fn moved(&self, line: u64, column: &str, date: NaiveDate) -> Result<NaiveDate, RowError> {
        let moved = if self.days >= 0 {
            date.checked_add_days(Days::new(self.days.unsigned_abs()))
        } else {
            date.checked_sub_days(Days::new(self.days.unsigned_abs()))
        };
        moved.ok_or_else(|| {
            RowError::new(
                line,
                Some(column),
                "date_out_of_range",
                format!("{date} moved by {} days is not a date", self.days),
            )
        })
    }

    /// The row with its dates moved. A settlement after today is dropped (with its
    /// `DaysToSettle` and `DaysLate`): the invoice is open. A date the shift would carry
    /// out of the calendar is a row error, as a malformed date is.
    pub fn apply(&self, row: IbmRow) -> Result<IbmRow, Vec<RowError>> {
        let line = row.line;
        let invoice_date = self.moved(line, "InvoiceDate", row.invoice_date);
        let due_date = self.moved(line, "DueDate", row.due_date);
        let settled_date = row
            .settled_date
            .map(|d| self.moved(line, "SettledDate", d))
            .transpose();
        match (invoice_date, due_date, settled_date) {
            (Ok(invoice_date), Ok(due_date), Ok(settled_date)) => {
                let settled_date = settled_date.filter(|d| *d <= self.today);
                let settled = settled_date.is_some();
                Ok(IbmRow {
                    invoice_date,
                    due_date,
                    settled_date,
                    days_to_settle: row.days_to_settle.filter(|_| settled),
                    days_late: row.days_late.filter(|_| settled),
                    ..row
                })
            }
            (a, b, c) => Err([a.err(), b.err(), c.err()].into_iter().flatten().collect()),
        }
    }

    /// A checked row with the shift applied; rows of other kinds pass unchanged.
    pub fn row(&self, row: Row) -> Result<Row, Vec<RowError>> {
        match row {
            Row::Ibm(r) => self.apply(r).map(Row::Ibm),
            other => Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
    }

    fn after(d: NaiveDate, n: u64) -> NaiveDate {
        d.checked_add_days(Days::new(n)).unwrap_or(NaiveDate::MAX)
    }

    fn row(line: u64, issued: NaiveDate, due_in: u64, settled_in: Option<u64>) -> IbmRow {
        IbmRow {
            line,
            customer_id: "0379-NEVHP".into(),
            invoice_number: format!("{line:010}"),
            invoice_date: issued,
            due_date: after(issued, due_in),
            amount: Decimal::new(5594, 2),
            disputed: false,
            settled_date: settled_in.map(|n| after(issued, n)),
            days_to_settle: settled_in.and_then(|n| i64::try_from(n).ok()),
            days_late: settled_in.and_then(|n| i64::try_from(n.saturating_sub(due_in)).ok()),
        }
    }

    #[test]
    fn the_samples_last_invoice_lands_three_days_before_today() {
        // The shipped file's last InvoiceDate is 2013-12-02.
        let today = day(2026, 3, 2);
        let shift = DateShift::landing(day(2013, 12, 2), today, 3);
        assert_eq!(
            shift.days(),
            (day(2026, 2, 27) - day(2013, 12, 2)).num_days()
        );
        // 0000611365: issued 1/2/2013, due 2/1/2013, settled 1/15/2013.
        let first = row(2, day(2013, 1, 2), 30, Some(13));
        let moved = shift
            .apply(first.clone())
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            moved.due_date - moved.invoice_date,
            first.due_date - first.invoice_date
        );
        assert_eq!(
            moved
                .settled_date
                .map(|s| s - moved.invoice_date)
                .map(|d| d.num_days()),
            Some(13)
        );
        assert_eq!(moved.days_to_settle, Some(13));
        assert!(moved.settled_date.is_some_and(|s| s <= today));
    }

    #[test]
    fn a_settlement_after_today_is_dropped_and_one_today_is_kept() {
        let today = day(2026, 3, 2);
        let shift = DateShift::landing(day(2013, 12, 2), today, 3);
        // Issued on the last day, settled 4 days later: after today, so still open.
        let open = shift
            .apply(row(7, day(2013, 12, 2), 30, Some(4)))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(open.invoice_date, day(2026, 2, 27));
        assert_eq!(open.due_date, day(2026, 3, 29));
        assert_eq!(
            (open.settled_date, open.days_to_settle, open.days_late),
            (None, None, None)
        );
        // Settled 3 days later: today, so paid.
        let paid = shift
            .apply(row(8, day(2013, 12, 2), 30, Some(3)))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(paid.settled_date, Some(today));
    }

    #[test]
    fn a_date_carried_out_of_the_calendar_is_a_row_error() {
        let shift = DateShift::by(i64::MAX / 2, day(2026, 3, 2));
        let errors = shift
            .apply(row(9, day(2013, 1, 2), 30, Some(13)))
            .err()
            .unwrap_or_default();
        let columns: Vec<_> = errors.iter().filter_map(|e| e.column.clone()).collect();
        assert_eq!(columns, ["InvoiceDate", "DueDate", "SettledDate"]);
        assert!(
            errors
                .iter()
                .all(|e| e.code == "date_out_of_range" && e.line == 9)
        );
    }

    #[test]
    fn rows_of_other_kinds_pass_unchanged() {
        let shift = DateShift::by(10, day(2026, 3, 2));
        let customer = Row::Customer(super::super::rows::CustomerRow {
            line: 2,
            external_id: "C-1".into(),
            name: "Acme".into(),
            currency: "USD".into(),
            kind: None,
            timezone: None,
            payment_terms_days: None,
            credit_limit: None,
            risk_rating: None,
            do_not_contact: None,
            cease_communication: None,
            attorney_represented: None,
            bankrupt: None,
            deceased: None,
        });
        assert_eq!(shift.row(customer.clone()), Ok(customer));
    }

    /// Rows of a file: issued within ~40 years, due within 120 days, settled (or not)
    /// within 200 days of issue.
    fn rows() -> impl Strategy<Value = Vec<IbmRow>> {
        proptest::collection::vec(
            (0u64..15_000, 0u64..120, proptest::option::of(0u64..200)),
            1..40,
        )
        .prop_map(|specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(i, (issued, due_in, settled_in))| {
                    let line = u64::try_from(i).unwrap_or(0) + 2;
                    row(line, after(day(1990, 1, 1), issued), due_in, settled_in)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn a_shift_keeps_terms_and_settling_time_and_drops_only_future_settlements(
            file in rows(),
            today_offset in 0u64..20_000,
            lead in 0u32..30,
        ) {
            let today = after(day(1995, 1, 1), today_offset);
            let last = file.iter().map(|r| r.invoice_date).max().unwrap_or(today);
            let shift = DateShift::landing(last, today, lead);
            let target = today.checked_sub_days(Days::new(u64::from(lead))).unwrap_or(today);
            let mut latest = NaiveDate::MIN;
            for r in &file {
                let m = shift.apply(r.clone()).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                // Every date moves by the same whole number of days.
                prop_assert_eq!((m.invoice_date - r.invoice_date).num_days(), shift.days());
                prop_assert_eq!((m.due_date - r.due_date).num_days(), shift.days());
                // Terms are kept.
                prop_assert_eq!(m.due_date - m.invoice_date, r.due_date - r.invoice_date);
                match (r.settled_date, m.settled_date) {
                    (Some(s), Some(ms)) => {
                        // Settling time is kept, and a kept settlement is not in the future.
                        prop_assert_eq!(ms - m.invoice_date, s - r.invoice_date);
                        prop_assert!(ms <= today);
                        prop_assert_eq!(m.days_to_settle, r.days_to_settle);
                        prop_assert_eq!(m.days_late, r.days_late);
                    }
                    (Some(s), None) => {
                        // Dropped only because it would fall after today.
                        prop_assert!(m.invoice_date + (s - r.invoice_date) > today);
                        prop_assert_eq!((m.days_to_settle, m.days_late), (None, None));
                    }
                    (None, Some(_)) => prop_assert!(false, "a settlement appeared"),
                    (None, None) => {}
                }
                // Nothing else about the row changes.
                prop_assert_eq!(
                    (m.line, &m.customer_id, &m.invoice_number, m.amount, m.disputed),
                    (r.line, &r.customer_id, &r.invoice_number, r.amount, r.disputed)
                );
                latest = latest.max(m.invoice_date);
            }
            // The last invoice lands on today − lead, and none after it.
            prop_assert_eq!(latest, target);
        }
    }
}
