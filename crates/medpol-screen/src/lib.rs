//! Batch screening of claim lines against medical policy.
//!
//! A reader thread reads the input (CSV or NDJSON) in batches; each batch is
//! split into chunks decided in parallel (rayon), and the chunks' output is
//! written in input order. At most two batches are in flight, so memory is
//! bounded whatever the input's size. Bad lines are reported with their input
//! line number and counted; they never stop the run unless `max_errors` says so.

pub mod impact;
pub mod input;
mod output;
pub mod x12;

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use medpol_core::determination::{Coverage, LineDetermination, PriorAuth};
use medpol_core::Engine;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::input::{ClaimLine, Columns, LineError, ProductCache, RawLine};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Csv,
    Ndjson,
    /// X12 837 (5010) professional or institutional claims.
    X12,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Csv,
    Ndjson,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub input: InputFormat,
    pub output: OutputFormat,
    /// Write only lines that are flagged (not covered, conditional, or
    /// needing prior authorization).
    pub only_flagged: bool,
    /// Stop after this many bad lines.
    pub max_errors: Option<u64>,
    /// Lines per batch read ahead.
    pub batch_lines: usize,
    /// Read and parse every line, decide and write nothing: the baseline the
    /// screening throughput is measured against.
    pub parse_only: bool,
    /// X12 input: one product (`product` or `payer/product`) for every claim,
    /// instead of the product map.
    pub x12_product: Option<String>,
    /// X12 input: the product map; None for the bundled one.
    pub x12_map: Option<x12::ProductMap>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            input: InputFormat::Csv,
            output: OutputFormat::Csv,
            only_flagged: false,
            max_errors: None,
            batch_lines: 65_536,
            parse_only: false,
            x12_product: None,
            x12_map: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub lines_read: u64,
    pub decided: u64,
    pub written: u64,
    pub flagged: u64,
    pub bad_lines: u64,
    pub coverage: BTreeMap<&'static str, u64>,
    pub prior_auth: BTreeMap<&'static str, u64>,
    /// Flagged lines by policy (`payer/number`).
    pub flagged_by_policy: BTreeMap<String, u64>,
    /// Flagged lines by reason.
    pub flagged_by_reason: BTreeMap<&'static str, u64>,
    /// True when `max_errors` stopped the run before the end of the input.
    pub stopped_early: bool,
    pub bytes_read: u64,
    /// X12 input: claims read, problems reported (each with its segment),
    /// and the claims and service lines those problems made the reader skip
    /// (skipped lines are also counted in `bad_lines`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x12: Option<X12Summary>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct X12Summary {
    pub claims_read: u64,
    pub problems: u64,
    pub claims_skipped: u64,
    pub lines_skipped: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("input: {0}")]
    Input(String),
}

/// A line is flagged when a policy makes it not covered or conditional, or
/// asks for (or may ask for) prior authorization.
pub fn is_flagged(coverage: Coverage, prior_auth: PriorAuth) -> bool {
    matches!(coverage, Coverage::NotCovered | Coverage::Conditional)
        || matches!(prior_auth, PriorAuth::AuthNeeded | PriorAuth::Conditional)
}

/// Reads the CSV header: one physical line, ended by LF, CRLF or a lone CR
/// (old Mac files: then every line ends so, see [`CrToLf`]). Returns the
/// header and whether lines end with a lone CR. A UTF-8 byte-order mark is
/// skipped; UTF-16 and other non-UTF-8 input is refused with what to do.
fn read_header(reader: &mut impl BufRead) -> Result<(String, bool), ScreenError> {
    let mut line = Vec::new();
    let mut cr_only = false;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        match buf.iter().position(|b| matches!(b, b'\n' | b'\r')) {
            Some(i) => {
                let end = buf[i];
                line.extend_from_slice(&buf[..i]);
                reader.consume(i + 1);
                if end == b'\r' {
                    // CRLF, or a lone CR?
                    let next = reader.fill_buf()?;
                    if next.first() == Some(&b'\n') {
                        reader.consume(1);
                    } else {
                        cr_only = true;
                    }
                }
                break;
            }
            None => {
                let n = buf.len();
                line.extend_from_slice(buf);
                reader.consume(n);
            }
        }
    }
    if line.starts_with(&[0xFF, 0xFE]) || line.starts_with(&[0xFE, 0xFF]) {
        return Err(ScreenError::Input(
            "the CSV input is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8"
                .into(),
        ));
    }
    let line = line.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(&line);
    let header = String::from_utf8(line.to_vec()).map_err(|e| {
        ScreenError::Input(format!(
            "the CSV header is not UTF-8 (byte {} is invalid); save the file as UTF-8",
            e.utf8_error().valid_up_to() + 1
        ))
    })?;
    Ok((header, cr_only))
}

/// The CSV input as the csv reader sees it: lines that end with a lone CR
/// read as if they ended with LF (a CR inside a quoted field becomes an LF:
/// in such a file it was a line end anyway), and the offset of every line
/// break noted, so that records are numbered by the file's own lines.
struct CrToLf<R> {
    inner: R,
    on: bool,
    /// Bytes read so far.
    offset: u64,
    /// Line breaks dropped from `breaks` (all before the current record).
    before: u64,
    /// Offsets of the line breaks not yet passed.
    breaks: std::collections::VecDeque<u64>,
    /// The input has ended.
    eof: bool,
}

impl<R> CrToLf<R> {
    fn new(inner: R, on: bool) -> CrToLf<R> {
        CrToLf {
            inner,
            on,
            offset: 0,
            before: 0,
            breaks: Default::default(),
            eof: false,
        }
    }

    /// Whether `offset` is the end of the input.
    fn at_end(&self, offset: u64) -> bool {
        self.eof && offset == self.offset
    }

    /// The line (from 1) that holds byte `at`; forgets the breaks before it
    /// (offsets asked for only grow).
    fn line_of(&mut self, at: u64) -> u64 {
        while self.breaks.front().is_some_and(|b| *b < at) {
            self.breaks.pop_front();
            self.before += 1;
        }
        self.before + 1
    }
}

impl<R: Read> Read for CrToLf<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.eof |= n == 0 && !buf.is_empty();
        if self.on {
            let mut from = 0;
            while let Some(i) = memchr::memchr(b'\r', &buf[from..n]) {
                buf[from + i] = b'\n';
                from += i + 1;
            }
        }
        let base = self.offset;
        self.breaks
            .extend(memchr::memchr_iter(b'\n', &buf[..n]).map(|i| base + i as u64));
        self.offset += n as u64;
        Ok(n)
    }
}

/// Counts bytes as the reader thread consumes them, for progress.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// One batch of raw records and their input line numbers.
enum Batch {
    Csv {
        records: Vec<csv::ByteRecord>,
        /// (first, last) input line of each record: a quoted field may span lines.
        lines: Vec<(u64, u64)>,
        len: usize,
    },
    Ndjson {
        buf: Vec<u8>,
        ends: Vec<usize>,
        /// (line, line), or (line, 0) for a line longer than [`MAX_NDJSON_LINE`].
        lines: Vec<(u64, u64)>,
    },
    X12 {
        // Boxed as the reader hands them out, and back to it for reuse.
        #[allow(clippy::vec_box)]
        claims: Vec<Box<medpol_x12::Claim>>,
        /// Service lines and problems, in file order.
        entries: Vec<X12Entry>,
    },
}

/// One thing read from an X12 file, in order.
enum X12Entry {
    /// Service line `line` of claim `claim` (indexes into the batch's claims).
    Line {
        claim: u32,
        line: u32,
    },
    Problem(medpol_x12::Problem),
}

/// Service lines per X12 batch at most (see `read_x12`).
const X12_BATCH_LINES: usize = 256;

/// Longer NDJSON lines are reported as bad, not held in memory.
const MAX_NDJSON_LINE: u64 = 1 << 20;

impl Batch {
    fn len(&self) -> usize {
        match self {
            Batch::Csv { len, .. } => *len,
            Batch::Ndjson { ends, .. } => ends.len(),
            Batch::X12 { entries, .. } => entries.len(),
        }
    }
}

/// The per-chunk tallies, merged in order.
#[derive(Default)]
struct Stats<'e> {
    read: u64,
    decided: u64,
    written: u64,
    flagged: u64,
    bad: u64,
    x12: X12Summary,
    coverage: [u64; 4],
    prior_auth: [u64; 4],
    by_policy: FxHashMap<&'e str, u64>,
    by_reason: FxHashMap<&'static str, u64>,
    impact: medpol_core::impact::Tally<'e>,
}

impl<'e> Stats<'e> {
    fn merge(&mut self, o: Stats<'e>) {
        self.impact.merge(o.impact);
        self.read += o.read;
        self.decided += o.decided;
        self.written += o.written;
        self.flagged += o.flagged;
        self.bad += o.bad;
        self.x12.claims_read += o.x12.claims_read;
        self.x12.problems += o.x12.problems;
        self.x12.claims_skipped += o.x12.claims_skipped;
        self.x12.lines_skipped += o.x12.lines_skipped;
        for i in 0..4 {
            self.coverage[i] += o.coverage[i];
            self.prior_auth[i] += o.prior_auth[i];
        }
        for (k, v) in o.by_policy {
            *self.by_policy.entry(k).or_default() += v;
        }
        for (k, v) in o.by_reason {
            *self.by_reason.entry(k).or_default() += v;
        }
    }
}

/// A worker's scratch for the proposed catalogue (impact analysis).
#[derive(Default)]
struct Proposed<'e> {
    products: impact::ProductMap,
    scratch: Option<LineDetermination<'e>>,
}

const COVERAGES: [Coverage; 4] = [
    Coverage::Covered,
    Coverage::Conditional,
    Coverage::NotCovered,
    Coverage::NoPolicy,
];
const PRIOR_AUTHS: [PriorAuth; 4] = [
    PriorAuth::NotApplicable,
    PriorAuth::NoAuth,
    PriorAuth::Conditional,
    PriorAuth::AuthNeeded,
];

struct ChunkResult<'e> {
    out: Vec<u8>,
    errors: Vec<u8>,
    stats: Stats<'e>,
}

struct Ctx<'e, 'o> {
    engine: &'e Engine,
    /// Impact analysis: the proposed catalogue every line is also decided by.
    proposed: Option<&'e Engine>,
    opts: &'o Options,
    columns: Option<&'o Columns>,
    products: Option<x12::ProductSource<'o>>,
}

impl<'e> Ctx<'e, '_> {
    /// Decides records `range` of a batch; stops after `error_budget` bad lines.
    fn chunk(
        &self,
        batch: &Batch,
        range: std::ops::Range<usize>,
        error_budget: Option<u64>,
    ) -> ChunkResult<'e> {
        let mut r = ChunkResult {
            out: Vec::with_capacity(range.len() * 96),
            errors: Vec::new(),
            stats: Stats::default(),
        };
        let mut products = ProductCache::default();
        let mut diagnoses: Vec<medpol_core::Code> = Vec::new();
        let mut scratch: Option<LineDetermination<'e>> = None;
        let mut proposed = Proposed::default();
        let mut x12_claim: Option<(u32, Result<x12::ClaimContext, LineError>)> = None;
        for i in range {
            if error_budget.is_some_and(|b| r.stats.bad >= b) {
                break;
            }
            if let Batch::X12 { claims, entries } = batch {
                match &entries[i] {
                    X12Entry::Problem(p) => {
                        r.stats.x12.problems += 1;
                        r.stats.x12.claims_skipped += p.claims_skipped as u64;
                        r.stats.x12.lines_skipped += p.lines_skipped as u64;
                        r.stats.read += p.lines_skipped as u64;
                        r.stats.bad += p.lines_skipped as u64;
                        let level = match p.severity {
                            medpol_x12::Severity::Warning => "warning",
                            medpol_x12::Severity::Error => "error",
                        };
                        let _ = writeln!(r.errors, "{level}: {p}");
                    }
                    X12Entry::Line { claim: ci, line } => {
                        r.stats.read += 1;
                        let claim = &claims[*ci as usize];
                        let li = *line as usize;
                        if li == 0 {
                            r.stats.x12.claims_read += 1;
                        }
                        // The claim's product and diagnoses, once per claim.
                        if x12_claim.as_ref().is_none_or(|(c, _)| c != ci) {
                            let source = self
                                .products
                                .as_ref()
                                .expect("X12 batches have a product source");
                            let ctx = x12::claim_context(
                                claim,
                                source,
                                self.engine,
                                &mut products,
                                &mut diagnoses,
                            );
                            if let Err(e) = &ctx {
                                let _ = writeln!(
                                    r.errors,
                                    "segment {} (claim {}): {}: {} ({} service line(s) not decided)",
                                    claim.segment,
                                    claim.id,
                                    e.field,
                                    e.message,
                                    claim.lines.len() - li
                                );
                            }
                            x12_claim = Some((*ci, ctx));
                        }
                        let Some((_, Ok(ctx))) = &x12_claim else {
                            r.stats.bad += 1;
                            continue;
                        };
                        match x12::claim_line(claim, li, ctx, &diagnoses) {
                            Ok(c) => self.decide(&mut r, &c, &mut scratch, &mut proposed),
                            Err(e) => {
                                r.stats.bad += 1;
                                let _ = writeln!(
                                    r.errors,
                                    "segment {} (claim {} line {}): {}: {}",
                                    claim.lines[li].segment,
                                    claim.id,
                                    claim.lines[li].number,
                                    e.field,
                                    e.message
                                );
                            }
                        }
                    }
                }
                continue;
            }
            r.stats.read += 1;
            let (input_line, raw) = match batch {
                Batch::Csv { records, lines, .. } => {
                    let rec = &records[i];
                    let columns = self.columns.expect("CSV batches have columns");
                    if rec.len() != columns.count {
                        self.bad(
                            &mut r,
                            lines[i],
                            None,
                            &LineError {
                                field: "columns",
                                message: format!(
                                    "expected {} columns (as in the header), found {}",
                                    columns.count,
                                    rec.len()
                                ),
                            },
                        );
                        continue;
                    }
                    (lines[i], RawLine::from_csv(columns, rec))
                }
                Batch::Ndjson { buf, ends, lines } => {
                    let start = if i == 0 { 0 } else { ends[i - 1] };
                    if lines[i].1 == 0 {
                        let e = LineError {
                            field: "json",
                            message: format!(
                                "the line is longer than {MAX_NDJSON_LINE} bytes: not a claim line"
                            ),
                        };
                        self.bad(&mut r, (lines[i].0, lines[i].0), None, &e);
                        continue;
                    }
                    (lines[i], RawLine::from_json(&buf[start..ends[i]]))
                }
                Batch::X12 { .. } => unreachable!("X12 entries are handled above"),
            };
            let raw = match raw {
                Ok(raw) => raw,
                Err(e) => {
                    self.bad(&mut r, input_line, None, &e);
                    continue;
                }
            };
            let claim = match raw.parse(self.engine, &mut products, &mut diagnoses) {
                Ok(c) => c,
                Err(e) => {
                    self.bad(&mut r, input_line, Some((&raw.claim_id, &raw.line)), &e);
                    continue;
                }
            };
            self.decide(&mut r, &claim, &mut scratch, &mut proposed);
        }
        r
    }

    /// Decides one parsed line and writes its row.
    fn decide(
        &self,
        r: &mut ChunkResult<'e>,
        claim: &ClaimLine<'_>,
        scratch: &mut Option<LineDetermination<'e>>,
        proposed: &mut Proposed<'e>,
    ) {
        if self.opts.parse_only {
            return;
        }
        // One determination reused for every line of the chunk.
        let d = scratch.get_or_insert_with(|| LineDetermination::empty(claim.service.code));
        self.engine.decide_into(
            claim.product,
            claim.setting,
            claim.date,
            &claim.service,
            claim.diagnoses,
            d,
        );
        let d = &*d;
        if let Some(engine) = self.proposed {
            let Some(product) = proposed.products.get(self.engine, engine, claim.product) else {
                r.stats.bad += 1;
                r.stats.impact.not_comparable += 1;
                let (payer, product) = self.engine.product_ids(claim.product);
                let _ = writeln!(
                    r.errors,
                    "claim {} line {}: product: {payer}/{product} is not offered in the proposed catalogue; the line is not compared",
                    claim.claim_id, claim.line
                );
                return;
            };
            let after = proposed
                .scratch
                .get_or_insert_with(|| LineDetermination::empty(claim.service.code));
            engine.decide_into(
                product,
                claim.setting,
                claim.date,
                &claim.service,
                claim.diagnoses,
                after,
            );
            r.stats.decided += 1;
            impact::compare(
                &mut r.stats.impact,
                &mut r.out,
                self.engine,
                claim,
                d,
                after,
            );
            return;
        }
        r.stats.decided += 1;
        r.stats.coverage[COVERAGES.iter().position(|c| *c == d.coverage).unwrap_or(0)] += 1;
        r.stats.prior_auth[PRIOR_AUTHS
            .iter()
            .position(|c| *c == d.prior_auth)
            .unwrap_or(0)] += 1;
        let flagged = is_flagged(d.coverage, d.prior_auth);
        if flagged {
            r.stats.flagged += 1;
            for (i, c) in d.citations.iter().enumerate() {
                // Count each policy once per line.
                if !d.citations[..i].iter().any(|x| x.policy == c.policy) {
                    *r.stats.by_policy.entry(c.policy).or_default() += 1;
                }
            }
            for reason in &d.reasons {
                *r.stats.by_reason.entry(reason.id()).or_default() += 1;
            }
            if d.reasons.is_empty() && d.prior_auth == PriorAuth::AuthNeeded {
                *r.stats.by_reason.entry("prior-auth").or_default() += 1;
            }
        }
        if flagged || !self.opts.only_flagged {
            r.stats.written += 1;
            match self.opts.output {
                OutputFormat::Csv => output::csv_row(&mut r.out, claim, d, flagged),
                OutputFormat::Ndjson => output::ndjson_row(&mut r.out, claim, d, flagged),
            }
        }
    }

    fn bad(
        &self,
        r: &mut ChunkResult<'e>,
        (first, last): (u64, u64),
        claim: Option<(&str, &str)>,
        e: &LineError,
    ) {
        r.stats.bad += 1;
        let claim = claim
            .map(|(id, line)| format!(" (claim {id} line {line})"))
            .unwrap_or_default();
        // A record over several lines is usually an unclosed quote that has
        // swallowed the lines after it: say which, so none vanish unnoticed.
        let place = if last > first {
            format!("input lines {first}-{last} (one record: a quoted field spans them; an unclosed quote?)")
        } else {
            format!("input line {first}")
        };
        let _ = writeln!(r.errors, "{place}{claim}: {}: {}", e.field, e.message);
    }
}

/// Screens `input`, writing one decision per line to `out` and each bad line
/// to `errors`. `progress` is called after each batch with the running counts
/// (lines read, decided, written, flagged, bad, bytes read).
pub fn screen(
    engine: &Engine,
    input: impl Read + Send,
    out: &mut dyn Write,
    errors: &mut dyn Write,
    opts: &Options,
    progress: &mut dyn FnMut(&Summary),
) -> Result<Summary, ScreenError> {
    run(engine, None, input, out, errors, opts, progress).map(|(s, _)| s)
}

/// Impact analysis: decides every line of `input` under `current` and under
/// `proposed`, in one pass at screening speed, writes each line whose
/// coverage or prior authorization changes to `changed` (CSV, see
/// [`impact::CHANGED_HEADER`]) and reports the transitions. Bad lines go to
/// `errors` as in [`screen`]; `opts.output` and `opts.only_flagged` do not apply.
pub fn impact(
    current: &Engine,
    proposed: &Engine,
    input: impl Read + Send,
    changed: &mut dyn Write,
    errors: &mut dyn Write,
    opts: &Options,
    progress: &mut dyn FnMut(&Summary),
) -> Result<(Summary, impact::ImpactReport), ScreenError> {
    changed.write_all(impact::CHANGED_HEADER.as_bytes())?;
    let (summary, report) = run(
        current,
        Some(proposed),
        input,
        changed,
        errors,
        opts,
        progress,
    )?;
    Ok((summary, report.expect("an impact run reports")))
}

fn run(
    engine: &Engine,
    proposed_engine: Option<&Engine>,
    input: impl Read + Send,
    out: &mut dyn Write,
    errors: &mut dyn Write,
    opts: &Options,
    progress: &mut dyn FnMut(&Summary),
) -> Result<(Summary, Option<impact::ImpactReport>), ScreenError> {
    let bytes = Arc::new(AtomicU64::new(0));
    let mut reader = BufReader::with_capacity(
        1 << 20,
        Counting {
            inner: input,
            count: bytes.clone(),
        },
    );

    let mut line_ends_cr = false;
    let columns = match opts.input {
        InputFormat::Csv => {
            let (header, cr_only) = read_header(&mut reader)?;
            line_ends_cr = cr_only;
            if header.trim().is_empty() {
                return Err(ScreenError::Input(
                    "the CSV input is empty: it needs a header line (see docs/screening.md)".into(),
                ));
            }
            let mut hr = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(header.as_bytes());
            let rec = hr
                .records()
                .next()
                .transpose()
                .map_err(|e| ScreenError::Input(format!("the header: {e}")))?
                .unwrap_or_default();
            let fields: Vec<&str> = rec.iter().collect();
            Some(Columns::from_header(&fields).map_err(ScreenError::Input)?)
        }
        InputFormat::Ndjson | InputFormat::X12 => None,
    };
    let is_x12 = opts.input == InputFormat::X12;
    if matches!(opts.output, OutputFormat::Csv) && !opts.parse_only && proposed_engine.is_none() {
        output::csv_header(out, is_x12)?;
    }
    let default_map;
    let products = if is_x12 {
        Some(match (&opts.x12_product, &opts.x12_map) {
            (Some(p), _) => {
                let (payer, product) = match p.split_once('/') {
                    Some((payer, product)) => (Some(payer.to_string()), product.to_string()),
                    None => (None, p.clone()),
                };
                engine
                    .resolve_product(payer.as_deref(), &product)
                    .map_err(|e| ScreenError::Input(format!("--product: {e}")))?;
                x12::ProductSource::Forced { payer, product }
            }
            (None, Some(map)) => {
                map.check(engine).map_err(ScreenError::Input)?;
                x12::ProductSource::Map(map)
            }
            (None, None) => {
                default_map = x12::ProductMap::parse(x12::DEFAULT_PRODUCT_MAP)
                    .map_err(|e| ScreenError::Input(format!("the bundled product map: {e}")))?;
                x12::ProductSource::Map(&default_map)
            }
        })
    } else {
        None
    };

    let ctx = Ctx {
        engine,
        proposed: proposed_engine,
        opts,
        columns: columns.as_ref(),
        products,
    };
    let mut stats = Stats::default();
    let mut stopped_early = false;
    let batch_lines = opts.batch_lines.max(1);
    let (full_tx, full_rx) = mpsc::sync_channel::<io::Result<Batch>>(1);
    let (free_tx, free_rx) = mpsc::channel::<Batch>();
    let input_format = opts.input;

    std::thread::scope(|s| -> Result<(), ScreenError> {
        s.spawn(move || match input_format {
            InputFormat::Csv => read_csv(
                CrToLf::new(reader, line_ends_cr),
                batch_lines,
                &full_tx,
                &free_rx,
            ),
            InputFormat::Ndjson => read_ndjson(reader, batch_lines, &full_tx, &free_rx),
            InputFormat::X12 => read_x12(reader, batch_lines, &full_tx, &free_rx),
        });
        // Owned here, so that leaving early (an error, max_errors) drops it and
        // the reader thread, blocked on a full channel, stops instead of
        // deadlocking the scope.
        let full_rx = full_rx;

        let threads = rayon::current_num_threads().max(1);
        for batch in full_rx.iter() {
            let batch = batch.map_err(|e| ScreenError::Input(format!("reading the input: {e}")))?;
            let n = batch.len();
            let chunk = n.div_ceil(threads * 4).max(256);
            let ranges: Vec<_> = (0..n)
                .step_by(chunk)
                .map(|a| a..(a + chunk).min(n))
                .collect();
            // One chunk (a small batch) is decided here: handing it to the
            // pool would only add a round trip between threads.
            let mut results: Vec<ChunkResult> = if ranges.len() == 1 {
                vec![ctx.chunk(&batch, ranges[0].clone(), None)]
            } else {
                ranges
                    .par_iter()
                    .map(|r| ctx.chunk(&batch, r.clone(), None))
                    .collect()
            };
            if let Some(max) = opts.max_errors {
                // Cut the batch exactly at the error that reaches the limit.
                let mut before = stats.bad;
                for (k, r) in results.iter().enumerate() {
                    if before + r.stats.bad >= max {
                        let redo = ctx.chunk(&batch, ranges[k].clone(), Some(max - before));
                        results.truncate(k);
                        results.push(redo);
                        stopped_early = true;
                        break;
                    }
                    before += r.stats.bad;
                }
            }
            for r in results {
                out.write_all(&r.out)?;
                errors.write_all(&r.errors)?;
                stats.merge(r.stats);
            }
            let _ = free_tx.send(batch);
            if stopped_early {
                break;
            }
            // The running counts only: the per-policy and per-reason tables
            // are for the final summary (building them after every batch
            // cost more than deciding, with small X12 batches and a large
            // catalogue).
            progress(&Summary {
                lines_read: stats.read,
                decided: stats.decided,
                written: stats.written,
                flagged: stats.flagged,
                bad_lines: stats.bad,
                bytes_read: bytes.load(Ordering::Relaxed),
                ..Summary::default()
            });
        }
        Ok(())
    })?;
    out.flush()?;
    errors.flush()?;
    Ok((
        summary(&stats, stopped_early, bytes.load(Ordering::Relaxed), is_x12),
        proposed_engine.map(|_| stats.impact.report()),
    ))
}

type Full = mpsc::SyncSender<io::Result<Batch>>;
type Free = mpsc::Receiver<Batch>;

/// Sends a filled batch (if any) and then the error (if any); false when the
/// reading should stop.
fn hand_over(full: &Full, batch: Batch, filled: io::Result<()>) -> bool {
    let more = batch.len() > 0 && filled.is_ok();
    if batch.len() > 0 && full.send(Ok(batch)).is_err() {
        return false;
    }
    if let Err(e) = filled {
        let _ = full.send(Err(e));
        return false;
    }
    more
}

/// Reads X12 claims into batches of about `batch_lines` service lines (a
/// claim is never split across batches), problems kept in file order.
fn read_x12(reader: impl BufRead, batch_lines: usize, full: &Full, free: &Free) {
    // Small batches: on one core the worker then decides the claims the
    // reader has just built, while they are still in cache (measured: 256
    // lines 1.3 s per million, 1,024 lines 1.5 s, 4,096 lines 2.8 s), and
    // recycled claims keep the allocator out of the way.
    let batch_lines = batch_lines.min(X12_BATCH_LINES);
    let mut x12 = medpol_x12::Reader::new(reader);
    loop {
        let mut batch = free.try_recv().unwrap_or(Batch::X12 {
            claims: Vec::new(),
            entries: Vec::new(),
        });
        let Batch::X12 { claims, entries } = &mut batch else {
            unreachable!("X12 batches only")
        };
        // A batch back from the workers: its claims' allocations serve the
        // claims read next.
        for c in claims.drain(..) {
            x12.recycle(c);
        }
        entries.clear();
        let mut lines = 0usize;
        let mut more = true;
        while lines < batch_lines {
            match x12.next_item() {
                None => {
                    more = false;
                    break;
                }
                Some(medpol_x12::Item::Problem(p)) => entries.push(X12Entry::Problem(p)),
                Some(medpol_x12::Item::Claim(c)) => {
                    let ci = claims.len() as u32;
                    for li in 0..c.lines.len() {
                        entries.push(X12Entry::Line {
                            claim: ci,
                            line: li as u32,
                        });
                    }
                    lines += c.lines.len().max(1);
                    claims.push(c);
                }
            }
        }
        if !hand_over(full, batch, Ok(())) || !more {
            return;
        }
    }
}

fn read_csv<R: Read>(reader: CrToLf<R>, batch_lines: usize, full: &Full, free: &Free) {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    loop {
        let mut batch = free.try_recv().unwrap_or(Batch::Csv {
            records: Vec::new(),
            lines: Vec::new(),
            len: 0,
        });
        let Batch::Csv {
            records,
            lines,
            len,
        } = &mut batch
        else {
            unreachable!("CSV batches only")
        };
        *len = 0;
        lines.clear();
        let mut filled = Ok(());
        while *len < batch_lines {
            if records.len() == *len {
                records.push(csv::ByteRecord::new());
            }
            match rdr.read_byte_record(&mut records[*len]) {
                Ok(true) => {
                    // Lines are counted here, not by the csv crate (whose
                    // count drifts with CRLF and blank lines): the record's
                    // last line holds the byte before where the reader stands
                    // (the terminator's first byte, or the record's last at
                    // the end of input); its first is as many lines up as the
                    // record has line breaks inside quoted fields.
                    let end = rdr.position().byte();
                    let inside = records[*len]
                        .iter()
                        .map(|f| f.iter().filter(|b| **b == b'\n').count() as u64)
                        .sum::<u64>();
                    // An unclosed quote runs to the end of the input: its
                    // final line break is then that last byte, not before it.
                    let open_to_end = rdr.get_ref().at_end(end)
                        && records[*len]
                            .iter()
                            .next_back()
                            .is_some_and(|f| f.last() == Some(&b'\n'));
                    let inside = inside - open_to_end as u64;
                    let last = rdr.get_mut().line_of(end.saturating_sub(1));
                    // The header was line 1 and is not part of this reader.
                    lines.push((last - inside.min(last - 1) + 1, last + 1));
                    *len += 1;
                }
                Ok(false) => break,
                Err(e) => {
                    filled = Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string()));
                    break;
                }
            }
        }
        if !hand_over(full, batch, filled) {
            return;
        }
    }
}

fn read_ndjson(mut reader: impl BufRead, batch_lines: usize, full: &Full, free: &Free) {
    let mut line_no = 0u64;
    loop {
        let mut batch = free.try_recv().unwrap_or(Batch::Ndjson {
            buf: Vec::new(),
            ends: Vec::new(),
            lines: Vec::new(),
        });
        let Batch::Ndjson { buf, ends, lines } = &mut batch else {
            unreachable!("NDJSON batches only")
        };
        buf.clear();
        ends.clear();
        lines.clear();
        let mut filled = Ok(());
        while ends.len() < batch_lines {
            let start = buf.len();
            match (&mut reader).take(MAX_NDJSON_LINE).read_until(b'\n', buf) {
                Ok(0) => break,
                Ok(n) if n as u64 == MAX_NDJSON_LINE && buf.last() != Some(&b'\n') => {
                    // Too long: skip to the end of the line, keep its number.
                    line_no += 1;
                    buf.truncate(start);
                    let mut sink = Vec::new();
                    loop {
                        sink.clear();
                        match (&mut reader)
                            .take(MAX_NDJSON_LINE)
                            .read_until(b'\n', &mut sink)
                        {
                            Ok(0) => break,
                            Ok(_) if sink.last() == Some(&b'\n') => break,
                            Ok(_) => continue,
                            Err(e) => {
                                filled = Err(e);
                                break;
                            }
                        }
                    }
                    ends.push(buf.len());
                    lines.push((line_no, 0));
                    if filled.is_err() {
                        break;
                    }
                }
                Ok(_) => {
                    line_no += 1;
                    while buf.len() > start && matches!(buf[buf.len() - 1], b'\n' | b'\r') {
                        buf.pop();
                    }
                    // Blank lines are not claim lines.
                    if buf[start..].iter().all(u8::is_ascii_whitespace) {
                        buf.truncate(start);
                        continue;
                    }
                    ends.push(buf.len());
                    lines.push((line_no, line_no));
                }
                Err(e) => {
                    filled = Err(e);
                    break;
                }
            }
        }
        if !hand_over(full, batch, filled) {
            return;
        }
    }
}

fn summary(stats: &Stats<'_>, stopped_early: bool, bytes_read: u64, x12: bool) -> Summary {
    Summary {
        lines_read: stats.read,
        decided: stats.decided,
        written: stats.written,
        flagged: stats.flagged,
        bad_lines: stats.bad,
        coverage: COVERAGES
            .iter()
            .zip(stats.coverage)
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| (c.id(), n))
            .collect(),
        prior_auth: PRIOR_AUTHS
            .iter()
            .zip(stats.prior_auth)
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| (c.id(), n))
            .collect(),
        flagged_by_policy: stats
            .by_policy
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        flagged_by_reason: stats.by_reason.iter().map(|(k, v)| (*k, *v)).collect(),
        stopped_early,
        bytes_read,
        x12: x12.then(|| stats.x12.clone()),
    }
}

#[cfg(test)]
mod tests;
