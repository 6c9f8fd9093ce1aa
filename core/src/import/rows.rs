//! Checking one record against a layout: the header tells which column holds which
//! field, then each row becomes a typed row of its kind or a list of row errors, each
//! with its line, its column (the file's own header) and a stable code.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::layout::{ImportKind, Layout, Source};
use super::reader::Record;
use crate::customer::{CustomerKind, RiskRating};
use crate::payment::PaymentMethod;

/// A rejected row (or header, line 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowError {
    pub line: u64,
    /// The column at fault, as the file names it, when one is.
    pub column: Option<String>,
    /// Stable machine code (`invalid_date`, `invalid_amount`, `unknown_customer`, …).
    pub code: String,
    pub message: String,
}

impl RowError {
    pub fn new(line: u64, column: Option<&str>, code: &str, message: impl Into<String>) -> Self {
        Self {
            line,
            column: column.map(str::to_owned),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// A row of IBM's sample, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IbmRow {
    pub line: u64,
    pub customer_id: String,
    pub invoice_number: String,
    pub invoice_date: NaiveDate,
    pub due_date: NaiveDate,
    pub amount: Decimal,
    pub disputed: bool,
    pub settled_date: Option<NaiveDate>,
    pub days_to_settle: Option<i64>,
    pub days_late: Option<i64>,
}

/// A customers row; `None` leaves an existing customer's value as it is (a new one
/// gets the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRow {
    pub line: u64,
    pub external_id: String,
    pub name: String,
    pub currency: String,
    pub kind: Option<CustomerKind>,
    pub timezone: Option<String>,
    pub payment_terms_days: Option<i32>,
    pub credit_limit: Option<Decimal>,
    pub risk_rating: Option<RiskRating>,
    pub do_not_contact: Option<bool>,
    pub cease_communication: Option<bool>,
    pub attorney_represented: Option<bool>,
    pub bankrupt: Option<bool>,
    pub deceased: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRow {
    pub line: u64,
    pub external_id: String,
    /// Absent: an existing invoice keeps its number, a new one is numbered by its
    /// external id.
    pub number: Option<String>,
    pub customer_external_id: String,
    pub issue_date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    pub amount: Decimal,
    pub currency: Option<String>,
    pub po_number: Option<String>,
    pub project: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRow {
    pub line: u64,
    pub external_id: String,
    pub customer_external_id: String,
    pub received_on: NaiveDate,
    pub amount: Decimal,
    pub method: PaymentMethod,
    pub currency: Option<String>,
    pub reference: Option<String>,
    pub invoice_external_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    Customer(CustomerRow),
    Invoice(InvoiceRow),
    Payment(PaymentRow),
    Ibm(IbmRow),
}

impl Row {
    pub fn line(&self) -> u64 {
        match self {
            Row::Customer(r) => r.line,
            Row::Invoice(r) => r.line,
            Row::Payment(r) => r.line,
            Row::Ibm(r) => r.line,
        }
    }
}

/// A layout bound to a file's header: the column index of each field.
#[derive(Debug, Clone)]
pub struct Checker {
    layout: Layout,
    /// Field → (column index, column header) or a constant.
    fields: HashMap<&'static str, Bound>,
    width: usize,
}

#[derive(Debug, Clone)]
enum Bound {
    Column(usize, String),
    Constant(String),
}

impl Checker {
    /// Binds the layout to the header record (line 1); a header that is not text or
    /// lacks a column is one error, and nothing after it can be read.
    pub fn new(layout: Layout, header: &Record) -> Result<Self, Vec<RowError>> {
        let names = header.strings().map_err(|i| {
            vec![RowError::new(
                1,
                None,
                "not_utf8",
                format!("the header's column {} is not UTF-8 text", i + 1),
            )]
        })?;
        // A byte-order mark is not part of the first header.
        let names: Vec<String> = names
            .into_iter()
            .map(|n| n.trim_start_matches('\u{feff}').to_owned())
            .collect();
        let missing = layout.missing_columns(&names);
        if !missing.is_empty() {
            return Err(missing
                .into_iter()
                .map(|c| {
                    RowError::new(
                        1,
                        Some(&c),
                        "missing_column",
                        format!("the header has no {c} column"),
                    )
                })
                .collect());
        }
        let mut fields = HashMap::new();
        for (field, source) in &layout.sources {
            match source {
                Source::Column(c) => {
                    if let Some(i) = names.iter().position(|n| n == c) {
                        fields.insert(*field, Bound::Column(i, c.clone()));
                    }
                }
                Source::Constant(v) => {
                    fields.insert(*field, Bound::Constant(v.clone()));
                }
            }
        }
        Ok(Checker {
            layout,
            fields,
            width: names.len(),
        })
    }

    pub fn kind(&self) -> ImportKind {
        self.layout.kind
    }

    /// The file's name for a field (its column header), for errors about it.
    pub fn column_of(&self, field: &str) -> Option<String> {
        match self.fields.get(field) {
            Some(Bound::Column(_, c)) => Some(c.clone()),
            _ => None,
        }
    }

    /// Checks one record: the row, or every error found in it.
    pub fn check(&self, record: &Record) -> Result<Row, Vec<RowError>> {
        let line = record.line;
        if record.oversized {
            return Err(vec![RowError::new(
                line,
                None,
                "row_too_long",
                format!(
                    "the row is longer than {} bytes or wider than {} columns",
                    super::reader::MAX_RECORD_BYTES,
                    super::reader::MAX_FIELDS
                ),
            )]);
        }
        if record.len() != self.width {
            return Err(vec![RowError::new(
                line,
                None,
                "wrong_column_count",
                format!(
                    "the row has {} columns; the header has {}",
                    record.len(),
                    self.width
                ),
            )]);
        }
        let mut cells = Cells {
            checker: self,
            record,
            errors: Vec::new(),
        };
        let row = match self.layout.kind {
            ImportKind::Customers => cells.customer().map(Row::Customer),
            ImportKind::Invoices => cells.invoice().map(Row::Invoice),
            ImportKind::Payments => cells.payment().map(Row::Payment),
            ImportKind::Ibm => cells.ibm().map(Row::Ibm),
        };
        match row {
            Some(row) if cells.errors.is_empty() => Ok(row),
            _ => Err(cells.errors),
        }
    }
}

/// Reads the cells of one record, collecting every error before giving up on the row.
struct Cells<'a> {
    checker: &'a Checker,
    record: &'a Record,
    errors: Vec<RowError>,
}

impl Cells<'_> {
    fn fail(&mut self, field: &str, code: &str, message: String) {
        let column = self.checker.column_of(field);
        self.errors.push(RowError {
            line: self.record.line,
            column: Some(column.unwrap_or_else(|| field.to_owned())),
            code: code.to_owned(),
            message,
        });
    }

    /// The trimmed text of a field; `None` when the layout has no source for it or the
    /// cell is empty.
    fn text(&mut self, field: &str) -> Option<String> {
        let value = match self.checker.fields.get(field)? {
            Bound::Constant(v) => v.clone(),
            Bound::Column(i, _) => {
                let bytes = self.record.field(*i).unwrap_or_default();
                match std::str::from_utf8(bytes) {
                    Ok(s) => s.trim().to_owned(),
                    Err(_) => {
                        self.fail(
                            field,
                            "not_utf8",
                            "not UTF-8 text (save the file as UTF-8)".into(),
                        );
                        return None;
                    }
                }
            }
        };
        (!value.is_empty()).then_some(value)
    }

    fn required(&mut self, field: &str, max: usize) -> Option<String> {
        let had_error = self.errors.len();
        let value = self.text(field);
        match value {
            Some(v) if v.chars().count() <= max => Some(v),
            Some(_) => {
                self.fail(
                    field,
                    "invalid_length",
                    format!("must be 1 to {max} characters"),
                );
                None
            }
            None if self.errors.len() > had_error => None,
            None => {
                self.fail(field, "required", "is empty".into());
                None
            }
        }
    }

    fn optional(&mut self, field: &str, max: usize) -> Option<String> {
        let value = self.text(field)?;
        if value.chars().count() > max {
            self.fail(
                field,
                "invalid_length",
                format!("must be at most {max} characters"),
            );
            return None;
        }
        Some(value)
    }

    fn date_of(&mut self, field: &str, text: &str) -> Option<NaiveDate> {
        let pattern = self.checker.layout.date_format.clone();
        match NaiveDate::parse_from_str(text, &pattern) {
            Ok(d) => Some(d),
            Err(_) => {
                self.fail(
                    field,
                    "invalid_date",
                    format!("{text:?} is not a date ({pattern})"),
                );
                None
            }
        }
    }

    fn required_date(&mut self, field: &str) -> Option<NaiveDate> {
        let text = self.required(field, 40)?;
        self.date_of(field, &text)
    }

    fn optional_date(&mut self, field: &str) -> Option<Option<NaiveDate>> {
        match self.text(field) {
            None => Some(None),
            Some(t) => self.date_of(field, &t).map(Some),
        }
    }

    fn amount_of(&mut self, field: &str, text: &str) -> Option<Decimal> {
        let parsed = parse_amount(
            text,
            self.checker.layout.decimal_separator,
            self.checker.layout.thousands_separator,
        );
        match parsed {
            Some(a) if a > Decimal::ZERO => Some(a),
            _ => {
                self.fail(
                    field,
                    "invalid_amount",
                    format!("{text:?} is not a positive amount"),
                );
                None
            }
        }
    }

    fn required_amount(&mut self, field: &str) -> Option<Decimal> {
        let text = self.required(field, 40)?;
        self.amount_of(field, &text)
    }

    fn parsed<T: std::str::FromStr>(&mut self, field: &str, what: &str) -> Option<Option<T>> {
        match self.text(field) {
            None => Some(None),
            Some(t) => match t.parse() {
                Ok(v) => Some(Some(v)),
                Err(_) => {
                    self.fail(field, "invalid_value", format!("{t:?} is not {what}"));
                    None
                }
            },
        }
    }

    fn flag(&mut self, field: &str) -> Option<bool> {
        let text = self.text(field)?;
        match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Some(true),
            "false" | "no" | "n" | "0" => Some(false),
            _ => {
                self.fail(
                    field,
                    "invalid_value",
                    format!("{text:?} is neither true nor false"),
                );
                None
            }
        }
    }

    fn customer(&mut self) -> Option<CustomerRow> {
        let external_id = self.required("external_id", 100);
        let name = self.required("name", 200);
        let currency = self.required("currency", 3);
        let kind = self.parsed::<CustomerKind>("kind", "commercial or consumer");
        let timezone = self.optional("timezone", 64);
        let terms = self.parsed::<i32>("payment_terms_days", "a whole number of days");
        let credit_limit = match self.text("credit_limit") {
            None => Some(None),
            Some(t) => match parse_amount(
                &t,
                self.checker.layout.decimal_separator,
                self.checker.layout.thousands_separator,
            ) {
                Some(a) => Some(Some(a)),
                None => {
                    self.fail(
                        "credit_limit",
                        "invalid_amount",
                        format!("{t:?} is not an amount"),
                    );
                    None
                }
            },
        };
        let risk_rating = self.parsed::<RiskRating>("risk_rating", "low, medium, high or critical");
        let flags = [
            self.flag("do_not_contact"),
            self.flag("cease_communication"),
            self.flag("attorney_represented"),
            self.flag("bankrupt"),
            self.flag("deceased"),
        ];
        Some(CustomerRow {
            line: self.record.line,
            external_id: external_id?,
            name: name?,
            currency: currency?.to_ascii_uppercase(),
            kind: kind?,
            timezone,
            payment_terms_days: terms?,
            credit_limit: credit_limit?,
            risk_rating: risk_rating?,
            do_not_contact: flags[0],
            cease_communication: flags[1],
            attorney_represented: flags[2],
            bankrupt: flags[3],
            deceased: flags[4],
        })
    }

    fn invoice(&mut self) -> Option<InvoiceRow> {
        let external_id = self.required("external_id", 100);
        let number = self.optional("number", 64);
        let customer = self.required("customer_external_id", 100);
        let issue_date = self.required_date("issue_date");
        let due_date = self.optional_date("due_date");
        let amount = self.required_amount("amount");
        let currency = self.optional("currency", 3);
        let po_number = self.optional("po_number", 100);
        let project = self.optional("project", 100);
        if let (Some(issue), Some(Some(due))) = (issue_date, due_date)
            && due < issue
        {
            self.fail(
                "due_date",
                "before_issue_date",
                "is before the issue date".into(),
            );
        }
        let external_id = external_id?;
        if number.is_none() && external_id.chars().count() > 64 {
            self.fail(
                "external_id",
                "invalid_length",
                "serves as the invoice number, so at most 64 characters".into(),
            );
        }
        Some(InvoiceRow {
            line: self.record.line,
            number,
            external_id,
            customer_external_id: customer?,
            issue_date: issue_date?,
            due_date: due_date?,
            amount: amount?,
            currency: currency.map(|c| c.to_ascii_uppercase()),
            po_number,
            project,
        })
    }

    fn payment(&mut self) -> Option<PaymentRow> {
        let external_id = self.required("external_id", 100);
        let customer = self.required("customer_external_id", 100);
        let received_on = self.required_date("received_on");
        let amount = self.required_amount("amount");
        let method = match self.required("method", 20) {
            Some(m) => match m.to_ascii_lowercase().parse::<PaymentMethod>() {
                Ok(m) => Some(m),
                Err(_) => {
                    self.fail(
                        "method",
                        "invalid_value",
                        format!("{m:?} is not check, ach, wire, card or cash"),
                    );
                    None
                }
            },
            None => None,
        };
        let currency = self.optional("currency", 3);
        let reference = self.optional("reference", 200);
        let invoice = self.optional("invoice_external_id", 100);
        Some(PaymentRow {
            line: self.record.line,
            external_id: external_id?,
            customer_external_id: customer?,
            received_on: received_on?,
            amount: amount?,
            method: method?,
            currency: currency.map(|c| c.to_ascii_uppercase()),
            reference,
            invoice_external_id: invoice,
        })
    }

    fn ibm(&mut self) -> Option<IbmRow> {
        let customer_id = self.required("customerID", 64);
        let invoice_number = self.required("invoiceNumber", 64);
        let invoice_date = self.required_date("InvoiceDate");
        let due_date = self.required_date("DueDate");
        let amount = self.required_amount("InvoiceAmount");
        let disputed = match self.text("Disputed").as_deref() {
            Some("Yes") => Some(true),
            Some("No") => Some(false),
            other => {
                let shown = other.unwrap_or_default().to_owned();
                self.fail(
                    "Disputed",
                    "invalid_value",
                    format!("{shown:?} is neither Yes nor No"),
                );
                None
            }
        };
        let settled_date = self.optional_date("SettledDate");
        let days_to_settle = self.parsed::<i64>("DaysToSettle", "a whole number");
        let days_late = self.parsed::<i64>("DaysLate", "a whole number");
        if let (Some(issue), Some(due)) = (invoice_date, due_date)
            && due < issue
        {
            self.fail(
                "DueDate",
                "before_issue_date",
                "is before InvoiceDate".into(),
            );
        }
        if let (Some(issue), Some(Some(settled))) = (invoice_date, settled_date)
            && settled < issue
        {
            self.fail(
                "SettledDate",
                "before_issue_date",
                "is before InvoiceDate".into(),
            );
        }
        Some(IbmRow {
            line: self.record.line,
            customer_id: customer_id?,
            invoice_number: invoice_number?,
            invoice_date: invoice_date?,
            due_date: due_date?,
            amount: amount?,
            disputed: disputed?,
            settled_date: settled_date?,
            days_to_settle: days_to_settle?,
            days_late: days_late?,
        })
    }
}

/// An amount as the file writes it: digits with at most one decimal mark, optionally
/// grouped by the thousands mark. Anything else (letters, signs, two marks) is `None`.
pub fn parse_amount(text: &str, decimal: char, thousands: Option<char>) -> Option<Decimal> {
    let mut plain = String::with_capacity(text.len());
    let mut seen_decimal = false;
    for c in text.chars() {
        match c {
            '0'..='9' => plain.push(c),
            c if c == decimal && !seen_decimal => {
                seen_decimal = true;
                plain.push('.');
            }
            c if Some(c) == thousands && !seen_decimal => {}
            _ => return None,
        }
    }
    if plain.is_empty() || plain == "." || plain.starts_with('.') || plain.ends_with('.') {
        return None;
    }
    plain.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::super::layout::{Layout, Mapping};
    use super::super::reader::{Next, Records};
    use super::*;

    fn records(text: &[u8], delimiter: u8) -> Vec<Record> {
        let mut r = Records::new(delimiter, 0, 1);
        r.feed(text.to_vec());
        r.finish();
        let mut out = Vec::new();
        while let Next::Record(rec) = r.read() {
            out.push(rec);
        }
        out
    }

    fn check(
        kind: ImportKind,
        mapping: Option<&Mapping>,
        text: &[u8],
    ) -> Vec<Result<Row, Vec<RowError>>> {
        let layout = Layout::new(kind, mapping).unwrap_or_else(|e| panic!("{e}"));
        let delimiter = layout.delimiter;
        let recs = records(text, delimiter);
        let checker = match Checker::new(layout, &recs[0]) {
            Ok(c) => c,
            Err(e) => return vec![Err(e)],
        };
        recs[1..].iter().map(|r| checker.check(r)).collect()
    }

    fn errors(rows: &[Result<Row, Vec<RowError>>]) -> Vec<(u64, Option<String>, String)> {
        rows.iter()
            .filter_map(|r| r.as_ref().err())
            .flatten()
            .map(|e| (e.line, e.column.clone(), e.code.clone()))
            .collect()
    }

    #[test]
    fn amounts_follow_the_layout_marks() {
        assert_eq!(
            parse_amount("1234.50", '.', None),
            Some(Decimal::new(123_450, 2))
        );
        assert_eq!(
            parse_amount("1.234,50", ',', Some('.')),
            Some(Decimal::new(123_450, 2))
        );
        assert_eq!(
            parse_amount("1,234.50", '.', Some(',')),
            Some(Decimal::new(123_450, 2))
        );
        for bad in ["12abc", "-3.00", "1.2.3", "", ".5", "5.", "1 000"] {
            assert_eq!(parse_amount(bad, '.', None), None, "{bad}");
        }
    }

    #[test]
    fn invoices_in_the_builtin_layout() {
        let rows = check(
            ImportKind::Invoices,
            None,
            b"external_id,customer_external_id,issue_date,due_date,amount\n\
              I-1,C-1,2026-01-05,2026-02-04,100.00\n\
              I-2,C-1,2026-13-05,,12abc\n\
              I-3,C-1,2026-01-05,2026-01-01,5\n\
              I-4,,2026-01-05,,5,extra\n\
              I-5,C-\xe9,2026-01-05,,5\n",
        );
        assert!(matches!(&rows[0], Ok(Row::Invoice(r)) if r.number.is_none() && r.line == 2));
        assert_eq!(
            errors(&rows),
            [
                (3, Some("issue_date".into()), "invalid_date".into()),
                (3, Some("amount".into()), "invalid_amount".into()),
                (4, Some("due_date".into()), "before_issue_date".into()),
                (5, None, "wrong_column_count".into()),
                (6, Some("customer_external_id".into()), "not_utf8".into()),
            ]
        );
    }

    #[test]
    fn payments_through_a_mapping_with_european_formats() {
        let mapping = super::super::layout::parse_mapping(
            r#"{"columns": {"external_id": "Beleg", "customer_external_id": "Konto", "received_on": "Datum", "amount": "Betrag"},
                "defaults": {"method": "wire"}, "date_format": "%d.%m.%Y", "decimal_separator": ",", "thousands_separator": ".", "delimiter": ";"}"#,
        )
        .unwrap_or_default();
        let rows = check(
            ImportKind::Payments,
            Some(&mapping),
            "Beleg;Konto;Datum;Betrag\nZ-1;K-7;31.01.2026;1.234,56\n".as_bytes(),
        );
        match &rows[0] {
            Ok(Row::Payment(p)) => {
                assert_eq!(p.amount, Decimal::new(123_456, 2));
                assert_eq!(p.method, PaymentMethod::Wire);
                assert_eq!(
                    p.received_on,
                    NaiveDate::from_ymd_opt(2026, 1, 31).unwrap_or_default()
                );
            }
            other => panic!("{other:?}"),
        }
        let missing = check(
            ImportKind::Payments,
            Some(&mapping),
            "Beleg;Konto;Datum\nZ-1;K-7;31.01.2026\n".as_bytes(),
        );
        assert_eq!(
            errors(&missing),
            [(1, Some("Betrag".into()), "missing_column".into())]
        );
    }

    #[test]
    fn the_ibm_layout_reads_the_shipped_sample() {
        let file = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../data/ibm-accounts-receivable.csv"
        ))
        .unwrap_or_default();
        let rows = check(ImportKind::Ibm, None, &file);
        assert_eq!(rows.len(), 2466);
        let ok: Vec<&IbmRow> = rows
            .iter()
            .filter_map(|r| match r {
                Ok(Row::Ibm(r)) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(ok.len(), 2466);
        let total: Decimal = ok.iter().map(|r| r.amount).sum();
        assert_eq!(total.to_string(), "147703.18");
        assert_eq!(ok[0].line, 2);
    }

    #[test]
    fn malformed_ibm_rows_are_reported_with_their_lines() {
        const HEADER: &str = "countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate\n";
        let body = concat!(
            "391,A-1,1/1/2013,INV1,1/2/2013,2/1/2013,55.94,No,1/15/2013,Paper,13,0\n",
            "391,A-1,1/1/2013,INV2,13/45/2013,2/1/2013,10.00,No,1/15/2013,Paper,13,0\n",
            "391,A-1,1/1/2013,INV3,1/2/2013,2/1/2013,12abc,No,1/15/2013,Paper,13,0\n",
            "391,A-1,1/1/2013,INV5,1/2/2013,2/1/2013,-3.00,No,1/15/2013,Paper,13,0\n",
            "391,A-1,1/1/2013,INV6,1/2/2013,2/1/2013,5.00,Maybe,1/15/2013,Paper,13,0\n",
            "391,A-1,1/1/2013,INV7,1/2/2013\n",
            "391,,1/1/2013,INV8,1/2/2013,2/1/2013,5.00,No,1/15/2013,Paper,13,0\n",
        );
        let rows = check(ImportKind::Ibm, None, format!("{HEADER}{body}").as_bytes());
        assert_eq!(
            errors(&rows),
            [
                (3, Some("InvoiceDate".into()), "invalid_date".into()),
                (4, Some("InvoiceAmount".into()), "invalid_amount".into()),
                (5, Some("InvoiceAmount".into()), "invalid_amount".into()),
                (6, Some("Disputed".into()), "invalid_value".into()),
                (7, None, "wrong_column_count".into()),
                (8, Some("customerID".into()), "required".into()),
            ]
        );
        let short = check(ImportKind::Ibm, None, b"customerID,invoiceNumber\nA,B\n");
        assert_eq!(
            errors(&short).len(),
            7,
            "one error per missing column, at line 1"
        );
    }
}
