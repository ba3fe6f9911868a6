//! The command line, declared with clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Machine-readable medical policies: is a service covered, and is prior
/// authorization needed? Every answer cites the policy, version and statement
/// behind it.
#[derive(Debug, Parser)]
#[command(name = "medpol", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decide coverage and prior authorization for one or more service lines.
    ///
    /// Example: medpol check --code M0076 --product commercial-ppo --setting outpatient --date 2025-06-01
    Check(CheckArgs),
    /// Validate a directory of policy files (default: the bundled policies).
    Validate(ValidateArgs),
    /// Show a policy, as of a date of service, as text or JSON.
    Show(ShowArgs),
    /// List the policies that govern a code.
    Codes(CodesArgs),
    /// Screen claim lines (CSV or NDJSON) against medical policy: one decision per line.
    ///
    /// Example: medpol screen claims.csv --out decisions.csv --only-flagged
    Screen(ScreenArgs),
    /// Import published policy documents (plain text) into policy files, accounting for every line.
    ///
    /// Example: medpol import mp-183.txt --out policies/ --strict
    Import(crate::document::ImportArgs),
    /// Print a policy as the published document: text (the format `import` reads), Markdown or HTML.
    ///
    /// Example: medpol render 183 --format html --out mp-183.html
    Render(crate::document::RenderArgs),
    /// Run the HTTP service: the REST API (/api/v1), the policy store and the decision log.
    ///
    /// With no flags: an embedded SQLite database `medpol.db` in the working directory,
    /// the bundled policies, http://127.0.0.1:8080.
    Serve(ServeArgs),
    /// What changed in a policy between two dates (by its history), or between two catalogues.
    ///
    /// Example: medpol diff 183 --from 2024-03-01 --to 2025-03-01;
    /// medpol diff --old policies/ --new proposed/
    Diff(crate::lifecycle::DiffArgs),
    /// Problems across the catalogue that no single file shows: contradicting policies,
    /// pointers to nothing, overdue reviews, unreached codes, criteria without prior auth.
    /// Exit 1 when there are errors.
    ///
    /// Example: medpol lint proposed/ --deny review-due
    Lint(crate::lifecycle::LintArgs),
    /// The review calendar: each policy's last review and when the next is due.
    ///
    /// Example: medpol reviews --due-within 60d
    Reviews(crate::lifecycle::ReviewsArgs),
    /// Replay claim lines under the current and a proposed catalogue: which lines change
    /// outcome, by code, product and setting.
    ///
    /// Example: medpol impact --proposed proposed/ --claims claims.csv --changed changed.csv
    Impact(crate::lifecycle::ImpactArgs),
    /// Prior authorization: the yearly metrics CMS-0057-F asks payers to post.
    ///
    /// Example: medpol prior-auth metrics --database sqlite://medpol.db --year 2027
    #[command(subcommand, name = "prior-auth")]
    PriorAuth(PriorAuthCommand),
    /// Generate synthetic data for benchmarks and scale tests.
    #[command(subcommand)]
    Synth(SynthCommand),
}

#[derive(Debug, Args)]
pub struct PoliciesArg {
    /// A directory of policy files (`<payer>/payer.toml`, `<payer>/<number>-<title>.toml`);
    /// default: the policies bundled in this binary.
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A procedure code, one service line each; repeat for more lines. Modifiers
    /// follow a colon: `20610:RT,59`.
    #[arg(long = "code", value_name = "CODE[:MODS]", required = true)]
    pub codes: Vec<String>,
    /// The code system of every --code: hcpcs, cpt or icd10pcs. Default: inferred
    /// from each code's shape (M0076 is HCPCS, 99213 and 0232T are CPT).
    #[arg(long)]
    pub system: Option<String>,
    /// The member's product (line of business), e.g. commercial-ppo, medicare-hmo-blue;
    /// `payer/product` names the payer too.
    #[arg(long)]
    pub product: String,
    /// The payer, when the product id alone is ambiguous.
    #[arg(long)]
    pub payer: Option<String>,
    /// inpatient, outpatient, or a two-digit CMS place-of-service code (21 = inpatient hospital).
    #[arg(long)]
    pub setting: String,
    /// The date of service, YYYY-MM-DD.
    #[arg(long)]
    pub date: String,
    /// An ICD-10-CM diagnosis (e.g. M54.50); repeat for more.
    #[arg(long = "diagnosis", value_name = "ICD10CM")]
    pub diagnoses: Vec<String>,
    #[arg(long, value_name = "DIR")]
    /// A directory of policy files; default: the bundled policies.
    pub policies: Option<PathBuf>,
    /// Print the determination as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The directory to validate; default: the bundled policies.
    pub dir: Option<PathBuf>,
    /// Same as DIR.
    #[arg(long, value_name = "DIR", conflicts_with = "dir")]
    pub policies: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The policy number, e.g. 183.
    pub number: String,
    /// The payer, when several have a policy with this number.
    #[arg(long)]
    pub payer: Option<String>,
    /// Show the version in effect on this date (YYYY-MM-DD); default: the latest.
    #[arg(long)]
    pub date: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    #[command(flatten)]
    pub policies: PoliciesArg,
}

#[derive(Debug, Args)]
pub struct CodesArgs {
    /// A procedure code, e.g. M0076.
    pub code: String,
    /// Its code system (hcpcs, cpt, icd10pcs); default: inferred from its shape.
    #[arg(long)]
    pub system: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub policies: PoliciesArg,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// The database: sqlite://FILE (embedded, created if missing) or postgres://USER@HOST/DB
    /// (shared by replicas).
    #[arg(long, default_value = "sqlite://medpol.db", env = "MEDPOL_DATABASE")]
    pub database: String,
    /// A directory of policy files to bring into the store at start; default: the bundled policies.
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// The bearer token of the admin endpoints (publishing policies, reading decisions);
    /// without one they are off.
    #[arg(long, env = "MEDPOL_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Delete decisions older than this many days.
    #[arg(long, value_name = "DAYS")]
    pub retention_days: Option<u32>,
    /// Seconds between checks for policies published by another replica.
    #[arg(long, default_value_t = 1.0)]
    pub poll_seconds: f64,
    /// The largest request body accepted, in bytes (larger: 413).
    #[arg(long, default_value_t = 1 << 20)]
    pub body_limit: usize,
    /// Seconds a request may take (longer: 408).
    #[arg(long, default_value_t = 10.0)]
    pub timeout_seconds: f64,
    /// Decisions queued for the log before requests are refused with 503.
    #[arg(long, default_value_t = 10_000)]
    pub log_capacity: usize,
    /// Keep diagnoses in the decision log (off by default: see docs/decision-log.md).
    #[arg(long)]
    pub log_clinical: bool,
    /// Trusted CDS Hooks clients: a TOML file of `[[client]]` with `iss` and `jwks_file` or
    /// `jwks_url`. Without it (and without --cds-insecure-dev-mode) CDS Hooks calls get 401.
    #[arg(long, value_name = "FILE", env = "MEDPOL_CDS_CLIENTS")]
    pub cds_clients: Option<PathBuf>,
    /// Turn CDS Hooks client authentication OFF. For development only; warned at every start.
    #[arg(long)]
    pub cds_insecure_dev_mode: bool,
    /// Rules mapping a FHIR Coverage to a line of business (TOML); default: the bundled ones.
    #[arg(long, value_name = "FILE")]
    pub cds_coverage_map: Option<PathBuf>,
    /// The base URL clients call this service by, e.g. https://crd.example.org: JWT `aud` is
    /// checked against it plus the path, and links in answers start with it. Required with
    /// --cds-clients; otherwise default: http:// and the address listened on.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// A file holding the key (at least 32 bytes) of the decision log's request digests,
    /// kept outside the database; or the key itself in MEDPOL_DECISION_DIGEST_KEY. Without
    /// either, decisions are logged without a request digest.
    #[arg(long, value_name = "FILE")]
    pub decision_digest_key_file: Option<PathBuf>,
    /// Prior-authorization (Da Vinci PAS) clients, authenticated with SMART Backend Services
    /// at POST /auth/token: the --cds-clients file format (`iss` = client_id). Requires
    /// --public-url. Without it Claim/$submit and $inquire answer 401.
    #[arg(long, value_name = "FILE", env = "MEDPOL_PAS_CLIENTS")]
    pub pas_clients: Option<PathBuf>,
    /// The bearer token of the prior-authorization reviewer role (the review queue and
    /// decisions; separate from the admin token). Without one the reviewer API is off.
    #[arg(long, env = "MEDPOL_REVIEWER_TOKEN", hide_env_values = true)]
    pub reviewer_token: Option<String>,
    /// Coverage reasons prior authorization may deny without a reviewer, comma-separated:
    /// investigational, excluded. Default: none (every denial is recommended to a reviewer).
    /// Medical necessity is never denied automatically.
    #[arg(long, value_name = "REASONS", default_value = "")]
    pub pa_auto_deny: String,
    /// For tests: read prior authorization's "now" from FILE (an RFC 3339 instant), so a
    /// test can move time. Warned at every start.
    #[arg(long, value_name = "FILE", hide = true)]
    pub test_clock: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PriorAuthCommand {
    /// The CMS-0057-F metrics of a year (standard and expedited), from the service's store.
    ///
    /// Example: medpol prior-auth metrics --database sqlite://medpol.db --year 2027
    Metrics(PriorAuthMetricsArgs),
}

#[derive(Debug, Args)]
pub struct PriorAuthMetricsArgs {
    /// The service's database (sqlite://FILE or postgres://...).
    #[arg(long, default_value = "sqlite://medpol.db", env = "MEDPOL_DATABASE")]
    pub database: String,
    /// The calendar year.
    #[arg(long)]
    pub year: i32,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::cli::MetricsFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MetricsFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LinesFormat {
    Csv,
    Ndjson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClaimsFormat {
    Csv,
    Ndjson,
    /// X12 837 (5010) professional or institutional claims.
    X12,
}

#[derive(Debug, Args)]
pub struct ScreenArgs {
    /// The claim lines: a CSV (with a header), NDJSON or X12 837 file, or `-` for standard
    /// input. The columns and the 837 mapping are described in docs/screening.md.
    pub input: String,
    /// Where to write the decisions; default: standard output. The file appears
    /// only when the run finishes (written to a temporary name, then renamed).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: LinesFormat,
    /// The input format; default: X12 if the input starts with an ISA segment, else from
    /// the file extension (.ndjson, .jsonl), else CSV.
    #[arg(long, value_enum)]
    pub input_format: Option<ClaimsFormat>,
    /// X12 input: the member's product for every claim of the file (`product` or
    /// `payer/product`), instead of the product map.
    #[arg(long, value_name = "PRODUCT")]
    pub product: Option<String>,
    /// X12 input: the product map (TOML: payer name or id, SBR09, SBR03 → product);
    /// default: the bundled map for the bundled payer.
    #[arg(long, value_name = "FILE")]
    pub product_map: Option<PathBuf>,
    /// A directory of policy files; default: the bundled policies.
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// Write only flagged lines (not covered, conditional, or needing prior authorization).
    #[arg(long)]
    pub only_flagged: bool,
    /// Where to report bad lines (one per line, with the input line number); default: standard error.
    #[arg(long, value_name = "FILE")]
    pub errors: Option<PathBuf>,
    /// Stop after this many bad lines (exit 2); at least 1.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_errors: Option<u64>,
    /// Worker threads; default: one per core.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Also write the summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Only read and parse the lines (no decisions, no output): the baseline for benchmarks.
    #[arg(long)]
    pub parse_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum SynthCommand {
    /// Write a realistic synthetic policy set (payer files and policy files) to a new directory.
    Policies(SynthPoliciesArgs),
    /// Write realistic synthetic claim lines (CSV) drawn against a policy set.
    Claims(SynthClaimsArgs),
}

#[derive(Debug, Args)]
pub struct SynthClaimsArgs {
    /// How many claim lines.
    #[arg(long)]
    pub lines: u64,
    /// The file to write (`-` for standard output).
    #[arg(long)]
    pub out: String,
    /// The policy set the governed codes and products are drawn from; default: the bundled policies.
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// The random seed; the same seed gives the same lines.
    #[arg(long, default_value_t = 183)]
    pub seed: u64,
    /// csv (the screening schema) or x12 (837P and 837I interchanges; a product map for
    /// them is written beside the file as `<out>.product-map.toml`).
    #[arg(long, value_enum, default_value = "csv")]
    pub format: SynthClaimsFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SynthClaimsFormat {
    Csv,
    X12,
}

#[derive(Debug, Args)]
pub struct SynthPoliciesArgs {
    /// How many policies.
    #[arg(long)]
    pub count: usize,
    /// The directory to create; it must not exist or be empty.
    #[arg(long)]
    pub out: PathBuf,
    /// How many payers to spread the policies over.
    #[arg(long, default_value_t = 3)]
    pub payers: usize,
    /// The random seed; the same seed gives the same files.
    #[arg(long, default_value_t = 183)]
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
