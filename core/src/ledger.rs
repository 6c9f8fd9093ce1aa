//! The AR subledger's rules, pure: what entries each operation posts, and what it must
//! refuse. The persistence modules (`invoice`, `payment`, `adjustment`, `write_off`)
//! load state under lock, ask these planners for postings and write them; the property
//! tests at the bottom run the same planners over random sequences of operations.
//!
//! Sign convention: a positive amount raises what the customer owes, a negative one
//! lowers it. Entries on an invoice make up its open balance; entries with no invoice
//! make up the customer's unapplied cash (a negative sum: money held on account). So
//! customer balance = Σ open balances − unapplied cash = Σ all their entries.

use crate::error::ProblemCode;
use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::error::{Error, FieldError};

text_enum! {
    /// What moved a balance.
    pub enum EntryKind {
        InvoiceIssued = "invoice_issued",
        InvoiceVoided = "invoice_voided",
        PaymentReceived = "payment_received",
        /// Both legs of an application: off the invoice, out of unapplied cash.
        PaymentApplied = "payment_applied",
        /// An NSF / ACH return: every application reversed, then the receipt.
        PaymentReturned = "payment_returned",
        Refund = "refund",
        CreditMemo = "credit_memo",
        Adjustment = "adjustment",
        WriteOff = "write_off",
        WriteOffRecovery = "write_off_recovery",
        NsfFee = "nsf_fee",
        LateFee = "late_fee",
    }
}

text_enum! {
    pub enum InvoiceStatus {
        Open = "open",
        PartiallyPaid = "partially_paid",
        Paid = "paid",
        Disputed = "disputed",
        WrittenOff = "written_off",
        Void = "void",
    }
}

text_enum! {
    pub enum PaymentStatus {
        Posted = "posted",
        Returned = "returned",
        Refunded = "refunded",
    }
}

/// One entry to post. Customer, currency, dates and actor are the same for every
/// posting of an operation and are added when it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub kind: EntryKind,
    pub invoice_id: Option<Uuid>,
    pub payment_id: Option<Uuid>,
    pub amount: Decimal,
}

/// What the rules need to know of an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceState {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub currency: String,
    pub due_date: NaiveDate,
    pub balance: Decimal,
    /// Σ of the entries that bill (see [`is_charge`]): the yardstick for "partially paid".
    pub charged: Decimal,
    pub written_off: bool,
    pub status: InvoiceStatus,
    /// Whether anything but its issue was ever posted to it.
    pub touched: bool,
}

/// What the rules need to know of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentState {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub currency: String,
    pub amount: Decimal,
    pub unapplied: Decimal,
    pub refunded: Decimal,
    pub status: PaymentStatus,
}

/// A live application of a payment to an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub invoice_id: Uuid,
    pub amount: Decimal,
}

fn field(field: &str, code: &str, message: impl Into<String>) -> Error {
    Error::Validation(vec![FieldError::new(field, code, message)])
}

fn positive(name: &str, amount: Decimal) -> Result<(), Error> {
    if amount <= Decimal::ZERO {
        return Err(field(name, "not_positive", "must be greater than zero"));
    }
    Ok(())
}

/// Refuses postings to invoices that are closed to them.
fn open_for_postings(invoice: &InvoiceState) -> Result<(), Error> {
    match invoice.status {
        InvoiceStatus::Void => Err(Error::conflict(
            ProblemCode::InvoiceVoid,
            "the invoice is void",
        )),
        InvoiceStatus::WrittenOff => Err(Error::conflict(
            ProblemCode::InvoiceWrittenOff,
            "the invoice is written off; post a recovery instead",
        )),
        _ => Ok(()),
    }
}

fn same_account(payment: &PaymentState, invoice: &InvoiceState, name: &str) -> Result<(), Error> {
    if payment.customer_id != invoice.customer_id {
        return Err(field(
            name,
            "other_customer",
            "the invoice belongs to another customer",
        ));
    }
    if payment.currency != invoice.currency {
        return Err(field(
            name,
            "currency_mismatch",
            format!(
                "the invoice is in {}, the payment in {}",
                invoice.currency, payment.currency
            ),
        ));
    }
    Ok(())
}

pub fn issue(invoice_id: Uuid, amount: Decimal, kind: EntryKind) -> Posting {
    Posting {
        kind,
        invoice_id: Some(invoice_id),
        payment_id: None,
        amount,
    }
}

pub fn receive(payment_id: Uuid, amount: Decimal) -> Posting {
    Posting {
        kind: EntryKind::PaymentReceived,
        invoice_id: None,
        payment_id: Some(payment_id),
        amount: -amount,
    }
}

/// Applies part of a payment's unapplied cash to an invoice.
pub fn apply(
    payment: &PaymentState,
    invoice: &InvoiceState,
    amount: Decimal,
    name: &str,
) -> Result<[Posting; 2], Error> {
    positive(&format!("{name}.amount"), amount)?;
    if payment.status != PaymentStatus::Posted {
        return Err(Error::conflict(
            ProblemCode::PaymentNotPosted,
            "only a posted payment can be applied",
        ));
    }
    same_account(payment, invoice, &format!("{name}.invoice_id"))?;
    open_for_postings(invoice)?;
    if amount > invoice.balance {
        return Err(field(
            &format!("{name}.amount"),
            "exceeds_open_balance",
            format!("the invoice's open balance is {}", invoice.balance),
        ));
    }
    if amount > payment.unapplied {
        return Err(field(
            &format!("{name}.amount"),
            "exceeds_unapplied",
            format!("the payment has {} unapplied", payment.unapplied),
        ));
    }
    Ok([
        Posting {
            kind: EntryKind::PaymentApplied,
            invoice_id: Some(invoice.id),
            payment_id: Some(payment.id),
            amount: -amount,
        },
        Posting {
            kind: EntryKind::PaymentApplied,
            invoice_id: None,
            payment_id: Some(payment.id),
            amount,
        },
    ])
}

/// Splits an amount over open invoices, oldest due first (ties by id), until it runs out.
/// Returns the allocations and what is left over.
pub fn allocate_oldest_first(
    amount: Decimal,
    invoices: &[InvoiceState],
) -> (Vec<(Uuid, Decimal)>, Decimal) {
    let mut open: Vec<&InvoiceState> = invoices
        .iter()
        .filter(|i| {
            i.balance > Decimal::ZERO
                && !matches!(
                    i.status,
                    InvoiceStatus::Void | InvoiceStatus::WrittenOff | InvoiceStatus::Disputed
                )
        })
        .collect();
    open.sort_by_key(|i| (i.due_date, i.id));
    let mut left = amount.max(Decimal::ZERO);
    let mut out = Vec::new();
    for invoice in open {
        if left.is_zero() {
            break;
        }
        let take = left.min(invoice.balance);
        out.push((invoice.id, take));
        left -= take;
    }
    (out, left)
}

/// Reverses every live application of a returned payment, then the receipt itself.
pub fn return_payment(
    payment: &PaymentState,
    applications: &[Application],
) -> Result<Vec<Posting>, Error> {
    if payment.status == PaymentStatus::Returned {
        return Err(Error::conflict(
            ProblemCode::PaymentReturned,
            "the payment was already returned",
        ));
    }
    let refunded =
        payment.amount - payment.unapplied - applications.iter().map(|a| a.amount).sum::<Decimal>();
    if refunded > Decimal::ZERO {
        return Err(Error::conflict(
            ProblemCode::PaymentRefunded,
            "part of the payment was refunded; it cannot be returned",
        ));
    }
    let mut postings = Vec::new();
    for a in applications {
        postings.push(Posting {
            kind: EntryKind::PaymentReturned,
            invoice_id: Some(a.invoice_id),
            payment_id: Some(payment.id),
            amount: a.amount,
        });
        postings.push(Posting {
            kind: EntryKind::PaymentReturned,
            invoice_id: None,
            payment_id: Some(payment.id),
            amount: -a.amount,
        });
    }
    postings.push(Posting {
        kind: EntryKind::PaymentReturned,
        invoice_id: None,
        payment_id: Some(payment.id),
        amount: payment.amount,
    });
    Ok(postings)
}

/// Pays unapplied cash back to the customer.
pub fn refund(payment: &PaymentState, amount: Decimal) -> Result<Posting, Error> {
    positive("amount", amount)?;
    if payment.status == PaymentStatus::Returned {
        return Err(Error::conflict(
            ProblemCode::PaymentReturned,
            "the payment was returned",
        ));
    }
    if amount > payment.unapplied {
        return Err(field(
            "amount",
            "exceeds_unapplied",
            format!("the payment has {} unapplied", payment.unapplied),
        ));
    }
    Ok(Posting {
        kind: EntryKind::Refund,
        invoice_id: None,
        payment_id: Some(payment.id),
        amount,
    })
}

/// Lowers an invoice's balance: credit memo or write-off. Never below zero.
pub fn reduce(invoice: &InvoiceState, amount: Decimal, kind: EntryKind) -> Result<Posting, Error> {
    positive("amount", amount)?;
    open_for_postings(invoice)?;
    if amount > invoice.balance {
        return Err(field(
            "amount",
            "exceeds_open_balance",
            format!("the invoice's open balance is {}", invoice.balance),
        ));
    }
    Ok(Posting {
        kind,
        invoice_id: Some(invoice.id),
        payment_id: None,
        amount: -amount,
    })
}

/// A signed correction of an invoice's balance, which must stay ≥ 0.
pub fn adjust(invoice: &InvoiceState, amount: Decimal) -> Result<Posting, Error> {
    if amount.is_zero() {
        return Err(field("amount", "zero_amount", "must not be zero"));
    }
    open_for_postings(invoice)?;
    if invoice.balance + amount < Decimal::ZERO {
        return Err(field(
            "amount",
            "exceeds_open_balance",
            format!("the invoice's open balance is {}", invoice.balance),
        ));
    }
    Ok(Posting {
        kind: EntryKind::Adjustment,
        invoice_id: Some(invoice.id),
        payment_id: None,
        amount,
    })
}

/// Voids an invoice nothing but its issue ever touched.
pub fn void(invoice: &InvoiceState) -> Result<Posting, Error> {
    if invoice.status == InvoiceStatus::Void {
        return Err(Error::conflict(
            ProblemCode::InvoiceVoid,
            "the invoice is already void",
        ));
    }
    if invoice.touched {
        return Err(Error::conflict(
            ProblemCode::InvoiceTouched,
            "cash, credits or adjustments were posted to the invoice; reverse them instead",
        ));
    }
    Ok(Posting {
        kind: EntryKind::InvoiceVoided,
        invoice_id: Some(invoice.id),
        payment_id: None,
        amount: -invoice.balance,
    })
}

/// Money recovered on a written-off invoice: the receivable is reinstated and the
/// payment applied to it, so the invoice stays settled and the cash is accounted for.
pub fn recover(
    payment: &PaymentState,
    invoice: &InvoiceState,
    written_off: Decimal,
    recovered: Decimal,
    amount: Decimal,
) -> Result<[Posting; 3], Error> {
    positive("amount", amount)?;
    if payment.status != PaymentStatus::Posted {
        return Err(Error::conflict(
            ProblemCode::PaymentNotPosted,
            "only a posted payment can be applied",
        ));
    }
    same_account(payment, invoice, "payment_id")?;
    if recovered + amount > written_off {
        return Err(field(
            "amount",
            "exceeds_written_off",
            format!(
                "{} of {} is still recoverable",
                written_off - recovered,
                written_off
            ),
        ));
    }
    if amount > payment.unapplied {
        return Err(field(
            "amount",
            "exceeds_unapplied",
            format!("the payment has {} unapplied", payment.unapplied),
        ));
    }
    Ok([
        Posting {
            kind: EntryKind::WriteOffRecovery,
            invoice_id: Some(invoice.id),
            payment_id: None,
            amount,
        },
        Posting {
            kind: EntryKind::PaymentApplied,
            invoice_id: Some(invoice.id),
            payment_id: Some(payment.id),
            amount: -amount,
        },
        Posting {
            kind: EntryKind::PaymentApplied,
            invoice_id: None,
            payment_id: Some(payment.id),
            amount,
        },
    ])
}

/// Whether a posting adds to what was billed on an invoice (as opposed to reversing a
/// payment or credit): the yardstick for "partially paid".
pub fn is_charge(posting: &Posting) -> bool {
    match posting.kind {
        EntryKind::InvoiceIssued
        | EntryKind::NsfFee
        | EntryKind::LateFee
        | EntryKind::WriteOffRecovery => true,
        EntryKind::Adjustment => posting.amount > Decimal::ZERO,
        _ => false,
    }
}

/// SQL twin of [`is_charge`], for aggregates over stored entries.
pub const CHARGE_FILTER_SQL: &str = "kind IN ('invoice_issued', 'nsf_fee', 'late_fee', 'write_off_recovery') OR (kind = 'adjustment' AND amount > 0)";

/// An invoice's status from its entries' aggregates: `charged` is the sum of the
/// entries for which [`is_charge`] holds.
pub fn invoice_status(
    balance: Decimal,
    charged: Decimal,
    voided: bool,
    written_off: bool,
) -> InvoiceStatus {
    if voided {
        InvoiceStatus::Void
    } else if balance.is_zero() && written_off {
        InvoiceStatus::WrittenOff
    } else if balance.is_zero() {
        InvoiceStatus::Paid
    } else if balance < charged {
        InvoiceStatus::PartiallyPaid
    } else {
        InvoiceStatus::Open
    }
}

/// Moves the balances of the invoices and payments the postings touch: the one place
/// where an entry's effect on cached state is defined. Every posting's invoice and
/// payment must be among the given states; nothing may go below zero.
pub fn post_to(
    invoices: &mut [InvoiceState],
    payments: &mut [PaymentState],
    postings: &[Posting],
) -> Result<(), Error> {
    let missing = || Error::Internal("a posting names state that was not loaded".into());
    for p in postings {
        match (p.invoice_id, p.payment_id) {
            (Some(id), _) => {
                let invoice = invoices
                    .iter_mut()
                    .find(|i| i.id == id)
                    .ok_or_else(missing)?;
                invoice.balance += p.amount;
                if is_charge(p) {
                    invoice.charged += p.amount;
                }
                if !matches!(p.kind, EntryKind::InvoiceIssued | EntryKind::NsfFee) {
                    invoice.touched = true;
                }
                invoice.written_off |= p.kind == EntryKind::WriteOff;
                let voided =
                    invoice.status == InvoiceStatus::Void || p.kind == EntryKind::InvoiceVoided;
                let disputed = invoice.status == InvoiceStatus::Disputed;
                invoice.status = invoice_status(
                    invoice.balance,
                    invoice.charged,
                    voided,
                    invoice.written_off,
                );
                // A dispute keeps the invoice disputed while money is still open on it.
                if disputed && invoice.balance > Decimal::ZERO {
                    invoice.status = InvoiceStatus::Disputed;
                }
            }
            (None, Some(id)) => {
                let payment = payments
                    .iter_mut()
                    .find(|x| x.id == id)
                    .ok_or_else(missing)?;
                payment.unapplied -= p.amount;
                if p.kind == EntryKind::Refund {
                    payment.refunded += p.amount;
                }
            }
            (None, None) => return Err(missing()),
        }
    }
    // The planners refuse anything that would get here; reaching it means a rule is
    // missing, and the transaction rolls back.
    if invoices.iter().any(|i| i.balance < Decimal::ZERO)
        || payments.iter().any(|p| p.unapplied < Decimal::ZERO)
    {
        return Err(Error::Internal("a balance would go below zero".into()));
    }
    Ok(())
}

/// Sums postings per invoice and per payment's unapplied cash: the balances they move.
pub fn effects(postings: &[Posting]) -> (HashMap<Uuid, Decimal>, HashMap<Uuid, Decimal>) {
    let mut invoices: HashMap<Uuid, Decimal> = HashMap::new();
    let mut unapplied: HashMap<Uuid, Decimal> = HashMap::new();
    for p in postings {
        match (p.invoice_id, p.payment_id) {
            (Some(i), _) => *invoices.entry(i).or_default() += p.amount,
            (None, Some(pay)) => *unapplied.entry(pay).or_default() -= p.amount,
            (None, None) => {}
        }
    }
    (invoices, unapplied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1)
            .and_then(|d| d.checked_add_days(chrono::Days::new(u64::from(n))))
            .unwrap_or_default()
    }

    fn cents(c: i64) -> Decimal {
        Decimal::new(c, 2)
    }

    /// An in-memory subledger driven by the same planners the database layer uses.
    #[derive(Default)]
    struct Book {
        customer: Uuid,
        entries: Vec<Posting>,
        invoices: Vec<InvoiceState>,
        written_off: HashMap<Uuid, (Decimal, Decimal)>,
        payments: Vec<PaymentState>,
        applications: HashMap<Uuid, Vec<Application>>,
    }

    impl Book {
        fn post(&mut self, postings: Vec<Posting>) {
            if post_to(&mut self.invoices, &mut self.payments, &postings).is_ok() {
                self.entries.extend(postings);
            } else {
                panic!("the planners let through a posting that breaks a balance");
            }
        }

        fn issue(&mut self, amount: Decimal, due: u32) {
            let id = Uuid::new_v4();
            self.invoices.push(InvoiceState {
                id,
                customer_id: self.customer,
                currency: "USD".into(),
                due_date: day(due),
                balance: Decimal::ZERO,
                charged: Decimal::ZERO,
                written_off: false,
                status: InvoiceStatus::Open,
                touched: false,
            });
            self.post(vec![issue(id, amount, EntryKind::InvoiceIssued)]);
            if let Some(i) = self.invoices.last_mut() {
                i.touched = false;
            }
        }

        fn pay(&mut self, amount: Decimal) {
            let id = Uuid::new_v4();
            self.payments.push(PaymentState {
                id,
                customer_id: self.customer,
                currency: "USD".into(),
                amount,
                unapplied: Decimal::ZERO,
                refunded: Decimal::ZERO,
                status: PaymentStatus::Posted,
            });
            self.post(vec![receive(id, amount)]);
            // Oldest-first application, as POST /v1/payments does with no explicit applications.
            let Some(payment) = self.payments.last().cloned() else {
                return;
            };
            let (allocations, _) = allocate_oldest_first(payment.unapplied, &self.invoices);
            for (invoice_id, take) in allocations {
                self.apply_to(payment.id, invoice_id, take);
            }
        }

        fn apply_to(&mut self, payment_id: Uuid, invoice_id: Uuid, amount: Decimal) -> bool {
            let (Some(p), Some(i)) = (
                self.payments.iter().find(|p| p.id == payment_id).cloned(),
                self.invoices.iter().find(|i| i.id == invoice_id).cloned(),
            ) else {
                return false;
            };
            match apply(&p, &i, amount, "applications[0]") {
                Ok(postings) => {
                    self.post(postings.to_vec());
                    self.applications
                        .entry(payment_id)
                        .or_default()
                        .push(Application { invoice_id, amount });
                    true
                }
                Err(_) => false,
            }
        }

        fn total(&self) -> Decimal {
            self.entries.iter().map(|e| e.amount).sum()
        }

        fn check(&self) -> Result<(), TestCaseError> {
            for i in &self.invoices {
                let sum: Decimal = self
                    .entries
                    .iter()
                    .filter(|e| e.invoice_id == Some(i.id))
                    .map(|e| e.amount)
                    .sum();
                prop_assert_eq!(sum, i.balance, "invoice balance = Σ its entries");
                prop_assert!(i.balance >= Decimal::ZERO, "open balance never negative");
            }
            for p in &self.payments {
                let on_account: Decimal = self
                    .entries
                    .iter()
                    .filter(|e| e.invoice_id.is_none() && e.payment_id == Some(p.id))
                    .map(|e| e.amount)
                    .sum();
                prop_assert_eq!(-on_account, p.unapplied, "unapplied = −Σ account entries");
                prop_assert!(p.unapplied >= Decimal::ZERO);
                prop_assert!(p.unapplied <= p.amount);
            }
            let open: Decimal = self.invoices.iter().map(|i| i.balance).sum();
            let unapplied: Decimal = self.payments.iter().map(|p| p.unapplied).sum();
            prop_assert_eq!(
                open - unapplied,
                self.total(),
                "customer balance = Σ open − unapplied = subledger total"
            );
            Ok(())
        }
    }

    /// Amounts near the limits catch off-by-a-cent rules that random amounts miss.
    fn pick(selector: u8, random: i64, limits: &[Decimal]) -> Decimal {
        let limit = limits.iter().copied().min().unwrap_or_default();
        match selector % 4 {
            0 => cents(random),
            1 => limit,
            2 => limit + cents(1),
            _ => limits.iter().copied().max().unwrap_or_default(),
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Issue(i64, u32),
        Pay(i64),
        Apply(usize, usize, u8, i64),
        Credit(usize, u8, i64),
        Adjust(usize, u8, i64),
        Return(usize),
        Refund(usize, u8, i64),
        WriteOff(usize, u8, i64),
        Recover(usize, usize, u8, i64),
        Void(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1_i64..500_000, 0_u32..120).prop_map(|(a, d)| Op::Issue(a, d)),
            (1_i64..500_000).prop_map(Op::Pay),
            (0_usize..8, 0_usize..8, any::<u8>(), 1_i64..300_000)
                .prop_map(|(p, i, s, a)| Op::Apply(p, i, s, a)),
            (0_usize..8, any::<u8>(), 1_i64..300_000).prop_map(|(i, s, a)| Op::Credit(i, s, a)),
            (0_usize..8, any::<u8>(), -300_000_i64..300_000)
                .prop_map(|(i, s, a)| Op::Adjust(i, s, a)),
            (0_usize..8).prop_map(Op::Return),
            (0_usize..8, any::<u8>(), 1_i64..300_000).prop_map(|(p, s, a)| Op::Refund(p, s, a)),
            (0_usize..8, any::<u8>(), 1_i64..300_000).prop_map(|(i, s, a)| Op::WriteOff(i, s, a)),
            (0_usize..8, 0_usize..8, any::<u8>(), 1_i64..300_000)
                .prop_map(|(p, i, s, a)| Op::Recover(p, i, s, a)),
            (0_usize..8).prop_map(Op::Void),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn random_operations_keep_the_ledger_invariants(ops in proptest::collection::vec(op(), 1..60)) {
            let mut book = Book { customer: Uuid::new_v4(), ..Book::default() };
            for op in ops {
                match op {
                    Op::Issue(a, d) => book.issue(cents(a), d),
                    Op::Pay(a) => book.pay(cents(a)),
                    Op::Apply(p, i, s, a) => {
                        if let (Some(p), Some(i)) = (book.payments.get(p).cloned(), book.invoices.get(i).cloned()) {
                            book.apply_to(p.id, i.id, pick(s, a, &[p.unapplied, i.balance]));
                        }
                    }
                    Op::Credit(i, s, a) => {
                        if let Some(inv) = book.invoices.get(i).cloned()
                            && let Ok(p) = reduce(&inv, pick(s, a, &[inv.balance]), EntryKind::CreditMemo)
                        {
                            book.post(vec![p]);
                        }
                    }
                    Op::Adjust(i, s, a) => {
                        if let Some(inv) = book.invoices.get(i).cloned() {
                            let amount = if s % 4 == 0 { cents(a) } else { -pick(s, a, &[inv.balance]) };
                            if let Ok(p) = adjust(&inv, amount) { book.post(vec![p]); }
                        }
                    }
                    Op::Return(p) => {
                        if let Some(pay) = book.payments.get(p).cloned() {
                            let apps = book.applications.get(&pay.id).cloned().unwrap_or_default();
                            if let Ok(postings) = return_payment(&pay, &apps) {
                                book.post(postings);
                                book.applications.remove(&pay.id);
                                if let Some(x) = book.payments.get_mut(p) { x.status = PaymentStatus::Returned; }
                                // A reopened invoice that had been written off stays written off only if its balance is 0.
                            }
                        }
                    }
                    Op::Refund(p, s, a) => {
                        if let Some(pay) = book.payments.get(p).cloned()
                            && let Ok(posting) = refund(&pay, pick(s, a, &[pay.unapplied]))
                        {
                            book.post(vec![posting]);
                        }
                    }
                    Op::WriteOff(i, s, a) => {
                        if let Some(inv) = book.invoices.get(i).cloned() {
                            let amount = pick(s, a, &[inv.balance]);
                            if let Ok(p) = reduce(&inv, amount, EntryKind::WriteOff) {
                                book.written_off.entry(inv.id).or_default().0 += amount;
                                book.post(vec![p]);
                            }
                        }
                    }
                    Op::Recover(p, i, s, a) => {
                        if let (Some(pay), Some(inv)) = (book.payments.get(p).cloned(), book.invoices.get(i).cloned())
                            && let Some((wo, rec)) = book.written_off.get(&inv.id).copied()
                        {
                            let amount = pick(s, a, &[pay.unapplied, wo - rec]);
                            if let Ok(postings) = recover(&pay, &inv, wo, rec, amount) {
                                book.post(postings.to_vec());
                                if let Some(w) = book.written_off.get_mut(&inv.id) { w.1 += amount; }
                                book.applications.entry(pay.id).or_default().push(Application { invoice_id: inv.id, amount });
                            }
                        }
                    }
                    Op::Void(i) => {
                        if let Some(inv) = book.invoices.get(i).cloned()
                            && let Ok(p) = void(&inv)
                        {
                            book.post(vec![p]);
                        }
                    }
                }
                book.check()?;
            }
        }

        #[test]
        fn allocation_never_creates_or_loses_a_cent(
            amount in 0_i64..2_000_000,
            balances in proptest::collection::vec((0_i64..400_000, 0_u32..90), 0..12),
        ) {
            let invoices: Vec<InvoiceState> = balances.iter().map(|(b, d)| InvoiceState {
                id: Uuid::new_v4(), customer_id: Uuid::nil(), currency: "USD".into(), due_date: day(*d),
                balance: cents(*b), charged: cents(*b), written_off: false, status: InvoiceStatus::Open, touched: false,
            }).collect();
            let (allocations, left) = allocate_oldest_first(cents(amount), &invoices);
            let applied: Decimal = allocations.iter().map(|a| a.1).sum();
            prop_assert_eq!(applied + left, cents(amount));
            prop_assert!(left >= Decimal::ZERO);
            for (id, take) in &allocations {
                let inv = invoices.iter().find(|i| i.id == *id);
                prop_assert!(inv.is_some_and(|i| *take > Decimal::ZERO && *take <= i.balance));
            }
            // Oldest first: only the last allocation may leave its invoice partly open,
            // and nothing is left over while an invoice still has a balance.
            let dues: Vec<NaiveDate> = allocations.iter().filter_map(|(id, _)| invoices.iter().find(|i| i.id == *id).map(|i| i.due_date)).collect();
            prop_assert!(dues.windows(2).all(|w| w[0] <= w[1]));
            let total_open: Decimal = invoices.iter().map(|i| i.balance).sum();
            prop_assert_eq!(left, (cents(amount) - total_open).max(Decimal::ZERO));
        }
    }

    #[test]
    fn application_refuses_what_breaks_the_rules() {
        let customer = Uuid::new_v4();
        let invoice = InvoiceState {
            id: Uuid::new_v4(),
            customer_id: customer,
            currency: "USD".into(),
            due_date: day(1),
            balance: cents(10_000),
            charged: cents(10_000),
            written_off: false,
            status: InvoiceStatus::Open,
            touched: false,
        };
        let payment = PaymentState {
            id: Uuid::new_v4(),
            customer_id: customer,
            currency: "USD".into(),
            amount: cents(5_000),
            unapplied: cents(5_000),
            refunded: Decimal::ZERO,
            status: PaymentStatus::Posted,
        };
        let code = |r: Result<[Posting; 2], Error>| match r {
            Err(Error::Validation(e)) => e.first().map(|f| f.code.clone()).unwrap_or_default(),
            Err(Error::Conflict { code, .. }) => code.as_str().to_owned(),
            Err(other) => other.to_string(),
            Ok(_) => "ok".into(),
        };
        assert_eq!(code(apply(&payment, &invoice, cents(5_000), "a")), "ok");
        assert_eq!(
            code(apply(&payment, &invoice, cents(5_001), "a")),
            "exceeds_unapplied"
        );
        assert_eq!(
            code(apply(
                &payment,
                &InvoiceState {
                    balance: cents(100),
                    ..invoice.clone()
                },
                cents(101),
                "a"
            )),
            "exceeds_open_balance"
        );
        assert_eq!(
            code(apply(&payment, &invoice, Decimal::ZERO, "a")),
            "not_positive"
        );
        assert_eq!(
            code(apply(
                &payment,
                &InvoiceState {
                    customer_id: Uuid::new_v4(),
                    ..invoice.clone()
                },
                cents(1),
                "a"
            )),
            "other_customer"
        );
        assert_eq!(
            code(apply(
                &payment,
                &InvoiceState {
                    currency: "EUR".into(),
                    ..invoice.clone()
                },
                cents(1),
                "a"
            )),
            "currency_mismatch"
        );
        assert_eq!(
            code(apply(
                &payment,
                &InvoiceState {
                    status: InvoiceStatus::Void,
                    ..invoice.clone()
                },
                cents(1),
                "a"
            )),
            "invoice_void"
        );
        assert_eq!(
            code(apply(
                &payment,
                &InvoiceState {
                    status: InvoiceStatus::WrittenOff,
                    ..invoice.clone()
                },
                cents(1),
                "a"
            )),
            "invoice_written_off"
        );
        assert_eq!(
            code(apply(
                &PaymentState {
                    status: PaymentStatus::Returned,
                    ..payment.clone()
                },
                &invoice,
                cents(1),
                "a"
            )),
            "payment_not_posted"
        );
    }

    #[test]
    fn statuses_follow_balances() {
        assert_eq!(
            invoice_status(cents(100), cents(100), false, false),
            InvoiceStatus::Open
        );
        assert_eq!(
            invoice_status(cents(40), cents(100), false, false),
            InvoiceStatus::PartiallyPaid
        );
        assert_eq!(
            invoice_status(Decimal::ZERO, cents(100), false, false),
            InvoiceStatus::Paid
        );
        assert_eq!(
            invoice_status(Decimal::ZERO, cents(100), false, true),
            InvoiceStatus::WrittenOff
        );
        assert_eq!(
            invoice_status(cents(30), cents(100), false, true),
            InvoiceStatus::PartiallyPaid
        );
        assert_eq!(
            invoice_status(Decimal::ZERO, cents(100), true, false),
            InvoiceStatus::Void
        );
    }

    #[test]
    fn a_return_restores_every_invoice() {
        let payment = PaymentState {
            id: Uuid::new_v4(),
            customer_id: Uuid::nil(),
            currency: "USD".into(),
            amount: cents(900),
            unapplied: cents(0),
            refunded: Decimal::ZERO,
            status: PaymentStatus::Posted,
        };
        let apps: Vec<Application> = (0..3)
            .map(|_| Application {
                invoice_id: Uuid::new_v4(),
                amount: cents(300),
            })
            .collect();
        let postings = return_payment(&payment, &apps).unwrap_or_default();
        let (inv, cash) = effects(&postings);
        for a in &apps {
            assert_eq!(inv.get(&a.invoice_id), Some(&cents(300)));
        }
        // Unapplied cash: +9.00 back from the reversed applications, −9.00 with the receipt.
        assert_eq!(cash.get(&payment.id), Some(&Decimal::ZERO));
        // Net effect: the customer owes the payment's amount again.
        assert_eq!(
            postings.iter().map(|p| p.amount).sum::<Decimal>(),
            payment.amount
        );
        assert!(
            return_payment(
                &PaymentState {
                    status: PaymentStatus::Returned,
                    ..payment.clone()
                },
                &apps
            )
            .is_err()
        );
    }
}
