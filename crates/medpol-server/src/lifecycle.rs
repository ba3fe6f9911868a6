//! The policy team's checks over HTTP: what changed in a policy between two
//! dates, the review calendar, and a publication's look first (the diff
//! against the revision it follows, lint findings, and the impact on the
//! decisions logged in the last 30 days). The work is done by
//! `medpol_core::{diff, lint, review, impact}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{Duration, NaiveDate, Utc};
use medpol_core::diff::{self, PolicyDiff, VersionDiff};
use medpol_core::impact::{Example, ImpactReport, Tally};
use medpol_core::lint::{self, Level};
use medpol_core::model::{Catalog, Policy, PolicyVersion};
use medpol_core::request::{Request, ServiceLine};
use medpol_core::review::{self, ReviewEntry};
use medpol_core::{Code, Engine, Setting};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::{parse_date, ApiError, ApiQuery};
use crate::store::DecisionFilter;
use crate::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffRange {
    /// The earlier date (YYYY-MM-DD).
    #[param(format = Date, pattern = "^(19|[2-9][0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    from: String,
    /// The later date (YYYY-MM-DD).
    #[param(format = Date, pattern = "^(19|[2-9][0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    to: String,
}

/// The revision and version in effect on one side of a diff.
#[derive(Serialize, ToSchema)]
pub struct DiffSide {
    pub date: NaiveDate,
    pub revision: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_force_from: Option<NaiveDate>,
    #[schema(value_type = Object)]
    pub version: PolicyVersion,
}

/// What changed in a policy between two dates of service.
#[derive(Serialize, ToSchema)]
pub struct PolicyChanges {
    pub from: DiffSide,
    pub to: DiffSide,
    /// What the history records between the two versions, and the parts it names.
    #[schema(value_type = Object)]
    pub history: VersionDiff,
    /// The two revisions' texts compared part by part (statements, criteria,
    /// codes, prior-auth rows, notes, references, history; changed text word
    /// by word); null when one revision is in force on both dates.
    #[schema(value_type = Option<Object>)]
    pub text: Option<PolicyDiff>,
}

fn not_found(payer: &str, number: &str, date: NaiveDate) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "policy-not-found",
        format!(
            "no policy {} in effect on {date}",
            medpol_core::excerpt(&format!("{payer}/{number}"))
        ),
    )
}

/// What changed in a policy between the versions in effect on two dates: the
/// history between them, and the texts compared when two revisions are involved.
#[utoipa::path(get, path = "/api/v1/policies/{payer}/{number}/diff",
    params(("payer" = String, Path), ("number" = String, Path), DiffRange),
    responses((status = 200, body = PolicyChanges), (status = 404, body = ApiError), (status = 422, body = ApiError)))]
pub async fn policy_diff(
    State(state): State<Arc<AppState>>,
    Path((payer, number)): Path<(String, String)>,
    ApiQuery(range): ApiQuery<DiffRange>,
) -> Result<Json<PolicyChanges>, ApiError> {
    let (from, to) = (
        parse_date(&range.from, "from")?,
        parse_date(&range.to, "to")?,
    );
    if to < from {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-date",
            format!("`to` ({to}) is before `from` ({from})"),
        )
        .field("to"));
    }
    let current = state.current();
    let catalog = current.engine.catalog();
    let on = |date: NaiveDate| {
        catalog
            .policies
            .iter()
            .enumerate()
            .rfind(|(_, p)| p.payer == payer && p.number == number && p.decides_on(date))
            .ok_or_else(|| not_found(&payer, &number, date))
    };
    let ((ia, a), (ib, b)) = (on(from)?, on(to)?);
    // The later revision's history covers the earlier dates too; read it
    // over the whole life of the policy, not the revision's window.
    let whole = Policy {
        in_force_from: None,
        retired: None,
        effective: a.effective.min(b.effective),
        ..b.clone()
    };
    let history =
        diff::versions_between(&whole, from, to).ok_or_else(|| not_found(&payer, &number, from))?;
    let side = |i: usize, p: &Policy, date: NaiveDate, version: PolicyVersion| DiffSide {
        date,
        revision: current.revisions[i].revision,
        in_force_from: p.in_force_from,
        version,
    };
    Ok(Json(PolicyChanges {
        from: side(ia, a, from, history.from.clone()),
        to: side(ib, b, to, history.to.clone()),
        // The texts as published: the catalogue's copies carry the windows
        // composition gave them (an earlier revision "retired" where the
        // next one starts), which are not changes to the policy.
        text: (ia != ib).then(|| {
            diff::diff_policies(&current.revisions[ia].policy, &current.revisions[ib].policy)
        }),
        history,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    /// Only policies due within this many days (overdue ones included).
    #[param(minimum = 0)]
    due_within: Option<i64>,
    /// Judge as of this day (YYYY-MM-DD); default: today (UTC).
    #[param(format = Date, pattern = "^(19|[2-9][0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    today: Option<String>,
}

/// The review calendar: each policy's last review (from its history) and when
/// the annual review is due, soonest first.
#[utoipa::path(get, path = "/api/v1/reviews", params(ReviewQuery),
    responses((status = 200, body = [Object]), (status = 422, body = ApiError)))]
pub async fn reviews(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<ReviewQuery>,
) -> Result<Json<Vec<ReviewEntry>>, ApiError> {
    if q.due_within.is_some_and(|d| d < 0) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-parameter",
            "due_within is a number of days, 0 or more",
        )
        .field("due_within"));
    }
    let today = match q.today.as_deref() {
        Some(d) => parse_date(d, "today")?,
        None => Utc::now().date_naive(),
    };
    let current = state.current();
    Ok(Json(review::calendar(
        current.engine.catalog(),
        today,
        q.due_within,
    )))
}

/// A lint finding about a publication.
#[derive(Debug, Serialize, ToSchema)]
pub struct LintFinding {
    pub rule: &'static str,
    /// `warning` or `error`.
    pub level: &'static str,
    /// The policy the finding is about (`payer/number`).
    pub policy: String,
    /// The field, in policy-file key names.
    pub field: String,
    /// The line in the request body (TOML bodies), when the finding is about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

/// The findings a publication of `policy` brings: those about it in the
/// catalogue it would make (`catalog`, where it is at index `at`), and
/// conflicts other policies now have with it.
pub(crate) fn lint_publication(
    catalog: &Catalog,
    at: usize,
    toml_body: Option<&str>,
    today: NaiveDate,
) -> Vec<LintFinding> {
    // Structurally: findings about the publication, and those whose other
    // side it is (another policy's conflict with it). Conflicts among other
    // policies, or of an earlier revision it is about to replace, are not
    // its doing.
    let findings: Vec<lint::Finding> = lint::lint(catalog, today)
        .into_iter()
        .filter(|f| f.policy == at || f.other == Some(at))
        .collect();
    // Lines in the request body, for the findings about it (one parse).
    let own: Vec<&medpol_core::validate::FieldPath> = findings
        .iter()
        .filter(|f| f.policy == at)
        .map(|f| &f.field)
        .collect();
    let mut lines = match toml_body {
        Some(text) => medpol_policyfile::lines_of(text, &own),
        None => vec![None; own.len()],
    }
    .into_iter();
    findings
        .into_iter()
        .map(|f| LintFinding {
            rule: f.rule,
            level: f.level.id(),
            policy: catalog.policies[f.policy].key(),
            field: f.field.to_string(),
            line: if f.policy == at {
                lines.next().flatten()
            } else {
                None
            },
            message: f.message,
        })
        .collect()
}

pub(crate) fn has_errors(findings: &[LintFinding]) -> bool {
    findings.iter().any(|f| f.level == Level::Error.id())
}

/// How many logged decisions a look first replays at most.
pub const REPLAY_LIMIT: i64 = 10_000;
/// How far back it looks.
pub const REPLAY_DAYS: i64 = 30;

/// The impact of a proposed catalogue on logged decisions (by default those
/// of the last [`REPLAY_DAYS`] days).
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionReplay {
    /// Decisions replayed (the newest, at most [`REPLAY_LIMIT`]).
    pub decisions: usize,
    /// Decided at or after this instant.
    pub since: String,
    /// True when the window held more decisions than were replayed.
    pub truncated: bool,
    /// Decisions whose record keeps no diagnoses were replayed without them
    /// (a policy that decides by indication answers as for an unknown one).
    pub without_diagnoses: usize,
    #[schema(value_type = Object)]
    pub impact: ImpactReport,
}

#[derive(Deserialize)]
struct LoggedLine {
    code: Code,
    #[serde(default)]
    modifiers: Vec<medpol_core::code::Modifier>,
}

/// Replays the decisions logged in `window` (from, to; by default the last
/// [`REPLAY_DAYS`] days) under the current and the proposed engines. A
/// decision record keeps what a replay needs (codes, product, setting,
/// date; diagnoses only with `--log-clinical`).
pub(crate) async fn replay_decisions(
    state: &AppState,
    current: &Engine,
    proposed: &Engine,
    window: (Option<String>, Option<String>),
) -> anyhow::Result<DecisionReplay> {
    let since = window.0.unwrap_or_else(|| {
        (Utc::now() - Duration::days(REPLAY_DAYS))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    });
    let records = state
        .store
        .decisions(&DecisionFilter {
            from: Some(since.clone()),
            to: window.1,
            limit: REPLAY_LIMIT + 1,
            ..Default::default()
        })
        .await?;
    let truncated = records.len() as i64 > REPLAY_LIMIT;
    let records = &records[..records.len().min(REPLAY_LIMIT as usize)];
    // Deciding thousands of requests twice is CPU work: off the async
    // worker, so that other requests keep being served meanwhile.
    let (impact, without) = crate::cpu_bound(|| replay(records, current, proposed));
    Ok(DecisionReplay {
        decisions: records.len(),
        since,
        truncated,
        without_diagnoses: without,
        impact,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImpactParams {
    /// The first date of service the proposed revision would decide (YYYY-MM-DD).
    #[param(format = Date, pattern = "^(19|[2-9][0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    in_force_from: Option<String>,
    /// Decisions made at or after (YYYY-MM-DD or RFC 3339); default: 30 days ago.
    from: Option<String>,
    /// Decisions made before (YYYY-MM-DD or RFC 3339).
    to: Option<String>,
}

/// The impact of a proposed revision (admin; the body as for publishing) on
/// the decisions in the log: each replayed under the current catalogue and
/// under the catalogue with the revision. Nothing is published.
#[utoipa::path(post, path = "/api/v1/impact", params(ImpactParams),
    request_body(description = "a policy in the policy-file form", content(
        (Object = "application/json"),
        (String = "application/toml"),
    )),
    security(("bearer" = [])),
    responses((status = 200, body = DecisionReplay), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 415, description = "neither JSON nor TOML", body = ApiError), (status = 422, body = ApiError)))]
pub async fn impact(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    params: Result<ApiQuery<ImpactParams>, ApiError>,
    body: Result<String, axum::extract::rejection::StringRejection>,
) -> Result<Json<DecisionReplay>, ApiError> {
    crate::api::require_admin(&state, &headers)?;
    let ApiQuery(params) = params?;
    let body = body.map_err(|r| ApiError::new(r.status(), "invalid-body", r.body_text()))?;
    let window = (
        crate::api::time_bound(&params.from, "from")?,
        crate::api::time_bound(&params.to, "to")?,
    );
    let p = crate::api::propose(&state, &headers, params.in_force_from.as_deref(), body)?;
    let replay = replay_decisions(&state, &p.current.engine, &p.proposed, window)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(replay))
}

/// Decides each logged request under both engines and tallies what changed;
/// also how many records kept no diagnoses.
fn replay(
    records: &[crate::store::DecisionRecord],
    current: &Engine,
    proposed: &Engine,
) -> (ImpactReport, usize) {
    let mut tally = Tally::default();
    let mut without = 0;
    for r in records {
        let (Ok(lines), Ok(setting), Ok(date)) = (
            serde_json::from_str::<Vec<LoggedLine>>(r.lines.get()),
            r.setting.parse::<Setting>(),
            r.date_of_service.parse::<NaiveDate>(),
        ) else {
            tally.not_comparable += 1;
            continue;
        };
        let diagnoses: Vec<Code> = r
            .clinical
            .as_ref()
            .and_then(|c| serde_json::from_str::<serde_json::Value>(c.get()).ok())
            .and_then(|c| serde_json::from_value(c["diagnoses"].clone()).ok())
            .unwrap_or_default();
        if r.clinical.is_none() {
            without += 1;
        }
        let request = Request {
            payer: Some(r.payer.clone()),
            product: r.product.clone(),
            setting,
            date,
            lines: lines
                .into_iter()
                .map(|l| ServiceLine {
                    code: l.code,
                    modifiers: l.modifiers,
                })
                .collect(),
            diagnoses,
        };
        let (Ok(before), Ok(after)) = (current.determine(&request), proposed.determine(&request))
        else {
            tally.not_comparable += 1;
            continue;
        };
        let (payer, product) = (before.payer, before.product);
        for (i, (b, a)) in before.lines.iter().zip(&after.lines).enumerate() {
            tally.add(
                b.code,
                payer,
                product,
                setting,
                (b.coverage, b.prior_auth),
                (a.coverage, a.prior_auth),
                || Example {
                    id: r.id.clone(),
                    line: i as u32 + 1,
                },
            );
        }
    }
    (tally.report(), without)
}
