//! `medpol screen` and `medpol synth claims`: the batch adapter around
//! `medpol-screen`, with files, progress and the summary.

use std::fs::File;
use std::io::{self, BufRead, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use medpol_screen::{InputFormat, Options, OutputFormat, ScreenError, Summary};

use crate::cli::{ClaimsFormat, LinesFormat, ScreenArgs, SynthClaimsArgs, SynthClaimsFormat};
use crate::{compile, input, load, Failure, Result};

/// A file that appears under its name only when `commit` is called: written
/// to a temporary sibling, renamed at the end, removed if dropped uncommitted.
pub(crate) struct PendingFile {
    tmp: PathBuf,
    path: PathBuf,
    file: Option<BufWriter<File>>,
    /// Written in place: the path is not a regular file (`/dev/null`, a
    /// pipe), which a rename would replace.
    direct: bool,
}

impl PendingFile {
    pub(crate) fn create(path: &Path) -> anyhow::Result<PendingFile> {
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?;
            return Ok(PendingFile {
                tmp: path.to_path_buf(),
                path: path.to_path_buf(),
                file: Some(BufWriter::with_capacity(1 << 20, file)),
                direct: true,
            });
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        Ok(PendingFile {
            tmp,
            path: path.to_path_buf(),
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            direct: false,
        })
    }

    pub(crate) fn commit(mut self) -> anyhow::Result<()> {
        if let Some(mut f) = self.file.take() {
            f.flush()?;
            if self.direct {
                return Ok(());
            }
            f.get_ref().sync_all()?;
        }
        std::fs::rename(&self.tmp, &self.path)
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

impl Write for PendingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().expect("open until committed").write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("open until committed").flush()
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if self.file.take().is_some() && !self.direct {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Standard error, with the progress bar (if any) out of the way while writing.
struct BarWriter {
    bar: Option<ProgressBar>,
}

impl Write for BarWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &self.bar {
            Some(bar) => bar
                .suspend(|| io::stderr().write_all(buf))
                .map(|_| buf.len()),
            None => io::stderr().write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// The input format: as given, else X12 when the input starts (after
/// blanks) with an ISA segment, else by the file's extension, else CSV.
pub(crate) fn input_format(given: Option<ClaimsFormat>, name: &str, head: &[u8]) -> InputFormat {
    match given {
        Some(ClaimsFormat::Csv) => InputFormat::Csv,
        Some(ClaimsFormat::Ndjson) => InputFormat::Ndjson,
        Some(ClaimsFormat::X12) => InputFormat::X12,
        None if head
            .iter()
            .skip_while(|b| b.is_ascii_whitespace() || **b == 0xEF || **b == 0xBB || **b == 0xBF)
            .take(3)
            .eq(b"ISA".iter()) =>
        {
            InputFormat::X12
        }
        None if name.ends_with(".ndjson") || name.ends_with(".jsonl") => InputFormat::Ndjson,
        None => InputFormat::Csv,
    }
}

pub fn run_screen(args: ScreenArgs) -> Result<()> {
    if let Some(n) = args.threads {
        if n == 0 {
            return input("--threads must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("starting worker threads")?;
    }
    let engine = compile(load(args.policies.as_deref())?)?;
    let (reader, size): (Box<dyn Read + Send>, Option<u64>) = if args.input == "-" {
        (Box::new(io::stdin()), None)
    } else {
        let f = File::open(&args.input).or_else(|e| input(format!("{}: {e}", args.input)))?;
        let size = f.metadata().ok().map(|m| m.len());
        (Box::new(f), size)
    };
    // Peek at the start (standard input included) to recognise an 837.
    let mut reader = io::BufReader::with_capacity(1 << 16, reader);
    let head = reader
        .fill_buf()
        .with_context(|| format!("reading {}", args.input))?
        .to_vec();
    let format = input_format(args.input_format, &args.input, &head);
    let x12_map = match &args.product_map {
        Some(path) => Some(medpol_screen::x12::ProductMap::load(path).or_else(input)?),
        None => None,
    };
    if format != InputFormat::X12 && (args.product.is_some() || args.product_map.is_some()) {
        return input("--product and --product-map apply to X12 837 input only (CSV and NDJSON lines name their product)");
    }
    let reader: Box<dyn Read + Send> = Box::new(reader);
    let opts = Options {
        input: format,
        x12_product: args.product.clone(),
        x12_map,
        output: match args.format {
            LinesFormat::Csv => OutputFormat::Csv,
            LinesFormat::Ndjson => OutputFormat::Ndjson,
        },
        only_flagged: args.only_flagged,
        max_errors: args.max_errors,
        parse_only: args.parse_only,
        ..Options::default()
    };

    let mut out_file = args.out.as_deref().map(PendingFile::create).transpose()?;
    let stdout = io::stdout();
    let mut stdout_lock;
    let out: &mut dyn Write = match out_file.as_mut() {
        Some(f) => f,
        None => {
            stdout_lock = BufWriter::with_capacity(1 << 20, stdout.lock());
            &mut stdout_lock
        }
    };
    let mut errors_file = args
        .errors
        .as_deref()
        .map(PendingFile::create)
        .transpose()?;
    // A progress bar when standard error is a terminal; bad lines printed
    // there too are written with the bar suspended, so neither tears the other.
    let bar = if io::stderr().is_terminal() {
        let bar = match size {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner(),
        };
        Some(bar)
    } else {
        None
    };
    let mut stderr_writer = BarWriter { bar: bar.clone() };
    let errors: &mut dyn Write = match errors_file.as_mut() {
        Some(f) => f,
        None => &mut stderr_writer,
    };
    let started = Instant::now();
    let result = medpol_screen::screen(&engine, reader, out, errors, &opts, &mut |s: &Summary| {
        if let Some(bar) = &bar {
            bar.set_position(s.bytes_read);
            bar.set_message(format!(
                "{} lines, {} flagged, {} bad",
                s.lines_read, s.flagged, s.bad_lines
            ));
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let summary = match result {
        Ok(s) => s,
        Err(ScreenError::Input(msg)) => return input(msg),
        Err(ScreenError::Io(e)) => {
            return Err(Failure::Internal(
                anyhow::Error::from(e).context("screening"),
            ))
        }
    };
    let elapsed = started.elapsed();
    if let Some(f) = out_file {
        f.commit()?;
    }
    if let Some(f) = errors_file {
        f.commit()?;
    }
    if let Some(path) = &args.summary_json {
        let text = serde_json::to_string_pretty(&summary).context("summary JSON")?;
        medpol_policyfile::write_atomically(path, &text)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    print_summary(&summary, elapsed.as_secs_f64()).context("writing the summary")?;
    // Freeing the compiled catalogue would only delay the exit.
    std::mem::forget(engine);
    if summary.stopped_early {
        return input(format!(
            "stopped after {} bad lines (--max-errors); the decisions before the stop were written",
            summary.bad_lines
        ));
    }
    Ok(())
}

fn print_summary(s: &Summary, seconds: f64) -> io::Result<()> {
    let mut e = io::stderr().lock();
    let rate = if seconds > 0.0 {
        s.lines_read as f64 / seconds
    } else {
        0.0
    };
    writeln!(
        e,
        "screened {} lines in {seconds:.2} s ({rate:.0} lines/s): {} decided, {} flagged, {} bad{}",
        s.lines_read,
        s.decided,
        s.flagged,
        s.bad_lines,
        if s.stopped_early {
            " (stopped early)"
        } else {
            ""
        }
    )?;
    if let Some(x) = &s.x12 {
        writeln!(
            e,
            "  x12: {} claims read, {} problems reported, {} claims and {} lines skipped",
            x.claims_read, x.problems, x.claims_skipped, x.lines_skipped
        )?;
    }
    if !s.coverage.is_empty() {
        let parts: Vec<String> = s.coverage.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(e, "  coverage: {}", parts.join(", "))?;
    }
    if !s.prior_auth.is_empty() {
        let parts: Vec<String> = s
            .prior_auth
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        writeln!(e, "  prior auth: {}", parts.join(", "))?;
    }
    if !s.flagged_by_reason.is_empty() {
        let parts: Vec<String> = s
            .flagged_by_reason
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        writeln!(e, "  flagged by reason: {}", parts.join(", "))?;
    }
    if !s.flagged_by_policy.is_empty() {
        let mut by: Vec<(&String, &u64)> = s.flagged_by_policy.iter().collect();
        by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let shown: Vec<String> = by
            .iter()
            .take(10)
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let more = if by.len() > 10 {
            format!(" (and {} more policies)", by.len() - 10)
        } else {
            String::new()
        };
        writeln!(e, "  flagged by policy: {}{more}", shown.join(", "))?;
    }
    Ok(())
}

pub fn run_synth_claims(args: SynthClaimsArgs) -> Result<()> {
    let loaded = load(args.policies.as_deref())?;
    let write = |out: &mut dyn Write| -> io::Result<()> {
        let mut out = out;
        match args.format {
            SynthClaimsFormat::Csv => {
                medpol_synth::write_claims(&loaded.catalog, args.lines, args.seed, &mut out)
            }
            SynthClaimsFormat::X12 => {
                medpol_synth::write_claims_x12(&loaded.catalog, args.lines, args.seed, &mut out)
            }
        }
    };
    if args.out == "-" {
        let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
        write(&mut out).context("writing claims")?;
    } else {
        let mut f = PendingFile::create(Path::new(&args.out))?;
        write(&mut f).context("writing claims")?;
        f.commit()?;
        if args.format == SynthClaimsFormat::X12 {
            let map = format!("{}.product-map.toml", args.out);
            medpol_policyfile::write_atomically(
                Path::new(&map),
                &medpol_synth::product_map_for(&loaded.catalog),
            )
            .with_context(|| format!("writing {map}"))?;
            eprintln!(
                "wrote {} claim lines to {} (837P/837I) and their product map to {map}",
                args.lines, args.out
            );
        } else {
            eprintln!("wrote {} claim lines to {}", args.lines, args.out);
        }
    }
    Ok(())
}
