//! CSV records from a file that arrives in pieces (chunks read back from the database,
//! or a file read in blocks), with each record's line and byte offsets. Nothing but the
//! current piece and the current record is held, so memory stays flat however large the
//! file; and a reader can start at any record's offset, which is how a job resumes.
//!
//! Lines are counted from the bytes themselves (every `\n` consumed, quoted ones too),
//! so a record's line is where it starts in the file; blank lines are skipped.

/// Longest record accepted; a longer one is reported and skipped.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Most columns a record may have.
pub const MAX_FIELDS: usize = 1000;

/// One CSV record: its fields as bytes (not yet known to be text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Line the record starts on (the header is line 1).
    pub line: u64,
    /// Byte offset of its first byte.
    pub start: u64,
    /// Byte offset just past it: where the next record's reading starts.
    pub end: u64,
    /// The line the reader is on at `end`.
    pub end_line: u64,
    buffer: Vec<u8>,
    ends: Vec<usize>,
    /// Longer than [`MAX_RECORD_BYTES`] or wider than [`MAX_FIELDS`]: fields dropped.
    pub oversized: bool,
}

impl Record {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn field(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { *self.ends.get(i - 1)? };
        self.buffer.get(start..end)
    }

    /// The fields as text, or the index of the first that is not UTF-8.
    pub fn strings(&self) -> std::result::Result<Vec<String>, usize> {
        (0..self.len())
            .map(|i| {
                std::str::from_utf8(self.field(i).unwrap_or_default())
                    .map(|s| s.trim().to_owned())
                    .map_err(|_| i)
            })
            .collect()
    }
}

/// What the reader needs next.
#[derive(Debug)]
pub enum Next {
    Record(Record),
    /// Hand it the next piece with [`Records::feed`], or [`Records::finish`] at the end.
    NeedInput,
    End,
}

pub struct Records {
    parser: csv_core::Reader,
    input: Vec<u8>,
    pos: usize,
    /// Absolute offset of `input[pos]`.
    offset: u64,
    line: u64,
    eof: bool,
    done: bool,
    current: Option<Partial>,
}

struct Partial {
    line: u64,
    start: u64,
    buffer: Vec<u8>,
    len: usize,
    ends: Vec<usize>,
    count: usize,
    oversized: bool,
}

impl Records {
    /// A reader starting at byte `offset` of the file, which is on `line`.
    pub fn new(delimiter: u8, offset: u64, line: u64) -> Self {
        Records {
            parser: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            input: Vec::new(),
            pos: 0,
            offset,
            line,
            eof: false,
            done: false,
            current: None,
        }
    }

    /// The next piece of the file (after [`Next::NeedInput`]).
    pub fn feed(&mut self, piece: Vec<u8>) {
        self.input = piece;
        self.pos = 0;
    }

    /// No more input after what was fed: the last record (without a final line break)
    /// is still returned.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    fn consume(&mut self, n: usize) {
        let taken = self.input.get(self.pos..self.pos + n).unwrap_or_default();
        let newlines = taken.iter().filter(|b| **b == b'\n').count();
        self.line += u64::try_from(newlines).unwrap_or(0);
        self.offset += u64::try_from(n).unwrap_or(0);
        self.pos += n;
    }

    pub fn read(&mut self) -> Next {
        use csv_core::ReadRecordResult as R;
        if self.done {
            return Next::End;
        }
        loop {
            if self.current.is_none() {
                // Between records: skip blank lines, so a record's line is its own.
                let skip = self
                    .input
                    .get(self.pos..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|b| matches!(b, b'\r' | b'\n'))
                    .count();
                self.consume(skip);
                if self.pos >= self.input.len() && !self.eof {
                    return Next::NeedInput;
                }
                if self.pos >= self.input.len() && self.eof {
                    self.done = true;
                    return Next::End;
                }
                self.current = Some(Partial {
                    line: self.line,
                    start: self.offset,
                    buffer: vec![0; 1024],
                    len: 0,
                    ends: vec![0; 32],
                    count: 0,
                    oversized: false,
                });
            }
            let Some(mut cur) = self.current.take() else {
                continue;
            };
            let (result, nin, nout, nend) = {
                let input = self.input.get(self.pos..).unwrap_or_default();
                let out = cur.buffer.get_mut(cur.len..).unwrap_or_default();
                let ends = cur.ends.get_mut(cur.count..).unwrap_or_default();
                self.parser.read_record(input, out, ends)
            };
            self.consume(nin);
            if !cur.oversized {
                cur.len += nout;
                cur.count += nend;
            }
            match result {
                R::InputEmpty if !self.eof => {
                    self.current = Some(cur);
                    return Next::NeedInput;
                }
                R::InputEmpty => {
                    // At the end, an empty input asks the parser to close the record.
                    self.current = Some(cur);
                }
                R::OutputFull => {
                    if cur.buffer.len() * 2 > MAX_RECORD_BYTES {
                        // Keep parsing into the same space, dropping the fields.
                        cur.oversized = true;
                        cur.len = 0;
                    } else {
                        let grown = cur.buffer.len() * 2;
                        cur.buffer.resize(grown, 0);
                    }
                    self.current = Some(cur);
                }
                R::OutputEndsFull => {
                    if cur.ends.len() >= MAX_FIELDS {
                        cur.oversized = true;
                        cur.count = 0;
                    } else {
                        let grown = cur.ends.len() * 2;
                        cur.ends.resize(grown, 0);
                    }
                    self.current = Some(cur);
                }
                R::Record => {
                    let mut buffer = cur.buffer;
                    buffer.truncate(cur.len);
                    let mut ends = cur.ends;
                    ends.truncate(cur.count);
                    // Field ends count from the record's start even across refills.
                    let oversized = cur.oversized;
                    if oversized {
                        buffer.clear();
                        ends.clear();
                    }
                    return Next::Record(Record {
                        line: cur.line,
                        start: cur.start,
                        end: self.offset,
                        end_line: self.line,
                        buffer,
                        ends,
                        oversized,
                    });
                }
                R::End => {
                    self.done = true;
                    return Next::End;
                }
            }
        }
    }
}

/// Reads every record of an in-memory or blocking source, a block at a time (for the
/// command-line import and tests).
pub fn read_all<R: std::io::Read>(
    mut input: R,
    delimiter: u8,
    mut each: impl FnMut(Record) -> bool,
) -> std::io::Result<()> {
    let mut records = Records::new(delimiter, 0, 1);
    loop {
        match records.read() {
            Next::Record(r) => {
                if !each(r) {
                    return Ok(());
                }
            }
            Next::NeedInput => {
                let mut block = vec![0; 64 * 1024];
                let n = input.read(&mut block)?;
                if n == 0 {
                    records.finish();
                } else {
                    block.truncate(n);
                    records.feed(block);
                }
            }
            Next::End => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &[u8], piece: usize) -> Vec<(u64, Vec<String>, (u64, u64))> {
        let mut records = Records::new(b',', 0, 1);
        let mut pieces = text.chunks(piece.max(1));
        let mut out = Vec::new();
        loop {
            match records.read() {
                Next::Record(r) => {
                    out.push((r.line, r.strings().unwrap_or_default(), (r.end, r.end_line)))
                }
                Next::NeedInput => match pieces.next() {
                    Some(p) => records.feed(p.to_vec()),
                    None => records.finish(),
                },
                Next::End => return out,
            }
        }
    }

    #[test]
    fn records_keep_their_lines_across_any_split() {
        let text = b"a,b\r\n1,\"two\nlines\"\n\n3,4\n5,\"x,y\"";
        let whole = all(text, text.len());
        assert_eq!(
            whole
                .iter()
                .map(|(l, f, _)| (*l, f.clone()))
                .collect::<Vec<_>>(),
            [
                (1, vec!["a".to_owned(), "b".to_owned()]),
                (2, vec!["1".to_owned(), "two\nlines".to_owned()]),
                (5, vec!["3".to_owned(), "4".to_owned()]),
                (6, vec!["5".to_owned(), "x,y".to_owned()]),
            ]
        );
        for piece in 1..text.len() {
            assert_eq!(all(text, piece), whole, "pieces of {piece} bytes");
        }
    }

    #[test]
    fn a_reader_can_start_at_a_record() {
        let text = b"h1,h2\nr1,1\nr2,2\nr3,3\n";
        let whole = all(text, 4);
        let (_, _, (end_of_r1, line)) = whole[1];
        let mut records = Records::new(b',', end_of_r1, line);
        let start = usize::try_from(end_of_r1).unwrap_or_default();
        records.feed(text[start..].to_vec());
        records.finish();
        let Next::Record(r) = records.read() else {
            panic!("no record")
        };
        assert_eq!(
            (r.line, r.strings().unwrap_or_default()),
            (3, vec!["r2".to_owned(), "2".to_owned()])
        );
    }

    #[test]
    fn oversized_records_are_flagged_not_kept() {
        let mut text = b"a,b\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        text.extend_from_slice(b",1\nc,d\n");
        let mut records = Records::new(b',', 0, 1);
        records.feed(text);
        records.finish();
        let mut seen = Vec::new();
        while let Next::Record(r) = records.read() {
            seen.push((r.line, r.oversized, r.len()));
        }
        assert_eq!(seen, [(1, false, 2), (2, true, 0), (3, false, 2)]);
    }

    #[test]
    fn latin1_bytes_are_found() {
        let mut records = Records::new(b',', 0, 1);
        records.feed(b"Caf\xe9,ok\n".to_vec());
        records.finish();
        let Next::Record(r) = records.read() else {
            panic!("no record")
        };
        assert_eq!(r.strings(), Err(0));
    }
}
