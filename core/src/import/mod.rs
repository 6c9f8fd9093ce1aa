//! Importing customers, invoices and payments from CSV (and IBM's accounts-receivable
//! sample), as a background job.
//!
//! - [`receive`] stores an upload as it arrives: ~1 MiB chunks (`import_chunks`), the
//!   import row, the job and its outbox row, all in one transaction; the layout (kind
//!   and [`Mapping`]) and the file's header are checked before it commits. The whole
//!   file is never in memory.
//! - [`run_job`] (the worker) reads the chunks back one at a time through the streaming
//!   CSV [`reader`], checks each row ([`rows`], errors with their lines) and writes
//!   batches through the domain's upserts by external id ([`write`]), new invoices in
//!   bulk ([`bulk`]). Each batch commits with its row errors, the running totals and
//!   the position after its last row, so a job that is killed resumes where it
//!   stopped, and one that is run twice changes nothing twice (rows are idempotent
//!   anyway).
//! - [`import_reader`] does the same at once from a reader (the CLI, demo seeding);
//!   [`import_ibm_shifted`] moves IBM's sample to the present on the way ([`shift`]).

mod bulk;
pub mod layout;
pub mod reader;
pub mod rows;
pub mod shift;
pub mod write;

use crate::error::ProblemCode;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

pub use layout::{ImportKind, Layout, Mapping};
pub use rows::{IbmRow, RowError};
pub use shift::DateShift;

use crate::access::{Context, Visibility};
use crate::error::{Error, FieldError, Result};
use crate::job::{self, Job, JobKind};
use crate::schema::{import_chunks, import_row_errors, imports, jobs};
use reader::{Next, Records};
use rows::Checker;
use write::Tally;

/// Size of a stored chunk of an upload.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Rows written per transaction: each batch commits with its resume position. Each
/// row's upsert is a savepoint, and PostgreSQL slows every session down once one
/// transaction holds more than 64 subtransactions, so batches stay below that; a
/// larger batch was not faster (the cost is the round trips of each row's upsert).
pub const BATCH_ROWS: u64 = 50;
/// Rows per transaction while an invoices import's rows go the bulk path (a few
/// statements per batch, whatever its size): large enough that the per-batch round
/// trips and commit are noise, small enough that a batch holds little memory and a
/// killed run loses little work.
pub const BULK_BATCH_ROWS: u64 = 2000;

/// How many rows the next batch reads. Kinds without a bulk path stay at
/// [`BATCH_ROWS`]; an invoices import takes [`BULK_BATCH_ROWS`] while most rows went
/// the bulk path, and falls back to [`BATCH_ROWS`] after a batch with many per-row
/// writes (a re-import, a file of updates) so its savepoints stay few.
fn batch_rows(kind: ImportKind, last: Option<&Tally>) -> u64 {
    if kind != ImportKind::Invoices {
        return BATCH_ROWS;
    }
    match last {
        Some(t) if t.per_row > BATCH_ROWS || t.per_row * 2 > t.counts.rows => BATCH_ROWS,
        _ => BULK_BATCH_ROWS,
    }
}

/// Lets the batch's transaction commit without waiting for its WAL to reach disk. A
/// commit lost to a server crash loses the whole batch with its resume position (they
/// are one transaction), so the job re-runs it from the last durable batch: no row is
/// lost or written twice, and nothing outside the database saw the lost commit but
/// the job's progress.
async fn relax_commit(conn: &mut AsyncPgConnection) -> Result<()> {
    diesel::sql_query("SET LOCAL synchronous_commit = off")
        .execute(conn)
        .await?;
    Ok(())
}
/// Errors listed in a report; `rejected` counts them all.
pub const MAX_REPORTED_ERRORS: i64 = 1000;
/// How much of the file's start is kept to check its header before committing.
const HEAD_BYTES: usize = 64 * 1024;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Rows read (the header not counted).
    pub rows: u64,
    pub customers_created: u64,
    pub invoices_created: u64,
    pub payments_created: u64,
    /// Rows that found their record and changed its descriptive data.
    pub updated: u64,
    /// Rows already imported: same external ids, same data; nothing written.
    pub unchanged: u64,
    /// Rows refused, each with one or more errors.
    pub rejected: u64,
    /// Row errors by line (the first 1,000; `rejected` counts every refused row).
    pub errors: Vec<RowError>,
}

impl ImportReport {
    /// Adds a batch's counts to the totals and takes its row errors.
    fn absorb(&mut self, batch: &mut ImportReport) {
        self.rows += batch.rows;
        self.customers_created += batch.customers_created;
        self.invoices_created += batch.invoices_created;
        self.payments_created += batch.payments_created;
        self.updated += batch.updated;
        self.unchanged += batch.unchanged;
        self.rejected += batch.rejected;
        // A file of a million bad rows would otherwise hold a million errors in
        // memory; the job's report lists as many (`MAX_REPORTED_ERRORS`).
        let room = usize::try_from(MAX_REPORTED_ERRORS)
            .unwrap_or(0)
            .saturating_sub(self.errors.len());
        self.errors.extend(batch.errors.drain(..).take(room));
    }
}

/// A piece of an upload, in the order it arrived.
pub enum Piece<D> {
    /// A small form field (`kind`, `mapping`).
    Field { name: String, value: String },
    /// Bytes of the file.
    Data(D),
}

/// Where an upload comes from (the API's request body); core stays free of HTTP.
pub trait UploadSource: Send {
    type Data: AsRef<[u8]> + Send;
    type Error: Send;
    fn next(
        &mut self,
    ) -> impl std::future::Future<
        Output = std::result::Result<Option<Piece<Self::Data>>, Self::Error>,
    > + Send;
}

/// An upload refused by the import (a domain error) or by its source (the transport).
#[derive(Debug)]
pub enum UploadError<E> {
    Import(Error),
    Source(E),
}

impl<E> From<Error> for UploadError<E> {
    fn from(e: Error) -> Self {
        UploadError::Import(e)
    }
}

impl<E> From<diesel::result::Error> for UploadError<E> {
    fn from(e: diesel::result::Error) -> Self {
        UploadError::Import(Error::Database(e))
    }
}

/// What the caller said about the file before it arrived (query parameters); form
/// fields may say it too, once.
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    pub kind: Option<String>,
    pub mapping: Option<String>,
}

struct Spec {
    kind: Option<ImportKind>,
    mapping: Option<Mapping>,
    said: Vec<String>,
}

impl Spec {
    fn new(request: &ImportRequest) -> Result<Self> {
        let mut spec = Spec {
            kind: None,
            mapping: None,
            said: Vec::new(),
        };
        if let Some(kind) = &request.kind {
            spec.set("kind", kind)?;
        }
        if let Some(mapping) = &request.mapping {
            spec.set("mapping", mapping)?;
        }
        Ok(spec)
    }

    fn set(&mut self, name: &str, value: &str) -> Result<()> {
        if self.said.iter().any(|s| s == name) {
            return Err(Error::validation(
                name,
                "given_twice",
                format!("{name} is given twice (query and form, or two parts)"),
            ));
        }
        self.said.push(name.to_owned());
        match name {
            "kind" => self.kind = Some(ImportKind::parse_requested(Some(value))?),
            "mapping" => self.mapping = Some(layout::parse_mapping(value)?),
            other => {
                return Err(Error::validation(
                    other,
                    "unknown_field",
                    "the form has the parts kind, mapping and file",
                ));
            }
        }
        // A mapping that cannot fit the kind is refused before the file is read.
        if let (Some(kind), Some(mapping)) = (self.kind, &self.mapping) {
            Layout::new(kind, Some(mapping))?;
        }
        Ok(())
    }
}

/// Writes an upload's chunks as its bytes arrive.
struct ChunkWriter {
    import_id: Uuid,
    seq: i32,
    written: u64,
    pending: Vec<u8>,
    head: Vec<u8>,
    newlines: u64,
    last: Option<u8>,
}

impl ChunkWriter {
    fn new(import_id: Uuid) -> Self {
        ChunkWriter {
            import_id,
            seq: 0,
            written: 0,
            pending: Vec::with_capacity(CHUNK_BYTES),
            head: Vec::new(),
            newlines: 0,
            last: None,
        }
    }

    fn size(&self) -> u64 {
        self.written + u64::try_from(self.pending.len()).unwrap_or(0)
    }

    async fn write(&mut self, conn: &mut AsyncPgConnection, mut data: &[u8]) -> Result<()> {
        if self.head.len() < HEAD_BYTES {
            let take = data.len().min(HEAD_BYTES - self.head.len());
            self.head
                .extend_from_slice(data.get(..take).unwrap_or_default());
        }
        let newlines = data.iter().filter(|b| **b == b'\n').count();
        self.newlines += u64::try_from(newlines).unwrap_or(0);
        if let Some(b) = data.last() {
            self.last = Some(*b);
        }
        while !data.is_empty() {
            let room = CHUNK_BYTES - self.pending.len();
            let (now, later) = data.split_at(room.min(data.len()));
            self.pending.extend_from_slice(now);
            data = later;
            if self.pending.len() == CHUNK_BYTES {
                self.flush(conn).await?;
            }
        }
        Ok(())
    }

    async fn flush(&mut self, conn: &mut AsyncPgConnection) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        diesel::insert_into(import_chunks::table)
            .values((
                import_chunks::import_id.eq(self.import_id),
                import_chunks::seq.eq(self.seq),
                import_chunks::byte_offset.eq(i64::try_from(self.written).unwrap_or(i64::MAX)),
                import_chunks::data.eq(&self.pending),
            ))
            .execute(conn)
            .await?;
        self.written += u64::try_from(self.pending.len()).unwrap_or(0);
        self.seq += 1;
        self.pending.clear();
        Ok(())
    }

    /// Rows after the header, as far as line breaks tell (a quoted one overcounts).
    fn rows_estimate(&self) -> u64 {
        let lines = self.newlines + u64::from(self.last.is_some_and(|b| b != b'\n'));
        lines.saturating_sub(1)
    }
}

/// Checks the header at the start of the file against the layout, so a file that
/// cannot fit is refused at once (422 `missing_columns`) rather than by its job.
fn check_header(layout: &Layout, head: &[u8], complete: bool) -> Result<()> {
    let mut records = Records::new(layout.delimiter, 0, 1);
    records.feed(head.to_vec());
    if complete {
        records.finish();
    }
    let header = match records.read() {
        Next::Record(r) => r,
        _ => {
            return Err(Error::Rejected {
                code: ProblemCode::UnreadableHeader,
                detail: format!(
                    "the file must start with a header line shorter than {} KiB",
                    HEAD_BYTES / 1024
                ),
                errors: Vec::new(),
            });
        }
    };
    match Checker::new(layout.clone(), &header) {
        Ok(_) => Ok(()),
        Err(errors) => {
            let code = if errors.iter().any(|e| e.code == "missing_column") {
                ProblemCode::MissingColumns
            } else {
                ProblemCode::UnreadableHeader
            };
            Err(Error::Rejected {
                code,
                detail: format!("the file's header does not fit the {} layout", layout.kind),
                errors: errors
                    .into_iter()
                    .map(|e| FieldError::new("file", &e.code, e.message))
                    .collect(),
            })
        }
    }
}

/// Stores an upload and queues its import, in one transaction: the caller must be
/// allowed to import (checked before anything is read), the kind and mapping must make
/// a layout, and the file's header must fit it. Nothing is kept if anything fails.
pub async fn receive<S: UploadSource>(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    request: &ImportRequest,
    source: &mut S,
) -> std::result::Result<Job, UploadError<S::Error>> {
    job::require_import(ctx)?;
    let mut spec = Spec::new(request)?;
    conn.transaction(async |conn| {
        let import_id = Uuid::now_v7();
        let mut chunks = ChunkWriter::new(import_id);
        while let Some(piece) = source.next().await.map_err(UploadError::Source)? {
            match piece {
                Piece::Field { name, value } => spec.set(&name, &value)?,
                Piece::Data(data) => chunks.write(conn, data.as_ref()).await?,
            }
        }
        chunks.flush(conn).await?;
        let kind = ImportKind::parse_requested(spec.kind.map(ImportKind::as_str))?;
        let layout = Layout::new(kind, spec.mapping.as_ref())?;
        if chunks.size() == 0 {
            return Err(Error::Unprocessable {
                code: ProblemCode::EmptyFile,
                detail: "the file is empty".into(),
            }
            .into());
        }
        check_header(
            &layout,
            &chunks.head,
            chunks.size() <= u64::try_from(HEAD_BYTES).unwrap_or(0),
        )?;
        let total = i64::try_from(chunks.rows_estimate()).ok();
        let job = job::enqueue(conn, ctx, JobKind::Import, total).await?;
        let mapping = spec
            .mapping
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| Error::Internal(e.to_string()))?;
        diesel::insert_into(imports::table)
            .values((
                imports::id.eq(import_id),
                imports::job_id.eq(job.id),
                imports::kind.eq(kind.as_str()),
                imports::mapping.eq(&mapping),
                imports::size_bytes.eq(i64::try_from(chunks.size()).unwrap_or(i64::MAX)),
                imports::created_at.eq(ctx.now),
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
            Some(&serde_json::json!({
                "job": job, "kind": kind, "mapping": mapping, "size_bytes": chunks.size(),
            })),
        )
        .await?;
        Ok(job)
    })
    .await
}

/// A file already in memory as an upload (tests and tools).
pub struct InMemory(Option<Vec<u8>>);

impl UploadSource for InMemory {
    type Data = Vec<u8>;
    type Error = std::convert::Infallible;
    async fn next(&mut self) -> std::result::Result<Option<Piece<Vec<u8>>>, Self::Error> {
        Ok(self.0.take().map(Piece::Data))
    }
}

/// Stores a file held in memory and queues its import (tests and tools).
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    kind: ImportKind,
    mapping: Option<&Mapping>,
    content: Vec<u8>,
) -> Result<Job> {
    let request = ImportRequest {
        kind: Some(kind.as_str().to_owned()),
        mapping: mapping
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| Error::Internal(e.to_string()))?,
    };
    receive(conn, ctx, &request, &mut InMemory(Some(content)))
        .await
        .map_err(|e| match e {
            UploadError::Import(e) => e,
            UploadError::Source(never) => match never {},
        })
}

/// An import as the worker reads it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = imports)]
struct Stored {
    id: Uuid,
    kind: String,
    mapping: Option<serde_json::Value>,
    resume_offset: Option<i64>,
    resume_line: Option<i64>,
}

/// Reads an import's chunks back in order, from any byte offset.
struct ChunkReader {
    import_id: Uuid,
    next_seq: i32,
    skip: usize,
}

impl ChunkReader {
    async fn at(conn: &mut AsyncPgConnection, import_id: Uuid, offset: u64) -> Result<Self> {
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let found: Option<(i32, i64)> = import_chunks::table
            .filter(import_chunks::import_id.eq(import_id))
            .filter(import_chunks::byte_offset.le(offset))
            .order(import_chunks::seq.desc())
            .select((import_chunks::seq, import_chunks::byte_offset))
            .first(conn)
            .await
            .optional()?;
        let (next_seq, skip) = match found {
            Some((seq, start)) => (seq, usize::try_from(offset - start).unwrap_or(0)),
            None => (0, 0),
        };
        Ok(ChunkReader {
            import_id,
            next_seq,
            skip,
        })
    }

    async fn next(&mut self, conn: &mut AsyncPgConnection) -> Result<Option<Vec<u8>>> {
        let data: Option<Vec<u8>> = import_chunks::table
            .filter(import_chunks::import_id.eq(self.import_id))
            .filter(import_chunks::seq.eq(self.next_seq))
            .select(import_chunks::data)
            .first(conn)
            .await
            .optional()?;
        Ok(data.map(|mut d| {
            self.next_seq += 1;
            if self.skip > 0 {
                d.drain(..self.skip.min(d.len()));
                self.skip = 0;
            }
            d
        }))
    }
}

/// Next record of a chunked file, fetching chunks as the reader asks.
async fn next_record(
    conn: &mut AsyncPgConnection,
    records: &mut Records,
    chunks: &mut ChunkReader,
) -> Result<Option<reader::Record>> {
    loop {
        match records.read() {
            Next::Record(r) => return Ok(Some(r)),
            Next::End => return Ok(None),
            Next::NeedInput => match chunks.next(conn).await? {
                Some(data) => records.feed(data),
                None => records.finish(),
            },
        }
    }
}

/// How a run of an import job ended.
#[derive(Debug)]
pub enum RunOutcome {
    /// Every row read; the report.
    Finished(serde_json::Value),
    /// Asked to stop (the worker is shutting down): the job is queued again and resumes
    /// from its last batch.
    Returned,
    /// Another run of the same job committed past this one's position (a message
    /// delivered twice); this run stopped and leaves the job to it.
    Superseded,
}

/// The customers the importer may see: the job acts as the system, but rows may only
/// name customers their importer could name in a request.
async fn importer_visibility(conn: &mut AsyncPgConnection, job: &Job) -> Result<Visibility> {
    use crate::schema::users;
    match (job.actor_kind.as_str(), job.created_by) {
        ("user", Some(id)) => {
            let role: Option<crate::user::Role> = users::table
                .find(id)
                .select(users::role)
                .first(conn)
                .await
                .optional()?;
            Ok(match role {
                Some(role) => crate::Actor::User { id, role }.customer_visibility(),
                // No such user any more: nothing is theirs to name.
                None => Visibility::AssignedTo(Uuid::nil()),
            })
        }
        _ => Ok(Visibility::All),
    }
}

/// Runs an import job (marked running by the caller; see `job::start`) from where its
/// last committed batch left it, until the file ends or `stop` says to hand it back.
pub async fn run_job(
    conn: &mut AsyncPgConnection,
    job: &Job,
    now: impl Fn() -> DateTime<Utc>,
    stop: impl Fn() -> bool,
) -> Result<RunOutcome> {
    let stored: Stored = imports::table
        .filter(imports::job_id.eq(job.id))
        .select(Stored::as_select())
        .first(conn)
        .await?;
    let kind: ImportKind = stored
        .kind
        .parse()
        .map_err(|e: crate::error::UnknownVariant| Error::Internal(e.to_string()))?;
    let mapping: Option<Mapping> = stored
        .mapping
        .clone()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| Error::Internal(format!("stored mapping: {e}")))?;
    let layout = Layout::new(kind, mapping.as_ref())?;
    let visibility = importer_visibility(conn, job).await?;
    // The worker writes as the system; the audit events name the job as their request.
    let request = Some(format!("job:{}", job.id));

    // The header is read on every run: the columns it binds are needed to read any row.
    let mut header_chunks = ChunkReader::at(conn, stored.id, 0).await?;
    let mut header_records = Records::new(layout.delimiter, 0, 1);
    let header = next_record(conn, &mut header_records, &mut header_chunks).await?;
    let checker = match header.as_ref().map(|h| Checker::new(layout.clone(), h)) {
        Some(Ok(checker)) => checker,
        Some(Err(errors)) => {
            // Nothing after a header that does not fit can be read.
            let tally = Tally {
                counts: ImportReport {
                    errors,
                    ..ImportReport::default()
                },
                ..Tally::default()
            };
            commit_batch(
                conn,
                job,
                stored.id,
                stored.resume_offset,
                (0, 1),
                tally,
                &now,
            )
            .await?;
            return finish(conn, job, stored.id, &now)
                .await
                .map(RunOutcome::Finished);
        }
        None => {
            return finish(conn, job, stored.id, &now)
                .await
                .map(RunOutcome::Finished);
        }
    };
    let (start, line) = match (stored.resume_offset, stored.resume_line, &header) {
        (Some(offset), Some(line), _) => (
            u64::try_from(offset).unwrap_or(0),
            u64::try_from(line).unwrap_or(1),
        ),
        (_, _, Some(h)) => (h.end, h.end_line),
        _ => (0, 1),
    };
    let mut expected = stored.resume_offset;
    let mut chunks = ChunkReader::at(conn, stored.id, start).await?;
    let mut records = Records::new(layout.delimiter, start, line);
    let mut position = (start, line);
    let mut last: Option<Tally> = None;
    loop {
        let mut tally = Tally::default();
        let mut batch = Vec::new();
        let mut at_end = false;
        let size = batch_rows(kind, last.as_ref());
        while tally.counts.rows < size {
            let Some(record) = next_record(conn, &mut records, &mut chunks).await? else {
                at_end = true;
                break;
            };
            tally.counts.rows += 1;
            position = (record.end, record.end_line);
            match checker.check(&record) {
                Ok(row) => batch.push(row),
                Err(errors) => tally.reject(errors),
            }
        }
        if tally.counts.rows == 0 && at_end {
            break;
        }
        let ctx = crate::Context::new(crate::Actor::System, request.clone(), now());
        let committed = conn
            .transaction(async |conn| {
                let current: Option<i64> = imports::table
                    .find(stored.id)
                    .select(imports::resume_offset)
                    .for_update()
                    .first(conn)
                    .await?;
                if current != expected {
                    return Ok(false);
                }
                relax_commit(conn).await?;
                write::write_rows(conn, &ctx, visibility, &checker, batch, &mut tally).await?;
                record_batch(conn, job, stored.id, position, &tally, ctx.now).await?;
                Ok::<_, Error>(true)
            })
            .await?;
        if !committed {
            return Ok(RunOutcome::Superseded);
        }
        expected = Some(i64::try_from(position.0).unwrap_or(i64::MAX));
        last = Some(tally);
        if at_end {
            break;
        }
        if stop() {
            job::requeue(conn, job.id, now()).await?;
            return Ok(RunOutcome::Returned);
        }
    }
    finish(conn, job, stored.id, &now)
        .await
        .map(RunOutcome::Finished)
}

/// Commits a batch that wrote nothing (the header's errors).
async fn commit_batch(
    conn: &mut AsyncPgConnection,
    job: &Job,
    import_id: Uuid,
    expected: Option<i64>,
    position: (u64, u64),
    tally: Tally,
    now: &impl Fn() -> DateTime<Utc>,
) -> Result<()> {
    let at = now();
    conn.transaction(async |conn| {
        let current: Option<i64> = imports::table
            .find(import_id)
            .select(imports::resume_offset)
            .for_update()
            .first(conn)
            .await?;
        if current == expected {
            record_batch(conn, job, import_id, position, &tally, at).await?;
        }
        Ok(())
    })
    .await
}

/// Stores what a batch did, in its transaction: its errors, the running totals, the
/// position after its last row, and the job's progress.
async fn record_batch(
    conn: &mut AsyncPgConnection,
    job: &Job,
    import_id: Uuid,
    position: (u64, u64),
    tally: &Tally,
    now: DateTime<Utc>,
) -> Result<()> {
    if !tally.counts.errors.is_empty() {
        let mut seq_of_line: std::collections::HashMap<u64, i32> = Default::default();
        let rows: Vec<_> = tally
            .counts
            .errors
            .iter()
            .map(|e| {
                let seq = seq_of_line.entry(e.line).or_insert(0);
                *seq += 1;
                (
                    import_row_errors::import_id.eq(import_id),
                    import_row_errors::line.eq(i64::try_from(e.line).unwrap_or(i64::MAX)),
                    import_row_errors::seq.eq(*seq),
                    import_row_errors::column_name.eq(e.column.clone()),
                    import_row_errors::code.eq(e.code.clone()),
                    import_row_errors::message.eq(e.message.clone()),
                )
            })
            .collect();
        diesel::insert_into(import_row_errors::table)
            .values(rows)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    }
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let rows_read: i64 = diesel::update(imports::table.find(import_id))
        .set((
            imports::resume_offset.eq(n(position.0)),
            imports::resume_line.eq(n(position.1)),
            imports::rows_read.eq(imports::rows_read + n(tally.counts.rows)),
            imports::customers_created
                .eq(imports::customers_created + n(tally.counts.customers_created)),
            imports::invoices_created
                .eq(imports::invoices_created + n(tally.counts.invoices_created)),
            imports::payments_created
                .eq(imports::payments_created + n(tally.counts.payments_created)),
            imports::updated.eq(imports::updated + n(tally.counts.updated)),
            imports::unchanged.eq(imports::unchanged + n(tally.counts.unchanged)),
            imports::rejected.eq(imports::rejected + n(tally.counts.rejected)),
        ))
        .returning(imports::rows_read)
        .get_result(conn)
        .await?;
    job::progress(conn, job.id, rows_read, now).await
}

/// The report of a finished import, from its totals and stored errors; the job's total
/// becomes the rows actually read.
async fn finish(
    conn: &mut AsyncPgConnection,
    job: &Job,
    import_id: Uuid,
    now: &impl Fn() -> DateTime<Utc>,
) -> Result<serde_json::Value> {
    type Totals = (i64, i64, i64, i64, i64, i64, i64);
    let totals: Totals = imports::table
        .find(import_id)
        .select((
            imports::rows_read,
            imports::customers_created,
            imports::invoices_created,
            imports::payments_created,
            imports::updated,
            imports::unchanged,
            imports::rejected,
        ))
        .first(conn)
        .await?;
    let errors: Vec<(i64, Option<String>, String, String)> = import_row_errors::table
        .filter(import_row_errors::import_id.eq(import_id))
        .order((import_row_errors::line.asc(), import_row_errors::seq.asc()))
        .select((
            import_row_errors::line,
            import_row_errors::column_name,
            import_row_errors::code,
            import_row_errors::message,
        ))
        .limit(MAX_REPORTED_ERRORS)
        .load(conn)
        .await?;
    let u = |v: i64| u64::try_from(v).unwrap_or(0);
    let report = ImportReport {
        rows: u(totals.0),
        customers_created: u(totals.1),
        invoices_created: u(totals.2),
        payments_created: u(totals.3),
        updated: u(totals.4),
        unchanged: u(totals.5),
        rejected: u(totals.6),
        errors: errors
            .into_iter()
            .map(|(line, column, code, message)| RowError {
                line: u(line),
                column,
                code,
                message,
            })
            .collect(),
    };
    diesel::update(jobs::table.find(job.id))
        .set((
            jobs::progress_total.eq(totals.0),
            jobs::progress_done.eq(totals.0),
            jobs::updated_at.eq(now()),
        ))
        .execute(conn)
        .await?;
    serde_json::to_value(&report).map_err(|e| Error::Internal(e.to_string()))
}

/// Reads the records of a file from `input`, a block at a time.
struct FileRecords<R> {
    input: R,
    records: Records,
}

impl<R: std::io::Read> FileRecords<R> {
    fn new(input: R, delimiter: u8) -> Self {
        Self {
            input,
            records: Records::new(delimiter, 0, 1),
        }
    }

    fn next(&mut self) -> Result<Option<reader::Record>> {
        loop {
            match self.records.read() {
                Next::Record(r) => return Ok(Some(r)),
                Next::End => return Ok(None),
                Next::NeedInput => {
                    let mut block = vec![0; CHUNK_BYTES];
                    let n = self
                        .input
                        .read(&mut block)
                        .map_err(|e| Error::Internal(format!("reading the file: {e}")))?;
                    if n == 0 {
                        self.records.finish();
                    } else {
                        block.truncate(n);
                        self.records.feed(block);
                    }
                }
            }
        }
    }
}

/// Imports a file read from `input` at once, in batches per transaction (sized as the
/// job's), calling `progress` after each (the command-line import and demo
/// seeding; the API goes through the job).
pub async fn import_reader<R: std::io::Read>(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    kind: ImportKind,
    mapping: Option<&Mapping>,
    input: R,
    progress: impl FnMut(&ImportReport),
) -> Result<ImportReport> {
    read_and_write(conn, ctx, kind, mapping, input, None, progress).await
}

/// [`import_reader`], with every checked row moved by `shift` before it is written.
async fn read_and_write<R: std::io::Read>(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    kind: ImportKind,
    mapping: Option<&Mapping>,
    input: R,
    shift: Option<&DateShift>,
    mut progress: impl FnMut(&ImportReport),
) -> Result<ImportReport> {
    let layout = Layout::new(kind, mapping)?;
    let visibility = ctx.actor.customer_visibility();
    let mut records = FileRecords::new(input, layout.delimiter);
    let mut report = ImportReport::default();
    let Some(header) = records.next()? else {
        return Ok(report);
    };
    let checker = match Checker::new(layout, &header) {
        Ok(c) => c,
        Err(errors) => {
            report.errors = errors;
            return Ok(report);
        }
    };
    let mut last: Option<Tally> = None;
    loop {
        let mut tally = Tally::default();
        let mut batch = Vec::new();
        let size = batch_rows(kind, last.as_ref());
        while tally.counts.rows < size {
            let Some(record) = records.next()? else {
                break;
            };
            tally.counts.rows += 1;
            let row = checker.check(&record).and_then(|row| match shift {
                Some(s) => s.row(row),
                None => Ok(row),
            });
            match row {
                Ok(row) => batch.push(row),
                Err(errors) => tally.reject(errors),
            }
        }
        if tally.counts.rows == 0 {
            return Ok(report);
        }
        conn.transaction(async |conn| {
            write::write_rows(conn, ctx, visibility, &checker, batch, &mut tally).await
        })
        .await?;
        report.absorb(&mut tally.counts);
        last = Some(tally);
        progress(&report);
    }
}

/// Imports a file in IBM's sample layout at once (see [`import_reader`]).
pub async fn import_ibm<R: std::io::Read>(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: R,
    progress: impl FnMut(&ImportReport),
) -> Result<ImportReport> {
    import_reader(conn, ctx, ImportKind::Ibm, None, input, progress).await
}

/// Imports a file in IBM's sample layout at once with every row's dates moved by
/// `shift` (see [`DateShift`]): settlements the shift puts after its today are not
/// written, so their invoices are open.
pub async fn import_ibm_shifted<R: std::io::Read>(
    conn: &mut AsyncPgConnection,
    ctx: &Context,
    input: R,
    shift: &DateShift,
    progress: impl FnMut(&ImportReport),
) -> Result<ImportReport> {
    read_and_write(
        conn,
        ctx,
        ImportKind::Ibm,
        None,
        input,
        Some(shift),
        progress,
    )
    .await
}

/// The latest `InvoiceDate` among the readable rows of a file in IBM's sample layout
/// (`None` when it has none): what [`DateShift::landing`] moves to the present.
pub fn ibm_last_invoice_date<R: std::io::Read>(input: R) -> Result<Option<NaiveDate>> {
    let layout = Layout::new(ImportKind::Ibm, None)?;
    let mut records = FileRecords::new(input, layout.delimiter);
    let Some(header) = records.next()? else {
        return Ok(None);
    };
    let Ok(checker) = Checker::new(layout, &header) else {
        return Ok(None);
    };
    let mut last = None;
    while let Some(record) = records.next()? {
        if let Ok(rows::Row::Ibm(row)) = checker.check(&record) {
            last = last.max(Some(row.invoice_date));
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(rows: u64, rejected: u64, first_line: u64) -> ImportReport {
        ImportReport {
            rows,
            rejected,
            errors: (0..rejected)
                .map(|i| RowError::new(first_line + i, Some("amount"), "invalid_amount", "x"))
                .collect(),
            ..ImportReport::default()
        }
    }

    #[test]
    fn the_shipped_samples_last_invoice_date() {
        let file = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../data/ibm-accounts-receivable.csv"
        ))
        .unwrap_or_default();
        assert_eq!(
            ibm_last_invoice_date(file.as_slice()).ok().flatten(),
            NaiveDate::from_ymd_opt(2013, 12, 2)
        );
        // A file with a header only, or with a header that does not fit, has none.
        let header_only = b"customerID,invoiceNumber\n";
        assert_eq!(ibm_last_invoice_date(&header_only[..]).ok().flatten(), None);
        assert_eq!(ibm_last_invoice_date(&b""[..]).ok().flatten(), None);
    }

    #[test]
    fn a_report_counts_every_rejection_and_lists_the_first_errors_only() {
        let mut report = ImportReport::default();
        for b in 0..30 {
            report.absorb(&mut batch(50, 50, 2 + b * 50));
        }
        assert_eq!(report.rows, 1_500);
        assert_eq!(report.rejected, 1_500);
        assert_eq!(report.errors.len(), 1_000);
        // The first errors of the file, in line order.
        assert_eq!(<[RowError]>::first(&report.errors).map(|e| e.line), Some(2));
        assert_eq!(report.errors.last().map(|e| e.line), Some(1_001));
    }
}
