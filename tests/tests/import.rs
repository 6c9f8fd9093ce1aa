//! Importing IBM's accounts-receivable sample into the ledger through `core::import`:
//! every row lands once, the totals match the CSV to the cent, and a second import of
//! the same file changes nothing.

use anyhow::Result;
use recoup_core::{Context, db, import};
use recoup_e2e::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ibm_sample_imports_exactly_once() -> Result<()> {
    let app = TestApp::spawn().await?;
    let pool = db::pool(&app.db.url, 2)?;
    let mut conn = db::conn(&pool).await?;
    let ctx = Context::system(app.clock_now());
    let file = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/ibm-accounts-receivable.csv"
    ))?;
    let mut reported = 0;
    let report =
        import::import_ibm(&mut conn, &ctx, file.as_slice(), |r| reported = r.rows).await?;
    assert!(report.errors.is_empty(), "{:?}", report.errors.first());
    assert_eq!((report.rows, reported), (2466, 2466));
    assert_eq!(
        (
            report.customers_created,
            report.invoices_created,
            report.payments_created
        ),
        (100, 2466, 2466)
    );

    let client = app.db.client().await?;
    let totals = client
        .query_one(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM invoices), \
                    (SELECT sum(amount)::text FROM invoices), (SELECT sum(amount)::text FROM payments), \
                    (SELECT count(*) FROM invoices WHERE status <> 'paid'), (SELECT sum(open_balance)::text FROM invoices)",
            &[],
        )
        .await?;
    let (customers, invoices): (i64, i64) = (totals.get(0), totals.get(1));
    let (billed, paid, unpaid, open): (String, String, i64, String) =
        (totals.get(2), totals.get(3), totals.get(4), totals.get(5));
    assert_eq!((customers, invoices, unpaid), (100, 2466, 0));
    assert_eq!(billed, "147703.1800");
    assert_eq!(paid, "147703.1800");
    assert_eq!(open, "0.0000");
    app.check_ledger().await?;
    // Rows flagged Disputed become disputes, resolved invalid on the settled date
    // (every row of the sample was settled); counted independently from the CSV.
    let text = String::from_utf8_lossy(&file).into_owned();
    let flagged = text
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(7) == Some("Yes"))
        .count();
    assert!(flagged > 0);
    assert_eq!(
        app.count(
            "SELECT 1 FROM disputes WHERE status = 'resolved_invalid' AND resolved_at IS NOT NULL"
        )
        .await?,
        i64::try_from(flagged)?
    );

    // Importing the same file again writes nothing new.
    let again = import::import_ibm(&mut conn, &ctx, file.as_slice(), |_| {}).await?;
    assert_eq!(
        (
            again.customers_created,
            again.invoices_created,
            again.payments_created,
            again.unchanged
        ),
        (0, 0, 0, 2466)
    );
    assert_eq!(app.count("SELECT 1 FROM payments").await?, 2466);
    assert_eq!(
        app.count("SELECT 1 FROM disputes").await?,
        i64::try_from(flagged)?
    );
    Ok(())
}
