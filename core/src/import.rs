//! Importing a portfolio from CSV. Rows are read as a stream and checked one by one,
//! each problem reported with its line; valid rows are written idempotently (by
//! external id), so importing the same file twice changes nothing.
//!
//! Layouts: `ibm` is IBM's public accounts-receivable sample (one paid invoice per
//! row: customer, invoice, and the settlement payment on `SettledDate`).

use std::collections::HashMap;
use std::io::Read;

use chrono::NaiveDate;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::access::Context;
use crate::customer::{self, CustomerKind, NewCustomer};
use crate::error::{Error, Result};
use crate::invoice::{self, NewInvoice};
use crate::payment::{self, NewApplication, NewPayment, PaymentMethod};

/// A row of the IBM sample, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IbmRow {
    /// Line in the file (the header is line 1).
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

/// A rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowError {
    pub line: u64,
    /// The column at fault, when one is.
    pub column: Option<String>,
    pub message: String,
}

const IBM_COLUMNS: [&str; 9] = [
    "customerID",
    "invoiceNumber",
    "InvoiceDate",
    "DueDate",
    "InvoiceAmount",
    "Disputed",
    "SettledDate",
    "DaysToSettle",
    "DaysLate",
];

fn us_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%m/%d/%Y").ok()
}

/// Reads the IBM layout as a stream of checked rows. A file whose header lacks a
/// column yields one error (line 1) and nothing else; duplicate invoice numbers with a
/// different amount or customer are errors, exact duplicates pass (and change nothing).
pub fn read_ibm<R: Read>(input: R) -> impl Iterator<Item = std::result::Result<IbmRow, RowError>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(input);
    let header: std::result::Result<HashMap<String, usize>, RowError> = match reader.headers() {
        Ok(h) => Ok(h
            .iter()
            .enumerate()
            .map(|(i, name)| (name.trim().to_owned(), i))
            .collect()),
        Err(e) => Err(RowError {
            line: 1,
            column: None,
            message: format!("unreadable header: {e}"),
        }),
    };
    let missing: Option<RowError> = match &header {
        Err(e) => Some(e.clone()),
        Ok(h) => IBM_COLUMNS
            .iter()
            .find(|c| !h.contains_key(**c))
            .map(|c| RowError {
                line: 1,
                column: Some((*c).to_owned()),
                message: format!("the header has no {c} column"),
            }),
    };
    let index = header.unwrap_or_default();
    let mut seen: HashMap<String, (String, Decimal)> = HashMap::new();
    let mut records = reader.into_records();
    let mut failed_header = missing;
    let mut done = false;
    // Lines are counted by record: the sample has no quoted newlines, and a counter
    // stays right for rows the parser rejects.
    let mut line = 1_u64;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        if let Some(e) = failed_header.take() {
            // Nothing after a bad header is read: its columns cannot be trusted.
            done = true;
            return Some(Err(e));
        }
        let record = records.next()?;
        line += 1;
        Some(check_ibm(line, record, &index, &mut seen))
    })
}

fn check_ibm(
    line: u64,
    record: std::result::Result<csv::StringRecord, csv::Error>,
    index: &HashMap<String, usize>,
    seen: &mut HashMap<String, (String, Decimal)>,
) -> std::result::Result<IbmRow, RowError> {
    let record = record.map_err(|e| {
        let message = match e.kind() {
            csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_owned(),
            csv::ErrorKind::UnequalLengths { .. } => "wrong number of columns".to_owned(),
            _ => format!("unreadable row: {e}"),
        };
        RowError {
            line,
            column: None,
            message,
        }
    })?;
    let get = |column: &str| {
        index
            .get(column)
            .and_then(|i| record.get(*i))
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    let fail = |column: &str, message: String| RowError {
        line,
        column: Some(column.to_owned()),
        message,
    };
    let text = |column: &str| {
        let value = get(column);
        if value.is_empty() || value.chars().count() > 64 {
            Err(fail(column, "must be 1 to 64 characters".into()))
        } else {
            Ok(value)
        }
    };
    let date = |column: &str| {
        us_date(&get(column)).ok_or_else(|| {
            fail(
                column,
                format!("{:?} is not a date (M/D/YYYY)", get(column)),
            )
        })
    };
    let customer_id = text("customerID")?;
    let invoice_number = text("invoiceNumber")?;
    let invoice_date = date("InvoiceDate")?;
    let due_date = date("DueDate")?;
    if due_date < invoice_date {
        return Err(fail("DueDate", "is before InvoiceDate".into()));
    }
    let raw_amount = get("InvoiceAmount");
    let plain =
        !raw_amount.is_empty() && raw_amount.chars().all(|c| c.is_ascii_digit() || c == '.');
    let amount = raw_amount
        .parse::<Decimal>()
        .ok()
        .filter(|a| plain && *a > Decimal::ZERO && a.normalize().scale() <= 2)
        .ok_or_else(|| {
            fail(
                "InvoiceAmount",
                format!("{raw_amount:?} is not a positive amount in cents"),
            )
        })?;
    let disputed = match get("Disputed").as_str() {
        "Yes" => true,
        "No" => false,
        other => return Err(fail("Disputed", format!("{other:?} is neither Yes nor No"))),
    };
    let settled_date = match get("SettledDate").as_str() {
        "" => None,
        s => Some(
            us_date(s)
                .ok_or_else(|| fail("SettledDate", format!("{s:?} is not a date (M/D/YYYY)")))?,
        ),
    };
    if settled_date.is_some_and(|s| s < invoice_date) {
        return Err(fail("SettledDate", "is before InvoiceDate".into()));
    }
    let number = |column: &str| -> std::result::Result<Option<i64>, RowError> {
        match get(column).as_str() {
            "" => Ok(None),
            s => s
                .parse()
                .map(Some)
                .map_err(|_| fail(column, format!("{s:?} is not a whole number"))),
        }
    };
    let days_to_settle = number("DaysToSettle")?;
    let days_late = number("DaysLate")?;
    match seen.get(&invoice_number) {
        Some((customer, earlier)) if *customer != customer_id || *earlier != amount => {
            return Err(fail(
                "invoiceNumber",
                format!("{invoice_number} appears earlier with another customer or amount"),
            ));
        }
        _ => {
            seen.insert(invoice_number.clone(), (customer_id.clone(), amount));
        }
    }
    Ok(IbmRow {
        line,
        customer_id,
        invoice_number,
        invoice_date,
        due_date,
        amount,
        disputed,
        settled_date,
        days_to_settle,
        days_late,
    })
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub rows: u64,
    pub customers_created: u64,
    pub invoices_created: u64,
    pub payments_created: u64,
    /// Rows already imported (same external ids, same money).
    pub unchanged: u64,
    pub errors: Vec<RowError>,
}

/// Writes one checked IBM row: the customer, its invoice and the settlement payment,
/// all by external id, in one transaction.
pub async fn write_ibm_row(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    row: &IbmRow,
    report: &mut ImportReport,
) -> Result<()> {
    let outcome = conn
        .transaction(async |conn| {
            let terms = i32::try_from((row.due_date - row.invoice_date).num_days())
                .unwrap_or(30)
                .clamp(0, 365);
            let (customer, customer_created) = customer::upsert_external(
                conn,
                ctx,
                &row.customer_id,
                NewCustomer {
                    external_id: None,
                    name: format!("Customer {}", row.customer_id),
                    kind: CustomerKind::Commercial,
                    currency: "USD".into(),
                    timezone: None,
                    payment_terms_days: Some(terms),
                    credit_limit: None,
                    risk_rating: None,
                    assigned_collector_id: None,
                    sales_rep_id: None,
                    do_not_contact: false,
                    cease_communication: false,
                    attorney_represented: false,
                    bankrupt: false,
                    deceased: false,
                },
            )
            .await?;
            let (inv, invoice_created) = invoice::upsert_external(
                conn,
                ctx,
                &row.invoice_number,
                NewInvoice {
                    number: row.invoice_number.clone(),
                    customer_id: customer.id,
                    issue_date: row.invoice_date,
                    due_date: Some(row.due_date),
                    amount: row.amount,
                    currency: None,
                    po_number: None,
                    project: None,
                    external_id: None,
                },
            )
            .await?;
            if row.disputed && invoice_created {
                crate::dispute::record_imported(conn, ctx, &inv, row.settled_date).await?;
            }
            let mut payment_created = false;
            if let Some(settled) = row.settled_date {
                let (_, created) = payment::upsert_external(
                    conn,
                    ctx,
                    &format!("settle-{}", row.invoice_number),
                    NewPayment {
                        customer_id: customer.id,
                        received_on: settled,
                        amount: row.amount,
                        currency: None,
                        method: PaymentMethod::Ach,
                        reference: Some(format!("settlement of {}", row.invoice_number)),
                        external_id: None,
                        applications: Some(vec![NewApplication {
                            invoice_id: inv.id,
                            amount: row.amount,
                            short_pay_reason: None,
                        }]),
                    },
                )
                .await?;
                payment_created = created;
            }
            Ok::<_, Error>((customer_created, invoice_created, payment_created))
        })
        .await;
    match outcome {
        Ok((c, i, p)) => {
            report.customers_created += u64::from(c);
            report.invoices_created += u64::from(i);
            report.payments_created += u64::from(p);
            if !c && !i && !p {
                report.unchanged += 1;
            }
            Ok(())
        }
        Err(Error::Validation(errors)) => {
            for e in errors {
                report.errors.push(RowError {
                    line: row.line,
                    column: Some(e.field),
                    message: e.message,
                });
            }
            Ok(())
        }
        Err(Error::Conflict { detail, .. } | Error::Unprocessable { detail, .. }) => {
            report.errors.push(RowError {
                line: row.line,
                column: None,
                message: detail,
            });
            Ok(())
        }
        Err(other) => Err(other),
    }
}

/// Imports an IBM-layout file, calling `progress` after every row.
pub async fn import_ibm<R: Read>(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: R,
    mut progress: impl FnMut(&ImportReport),
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    for row in read_ibm(input) {
        report.rows += 1;
        match row {
            Ok(row) => write_ibm_row(conn, ctx, &row, &mut report).await?,
            Err(e) => report.errors.push(e),
        }
        progress(&report);
    }
    Ok(report)
}

/// Stores an uploaded file and enqueues its import job, in one transaction.
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    content: Vec<u8>,
) -> Result<crate::job::Job> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    crate::job::require_import(ctx)?;
    if content.is_empty() {
        return Err(Error::validation("body", "empty_file", "the file is empty"));
    }
    // Lines after the header: the progress total (a quoted newline would overcount).
    let total = content
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        .saturating_sub(1);
    conn.transaction(async |conn| {
        let job = crate::job::enqueue(
            conn,
            ctx,
            crate::job::JobKind::Import,
            i64::try_from(total).ok(),
        )
        .await?;
        diesel::insert_into(crate::schema::imports::table)
            .values((
                crate::schema::imports::id.eq(uuid::Uuid::now_v7()),
                crate::schema::imports::job_id.eq(job.id),
                crate::schema::imports::layout.eq("ibm"),
                crate::schema::imports::content.eq(&content),
                crate::schema::imports::created_at.eq(ctx.now),
            ))
            .execute(conn)
            .await?;
        crate::audit::record(
            conn,
            ctx,
            "import.create",
            "job",
            job.id,
            None::<&()>,
            Some(&job),
        )
        .await?;
        Ok(job)
    })
    .await
}

/// Runs an import job (marked running by the caller; see `job::start`): idempotent,
/// so a job delivered twice or resumed after a crash re-reads the file and finds the
/// rows it already wrote unchanged. Returns the report.
pub async fn run_job(
    conn: &mut AsyncPgConnection,
    job: &crate::job::Job,
    now: impl Fn() -> chrono::DateTime<chrono::Utc>,
) -> Result<serde_json::Value> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let content: Vec<u8> = crate::schema::imports::table
        .filter(crate::schema::imports::job_id.eq(job.id))
        .select(crate::schema::imports::content)
        .first(conn)
        .await?;
    // The worker writes as the system; the audit events name the job as their request.
    let request = Some(format!("job:{}", job.id));
    let mut report = ImportReport::default();
    for row in read_ibm(content.as_slice()) {
        report.rows += 1;
        match row {
            Ok(row) => {
                let ctx = Context::new(crate::Actor::System, request.clone(), now());
                write_ibm_row(conn, &ctx, &row, &mut report).await?
            }
            Err(e) => report.errors.push(e),
        }
        if report.rows % 100 == 0 {
            crate::job::progress(
                conn,
                job.id,
                i64::try_from(report.rows).unwrap_or(i64::MAX),
                now(),
            )
            .await?;
        }
    }
    crate::job::progress(
        conn,
        job.id,
        i64::try_from(report.rows).unwrap_or(i64::MAX),
        now(),
    )
    .await?;
    serde_json::to_value(&report).map_err(|e| Error::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,Disputed,SettledDate,PaperlessBill,DaysToSettle,DaysLate\n";

    fn read(body: &str) -> Vec<std::result::Result<IbmRow, RowError>> {
        read_ibm(format!("{HEADER}{body}").as_bytes()).collect()
    }

    #[test]
    fn the_shipped_sample_reads_cleanly_and_adds_up() {
        let file = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../data/ibm-accounts-receivable.csv"
        ))
        .unwrap_or_default();
        let rows: Vec<_> = read_ibm(file.as_slice()).collect();
        assert_eq!(rows.len(), 2466);
        let ok: Vec<IbmRow> = rows
            .into_iter()
            .filter_map(std::result::Result::ok)
            .collect();
        assert_eq!(ok.len(), 2466);
        let total: Decimal = ok.iter().map(|r| r.amount).sum();
        assert_eq!(total.to_string(), "147703.18");
        let customers: std::collections::HashSet<&str> =
            ok.iter().map(|r| r.customer_id.as_str()).collect();
        assert_eq!(customers.len(), 100);
        assert!(ok.iter().all(|r| r.settled_date.is_some()));
        assert_eq!(ok[0].line, 2);
        assert_eq!(
            ok[0].invoice_date,
            NaiveDate::from_ymd_opt(2013, 1, 2).unwrap_or_default()
        );
    }

    #[test]
    fn malformed_rows_are_reported_with_their_lines() {
        let rows = read(concat!(
            "391,A-1,1/1/2013,INV1,1/2/2013,2/1/2013,55.94,No,1/15/2013,Paper,13,0\n",
            "391,A-1,1/1/2013,INV2,13/45/2013,2/1/2013,10.00,No,1/15/2013,Paper,13,0\n",
            "391,A-1,1/1/2013,INV3,1/2/2013,2/1/2013,12abc,No,1/15/2013,Paper,13,0\n",
            "391,A-1,1/1/2013,INV4,1/2/2013,2/1/2013,1.005,No,1/15/2013,Paper,13,0\n",
            "391,A-1,1/1/2013,INV5,1/2/2013,2/1/2013,-3.00,No,1/15/2013,Paper,13,0\n",
            "391,A-1,1/1/2013,INV1,1/2/2013,2/1/2013,99.00,No,1/15/2013,Paper,13,0\n",
            "391,A-1,1/1/2013,INV1,1/2/2013,2/1/2013,55.94,No,1/15/2013,Paper,13,0\n",
            "391,A-1,1/1/2013,INV6,1/2/2013,2/1/2013,5.00,Maybe,1/15/2013,Paper,13,0\n",
            "391,A-1,1/1/2013,INV7,1/2/2013\n",
            "391,,1/1/2013,INV8,1/2/2013,2/1/2013,5.00,No,1/15/2013,Paper,13,0\n",
        ));
        let errors: Vec<(u64, Option<String>)> = rows
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|e| (e.line, e.column.clone()))
            .collect();
        assert_eq!(
            errors,
            [
                (3, Some("InvoiceDate".into())),
                (4, Some("InvoiceAmount".into())),
                (5, Some("InvoiceAmount".into())),
                (6, Some("InvoiceAmount".into())),
                (7, Some("invoiceNumber".into())),
                (9, Some("Disputed".into())),
                (10, None),
                (11, Some("customerID".into())),
            ]
        );
        assert_eq!(
            rows.iter().filter(|r| r.is_ok()).count(),
            2,
            "INV1 and its exact duplicate"
        );
    }

    #[test]
    fn a_missing_column_or_bad_encoding_stops_or_flags() {
        let rows: Vec<_> = read_ibm("customerID,invoiceNumber\nA,B\n".as_bytes()).collect();
        assert_eq!(rows.len(), 1);
        assert!(
            rows[0]
                .as_ref()
                .is_err_and(|e| e.line == 1 && e.column.as_deref() == Some("InvoiceDate"))
        );
        let mut latin1 = HEADER.as_bytes().to_vec();
        latin1.extend_from_slice(
            b"391,Caf\xe9,1/1/2013,INV1,1/2/2013,2/1/2013,55.94,No,1/15/2013,Paper,13,0\n",
        );
        let rows: Vec<_> = read_ibm(latin1.as_slice()).collect();
        assert!(
            rows[0]
                .as_ref()
                .is_err_and(|e| e.message == "not UTF-8 text" && e.line == 2),
            "{rows:?}"
        );
    }
}
