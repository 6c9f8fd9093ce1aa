//! What an import file looks like: its kind (customers, invoices, payments, or IBM's
//! accounts-receivable sample), the fields each kind carries, and the layout that says
//! which column holds which field, how dates and amounts are written and what separates
//! the columns. A kind's built-in layout names each column after its field; a
//! [`Mapping`] describes any other.

use crate::error::ProblemCode;
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Problems, Result};

text_enum! {
    /// What the rows of an import are.
    pub enum ImportKind {
        /// One customer per row, upserted by `external_id`.
        Customers = "customers",
        /// One invoice per row, upserted by `external_id`, for a customer named by its
        /// external id.
        Invoices = "invoices",
        /// One payment per row, posted once by `external_id`, optionally applied to an
        /// invoice named by its external id.
        Payments = "payments",
        /// IBM's accounts-receivable sample: a paid invoice per row (customer, invoice,
        /// settlement payment); fixed layout, no mapping.
        Ibm = "ibm",
    }
}

/// A field of a kind's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: &'static str,
    pub required: bool,
}

const fn required(name: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        required: true,
    }
}

const fn optional(name: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        required: false,
    }
}

pub const CUSTOMER_FIELDS: &[FieldSpec] = &[
    required("external_id"),
    required("name"),
    required("currency"),
    optional("kind"),
    optional("timezone"),
    optional("payment_terms_days"),
    optional("credit_limit"),
    optional("risk_rating"),
    optional("do_not_contact"),
    optional("cease_communication"),
    optional("attorney_represented"),
    optional("bankrupt"),
    optional("deceased"),
];

pub const INVOICE_FIELDS: &[FieldSpec] = &[
    required("external_id"),
    required("customer_external_id"),
    required("issue_date"),
    required("amount"),
    optional("number"),
    optional("due_date"),
    optional("currency"),
    optional("po_number"),
    optional("project"),
];

pub const PAYMENT_FIELDS: &[FieldSpec] = &[
    required("external_id"),
    required("customer_external_id"),
    required("received_on"),
    required("amount"),
    required("method"),
    optional("currency"),
    optional("reference"),
    optional("invoice_external_id"),
];

/// The IBM sample's columns, all required; its other columns are ignored.
pub const IBM_COLUMNS: [&str; 9] = [
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

impl ImportKind {
    /// The fields of the kind's rows (for `ibm`, its fixed columns).
    pub fn fields(self) -> Vec<FieldSpec> {
        match self {
            ImportKind::Customers => CUSTOMER_FIELDS.to_vec(),
            ImportKind::Invoices => INVOICE_FIELDS.to_vec(),
            ImportKind::Payments => PAYMENT_FIELDS.to_vec(),
            ImportKind::Ibm => IBM_COLUMNS.iter().map(|c| required(c)).collect(),
        }
    }

    /// Reads the kind named by a caller, as the 422 `invalid_import_kind` when it names none.
    pub fn parse_requested(text: Option<&str>) -> Result<Self> {
        let names = ImportKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        match text.map(str::trim) {
            None | Some("") => Err(Error::Unprocessable {
                code: ProblemCode::InvalidImportKind,
                detail: format!("say what the file holds: kind is one of {names}"),
            }),
            Some(t) => t.parse().map_err(|_| Error::Unprocessable {
                code: ProblemCode::InvalidImportKind,
                detail: format!(
                    "{:?} is not an import kind; use one of {names}",
                    t.chars().take(40).collect::<String>()
                ),
            }),
        }
    }
}

/// A layout of the sender's own, for `POST /v1/imports` (`mapping`, as JSON). Without
/// one, a kind's built-in layout applies: a header naming each field, `,` between
/// columns, ISO dates (`2026-03-31`) and `.` before the cents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "columns": {"external_id": "Doc No", "customer_external_id": "Account", "issue_date": "Date", "amount": "Total"},
    "defaults": {"currency": "EUR"},
    "date_format": "%d.%m.%Y",
    "decimal_separator": ",",
    "thousands_separator": ".",
    "delimiter": ";"
}))]
pub struct Mapping {
    /// Field → the header of the column that holds it. Fields left out are absent
    /// (optional ones) unless `defaults` gives them.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Field → one value for every row, for what the file does not carry.
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
    /// How dates are written, as a chrono/strftime pattern; default `%Y-%m-%d`.
    pub date_format: Option<String>,
    /// The mark before the cents: `.` (default) or `,`.
    pub decimal_separator: Option<String>,
    /// The mark grouping thousands, if the file uses one: `,`, `.`, `'` or a space.
    pub thousands_separator: Option<String>,
    /// The single ASCII character between columns; default `,`.
    pub delimiter: Option<String>,
}

/// Where a field's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Column(String),
    Constant(String),
}

/// A checked layout: what the reader and the row checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub kind: ImportKind,
    /// Field → where its value comes from; fields not here are absent.
    pub sources: HashMap<&'static str, Source>,
    pub date_format: String,
    pub decimal_separator: char,
    pub thousands_separator: Option<char>,
    pub delimiter: u8,
}

impl Layout {
    /// The kind's built-in layout, or the given mapping checked against the kind's
    /// fields. A bad mapping is the 422 `invalid_mapping` listing every problem.
    pub fn new(kind: ImportKind, mapping: Option<&Mapping>) -> Result<Self> {
        let fields = kind.fields();
        let Some(mapping) = mapping else {
            return Ok(Layout {
                kind,
                sources: fields
                    .iter()
                    .map(|f| (f.name, Source::Column(f.name.to_owned())))
                    .collect(),
                date_format: if kind == ImportKind::Ibm {
                    "%m/%d/%Y".to_owned()
                } else {
                    "%Y-%m-%d".to_owned()
                },
                decimal_separator: '.',
                thousands_separator: None,
                delimiter: b',',
            });
        };
        let mut p = Problems::new();
        if kind == ImportKind::Ibm {
            p.add(
                "mapping",
                "mapping_not_allowed",
                "the ibm layout is fixed; send no mapping",
            );
        }
        let known = |name: &str| fields.iter().find(|f| f.name == name).map(|f| f.name);
        let mut sources = HashMap::new();
        for (field, header) in &mapping.columns {
            match known(field) {
                None => p.add(
                    format!("mapping.columns.{field}"),
                    "unknown_field",
                    format!("{kind} rows have no field {field:?}"),
                ),
                Some(_) if header.trim().is_empty() || header.chars().count() > 200 => p.add(
                    format!("mapping.columns.{field}"),
                    "invalid_length",
                    "a column header is 1 to 200 characters",
                ),
                Some(name) => {
                    sources.insert(name, Source::Column(header.trim().to_owned()));
                }
            }
        }
        for (field, value) in &mapping.defaults {
            match known(field) {
                None => p.add(
                    format!("mapping.defaults.{field}"),
                    "unknown_field",
                    format!("{kind} rows have no field {field:?}"),
                ),
                Some(_) if mapping.columns.contains_key(field) => p.add(
                    format!("mapping.defaults.{field}"),
                    "mapped_twice",
                    "the field has a column already",
                ),
                Some(_) if value.trim().is_empty() || value.chars().count() > 200 => p.add(
                    format!("mapping.defaults.{field}"),
                    "invalid_length",
                    "a default is 1 to 200 characters",
                ),
                Some(name) => {
                    sources.insert(name, Source::Constant(value.trim().to_owned()));
                }
            }
        }
        for f in fields.iter().filter(|f| f.required) {
            if !sources.contains_key(f.name) {
                p.add(
                    format!("mapping.columns.{}", f.name),
                    "required_field_missing",
                    format!(
                        "{kind} rows need {}: map a column or give a default",
                        f.name
                    ),
                );
            }
        }
        let date_format = mapping
            .date_format
            .clone()
            .unwrap_or_else(|| "%Y-%m-%d".to_owned());
        if let Err(e) = check_date_format(&date_format) {
            p.add("mapping.date_format", "invalid_date_format", e);
        }
        let one_char = |field: &str, value: &Option<String>, allowed: &[char]| match value {
            None => Ok(None),
            Some(v) => {
                let mut chars = v.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if allowed.contains(&c) => Ok(Some(c)),
                    _ => Err(FieldError::new(
                        field,
                        "invalid_separator",
                        format!(
                            "one of {}",
                            allowed
                                .iter()
                                .map(|c| format!("{c:?}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )),
                }
            }
        };
        let decimal = p
            .check(one_char(
                "mapping.decimal_separator",
                &mapping.decimal_separator,
                &['.', ','],
            ))
            .flatten()
            .unwrap_or('.');
        let thousands = p
            .check(one_char(
                "mapping.thousands_separator",
                &mapping.thousands_separator,
                &[',', '.', '\'', ' '],
            ))
            .flatten();
        if thousands == Some(decimal) {
            p.add(
                "mapping.thousands_separator",
                "invalid_separator",
                "must differ from the decimal separator",
            );
        }
        let delimiter = match &mapping.delimiter {
            None => b',',
            Some(d) => match d.as_bytes() {
                [b] if b.is_ascii() && !matches!(b, b'"' | b'\r' | b'\n') => *b,
                _ => {
                    p.add(
                        "mapping.delimiter",
                        "invalid_delimiter",
                        "one ASCII character other than a quote or a line break",
                    );
                    b','
                }
            },
        };
        if p.is_empty() {
            Ok(Layout {
                kind,
                sources,
                date_format,
                decimal_separator: decimal,
                thousands_separator: thousands,
                delimiter,
            })
        } else {
            Err(invalid_mapping(p))
        }
    }

    /// The column headers the file must have.
    pub fn columns(&self) -> Vec<&str> {
        let mut columns: Vec<&str> = self
            .sources
            .values()
            .filter_map(|s| match s {
                Source::Column(c) => Some(c.as_str()),
                Source::Constant(_) => None,
            })
            .collect();
        columns.sort_unstable();
        columns.dedup();
        columns
    }

    /// Which of the layout's columns the header lacks (none: the file fits). Optional
    /// fields of a built-in layout may be left out of the file.
    pub fn missing_columns(&self, header: &[String]) -> Vec<String> {
        let fields = self.kind.fields();
        let builtin = |column: &str| {
            self.sources
                .iter()
                .find(|(_, s)| matches!(s, Source::Column(c) if c == column))
                .and_then(|(name, _)| fields.iter().find(|f| f.name == *name))
                .is_some_and(|f| !f.required)
        };
        self.columns()
            .into_iter()
            .filter(|c| !header.iter().any(|h| h == c))
            .filter(|c| !(self.is_builtin() && builtin(c)))
            .map(str::to_owned)
            .collect()
    }

    fn is_builtin(&self) -> bool {
        self.sources
            .iter()
            .all(|(name, s)| matches!(s, Source::Column(c) if c == name))
    }
}

fn invalid_mapping(p: Problems) -> Error {
    match p.into_result() {
        Err(Error::Validation(errors)) => Error::Rejected {
            code: ProblemCode::InvalidMapping,
            detail: "the column mapping does not fit the kind".into(),
            errors,
        },
        _ => Error::Internal("mapping problems vanished".into()),
    }
}

/// A pattern is usable when chrono understands it and it names a year, a month and a day.
fn check_date_format(pattern: &str) -> std::result::Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    if pattern.is_empty() || pattern.chars().count() > 40 {
        return Err("must be 1 to 40 characters".into());
    }
    let items: Vec<Item<'_>> = StrftimeItems::new(pattern).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return Err(format!("{pattern:?} is not a strftime pattern"));
    }
    let probe = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
    let shown = probe.format(pattern).to_string();
    match chrono::NaiveDate::parse_from_str(&shown, pattern) {
        Ok(d) if d == probe => Ok(()),
        _ => Err(format!(
            "{pattern:?} does not name a year, a month and a day"
        )),
    }
}

/// The mapping sent as JSON text (a form field or a query parameter), parsed; a body
/// that is not a mapping is the 422 `invalid_mapping`.
pub fn parse_mapping(text: &str) -> Result<Mapping> {
    serde_json::from_str(text).map_err(|e| Error::Rejected {
        code: ProblemCode::InvalidMapping,
        detail: "the mapping is not a mapping object".into(),
        errors: vec![FieldError::new("mapping", "invalid_json", e.to_string())],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(e: Error) -> Vec<(String, String)> {
        match e {
            Error::Rejected { errors, .. } => {
                errors.into_iter().map(|e| (e.field, e.code)).collect()
            }
            other => vec![("?".into(), other.to_string())],
        }
    }

    #[test]
    fn builtin_layouts_name_columns_after_fields() {
        let layout = Layout::new(ImportKind::Invoices, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            layout.sources.get("amount"),
            Some(&Source::Column("amount".into()))
        );
        // Optional columns may be missing from a built-in layout's file; required ones not.
        let header: Vec<String> = ["external_id", "customer_external_id", "issue_date"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(layout.missing_columns(&header), ["amount"]);
    }

    #[test]
    fn a_mapping_is_checked_field_by_field() {
        let mapping = Mapping {
            columns: [
                ("external_id", "Doc"),
                ("amount", "Total"),
                ("colour", "Farbe"),
            ]
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect(),
            defaults: [("currency", "EUR"), ("amount", "1")]
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
            date_format: Some("%d.%m".into()),
            decimal_separator: Some(",".into()),
            thousands_separator: Some(",".into()),
            delimiter: Some(";;".into()),
        };
        let mut got = codes(
            Layout::new(ImportKind::Invoices, Some(&mapping))
                .err()
                .unwrap_or(Error::Internal("accepted".into())),
        );
        got.sort();
        let mut want: Vec<(String, String)> = [
            ("mapping.columns.colour", "unknown_field"),
            ("mapping.defaults.amount", "mapped_twice"),
            (
                "mapping.columns.customer_external_id",
                "required_field_missing",
            ),
            ("mapping.columns.issue_date", "required_field_missing"),
            ("mapping.date_format", "invalid_date_format"),
            ("mapping.thousands_separator", "invalid_separator"),
            ("mapping.delimiter", "invalid_delimiter"),
        ]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn a_good_mapping_gives_its_formats() {
        let mapping = parse_mapping(
            r#"{"columns": {"external_id": "Nr", "name": "Firma"}, "defaults": {"currency": "EUR"},
                "date_format": "%d.%m.%Y", "decimal_separator": ",", "thousands_separator": ".", "delimiter": ";"}"#,
        )
        .unwrap_or_default();
        let layout =
            Layout::new(ImportKind::Customers, Some(&mapping)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(layout.delimiter, b';');
        assert_eq!(
            (layout.decimal_separator, layout.thousands_separator),
            (',', Some('.'))
        );
        assert_eq!(
            layout.sources.get("currency"),
            Some(&Source::Constant("EUR".into()))
        );
        assert_eq!(layout.columns(), ["Firma", "Nr"]);
        assert_eq!(
            layout.missing_columns(&["Nr".to_owned()]),
            ["Firma"],
            "a mapping's columns are all needed"
        );
        assert!(parse_mapping("{\"cols\": {}}").is_err());
        assert!(Layout::new(ImportKind::Ibm, Some(&Mapping::default())).is_err());
    }
}
