//! The reader: segments in, claims and problems out.
//!
//! One segment is read per step into a reused buffer and dispatched on its
//! identifier; only the segments that carry something we keep (or that
//! check the envelope) are split into elements, and only kept values are
//! allocated. State is the open envelopes (ISA, GS, ST), the hierarchical
//! level, the subscriber's plan, and the claim being assembled.

use std::collections::VecDeque;
use std::io::BufRead;

use chrono::NaiveDate;

use crate::source::{Ended, Source};
use crate::{
    Claim, ClaimKind, Item, Problem, ProblemKind, ServiceLine, Severity, MAX_LINES_PER_CLAIM,
    MAX_SEGMENT_LEN,
};

/// Problems held back to follow their claim; past this many a claim's
/// problems go out at once (bounds memory on hostile input).
const MAX_BUFFERED_PROBLEMS: usize = 1_000;

/// A real ISA is 106 bytes; anything far longer is not one.
const MAX_ISA_LEN: usize = 512;

/// Separators tried when a composite does not use the declared one.
const COMPONENT_CANDIDATES: [u8; 4] = [b'>', b':', b'^', b'|'];

/// NM101 entity identifier codes that 837P and 837I (5010) use.
const ENTITY_CODES: [&[u8]; 20] = [
    b"40", b"41", b"45", b"71", b"72", b"77", b"82", b"85", b"87", b"DK", b"DN", b"DQ", b"IL",
    b"P3", b"PE", b"PR", b"PW", b"QB", b"QC", b"ZZ",
];

#[derive(Debug, Clone, Copy)]
struct Delims {
    element: u8,
    component: u8,
    repetition: Option<u8>,
    terminator: u8,
}

struct Interchange {
    seg: u64,
    control: String,
    groups: u32,
    declared_component: u8,
    component_warned: bool,
}

struct Group {
    seg: u64,
    control: String,
    transactions: u32,
    version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    None,
    Billing,
    Subscriber,
    Patient,
    Other,
}

struct Billing {
    seg: u64,
    names: u32,
}

struct Subscriber {
    seg: u64,
    /// Until the first claim or the next HL: the time to check SBR/NM1.
    header_open: bool,
    sbr: u32,
    il: u32,
    pr: u32,
    filing_indicator: Option<String>,
    group_number: Option<String>,
    payer_name: Option<String>,
    payer_id: Option<String>,
}

struct Transaction {
    seg: u64,
    control: String,
    kind: Option<ClaimKind>,
    /// Set when the transaction is not one we read: its problem, counting
    /// the claims and lines skipped, goes out at SE.
    skip: Option<Problem>,
    level: Level,
    billing: Option<Billing>,
    subscriber: Option<Subscriber>,
    /// Inside a service line that could not be placed (LX before CLM, SV1
    /// before LX): its segments are ignored until the next LX, CLM or HL.
    orphan: bool,
}

struct LineState {
    line: ServiceLine,
    services: u32,
    bad: bool,
}

struct ClaimState {
    /// Boxed: a claim is a few hundred bytes, and it travels (to the output
    /// queue, the caller's batch, back to the pool) by pointer.
    claim: Box<Claim>,
    /// The problem that skips this claim, if any.
    fatal: Option<Problem>,
    /// Problems met inside the claim, given after it.
    problems: Vec<Problem>,
    /// Inside the other-subscriber loops (2320/2330x).
    other_payer: bool,
    lines_started: bool,
    has_hi: bool,
    line: Option<LineState>,
    lx_count: u32,
    overflow: Option<Problem>,
}

impl ClaimState {
    fn id(&self) -> Option<String> {
        (!self.claim.id.is_empty()).then(|| self.claim.id.clone())
    }

    fn finish_line(&mut self) {
        let Some(l) = self.line.take() else {
            return;
        };
        if l.bad {
            return;
        }
        if l.services == 0 {
            let sv = match self.claim.kind {
                ClaimKind::Professional => "SV1 (professional service)",
                ClaimKind::Institutional => "SV2 (institutional service)",
            };
            let mut p = problem(
                l.line.segment,
                "LX",
                Severity::Error,
                ProblemKind::MissingSegment,
                format!(
                    "service line {} has no {sv}; expected {sv} after LX; the line is skipped",
                    l.line.number
                ),
            );
            p.claim = self.id();
            p.lines_skipped = 1;
            self.problems.push(p);
            return;
        }
        self.claim.lines.push(l.line);
    }
}

/// Segments outside any transaction, reported as one run.
struct Run {
    seg: u64,
    id: String,
    count: u64,
    claims: u32,
    lines: u32,
    in_group: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Depth {
    Transaction,
    Group,
    Interchange,
}

#[derive(Debug, Clone, Copy)]
enum Composite {
    /// SV101, SV202: qualifier, code, modifiers.
    Procedure,
    /// CLM05: place of service or facility type, qualifier, frequency.
    Clm05,
    /// HI01..HI12: qualifier, code.
    Hi,
}

impl Composite {
    /// Whether `head` looks like this composite's first component, for
    /// deciding that another separator is the one in use.
    fn head_ok(self, head: &[u8]) -> bool {
        match self {
            Composite::Procedure => head.len() == 2 && head.iter().all(u8::is_ascii_alphanumeric),
            Composite::Clm05 => head.len() == 2 && head.iter().all(u8::is_ascii_digit),
            Composite::Hi => {
                (2..=3).contains(&head.len()) && head.iter().all(u8::is_ascii_uppercase)
            }
        }
    }
}

/// Bounds on what [`Reader::recycle`] keeps: about a batch of claims
/// (the screen hands back ~1024 lines at a time), their lines and strings.
const MAX_POOLED_CLAIMS: usize = 4096;
const MAX_POOLED_LINES: usize = 4 * MAX_POOLED_CLAIMS;
const MAX_POOLED_STRINGS: usize = 16 * MAX_POOLED_CLAIMS;

/// Allocations handed back by the caller, reused for new claims: most of
/// the reader's time used to go to allocating and freeing each claim's
/// small strings and vectors. Pooled claims and lines are empty (their
/// strings moved to `strings`), keeping only their vectors' capacity.
#[derive(Default)]
struct Pool {
    // The boxes themselves are what is reused: a claim leaves in its box.
    #[allow(clippy::vec_box)]
    claims: Vec<Box<Claim>>,
    lines: Vec<ServiceLine>,
    strings: Vec<String>,
}

impl Pool {
    /// `b` (trimmed) as a String, in a pooled allocation when there is one.
    fn string(&mut self, b: &[u8]) -> String {
        let b = trim(b);
        match self.strings.pop() {
            Some(mut s) => {
                push_bytes(&mut s, b);
                s
            }
            None => string(b),
        }
    }

    fn opt_string(&mut self, b: &[u8]) -> Option<String> {
        let t = trim(b);
        (!t.is_empty()).then(|| self.string(t))
    }

    fn copy(&mut self, v: &Option<String>) -> Option<String> {
        v.as_deref().map(|v| self.string(v.as_bytes()))
    }

    fn put_string(&mut self, s: String) {
        if self.strings.len() < MAX_POOLED_STRINGS {
            let mut s = s;
            s.clear();
            self.strings.push(s);
        }
    }

    fn put_opt(&mut self, s: Option<String>) {
        if let Some(s) = s {
            self.put_string(s);
        }
    }

    fn put_line(&mut self, mut l: ServiceLine) {
        self.put_opt(l.procedure.take());
        self.put_opt(l.revenue_code.take());
        self.put_opt(l.units.take());
        self.put_opt(l.place_of_service.take());
        for m in l.modifiers.drain(..) {
            self.put_string(m);
        }
        if self.lines.len() < MAX_POOLED_LINES {
            self.lines.push(l);
        }
    }

    fn put_claim(&mut self, mut c: Box<Claim>) {
        if self.claims.len() >= MAX_POOLED_CLAIMS {
            return;
        }
        self.put_string(std::mem::take(&mut c.id));
        for s in [
            c.payer_name.take(),
            c.payer_id.take(),
            c.filing_indicator.take(),
            c.group_number.take(),
            c.place_of_service.take(),
            c.facility_type.take(),
            c.prior_auth_number.take(),
        ] {
            self.put_opt(s);
        }
        for d in c.diagnoses.drain(..) {
            self.put_string(d);
        }
        for l in c.lines.drain(..) {
            self.put_line(l);
        }
        self.claims.push(c);
    }

    /// A new claim with only `segment`, `kind` and `id` set.
    fn claim(&mut self, segment: u64, kind: ClaimKind, id: &[u8]) -> Box<Claim> {
        let id = self.string(id);
        match self.claims.pop() {
            // Pooled claims were emptied by `put_claim`.
            Some(mut c) => {
                c.segment = segment;
                c.kind = kind;
                c.id = id;
                c.statement_from = None;
                c
            }
            None => Box::new(Claim {
                segment,
                kind,
                id,
                payer_name: None,
                payer_id: None,
                filing_indicator: None,
                group_number: None,
                place_of_service: None,
                facility_type: None,
                diagnoses: Vec::new(),
                prior_auth_number: None,
                statement_from: None,
                lines: Vec::new(),
            }),
        }
    }

    /// A new service line with only `segment` set.
    fn line(&mut self, segment: u64) -> ServiceLine {
        match self.lines.pop() {
            Some(mut l) => {
                l.segment = segment;
                l.number = 0;
                l.date = None;
                l
            }
            None => ServiceLine {
                segment,
                number: 0,
                procedure: None,
                revenue_code: None,
                modifiers: Vec::new(),
                units: None,
                place_of_service: None,
                date: None,
            },
        }
    }
}

struct IsaHeader {
    element: u8,
    component: u8,
    terminator: u8,
}

/// One segment, split into elements.
struct Seg<'a> {
    bytes: &'a [u8],
    spans: &'a [(u32, u32)],
}

impl<'a> Seg<'a> {
    /// Element `n` (1-based; 0 is the identifier), trimmed; empty if absent.
    fn el(&self, n: usize) -> &'a [u8] {
        match self.spans.get(n) {
            Some(&(s, e)) => trim(&self.bytes[s as usize..e as usize]),
            None => &[],
        }
    }

    fn len(&self) -> usize {
        self.spans.len()
    }
}

/// A streaming reader of X12 837 claims; see the crate documentation.
pub struct Reader<R: BufRead> {
    src: Source<R>,
    buf: Vec<u8>,
    spans: Vec<(u32, u32)>,
    seg_no: u64,
    last_id: ([u8; 3], usize),
    out: VecDeque<Item>,
    finished: bool,
    delims: Delims,
    isa: Option<Interchange>,
    gs: Option<Group>,
    st: Option<Transaction>,
    claim: Option<ClaimState>,
    run: Option<Run>,
    interchanges: u64,
    pool: Pool,
}

impl<R: BufRead> Reader<R> {
    pub fn new(input: R) -> Self {
        Reader {
            src: Source::new(input),
            buf: Vec::with_capacity(256),
            spans: Vec::with_capacity(32),
            seg_no: 0,
            last_id: ([0; 3], 0),
            out: VecDeque::new(),
            finished: false,
            delims: Delims {
                element: b'*',
                component: b':',
                repetition: None,
                terminator: b'~',
            },
            isa: None,
            gs: None,
            st: None,
            claim: None,
            run: None,
            interchanges: 0,
            pool: Pool::default(),
        }
    }

    /// The next claim or problem, in file order; None at the end of the input.
    pub fn next_item(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.out.pop_front() {
                return Some(item);
            }
            if self.finished {
                return None;
            }
            self.step();
        }
    }

    /// Hands back a claim the caller is done with, so that its allocations
    /// are reused for the claims read next (a bounded number are kept; the
    /// rest are dropped). Optional: without it each claim is allocated anew.
    pub fn recycle(&mut self, claim: Box<Claim>) {
        self.pool.put_claim(claim);
    }

    /// Segments read so far (for progress).
    pub fn segments_read(&self) -> u64 {
        self.seg_no
    }

    /// Bytes consumed from the input so far.
    pub fn bytes_read(&self) -> u64 {
        self.src.bytes()
    }

    fn last_id(&self) -> String {
        String::from_utf8_lossy(&self.last_id.0[..self.last_id.1]).into_owned()
    }

    fn set_last_id(&mut self, id: &[u8]) {
        let n = id.len().min(3);
        self.last_id.0[..n].copy_from_slice(&id[..n]);
        self.last_id.1 = n;
    }

    // ----- reading -----

    fn step(&mut self) {
        if self.isa.is_none() {
            self.between_interchanges();
            return;
        }
        let mut buf = std::mem::take(&mut self.buf);
        let ended = self
            .src
            .read_segment(self.delims.terminator, &mut buf, MAX_SEGMENT_LEN);
        let (s, e) = trim_bounds(&buf);
        match ended {
            Ended::Eof if s == e => {
                self.buf = buf;
                self.end_of_input();
            }
            Ended::Terminator if s == e => {
                self.buf = buf;
            }
            Ended::Oversized => {
                self.seg_no += 1;
                let id = segment_id(&buf[s..e], self.delims.element);
                let id = if valid_id(id) { id } else { &[][..] };
                self.set_last_id(id);
                let p = problem(
                    self.seg_no,
                    &String::from_utf8_lossy(id),
                    Severity::Error,
                    ProblemKind::SegmentSyntax,
                    format!(
                        "segment longer than {MAX_SEGMENT_LEN} bytes (beginning `{}`); expected a segment ending with `{}` well before that; it is skipped",
                        show(&buf[s..e]),
                        show_byte(self.delims.terminator)
                    ),
                );
                self.emit(p);
                self.buf = buf;
            }
            Ended::Terminator | Ended::Eof => {
                let unterminated = ended == Ended::Eof;
                let seg = &buf[s..e];
                if is_isa(seg) {
                    // A new interchange before this one's IEA: close what is
                    // open and read the ISA again under its own delimiters.
                    let next = self.seg_no + 1;
                    self.cut(Depth::Interchange, next, "ISA", "a new ISA begins");
                    let mut back = seg.to_vec();
                    if !unterminated {
                        back.push(self.delims.terminator);
                    }
                    self.src.unread(&back);
                    self.buf = buf;
                    return;
                }
                self.seg_no += 1;
                let id = segment_id(seg, self.delims.element);
                if unterminated {
                    let term = show_byte(self.delims.terminator);
                    if matches!(id, b"SE" | b"GE" | b"IEA") {
                        let p = problem(
                            self.seg_no,
                            &String::from_utf8_lossy(id),
                            Severity::Warning,
                            ProblemKind::SegmentSyntax,
                            format!("the last segment has no terminator `{term}`; expected `{term}` after it; read anyway, since it only closes an envelope"),
                        );
                        self.emit(p);
                    } else {
                        let shown = if valid_id(id) {
                            String::from_utf8_lossy(id).into_owned()
                        } else {
                            String::new()
                        };
                        self.set_last_id(shown.as_bytes());
                        let p = problem(
                            self.seg_no,
                            &shown,
                            Severity::Error,
                            ProblemKind::SegmentSyntax,
                            format!("the input ends inside this segment (`{}`): no terminator `{term}` follows it; expected `{term}`; the segment is not read, since it may be cut", show(seg)),
                        );
                        self.emit(p);
                        self.buf = buf;
                        self.end_of_input();
                        return;
                    }
                }
                self.process(seg, id);
                self.buf = buf;
                if unterminated {
                    self.end_of_input();
                }
            }
        }
    }

    fn end_of_input(&mut self) {
        self.flush_run();
        if let Some(e) = self.src.error.take() {
            let p = problem(
                self.seg_no,
                &self.last_id(),
                Severity::Error,
                ProblemKind::Io,
                format!(
                    "reading the input failed after {} bytes: {e}; nothing after it is read",
                    self.src.bytes()
                ),
            );
            self.emit(p);
        }
        if self.isa.is_some() {
            let (seg, id) = (self.seg_no, self.last_id());
            self.cut(Depth::Interchange, seg, &id, "the input ends");
        }
        self.finished = true;
    }

    /// Outside any interchange: expect an ISA, report anything else.
    fn between_interchanges(&mut self) {
        self.src.skip_whitespace();
        if self.src.fill().is_empty() {
            if self.interchanges == 0 && self.src.error.is_none() {
                let p = problem(
                    0,
                    "",
                    Severity::Error,
                    ProblemKind::NoInterchange,
                    "no ISA segment: the input is empty; expected an X12 interchange beginning with a 106-character ISA segment".into(),
                );
                self.emit(p);
            }
            self.end_of_input();
            return;
        }
        let mut buf = std::mem::take(&mut self.buf);
        match self.read_isa(&mut buf) {
            Some(h) => self.open_interchange(h, &buf),
            None if buf.is_empty() => self.end_of_input(),
            None => {
                // Not an ISA: the first byte is garbage; what follows it is
                // scanned again for an ISA.
                let first = buf[0];
                self.src.unread(&buf[1..]);
                self.scan_garbage(first);
            }
        }
        self.buf = buf;
    }

    /// Reads an ISA header by counting its 16 element separators (not by
    /// position, so a header of the wrong width still gives the right
    /// delimiters). `buf` gets every byte consumed.
    fn read_isa(&mut self, buf: &mut Vec<u8>) -> Option<IsaHeader> {
        buf.clear();
        for &want in b"ISA" {
            let b = self.src.next_byte()?;
            buf.push(b);
            if b != want {
                return None;
            }
        }
        let element = self.src.next_byte()?;
        buf.push(element);
        if !is_separator_like(element) {
            return None;
        }
        let mut seps = 1;
        while seps < 16 {
            let b = self.src.next_byte()?;
            buf.push(b);
            if b == element {
                seps += 1;
            }
            if buf.len() > MAX_ISA_LEN {
                return None;
            }
        }
        let component = self.src.next_byte()?;
        buf.push(component);
        let terminator = self.src.next_byte()?;
        buf.push(terminator);
        Some(IsaHeader {
            element,
            component,
            terminator,
        })
    }

    fn open_interchange(&mut self, h: IsaHeader, raw: &[u8]) {
        self.seg_no += 1;
        self.set_last_id(b"ISA");
        let body = &raw[..raw.len() - 2];
        let els: Vec<&[u8]> = body.split(|&b| b == h.element).collect();
        let el = |n: usize| els.get(n).map(|e| trim(e)).unwrap_or(&[]);
        let unusable = h.terminator.is_ascii_alphanumeric()
            || h.component.is_ascii_alphanumeric()
            || h.terminator == h.element
            || h.component == h.element
            || h.component == h.terminator;
        if unusable {
            let p = problem(
                self.seg_no,
                "ISA",
                Severity::Error,
                ProblemKind::Envelope,
                format!(
                    "the ISA declares delimiters that cannot be used: element `{}`, component `{}` (ISA16), segment terminator `{}`; expected three different characters, none a letter or digit; the interchange cannot be read",
                    show_byte(h.element),
                    show_byte(h.component),
                    show_byte(h.terminator)
                ),
            );
            self.emit(p);
            // Everything up to the next ISA is unreadable.
            let t = h.terminator;
            self.scan_garbage(t);
            return;
        }
        let rep = el(11);
        let repetition = (rep.len() == 1
            && is_separator_like(rep[0])
            && rep[0] != h.element
            && rep[0] != h.component
            && rep[0] != h.terminator)
            .then(|| rep[0]);
        let control = string(el(13));
        if raw.len() != 106 {
            let p = problem(
                self.seg_no,
                "ISA",
                Severity::Error,
                ProblemKind::Envelope,
                format!(
                    "the ISA is {} characters long; expected 106 (its elements have fixed widths); its delimiters were taken from its separators instead: element `{}`, component `{}`, segment terminator `{}`",
                    raw.len(),
                    show_byte(h.element),
                    show_byte(h.component),
                    show_byte(h.terminator)
                ),
            );
            self.emit(p);
        }
        self.delims = Delims {
            element: h.element,
            component: h.component,
            repetition,
            terminator: h.terminator,
        };
        self.isa = Some(Interchange {
            seg: self.seg_no,
            control,
            groups: 0,
            declared_component: h.component,
            component_warned: false,
        });
        self.interchanges += 1;
    }

    /// Consumes bytes up to the next plausible ISA (or the end), after
    /// `first`, which was already consumed; reports them once.
    fn scan_garbage(&mut self, first: u8) {
        let mut count: u64 = 1;
        let mut preview = vec![first];
        // The last four bytes consumed; 0 stands for "none" (a boundary).
        // An ISA is only looked for after `first` (which was one that
        // failed), so that the scan always moves on.
        let mut w = [0u8, 0, 0, first];
        let mut after_first = 0usize;
        let mut found = false;
        loop {
            let chunk = self.src.fill();
            if chunk.is_empty() {
                break;
            }
            let mut hit = None;
            for (i, &b) in chunk.iter().enumerate() {
                if after_first >= 3
                    && &w[1..] == b"ISA"
                    && !w[0].is_ascii_alphanumeric()
                    && is_separator_like(b)
                {
                    hit = Some(i);
                    break;
                }
                w = [w[1], w[2], w[3], b];
                after_first += 1;
            }
            let n = hit.unwrap_or(chunk.len());
            if preview.len() < 48 {
                let take = n.min(48 - preview.len());
                preview.extend_from_slice(&chunk[..take]);
            }
            self.src.consume(n);
            count += n as u64;
            if hit.is_some() {
                found = true;
                break;
            }
        }
        if found {
            // The "ISA" was consumed as garbage; hand it back.
            self.src.unread(b"ISA");
            count = count.saturating_sub(3);
        }
        preview.truncate(count.min(40) as usize);
        let more = if count > 40 { "…" } else { "" };
        let shown = format!("{}{more}", show(&preview));
        let hint = if preview.starts_with(b"ISA") {
            " (it begins like an ISA but is not a complete one: 16 elements, then the component separator and the segment terminator)"
        } else {
            ""
        };
        let p = if self.interchanges == 0 && !found {
            problem(
                0,
                "",
                Severity::Error,
                ProblemKind::NoInterchange,
                format!("no ISA segment: the input ({count} bytes, beginning `{shown}`){hint} is not an X12 interchange and yields no claims; expected it to begin with a 106-character ISA segment"),
            )
        } else if self.interchanges == 0 {
            problem(
                0,
                "",
                Severity::Error,
                ProblemKind::Garbage,
                format!("the input does not begin with ISA: {count} bytes (`{shown}`){hint} come before the first ISA and are not read; expected the input to begin with ISA"),
            )
        } else {
            problem(
                self.seg_no,
                &self.last_id(),
                Severity::Error,
                ProblemKind::Garbage,
                format!("{count} bytes after this segment (`{shown}`){hint} are outside any interchange and are not read; expected ISA or the end of the input"),
            )
        };
        self.emit(p);
        if !found {
            self.end_of_input();
        }
    }

    // ----- dispatch -----

    /// `id` is `segment_id(seg, ..)`, already found by the caller.
    fn process(&mut self, seg: &[u8], id: &[u8]) {
        let es = self.delims.element;
        if !valid_id(id) {
            self.set_last_id(b"");
            self.flush_run();
            let p = problem(
                self.seg_no,
                "",
                Severity::Error,
                ProblemKind::SegmentSyntax,
                format!(
                    "`{}` is not a segment identifier (segment `{}`); expected 2 or 3 upper-case letters or digits, the first a letter, then `{}`; the segment is skipped",
                    show(id),
                    show(seg),
                    show_byte(es)
                ),
            );
            self.emit(p);
            return;
        }
        self.set_last_id(id);
        let code = id_code(id);
        let envelope = matches!(code, IEA | GS | GE | ST | SE);
        if !envelope && self.st.is_none() {
            self.stray(id);
            return;
        }
        if self.run.is_some() {
            self.flush_run();
        }
        let wanted =
            envelope || matches!(code, HL | SBR | NM1 | CLM | HI | REF | DTP | LX | SV1 | SV2);
        if !wanted {
            return;
        }
        let mut spans = std::mem::take(&mut self.spans);
        split(seg, es, &mut spans);
        let s = Seg {
            bytes: seg,
            spans: &spans,
        };
        match code {
            IEA => self.on_iea(&s),
            GS => self.on_gs(&s),
            GE => self.on_ge(&s),
            ST => self.on_st(&s),
            SE => self.on_se(&s),
            _ => self.on_body(code, &s),
        }
        self.spans = spans;
    }

    fn on_body(&mut self, code: u32, s: &Seg<'_>) {
        let Some(st) = self.st.as_mut() else {
            return;
        };
        if let Some(skip) = st.skip.as_mut() {
            match code {
                CLM => skip.claims_skipped += 1,
                LX => skip.lines_skipped += 1,
                _ => {}
            }
            return;
        }
        match code {
            HL => return self.on_hl(s),
            CLM => return self.on_clm(s),
            _ => {}
        }
        if let Some(c) = self.claim.as_mut() {
            if c.fatal.is_some() {
                if code == LX {
                    c.lx_count += 1;
                }
                return;
            }
        }
        match code {
            LX => self.on_lx(s),
            SV1 => self.on_service(s, ClaimKind::Professional),
            SV2 => self.on_service(s, ClaimKind::Institutional),
            DTP => self.on_dtp(s),
            REF => self.on_ref(s),
            HI => self.on_hi(s),
            SBR => self.on_sbr(s),
            NM1 => self.on_nm1(s),
            _ => {}
        }
    }

    // ----- problems -----

    fn here(&self, id: &str, severity: Severity, kind: ProblemKind, message: String) -> Problem {
        problem(self.seg_no, id, severity, kind, message)
    }

    /// Queues a problem; one met inside a claim waits for the claim.
    fn emit(&mut self, mut p: Problem) {
        if let Some(c) = self.claim.as_mut() {
            if p.segment >= c.claim.segment {
                if p.claim.is_none() {
                    p.claim = c.id();
                }
                if c.problems.len() < MAX_BUFFERED_PROBLEMS {
                    c.problems.push(p);
                    return;
                }
            }
        }
        self.out.push_back(Item::Problem(p));
    }

    /// Skips the current service line (once) with this problem.
    fn bad_line(&mut self, mut p: Problem) {
        if let Some(l) = self.claim.as_mut().and_then(|c| c.line.as_mut()) {
            if l.bad {
                return;
            }
            l.bad = true;
        }
        p.lines_skipped = 1;
        self.emit(p);
    }

    /// Skips the current claim with this problem (the first one wins).
    fn fail_claim(&mut self, mut p: Problem) {
        if let Some(c) = self.claim.as_mut() {
            if c.fatal.is_none() {
                p.claim = c.id();
                c.fatal = Some(p);
            }
        }
    }

    /// Ends the claim in progress: the claim and its problems, or the
    /// problem that skips it.
    fn finish_claim(&mut self) {
        let Some(mut c) = self.claim.take() else {
            return;
        };
        c.finish_line();
        if let Some(mut f) = c.fatal.take() {
            f.claims_skipped = 1;
            f.lines_skipped = c.lx_count;
            self.out.push_back(Item::Problem(f));
            c.problems.sort_by_key(|p| p.segment);
            self.out.extend(c.problems.into_iter().map(Item::Problem));
            return;
        }
        if !c.has_hi {
            let mut p = problem(
                c.claim.segment,
                "CLM",
                Severity::Warning,
                ProblemKind::MissingSegment,
                "the claim has no HI (diagnoses); expected HI with ABK (principal diagnosis, ICD-10-CM) in loop 2300".into(),
            );
            p.claim = c.id();
            c.problems.push(p);
        }
        if let Some(o) = c.overflow.take() {
            c.problems.push(o);
        }
        c.problems.sort_by_key(|p| p.segment);
        self.out.push_back(Item::Claim(c.claim));
        self.out.extend(c.problems.into_iter().map(Item::Problem));
    }

    /// Closes open envelopes down to `depth` because of `cause`: one
    /// problem naming what was cut; the claim in progress is dropped.
    fn cut(&mut self, depth: Depth, seg: u64, id: &str, cause: &str) {
        let mut parts = Vec::new();
        let mut expected = Vec::new();
        let mut claims = 0;
        let mut lines = 0;
        let mut dropped = String::new();
        if let Some(st) = self.st.take() {
            if let Some(mut c) = self.claim.take() {
                if let Some(mut f) = c.fatal.take() {
                    f.claims_skipped = 1;
                    f.lines_skipped = c.lx_count;
                    self.out.push_back(Item::Problem(f));
                } else {
                    let open = c.line.as_ref().is_some_and(|l| !l.bad) as u32;
                    let n = c.claim.lines.len() as u32 + open;
                    claims = 1;
                    lines = n;
                    dropped = format!(
                        "; claim `{}` (CLM at segment {}) and its {n} service line(s) are dropped, since they may be incomplete",
                        c.claim.id, c.claim.segment
                    );
                }
                c.problems.sort_by_key(|p| p.segment);
                self.out.extend(c.problems.into_iter().map(Item::Problem));
            }
            if let Some(skip) = st.skip {
                self.out.push_back(Item::Problem(skip));
            }
            parts.push(format!(
                "transaction `{}` (ST at segment {}) has no SE",
                st.control, st.seg
            ));
            expected.push("SE");
        }
        if depth >= Depth::Group {
            if let Some(gs) = self.gs.take() {
                parts.push(format!(
                    "group `{}` (GS at segment {}) has no GE",
                    gs.control, gs.seg
                ));
                expected.push("GE");
            }
        }
        if depth == Depth::Interchange {
            if let Some(isa) = self.isa.take() {
                parts.push(format!(
                    "interchange `{}` (ISA at segment {}) has no IEA",
                    isa.control, isa.seg
                ));
                expected.push("IEA");
            }
        }
        if parts.is_empty() {
            return;
        }
        let mut p = problem(
            seg,
            id,
            Severity::Error,
            ProblemKind::Truncated,
            format!(
                "{cause}, but {}; expected {} first{dropped}",
                parts.join(", "),
                expected.join(", then ")
            ),
        );
        p.claims_skipped = claims;
        p.lines_skipped = lines;
        self.out.push_back(Item::Problem(p));
    }

    fn stray(&mut self, id: &[u8]) {
        let in_group = self.gs.is_some();
        let seg = self.seg_no;
        let run = self.run.get_or_insert_with(|| Run {
            seg,
            id: String::from_utf8_lossy(id).into_owned(),
            count: 0,
            claims: 0,
            lines: 0,
            in_group,
        });
        run.count += 1;
        match id {
            b"CLM" => run.claims += 1,
            b"LX" => run.lines += 1,
            _ => {}
        }
    }

    fn flush_run(&mut self) {
        let Some(r) = self.run.take() else {
            return;
        };
        let (place, expected) = if r.in_group {
            ("outside a transaction", "ST before them")
        } else {
            ("outside a functional group", "GS, then ST, before them")
        };
        let mut p = problem(
            r.seg,
            &r.id,
            Severity::Error,
            ProblemKind::Envelope,
            format!(
                "{} segment(s) from here on are {place}; expected {expected}; they are not read",
                r.count
            ),
        );
        p.claims_skipped = r.claims;
        p.lines_skipped = r.lines;
        self.emit(p);
    }

    // ----- envelopes -----

    fn on_gs(&mut self, s: &Seg<'_>) {
        if let Some(gs) = &self.gs {
            let cause = format!(
                "a new GS begins before the GE of group `{}` (GS at segment {})",
                gs.control, gs.seg
            );
            self.cut(Depth::Group, self.seg_no, "GS", &cause);
        }
        if let Some(isa) = self.isa.as_mut() {
            isa.groups += 1;
        }
        self.gs = Some(Group {
            seg: self.seg_no,
            control: string(s.el(6)),
            transactions: 0,
            version: string(s.el(8)),
        });
    }

    fn on_ge(&mut self, s: &Seg<'_>) {
        if let Some(st) = &self.st {
            let cause = format!(
                "GE comes before the SE of transaction `{}` (ST at segment {})",
                st.control, st.seg
            );
            self.cut(Depth::Transaction, self.seg_no, "GE", &cause);
        }
        let Some(gs) = self.gs.take() else {
            let p = self.here(
                "GE",
                Severity::Error,
                ProblemKind::Envelope,
                "GE without a GS before it; expected GS to open the functional group".into(),
            );
            return self.emit(p);
        };
        self.trailer(
            s,
            Trailer {
                id: "GE",
                counted: gs.transactions as u64,
                unit: "transaction",
                scope: "group",
                control: &gs.control,
                header: "GS",
                control_element: "GS06",
                header_seg: gs.seg,
            },
        );
    }

    fn on_iea(&mut self, s: &Seg<'_>) {
        if self.gs.is_some() || self.st.is_some() {
            self.cut(
                Depth::Group,
                self.seg_no,
                "IEA",
                "IEA comes before the group is closed",
            );
        }
        let Some(isa) = self.isa.take() else {
            return;
        };
        self.trailer(
            s,
            Trailer {
                id: "IEA",
                counted: isa.groups as u64,
                unit: "group",
                scope: "interchange",
                control: &isa.control,
                header: "ISA",
                control_element: "ISA13",
                header_seg: isa.seg,
            },
        );
    }

    /// A trailer's count (element 1) and control number (element 2) against
    /// what its header opened; each mismatch is an Error that skips nothing.
    fn trailer(&mut self, s: &Seg<'_>, t: Trailer<'_>) {
        let id = t.id;
        let mut ps = Vec::new();
        match parse_u64(s.el(1)) {
            Some(n) if n == t.counted => {}
            Some(n) => ps.push(format!(
                "{id}01 says {n} {}(s) but {} `{}` ({} at segment {}) has {}; expected {id}*{}*{}",
                t.unit, t.scope, t.control, t.header, t.header_seg, t.counted, t.counted, t.control
            )),
            None => ps.push(format!(
                "{id}01 `{}` is not a count; expected {} (the {}s in the {})",
                show(s.el(1)),
                t.counted,
                t.unit,
                t.scope
            )),
        }
        if !same_control(s.el(2), t.control) {
            ps.push(format!(
                "{id}02 `{}` does not match {} `{}` (segment {}); expected {id}02 to repeat {}",
                show(s.el(2)),
                t.control_element,
                t.control,
                t.header_seg,
                t.control_element
            ));
        }
        for m in ps {
            let p = self.here(id, Severity::Error, ProblemKind::ControlMismatch, m);
            self.emit(p);
        }
    }

    fn on_st(&mut self, s: &Seg<'_>) {
        if let Some(st) = &self.st {
            let cause = format!(
                "a new ST begins before the SE of transaction `{}` (ST at segment {})",
                st.control, st.seg
            );
            self.cut(Depth::Transaction, self.seg_no, "ST", &cause);
        }
        let version = match self.gs.as_mut() {
            Some(gs) => {
                gs.transactions += 1;
                gs.version.clone()
            }
            None => {
                let p = self.here(
                    "ST",
                    Severity::Error,
                    ProblemKind::Envelope,
                    "ST outside a functional group; expected GS before ST".into(),
                );
                self.emit(p);
                String::new()
            }
        };
        let st03 = s.el(3);
        let version = if st03.is_empty() {
            version
        } else {
            string(st03)
        };
        let kind = if version.starts_with("005010X222") {
            Some(ClaimKind::Professional)
        } else if version.starts_with("005010X223") {
            Some(ClaimKind::Institutional)
        } else {
            None
        };
        let skip = if s.el(1) != b"837" {
            Some(self.here(
                "ST",
                Severity::Error,
                ProblemKind::UnsupportedTransaction,
                format!(
                    "ST01 `{}` is not 837 (health care claim); expected 837; this reader reads claims only, so the transaction is skipped",
                    show(s.el(1))
                ),
            ))
        } else if kind.is_none() {
            Some(self.here(
                "ST",
                Severity::Error,
                ProblemKind::UnsupportedTransaction,
                format!(
                    "the implementation (ST03, or GS08) `{}` is neither 837 professional nor institutional 5010; expected 005010X222… or 005010X223…; the transaction is skipped",
                    show(version.as_bytes())
                ),
            ))
        } else {
            None
        };
        self.st = Some(Transaction {
            seg: self.seg_no,
            control: string(s.el(2)),
            kind,
            skip,
            level: Level::None,
            billing: None,
            subscriber: None,
            orphan: false,
        });
    }

    fn on_se(&mut self, s: &Seg<'_>) {
        self.finish_claim();
        self.close_subscriber_header();
        self.check_billing();
        let Some(st) = self.st.take() else {
            let p = self.here(
                "SE",
                Severity::Error,
                ProblemKind::Envelope,
                "SE without an ST before it; expected ST to open the transaction".into(),
            );
            return self.emit(p);
        };
        if let Some(skip) = st.skip {
            self.out.push_back(Item::Problem(skip));
        }
        let count = self.seg_no - st.seg + 1;
        let mut ps = Vec::new();
        match parse_u64(s.el(1)) {
            Some(n) if n == count => {}
            Some(n) => ps.push(format!(
                "SE01 says {n} segments but transaction `{}` has {count} (ST at segment {} to this SE); expected SE*{count}*{}",
                st.control, st.seg, st.control
            )),
            None => ps.push(format!(
                "SE01 `{}` is not a segment count; expected {count} (ST at segment {} to this SE)",
                show(s.el(1)),
                st.seg
            )),
        }
        if !same_control(s.el(2), &st.control) {
            ps.push(format!(
                "SE02 `{}` does not match ST02 `{}` (segment {}); expected SE02 to repeat ST02",
                show(s.el(2)),
                st.control,
                st.seg
            ));
        }
        for m in ps {
            let p = self.here("SE", Severity::Error, ProblemKind::ControlMismatch, m);
            self.emit(p);
        }
    }

    // ----- hierarchy -----

    fn on_hl(&mut self, s: &Seg<'_>) {
        self.finish_claim();
        self.close_subscriber_header();
        let code = s.el(3);
        let seg = self.seg_no;
        let problem = match code {
            b"20" => {
                self.check_billing();
                None
            }
            b"22" | b"23" => None,
            b"" => Some(self.here(
                "HL",
                Severity::Error,
                ProblemKind::MissingElement,
                "HL03 (the hierarchical level code) is missing; expected 20 (billing provider), 22 (subscriber) or 23 (patient); claims under this HL are skipped".into(),
            )),
            other => Some(self.here(
                "HL",
                Severity::Error,
                ProblemKind::UnknownQualifier,
                format!(
                    "HL03 `{}` is not a level this reader knows; expected 20 (billing provider), 22 (subscriber) or 23 (patient); claims under this HL are skipped",
                    show(other)
                ),
            )),
        };
        if let Some(st) = self.st.as_mut() {
            st.orphan = false;
            // The previous subscriber's strings are reused for the next.
            if let Some(old) = st.subscriber.take_if(|_| code == b"22") {
                for v in [
                    old.filing_indicator,
                    old.group_number,
                    old.payer_name,
                    old.payer_id,
                ] {
                    self.pool.put_opt(v);
                }
            }
            match code {
                b"20" => {
                    st.billing = Some(Billing { seg, names: 0 });
                    st.subscriber = None;
                    st.level = Level::Billing;
                }
                b"22" => {
                    st.subscriber = Some(Subscriber {
                        seg,
                        header_open: true,
                        sbr: 0,
                        il: 0,
                        pr: 0,
                        filing_indicator: None,
                        group_number: None,
                        payer_name: None,
                        payer_id: None,
                    });
                    st.level = Level::Subscriber;
                }
                b"23" => st.level = Level::Patient,
                _ => {
                    // Whatever this HL is, an earlier subscriber's plan must
                    // not leak into claims under it.
                    st.subscriber = None;
                    st.level = Level::Other;
                }
            }
        }
        if let Some(p) = problem {
            self.emit(p);
        }
    }

    /// Once per subscriber loop, when its own segments are over: report the
    /// required ones that are missing.
    fn close_subscriber_header(&mut self) {
        let Some(sub) = self.st.as_mut().and_then(|st| st.subscriber.as_mut()) else {
            return;
        };
        if !sub.header_open {
            return;
        }
        sub.header_open = false;
        let mut missing = Vec::new();
        if sub.sbr == 0 {
            missing.push("SBR (the subscriber's plan)");
        }
        if sub.il == 0 {
            missing.push("NM1*IL (subscriber name, loop 2010BA)");
        }
        if sub.pr == 0 {
            missing.push("NM1*PR (payer name, loop 2010BB)");
        }
        if missing.is_empty() {
            return;
        }
        let seg = sub.seg;
        let p = problem(
            seg,
            "HL",
            Severity::Warning,
            ProblemKind::MissingSegment,
            format!(
                "subscriber loop 2000B has no {}; expected each after HL*…*22, before the claims or the patient HL; its claims lack what they would carry",
                missing.join(", no ")
            ),
        );
        self.emit(p);
    }

    fn check_billing(&mut self) {
        let Some(b) = self.st.as_mut().and_then(|st| st.billing.take()) else {
            return;
        };
        if b.names == 0 {
            let p = problem(
                b.seg,
                "HL",
                Severity::Warning,
                ProblemKind::MissingSegment,
                "billing provider loop 2000A has no NM1*85 (billing provider name, loop 2010AA); expected one after HL*…*20".into(),
            );
            self.emit(p);
        }
    }

    fn on_sbr(&mut self, s: &Seg<'_>) {
        if let Some(c) = self.claim.as_mut() {
            // Loop 2320: another payer's subscriber; not the claim's plan.
            if !c.lines_started {
                c.other_payer = true;
            }
            return;
        }
        let seg = self.seg_no;
        let Some(st) = self.st.as_mut() else {
            return;
        };
        let p = match (st.level, st.subscriber.as_mut()) {
            (Level::Subscriber, Some(sub)) => {
                sub.sbr += 1;
                if sub.sbr == 1 {
                    sub.filing_indicator = self.pool.opt_string(s.el(9));
                    sub.group_number = self.pool.opt_string(s.el(3));
                    None
                } else {
                    Some(problem(
                        seg,
                        "SBR",
                        Severity::Warning,
                        ProblemKind::DuplicateSegment,
                        format!(
                            "another SBR in subscriber loop 2000B (HL at segment {}); expected one; the first is used",
                            sub.seg
                        ),
                    ))
                }
            }
            _ => Some(problem(
                seg,
                "SBR",
                Severity::Warning,
                ProblemKind::LoopOrder,
                "SBR outside a subscriber loop; expected it right after HL*…*22; it is ignored"
                    .into(),
            )),
        };
        if let Some(p) = p {
            self.emit(p);
        }
    }

    fn on_nm1(&mut self, s: &Seg<'_>) {
        let e1 = s.el(1);
        let seg = self.seg_no;
        let mut ps = Vec::new();
        if e1.is_empty() {
            ps.push((
                ProblemKind::MissingElement,
                "NM101 (the entity identifier code) is missing; expected e.g. 85 (billing provider), IL (subscriber), PR (payer); the name is ignored".to_string(),
            ));
        } else if !ENTITY_CODES.contains(&e1) {
            ps.push((
                ProblemKind::UnknownQualifier,
                format!(
                    "NM101 `{}` is not an entity identifier code the 837 uses; expected e.g. 85 (billing provider), IL (subscriber), PR (payer), QC (patient); the name is ignored",
                    show(e1)
                ),
            ));
        }
        if s.el(2).is_empty() {
            ps.push((
                ProblemKind::MissingElement,
                "NM102 (the entity type qualifier) is missing; expected 1 (person) or 2 (non-person entity)".into(),
            ));
        }
        if self.claim.is_none() {
            if let Some(st) = self.st.as_mut() {
                let dup = |what: &str, loop_: &str, at: u64| {
                    (
                        ProblemKind::DuplicateSegment,
                        format!("another {what} in {loop_} (HL at segment {at}); expected one; the first is used"),
                    )
                };
                match (st.level, e1) {
                    (Level::Billing, b"85") => {
                        if let Some(b) = st.billing.as_mut() {
                            b.names += 1;
                            if b.names > 1 {
                                ps.push(dup(
                                    "NM1*85 (billing provider name, loop 2010AA)",
                                    "billing provider loop 2000A",
                                    b.seg,
                                ));
                            }
                        }
                    }
                    (Level::Subscriber, b"IL") => {
                        if let Some(sub) = st.subscriber.as_mut() {
                            sub.il += 1;
                            if sub.il > 1 {
                                ps.push(dup(
                                    "NM1*IL (subscriber name, loop 2010BA)",
                                    "subscriber loop 2000B",
                                    sub.seg,
                                ));
                            }
                        }
                    }
                    (Level::Subscriber, b"PR") => {
                        if let Some(sub) = st.subscriber.as_mut() {
                            sub.pr += 1;
                            if sub.pr == 1 {
                                sub.payer_name = self.pool.opt_string(s.el(3));
                                sub.payer_id = self.pool.opt_string(s.el(9));
                            } else {
                                ps.push(dup(
                                    "NM1*PR (payer name, loop 2010BB)",
                                    "subscriber loop 2000B",
                                    sub.seg,
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        for (kind, m) in ps {
            let p = problem(seg, "NM1", Severity::Warning, kind, m);
            self.emit(p);
        }
    }

    // ----- claims -----

    fn on_clm(&mut self, s: &Seg<'_>) {
        self.finish_claim();
        self.close_subscriber_header();
        let seg = self.seg_no;
        let Some(st) = self.st.as_mut() else {
            return;
        };
        st.orphan = false;
        let kind = st.kind.unwrap_or(ClaimKind::Professional);
        let pool = &mut self.pool;
        let mut claim = pool.claim(seg, kind, s.el(1));
        let order = match (st.level, st.subscriber.as_ref()) {
            (Level::Subscriber | Level::Patient, Some(sub)) => {
                claim.payer_name = pool.copy(&sub.payer_name);
                claim.payer_id = pool.copy(&sub.payer_id);
                claim.filing_indicator = pool.copy(&sub.filing_indicator);
                claim.group_number = pool.copy(&sub.group_number);
                None
            }
            (Level::Patient, None) => Some("CLM under a patient HL (23) with no subscriber HL (22) above it; expected HL*…*22 with SBR and NM1*PR before the patient and the claim"),
            (Level::Other, _) => Some("CLM under an HL whose level is not 20, 22 or 23; expected the claim under a subscriber (22) or patient (23) HL"),
            _ => Some("CLM before any subscriber HL; expected HL*…*22 (subscriber, with SBR and NM1*PR) before a claim (loop 2300)"),
        };
        let empty_id = claim.id.is_empty();
        self.claim = Some(ClaimState {
            claim,
            fatal: None,
            problems: Vec::new(),
            other_payer: false,
            lines_started: false,
            has_hi: false,
            line: None,
            lx_count: 0,
            overflow: None,
        });
        if let Some(m) = order {
            let p = self.here("CLM", Severity::Error, ProblemKind::LoopOrder, m.into());
            self.fail_claim(p);
        }
        if empty_id {
            let p = self.here(
                "CLM",
                Severity::Error,
                ProblemKind::MissingElement,
                "CLM01 (the claim's identifier) is missing; expected CLM*<claim id>*<total charge>***<place of service or facility type>:<qualifier>:<frequency>".into(),
            );
            self.fail_claim(p);
        }
        let el = s.el(5);
        let sep = self.component_sep(el, Composite::Clm05, "CLM05");
        let code = trim(el.split(|&b| b == sep).next().unwrap_or(&[]));
        let what = match kind {
            ClaimKind::Professional => "place of service",
            ClaimKind::Institutional => "facility type code",
        };
        if code.is_empty() {
            let p = self.here(
                "CLM",
                Severity::Error,
                ProblemKind::MissingElement,
                format!(
                    "CLM05-1 (the {what}) is missing; expected CLM05 like 11{0}B{0}1",
                    show_byte(sep)
                ),
            );
            self.fail_claim(p);
        } else if code.len() != 2 || !code.iter().all(u8::is_ascii_digit) {
            let p = self.here(
                "CLM",
                Severity::Error,
                ProblemKind::InvalidElement,
                format!(
                    "CLM05-1 `{}` is not a two-digit {what}; expected CLM05 like 11{1}B{1}1 (component separator `{1}`)",
                    show(code),
                    show_byte(sep)
                ),
            );
            self.fail_claim(p);
        } else if let Some(c) = self.claim.as_mut() {
            let v = Some(self.pool.string(code));
            match kind {
                ClaimKind::Professional => c.claim.place_of_service = v,
                ClaimKind::Institutional => c.claim.facility_type = v,
            }
        }
    }

    fn on_hi(&mut self, s: &Seg<'_>) {
        let place = match self.claim.as_ref() {
            None => Some("HI outside a claim; expected HI in loop 2300, after CLM; it is ignored"),
            Some(c) if c.lines_started => Some("HI after the claim's service lines; expected HI before the first LX; it is ignored"),
            Some(_) => None,
        };
        if let Some(m) = place {
            let p = self.here("HI", Severity::Warning, ProblemKind::LoopOrder, m.into());
            return self.emit(p);
        }
        // Straight into the claim's (perhaps recycled) vector.
        let mut diagnoses = self
            .claim
            .as_mut()
            .map(|c| std::mem::take(&mut c.claim.diagnoses))
            .unwrap_or_default();
        let mut icd9 = Vec::new();
        let mut missing = None;
        for n in 1..s.len() {
            let el = s.el(n);
            if el.is_empty() {
                continue;
            }
            let sep = self.component_sep(el, Composite::Hi, "HI");
            let mut comps = el.split(|&b| b == sep);
            let q = trim(comps.next().unwrap_or(&[]));
            let code = trim(comps.next().unwrap_or(&[]));
            match q {
                b"ABK" | b"ABF" | b"ABJ" | b"APR" => {
                    if code.is_empty() {
                        missing.get_or_insert((n, string(q)));
                    } else {
                        diagnoses.push(self.pool.string(code));
                    }
                }
                b"BK" | b"BF" | b"BJ" | b"PR" => icd9.push(format!("`{}`", show(el))),
                _ => {}
            }
        }
        if let Some(c) = self.claim.as_mut() {
            c.has_hi = true;
            c.claim.diagnoses = diagnoses;
        }
        if let Some((n, q)) = missing {
            let p = self.here(
                "HI",
                Severity::Error,
                ProblemKind::MissingElement,
                format!(
                    "HI{n:02} has qualifier {q} but no code; expected {q}{0}<ICD-10-CM code>, e.g. {q}{0}J449",
                    show_byte(self.delims.component)
                ),
            );
            self.fail_claim(p);
        }
        if !icd9.is_empty() {
            let p = self.here(
                "HI",
                Severity::Warning,
                ProblemKind::Icd9,
                format!(
                    "ICD-9-CM diagnoses are unsupported and not read: {} (qualifiers BK, BF, BJ, PR); expected ICD-10-CM with qualifiers ABK, ABF, ABJ or APR",
                    icd9.join(", ")
                ),
            );
            self.emit(p);
        }
    }

    fn on_ref(&mut self, s: &Seg<'_>) {
        if s.el(1) != b"G1" {
            return;
        }
        let Some(c) = self.claim.as_mut() else {
            return;
        };
        // REF*G1 in 2330B is another payer's; in 2400 it is the line's.
        if c.lines_started || c.other_payer || c.claim.prior_auth_number.is_some() {
            return;
        }
        let v = s.el(2);
        if v.is_empty() {
            let p = self.here(
                "REF",
                Severity::Warning,
                ProblemKind::MissingElement,
                "REF*G1 has no REF02 (the prior authorization number); expected REF*G1*<number>"
                    .into(),
            );
            self.emit(p);
        } else {
            c.claim.prior_auth_number = Some(self.pool.string(v));
        }
    }

    fn on_dtp(&mut self, s: &Seg<'_>) {
        match s.el(1) {
            b"472" => {
                if self.st.as_ref().is_some_and(|st| st.orphan) {
                    return;
                }
                let Some(l) = self.claim.as_mut().and_then(|c| c.line.as_mut()) else {
                    return;
                };
                if l.bad || l.line.date.is_some() {
                    return;
                }
                match parse_dtp(s.el(2), s.el(3)) {
                    Ok(d) => l.line.date = Some(d),
                    Err(m) => {
                        let p = self.here(
                            "DTP",
                            Severity::Error,
                            ProblemKind::InvalidElement,
                            format!("DTP*472 (date of service) {m}; the line is skipped"),
                        );
                        self.bad_line(p);
                    }
                }
            }
            b"434" => {
                let Some(c) = self.claim.as_mut() else {
                    return;
                };
                if c.claim.kind != ClaimKind::Institutional
                    || c.lines_started
                    || c.other_payer
                    || c.claim.statement_from.is_some()
                {
                    return;
                }
                match parse_dtp(s.el(2), s.el(3)) {
                    Ok(d) => c.claim.statement_from = Some(d),
                    Err(m) => {
                        let p = self.here(
                            "DTP",
                            Severity::Error,
                            ProblemKind::InvalidElement,
                            format!("DTP*434 (statement dates) {m}; the claim is skipped"),
                        );
                        self.fail_claim(p);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_lx(&mut self, s: &Seg<'_>) {
        let seg = self.seg_no;
        let Some(st) = self.st.as_mut() else {
            return;
        };
        st.orphan = false;
        let Some(c) = self.claim.as_mut() else {
            st.orphan = true;
            let mut p = self.here(
                "LX",
                Severity::Error,
                ProblemKind::LoopOrder,
                "LX (service line) before any CLM in its subscriber or patient loop; expected CLM (loop 2300) before its service lines; the line is skipped".into(),
            );
            p.lines_skipped = 1;
            return self.emit(p);
        };
        c.finish_line();
        c.lines_started = true;
        c.other_payer = false;
        c.lx_count += 1;
        let num = s.el(1);
        let mut line = LineState {
            line: self.pool.line(seg),
            services: 0,
            bad: false,
        };
        let bad = if num.is_empty() {
            Some((
                ProblemKind::MissingElement,
                "LX01 (the line number) is missing; expected LX*<n>, n counting from 1; the line is skipped".to_string(),
            ))
        } else {
            match parse_u64(num) {
                Some(n) if n > 0 && n <= u32::MAX as u64 => {
                    line.line.number = n as u32;
                    None
                }
                _ => Some((
                    ProblemKind::InvalidElement,
                    format!(
                        "LX01 `{}` is not a line number; expected a whole number from 1; the line is skipped",
                        show(num)
                    ),
                )),
            }
        };
        let over = c.claim.lines.len() >= MAX_LINES_PER_CLAIM;
        if over || bad.is_some() {
            line.bad = true;
        }
        let id = c.id();
        c.line = Some(line);
        if over {
            let o = c.overflow.get_or_insert_with(|| {
                let mut p = problem(
                    seg,
                    "LX",
                    Severity::Error,
                    ProblemKind::TooManyLines,
                    format!("the claim has more than {MAX_LINES_PER_CLAIM} service lines; expected at most that many; the lines from here on are skipped"),
                );
                p.claim = id;
                p
            });
            o.lines_skipped += 1;
            return;
        }
        if let Some((kind, m)) = bad {
            let mut p = problem(seg, "LX", Severity::Error, kind, m);
            p.lines_skipped = 1;
            self.emit(p);
        }
    }

    fn on_service(&mut self, s: &Seg<'_>, which: ClaimKind) {
        let name = match which {
            ClaimKind::Professional => "SV1",
            ClaimKind::Institutional => "SV2",
        };
        let Some(st) = self.st.as_mut() else {
            return;
        };
        if st.orphan {
            return;
        }
        let kind = st.kind.unwrap_or(ClaimKind::Professional);
        // Where is it?
        let placement: Result<(), (ProblemKind, String, bool)> = match self.claim.as_ref() {
            None => Err((
                ProblemKind::LoopOrder,
                format!("{name} outside a claim; expected CLM, then LX, then {name}; the line is skipped"),
                true,
            )),
            Some(c) => match c.line.as_ref() {
                None => Err((
                    ProblemKind::LoopOrder,
                    format!("{name} before any LX in the claim; expected LX*<n> before {name}; the line is skipped"),
                    true,
                )),
                Some(l) if l.bad => return,
                Some(l) if l.services > 0 => Err((
                    ProblemKind::DuplicateSegment,
                    format!("another {name} in service line {}; expected one per LX; the line is skipped", l.line.number),
                    false,
                )),
                Some(_) => Ok(()),
            },
        };
        if let Err((pk, m, orphan)) = placement {
            let mut p = self.here(name, Severity::Error, pk, m);
            if orphan {
                if let Some(st) = self.st.as_mut() {
                    st.orphan = true;
                }
                if let Some(c) = self.claim.as_mut() {
                    c.lines_started = true;
                }
                p.lines_skipped = 1;
                return self.emit(p);
            }
            return self.bad_line(p);
        }
        if which != kind {
            let expected = match kind {
                ClaimKind::Professional => "SV1",
                ClaimKind::Institutional => "SV2",
            };
            let p = self.here(
                name,
                Severity::Error,
                ProblemKind::LoopOrder,
                format!("{name} in an {kind} claim; expected {expected}; the line is skipped"),
            );
            return self.bad_line(p);
        }
        let result = match which {
            ClaimKind::Professional => self.read_sv1(s),
            ClaimKind::Institutional => self.read_sv2(s),
        };
        match result {
            Ok(read) => {
                if let Some(l) = self.claim.as_mut().and_then(|c| c.line.as_mut()) {
                    let pool = &mut self.pool;
                    let line = &mut l.line;
                    l.services += 1;
                    line.procedure = read.procedure.map(|v| pool.string(v));
                    line.revenue_code = read.revenue_code.map(|v| pool.string(v));
                    line.modifiers.clear();
                    for m in read.modifiers() {
                        line.modifiers.push(pool.string(m));
                    }
                    line.units = pool.opt_string(read.units);
                    line.place_of_service = pool.opt_string(read.place_of_service);
                }
            }
            Err((pk, m)) => {
                let p = self.here(name, Severity::Error, pk, m);
                self.bad_line(p);
            }
        }
    }

    fn read_sv1<'a>(&mut self, s: &Seg<'a>) -> Result<ServiceRead<'a>, (ProblemKind, String)> {
        let el = s.el(1);
        if el.is_empty() {
            return Err((
                ProblemKind::MissingElement,
                "SV101 (the procedure) is missing; expected HC:<code>[:<modifier>…]; the line is skipped".into(),
            ));
        }
        let (procedure, modifiers) = self.procedure(el, "SV101")?;
        Ok(ServiceRead {
            procedure: Some(procedure),
            revenue_code: None,
            modifiers,
            units: s.el(4),
            place_of_service: s.el(5),
        })
    }

    fn read_sv2<'a>(&mut self, s: &Seg<'a>) -> Result<ServiceRead<'a>, (ProblemKind, String)> {
        let rev = s.el(1);
        if rev.is_empty() {
            return Err((
                ProblemKind::MissingElement,
                "SV201 (the revenue code) is missing; expected SV2*<revenue code>*HC:<code>…; the line is skipped".into(),
            ));
        }
        let el = s.el(2);
        let (procedure, modifiers) = if el.is_empty() {
            (None, [&[][..]; 4])
        } else {
            let (p, m) = self.procedure(el, "SV202")?;
            (Some(p), m)
        };
        Ok(ServiceRead {
            procedure,
            revenue_code: Some(rev),
            modifiers,
            units: s.el(5),
            place_of_service: &[],
        })
    }

    /// SV101 / SV202: HC, the code, up to four modifiers.
    fn procedure<'a>(
        &mut self,
        el: &'a [u8],
        name: &str,
    ) -> Result<(&'a [u8], Modifiers<'a>), (ProblemKind, String)> {
        let sep = self.component_sep(el, Composite::Procedure, name);
        let c = show_byte(sep);
        let mut comps = el.split(|&b| b == sep).map(trim);
        let q = comps.next().unwrap_or(&[]);
        let code = comps.next().unwrap_or(&[]);
        if q != b"HC" {
            let alt = if name == "SV202" {
                ", or no SV202 for a line with a revenue code only"
            } else {
                ""
            };
            return Err((
                ProblemKind::UnknownQualifier,
                format!(
                    "{name} qualifier `{}` is not HC (HCPCS/CPT); expected HC{c}<code>[{c}<modifier>…]{alt}; the line is skipped",
                    show(q)
                ),
            ));
        }
        if code.is_empty() {
            return Err((
                ProblemKind::MissingElement,
                format!("{name}-2 (the procedure code) is missing; expected HC{c}<code>; the line is skipped"),
            ));
        }
        let mut modifiers = [&[][..]; 4];
        for (m, c) in modifiers.iter_mut().zip(comps) {
            *m = c;
        }
        Ok((code, modifiers))
    }

    /// The component separator for a composite that must have components,
    /// adopting another one if the element plainly uses it (see the crate
    /// documentation).
    fn component_sep(&mut self, el: &[u8], what: Composite, name: &str) -> u8 {
        let d = self.delims;
        let cur = d.component;
        if el.is_empty() || el.contains(&cur) {
            return cur;
        }
        for cand in COMPONENT_CANDIDATES {
            if cand == cur
                || cand == d.element
                || cand == d.terminator
                || Some(cand) == d.repetition
            {
                continue;
            }
            let Some(i) = el.iter().position(|&b| b == cand) else {
                continue;
            };
            if !what.head_ok(trim(&el[..i])) || el[i + 1..].is_empty() {
                continue;
            }
            self.delims.component = cand;
            let Some(isa) = self.isa.as_mut() else {
                return cand;
            };
            if !isa.component_warned {
                isa.component_warned = true;
                let declared = isa.declared_component;
                let seg_id = match name {
                    "SV101" => "SV1",
                    "SV202" => "SV2",
                    "CLM05" => "CLM",
                    other => other,
                };
                let p = self.here(
                    seg_id,
                    Severity::Warning,
                    ProblemKind::ComponentSeparator,
                    format!(
                        "{name} `{}` separates its components with `{}`, but the component separator in force is `{}` (ISA16 declares `{}`); `{}` is read as the component separator for the rest of this interchange",
                        show(el),
                        show_byte(cand),
                        show_byte(cur),
                        show_byte(declared),
                        show_byte(cand)
                    ),
                );
                self.emit(p);
            }
            return cand;
        }
        cur
    }
}

/// SV101-3..6 / SV202-3..6 as written, empty ones included.
type Modifiers<'a> = [&'a [u8]; 4];

/// What SV1/SV2 gave, as slices of the segment (trimmed; empty if absent),
/// turned into strings only once the line takes them.
struct ServiceRead<'a> {
    procedure: Option<&'a [u8]>,
    revenue_code: Option<&'a [u8]>,
    /// Up to four, empty ones included (they are dropped).
    modifiers: Modifiers<'a>,
    units: &'a [u8],
    place_of_service: &'a [u8],
}

impl<'a> ServiceRead<'a> {
    fn modifiers(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.modifiers.iter().copied().filter(|m| !m.is_empty())
    }
}

// ----- helpers -----

fn problem(seg: u64, id: &str, severity: Severity, kind: ProblemKind, message: String) -> Problem {
    Problem {
        severity,
        segment: seg,
        segment_id: id.to_owned(),
        message,
        claim: None,
        claims_skipped: 0,
        lines_skipped: 0,
        kind,
    }
}

fn trim(b: &[u8]) -> &[u8] {
    // Elements almost never carry white space: check the ends first.
    match (b.first(), b.last()) {
        (Some(f), Some(l)) if !f.is_ascii_whitespace() && !l.is_ascii_whitespace() => b,
        _ => {
            let (s, e) = trim_bounds(b);
            &b[s..e]
        }
    }
}

fn trim_bounds(b: &[u8]) -> (usize, usize) {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |i| i + 1);
    (s, e.max(s))
}

fn string(b: &[u8]) -> String {
    let b = trim(b);
    // X12 is ASCII in practice: the plain check is the fast path.
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// Appends `b` to `s` (lossy like `string`).
fn push_bytes(s: &mut String, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(v) => s.push_str(v),
        Err(_) => s.push_str(&String::from_utf8_lossy(b)),
    }
}

fn segment_id(seg: &[u8], es: u8) -> &[u8] {
    let end = seg.iter().position(|&b| b == es).unwrap_or(seg.len());
    trim(&seg[..end])
}

/// A segment identifier (2 or 3 bytes once valid) packed into an integer,
/// so that dispatch is one integer match instead of chains of slice
/// comparisons. Distinct valid ids give distinct codes.
const fn id_code(id: &[u8]) -> u32 {
    let mut c = 0u32;
    let mut i = 0;
    while i < id.len() && i < 4 {
        c = c << 8 | id[i] as u32;
        i += 1;
    }
    c
}

const IEA: u32 = id_code(b"IEA");
const GS: u32 = id_code(b"GS");
const GE: u32 = id_code(b"GE");
const ST: u32 = id_code(b"ST");
const SE: u32 = id_code(b"SE");
const HL: u32 = id_code(b"HL");
const SBR: u32 = id_code(b"SBR");
const NM1: u32 = id_code(b"NM1");
const CLM: u32 = id_code(b"CLM");
const HI: u32 = id_code(b"HI");
const REF: u32 = id_code(b"REF");
const DTP: u32 = id_code(b"DTP");
const LX: u32 = id_code(b"LX");
const SV1: u32 = id_code(b"SV1");
const SV2: u32 = id_code(b"SV2");

fn valid_id(id: &[u8]) -> bool {
    (2..=3).contains(&id.len())
        && id[0].is_ascii_uppercase()
        && id[1..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn is_separator_like(b: u8) -> bool {
    !b.is_ascii_alphanumeric() && !b.is_ascii_whitespace() && b != 0
}

fn is_isa(seg: &[u8]) -> bool {
    seg.len() > 3 && &seg[..3] == b"ISA" && is_separator_like(seg[3])
}

fn split(seg: &[u8], es: u8, spans: &mut Vec<(u32, u32)>) {
    spans.clear();
    let mut start = 0u32;
    crate::source::each_byte(seg, es, |i| {
        spans.push((start, i as u32));
        start = i as u32 + 1;
    });
    spans.push((start, seg.len() as u32));
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 18 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// Control numbers match when equal, or equal as numbers ("0021" and "21").
fn same_control(got: &[u8], want: &str) -> bool {
    let got = trim(got);
    got == want.as_bytes()
        || matches!((parse_u64(got), parse_u64(want.as_bytes())), (Some(a), Some(b)) if a == b)
}

fn parse_d8(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n =
        |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    NaiveDate::from_ymd_opt(n(0..4) as i32, n(4..6), n(6..8))
}

/// DTP02/DTP03: D8 (a date) or RD8 (a range); the date, or the range's
/// first date. The error says what is wrong and what was expected.
fn parse_dtp(format: &[u8], value: &[u8]) -> Result<NaiveDate, String> {
    match format {
        b"D8" => parse_d8(value)
            .ok_or_else(|| format!("`{}` is not a date; expected D8*CCYYMMDD", show(value))),
        b"RD8" => {
            let bad = || {
                format!(
                    "`{}` is not a date range; expected RD8*CCYYMMDD-CCYYMMDD, the end not before the start",
                    show(value)
                )
            };
            let i = value.iter().position(|&b| b == b'-').ok_or_else(bad)?;
            let from = parse_d8(&value[..i]).ok_or_else(bad)?;
            let to = parse_d8(&value[i + 1..]).ok_or_else(bad)?;
            if to < from {
                return Err(bad());
            }
            Ok(from)
        }
        b"" => {
            Err("has no date format (DTP02); expected D8*CCYYMMDD or RD8*CCYYMMDD-CCYYMMDD".into())
        }
        other => Err(format!(
            "format `{}` is not D8 or RD8; expected D8*CCYYMMDD or RD8*CCYYMMDD-CCYYMMDD",
            show(other)
        )),
    }
}

/// Input bytes for a message: lossy UTF-8, control characters escaped, at
/// most 40 characters.
fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i == 40 {
            out.push('…');
            break;
        }
        if ch.is_control() {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    out
}

fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() || b == b' ' {
        (b as char).to_string()
    } else {
        std::ascii::escape_default(b).to_string()
    }
}

/// What a trailer (GE, IEA) is checked against.
struct Trailer<'a> {
    id: &'static str,
    counted: u64,
    unit: &'static str,
    scope: &'static str,
    control: &'a str,
    header: &'static str,
    control_element: &'static str,
    header_seg: u64,
}
