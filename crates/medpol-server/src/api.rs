//! The REST API under `/api/v1`, health endpoints, and the layers around
//! them (request ids, tracing, body limit, timeout). Handlers are thin.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use medpol_core::code::{Code, CodeSystem};
use medpol_core::determination::Determination;
use medpol_core::model::{iso_date, Policy, PolicyVersion};
use medpol_core::request::{Request, RequestError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::decision_log::LogError;
use crate::store::{self, DecisionFilter, DecisionRecord};
use crate::AppState;

type AppStateRef = Arc<AppState>;

/// A client's mistake or the service's state, as JSON: what is wrong, where,
/// and what would be valid.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiError {
    #[serde(skip)]
    status: StatusCode,
    /// A stable machine-readable code, e.g. `invalid-json`, `unknown-product`.
    pub error: &'static str,
    pub message: String,
    /// The request field at fault, e.g. `lines[0].code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Valid values, where there is a list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid: Option<Vec<String>>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            error,
            message: crate::bounded_message(&message.into()),
            field: None,
            valid: None,
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn field(mut self, f: impl Into<String>) -> ApiError {
        self.field = Some(f.into());
        self
    }

    pub(crate) fn internal(e: anyhow::Error) -> ApiError {
        tracing::error!(error = %format!("{e:#}"), "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the service log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut res = (status, Json(self)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        res
    }
}

/// Maps axum's JSON rejections to our errors, naming the field where serde said it.
fn json_error(r: JsonRejection) -> ApiError {
    let status = r.status();
    let text = r.body_text();
    let (error, detail) = match &r {
        JsonRejection::JsonDataError(_) => (
            "invalid-request",
            text.split_once("target type: ")
                .map(|x| x.1)
                .unwrap_or(&text),
        ),
        JsonRejection::JsonSyntaxError(_) => (
            "invalid-json",
            text.split_once("JSON: ").map(|x| x.1).unwrap_or(&text),
        ),
        JsonRejection::MissingJsonContentType(_) => ("unsupported-media-type", text.as_str()),
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => ("body-too-large", text.as_str()),
        _ => ("invalid-request", text.as_str()),
    };
    let detail = detail.to_string();
    let mut e = ApiError::new(status, error, detail.clone());
    // serde_path_to_error writes `path: message`; serde writes "missing field `x`".
    if let Some((path, _)) = detail.split_once(": ") {
        if !path.is_empty() && !path.contains(' ') && path != "." {
            e = e.field(path);
        }
    }
    if e.field.is_none() {
        if let Some(rest) = detail.split_once("missing field `").map(|x| x.1) {
            if let Some((name, _)) = rest.split_once('`') {
                e = e.field(name);
            }
        }
    }
    e
}

fn request_error(e: RequestError) -> ApiError {
    let message = e.to_string();
    match e {
        RequestError::UnknownProduct { valid, .. } => ApiError {
            valid: Some(valid),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown-product", message)
                .field("product")
        },
        RequestError::AmbiguousProduct { payers, .. } => ApiError {
            valid: Some(payers),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "ambiguous-product",
                message,
            )
            .field("payer")
        },
        RequestError::UnknownPayer { valid, .. } => ApiError {
            valid: Some(valid),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown-payer", message)
                .field("payer")
        },
        RequestError::NoLines => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "no-lines", message).field("lines")
        }
        RequestError::TooManyLines { .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "too-many-lines", message)
                .field("lines")
        }
        RequestError::TooManyDiagnoses { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too-many-diagnoses",
            message,
        )
        .field("diagnoses"),
        RequestError::DiagnosisAsService { line, .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-code", message)
                .field(format!("lines[{}].code", line - 1))
        }
        RequestError::NotADiagnosis { index, .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-code", message)
                .field(format!("diagnoses[{}]", index - 1))
        }
    }
}

/// Query parameters, refused as JSON (422, `invalid-query`) like every other
/// client mistake rather than axum's plain-text 400. Admin handlers take it
/// as a `Result` so that authentication is checked first: an unauthenticated
/// caller learns nothing about the parameters.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S>
    for ApiQuery<T>
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, ApiError> {
        Query::try_from_uri(&parts.uri)
            .map(|Query(q)| ApiQuery(q))
            .map_err(|r| {
                let text = r.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                let mut e = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-query",
                    format!("the query string: {detail}"),
                );
                if let Some(name) = detail
                    .split_once("field `")
                    .and_then(|(_, rest)| rest.split_once('`'))
                    .map(|(name, _)| name)
                {
                    e = e.field(name);
                }
                e
            })
    }
}

/// A `limit` query parameter: 1 to `max`, default 100.
fn limit(given: Option<i64>, max: i64) -> Result<i64, ApiError> {
    let limit = given.unwrap_or(100);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-limit",
            format!("limit must be from 1 to {max}, not {limit}"),
        )
        .field("limit"))
    }
}

pub(crate) fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &state.admin_token else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "admin-disabled",
            "the admin API is off: start the service with --admin-token (or MEDPOL_ADMIN_TOKEN)",
        ));
    };
    // The scheme is case-insensitive (RFC 9110): the one bearer parser.
    let given = crate::auth::bearer_token(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
    .unwrap_or("");
    if crate::auth::same_secret(given, expected) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid admin bearer token is required",
        ))
    }
}

/// The REST API's routes, to be nested under `/api/v1` (the whole router is
/// assembled in `lib.rs`).
pub fn routes() -> Router<AppStateRef> {
    Router::new()
        .route("/policies", get(list_policies).post(publish_policy))
        .route("/policies/{payer}/{number}", get(get_policy))
        .route("/policies/{payer}/{number}/versions", get(policy_versions))
        .route(
            "/policies/{payer}/{number}/diff",
            get(crate::lifecycle::policy_diff),
        )
        .route("/reviews", get(crate::lifecycle::reviews))
        .route("/impact", post(crate::lifecycle::impact))
        .route(
            "/prior-auth/requirements",
            get(crate::prior_auth::requirements),
        )
        .route("/determinations", post(determine))
        .route("/decisions", get(list_decisions))
        .route("/cds-feedback", get(list_feedback))
}

/// Any path no route takes.
pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "no such endpoint; see /api/v1/openapi.json",
    )
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the database answers and a catalogue is loaded; 503 while shutting down.
#[utoipa::path(get, path = "/readyz", responses((status = 200, body = Health), (status = 503, body = ApiError)))]
pub async fn readyz(State(state): State<AppStateRef>) -> Result<Json<Health>, ApiError> {
    if state.shutting_down.load(Ordering::SeqCst) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting-down",
            "the service is stopping",
        ));
    }
    if !state.store.ping().await {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "the database does not answer",
        ));
    }
    Ok(Json(Health { status: "ready" }))
}

/// The answer to a determination request: `medpol check --json`'s object,
/// plus the id under which the decision is logged.
#[derive(Serialize, ToSchema)]
pub struct DeterminationResponse<'e> {
    pub decision_id: String,
    #[serde(flatten)]
    pub determination: Determination<'e>,
}

/// Decide coverage and prior authorization for service lines. Every answer
/// is recorded in the decision log before it is sent.
#[utoipa::path(
    post,
    path = "/api/v1/determinations",
    request_body = Request,
    responses(
        (status = 200, body = DeterminationResponse),
        (status = 400, description = "malformed JSON", body = ApiError),
        (status = 413, description = "body too large", body = ApiError),
        (status = 415, description = "not JSON", body = ApiError),
        (status = 422, description = "a field is invalid (unknown product, malformed code, missing field)", body = ApiError),
        (status = 503, description = "the decision log is full or unavailable; retry", body = ApiError),
    )
)]
pub async fn determine(
    State(state): State<AppStateRef>,
    payload: Result<Json<Request>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = payload.map_err(json_error)?;
    let current = state.current();
    let determination = current.engine.determine(&request).map_err(request_error)?;
    let record = state
        .records
        .record_of(&request, &determination, "api")
        .map_err(ApiError::internal)?;
    let body = serde_json::to_vec(&DeterminationResponse {
        decision_id: record.id.clone(),
        determination,
    })
    .map_err(|e| ApiError::internal(e.into()))?;
    state.log.record(record).await.map_err(|e| match e {
        LogError::Full => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "log-full", e.to_string()),
        LogError::Closed | LogError::Write(_) => {
            tracing::error!(error = %e, "decision not recorded");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "log-unavailable",
                "the decision could not be recorded; retry",
            )
        }
    })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PolicySearch {
    /// A code the policy lists (system inferred from its shape unless `system` is given).
    #[param(pattern = "^[0-9A-Za-z.]{3,8}$")]
    code: Option<String>,
    /// The code's system.
    #[param(inline)]
    system: Option<CodeSystem>,
    /// Words to find in the title, description or summary (case-insensitive).
    q: Option<String>,
    number: Option<String>,
    payer: Option<String>,
    /// At most this many (default 100, at most 1,000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct PolicySummary {
    pub payer: String,
    pub number: String,
    pub title: String,
    pub effective: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_force_from: Option<NaiveDate>,
    /// The stored revision this summary describes.
    pub revision: i64,
    /// The latest version label from the policy history.
    pub version: String,
}

fn summary(p: &Policy, revision: i64) -> PolicySummary {
    PolicySummary {
        payer: p.payer.clone(),
        number: p.number.clone(),
        title: p.title.clone(),
        effective: p.effective,
        retired: p.retired,
        in_force_from: p.in_force_from,
        revision,
        version: p
            .versions()
            .last()
            .map(|v| v.label.clone())
            .unwrap_or_default(),
    }
}

/// List and search policies (every revision in force at some date).
#[utoipa::path(get, path = "/api/v1/policies", params(PolicySearch), responses((status = 200, body = [PolicySummary]), (status = 422, body = ApiError)))]
pub async fn list_policies(
    State(state): State<AppStateRef>,
    ApiQuery(search): ApiQuery<PolicySearch>,
) -> Result<Json<Vec<PolicySummary>>, ApiError> {
    let limit = limit(search.limit, 1000)? as usize;
    let current = state.current();
    let catalog = current.engine.catalog();
    let code = match &search.code {
        Some(c) => Some(
            match search.system {
                Some(system) => Code::parse(system, c),
                None => Code::infer_procedure(c),
            }
            .map_err(|e| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-code",
                    e.to_string(),
                )
                .field("code")
            })?,
        ),
        None => None,
    };
    let words: Vec<String> = search
        .q
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let listed = code.map(|c| current.engine.policies_for_code(&c));
    let mut out = Vec::new();
    for (i, p) in catalog.policies.iter().enumerate() {
        if search.payer.as_deref().is_some_and(|x| x != p.payer)
            || search.number.as_deref().is_some_and(|x| x != p.number)
            || listed
                .as_ref()
                .is_some_and(|l| !l.iter().any(|x| std::ptr::eq(x.policy, p)))
        {
            continue;
        }
        if !p.mentions_all(&words) {
            continue;
        }
        out.push(summary(p, current.revisions[i].revision));
        if out.len() >= limit {
            break;
        }
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOf {
    /// The date of service (YYYY-MM-DD); default: the latest revision and version.
    #[param(format = Date, pattern = "^(19|[2-9][0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    date: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyDocument {
    pub revision: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_force_from: Option<NaiveDate>,
    pub published_at: String,
    /// The version in effect on the date asked (or the latest).
    #[schema(value_type = Object)]
    pub version: PolicyVersion,
    /// The policy in the policy-file form (see policies/ and ARCHITECTURE.md).
    #[schema(value_type = Object)]
    pub policy: Policy,
}

pub(crate) fn parse_date(s: &str, field: &str) -> Result<NaiveDate, ApiError> {
    iso_date::parse(s).map_err(|e| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-date", e).field(field)
    })
}

/// One policy, as of a date of service.
#[utoipa::path(get, path = "/api/v1/policies/{payer}/{number}", params(("payer" = String, Path), ("number" = String, Path), AsOf),
    responses((status = 200, body = PolicyDocument), (status = 404, body = ApiError), (status = 422, body = ApiError)))]
pub async fn get_policy(
    State(state): State<AppStateRef>,
    Path((payer, number)): Path<(String, String)>,
    ApiQuery(as_of): ApiQuery<AsOf>,
) -> Result<Json<PolicyDocument>, ApiError> {
    let current = state.current();
    let catalog = current.engine.catalog();
    let date = as_of
        .date
        .as_deref()
        .map(|d| parse_date(d, "date"))
        .transpose()?;
    let found = catalog.policies.iter().enumerate().rfind(|(_, p)| {
        p.payer == payer && p.number == number && date.is_none_or(|d| p.decides_on(d))
    });
    let Some((i, p)) = found else {
        let msg = match date {
            Some(d) => format!(
                "no policy {} in effect on {d}",
                medpol_core::excerpt(&format!("{payer}/{number}"))
            ),
            None => format!(
                "no policy {}",
                medpol_core::excerpt(&format!("{payer}/{number}"))
            ),
        };
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "policy-not-found",
            msg,
        ));
    };
    let version = match date {
        Some(d) => p.version_on(d),
        None => p.versions().pop(),
    }
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "policy-not-found",
            "no version in effect",
        )
    })?;
    let r = &current.revisions[i];
    Ok(Json(PolicyDocument {
        revision: r.revision,
        in_force_from: p.in_force_from,
        published_at: r.published_at.clone(),
        version,
        policy: p.clone(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct RevisionVersions {
    pub revision: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_force_from: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
    pub published_at: String,
    pub published_by: String,
    pub digest: String,
    #[schema(value_type = Vec<Object>)]
    pub versions: Vec<PolicyVersion>,
}

/// The versions of a policy, by stored revision (oldest first).
#[utoipa::path(get, path = "/api/v1/policies/{payer}/{number}/versions", params(("payer" = String, Path), ("number" = String, Path)),
    responses((status = 200, body = [RevisionVersions]), (status = 404, body = ApiError)))]
pub async fn policy_versions(
    State(state): State<AppStateRef>,
    Path((payer, number)): Path<(String, String)>,
) -> Result<Json<Vec<RevisionVersions>>, ApiError> {
    let current = state.current();
    let out: Vec<RevisionVersions> = current
        .engine
        .catalog()
        .policies
        .iter()
        .zip(&current.revisions)
        .filter(|(p, _)| p.payer == payer && p.number == number)
        .map(|(p, r)| {
            let (from, until) = p.window();
            RevisionVersions {
                revision: r.revision,
                in_force_from: p.in_force_from,
                until,
                published_at: r.published_at.clone(),
                published_by: r.published_by.clone(),
                digest: r.digest.clone(),
                versions: p
                    .versions()
                    .into_iter()
                    .filter(|v| until.is_none_or(|u| v.effective < u))
                    .filter(|v| {
                        p.in_force_from.is_none()
                            || v.effective >= from
                            || p.version_on(from).as_ref() == Some(v)
                    })
                    .collect(),
            }
        })
        .collect();
    if out.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "policy-not-found",
            format!(
                "no policy {}",
                medpol_core::excerpt(&format!("{payer}/{number}"))
            ),
        ));
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublishParams {
    /// The first date of service the new revision decides (YYYY-MM-DD);
    /// default: all dates from the policy's `effective` on.
    #[param(format = Date, pattern = "^(19|[2-9][0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    in_force_from: Option<String>,
    /// Publish nothing: answer with the diff against the revision this one
    /// follows, the lint findings, and the impact on the decisions logged in
    /// the last 30 days.
    dry_run: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct Published {
    pub payer: String,
    pub number: String,
    pub revision: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_force_from: Option<NaiveDate>,
    /// Lint warnings about the publication (errors refuse it).
    pub lint: Vec<crate::lifecycle::LintFinding>,
}

/// A publication looked at first (`dry_run=true`): nothing was published.
#[derive(Serialize, ToSchema)]
pub struct PublicationPreview {
    pub dry_run: bool,
    pub payer: String,
    pub number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_force_from: Option<NaiveDate>,
    /// Against the revision it would follow: the one in force on its
    /// `in_force_from`, else the latest (null for a new policy).
    #[schema(value_type = Option<Object>)]
    pub diff: Option<medpol_core::diff::PolicyDiff>,
    /// Every finding; an error would refuse the publication.
    pub lint: Vec<crate::lifecycle::LintFinding>,
    /// Would it be refused (a lint error)?
    pub refused: bool,
    pub impact: crate::lifecycle::DecisionReplay,
}

/// A revision checked as for publication: parsed (JSON, or TOML through the
/// policy-file reader), validated, compiled with the catalogue, and linted.
pub(crate) struct Proposal {
    pub policy: Policy,
    pub in_force_from: Option<NaiveDate>,
    /// The catalogue it would be published into.
    pub current: Arc<crate::Current>,
    /// The catalogue with it.
    pub proposed: medpol_core::Engine,
    pub findings: Vec<crate::lifecycle::LintFinding>,
}

pub(crate) fn propose(
    state: &AppState,
    headers: &HeaderMap,
    in_force_from: Option<&str>,
    body: String,
) -> Result<Proposal, ApiError> {
    let in_force_from = in_force_from
        .map(|d| parse_date(d, "in_force_from"))
        .transpose()?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let current = state.current();
    let policy: Policy = if content_type.starts_with("application/toml") {
        // The policy-file reader itself: the same parse, validation and
        // line numbers as `medpol validate` gives for a file.
        let source = medpol_policyfile::Source {
            path: "request body".into(),
            text: body.clone(),
        };
        let catalog = current.engine.catalog();
        let (policy, _warnings) = medpol_policyfile::parse_policy(&source, |id| catalog.payer(id))
            .map_err(|diagnostics| {
                let errors: Vec<_> = diagnostics
                    .iter()
                    .filter(|d| d.severity == medpol_core::validate::Severity::Error)
                    .collect();
                let message = errors
                    .iter()
                    .map(|d| {
                        format!(
                            "{}{}{}",
                            d.line.map(|l| format!("line {l}: ")).unwrap_or_default(),
                            d.field
                                .as_deref()
                                .map(|f| format!("{f}: "))
                                .unwrap_or_default(),
                            d.message
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut e =
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-policy", message);
                if let Some(field) = errors.first().and_then(|d| d.field.clone()) {
                    e = e.field(field);
                }
                e
            })?;
        policy
    } else if content_type.starts_with("application/json") {
        let policy: Policy = serde_json::from_str(&body).map_err(|e| {
            let status = if e.is_syntax() || e.is_eof() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            ApiError::new(status, "invalid-policy", format!("line {}: {e}", e.line()))
        })?;
        // (The TOML branch's reader validates as it parses.)
        let payer = current.engine.catalog().payer(&policy.payer);
        let issues: Vec<String> = medpol_core::validate::validate_policy(&policy, payer)
            .into_iter()
            .filter(|i| i.severity == medpol_core::validate::Severity::Error)
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect();
        if !issues.is_empty() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-policy",
                issues.join("; "),
            ));
        }
        policy
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send the policy as application/json or application/toml",
        ));
    };
    if policy.in_force_from.is_some() || policy.retired.is_some_and(|_| in_force_from.is_some()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-policy",
            "give the revision's first day as the in_force_from query parameter, not in the policy",
        )
        .field("in_force_from"));
    }
    if let Some(from) = in_force_from {
        if from < policy.effective {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-policy",
                format!(
                    "in_force_from {from} is before the policy's effective date {}",
                    policy.effective
                ),
            )
            .field("in_force_from"));
        }
    }
    // The catalogue with this revision must still compile.
    let mut revisions = current.revisions.clone();
    revisions.push(store::Revision {
        seq: i64::MAX,
        revision: 0,
        in_force_from,
        published_at: String::new(),
        published_by: String::new(),
        digest: String::new(),
        policy: policy.clone(),
    });
    let (catalog, kept) = store::compose(current.engine.catalog().payers.clone(), &revisions);
    let toml_body = content_type
        .starts_with("application/toml")
        .then_some(body.as_str());
    let findings = match kept.iter().position(|r| r.seq == i64::MAX) {
        Some(at) => crate::lifecycle::lint_publication(
            &catalog,
            at,
            toml_body,
            chrono::Utc::now().date_naive(),
        ),
        None => Vec::new(),
    };
    let proposed = medpol_core::Engine::compile(catalog).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-policy",
            e.to_string(),
        )
    })?;
    Ok(Proposal {
        policy,
        in_force_from,
        current,
        proposed,
        findings,
    })
}

/// Publish a new revision of a policy (admin). The body is a policy in the
/// policy-file form, as JSON (`application/json`) or TOML (`application/toml`).
/// It is validated, checked to compile with the rest of the catalogue, and
/// appended; published revisions are never changed.
#[utoipa::path(post, path = "/api/v1/policies", params(PublishParams),
    request_body(description = "a policy in the policy-file form", content(
        (Object = "application/json"),
        (String = "application/toml"),
    )),
    security(("bearer" = [])),
    responses((status = 201, body = Published), (status = 200, description = "dry_run: nothing published", body = PublicationPreview),
        (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 415, description = "neither JSON nor TOML", body = ApiError), (status = 422, body = ApiError),
        (status = 503, description = "the store is busy; nothing was published, retry", body = ApiError)))]
pub async fn publish_policy(
    State(state): State<AppStateRef>,
    headers: HeaderMap,
    params: Result<ApiQuery<PublishParams>, ApiError>,
    body: Result<String, axum::extract::rejection::StringRejection>,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let ApiQuery(params) = params?;
    let body = body.map_err(|r| ApiError::new(r.status(), "invalid-body", r.body_text()))?;
    let Proposal {
        policy,
        in_force_from,
        current,
        proposed,
        findings,
    } = propose(&state, &headers, params.in_force_from.as_deref(), body)?;
    let refused = crate::lifecycle::has_errors(&findings);
    if params.dry_run == Some(true) {
        // The revision this one would follow, as published (the
        // catalogue's copy carries the window composition gave it): the one
        // in force on its first day, or, without one, the latest (a revision
        // without in_force_from replaces them all).
        let policies = &current.engine.catalog().policies;
        let same = |p: &&Policy| p.payer == policy.payer && p.number == policy.number;
        let before = in_force_from
            .and_then(|day| {
                policies
                    .iter()
                    .enumerate()
                    .rfind(|(_, p)| same(p) && p.decides_on(day))
            })
            .or_else(|| policies.iter().enumerate().rfind(|(_, p)| same(p)))
            .map(|(i, _)| &current.revisions[i].policy);
        let impact =
            crate::lifecycle::replay_decisions(&state, &current.engine, &proposed, (None, None))
                .await
                .map_err(ApiError::internal)?;
        return Ok(Json(PublicationPreview {
            dry_run: true,
            diff: before.map(|b| medpol_core::diff::diff_policies(b, &policy)),
            payer: policy.payer,
            number: policy.number,
            in_force_from,
            lint: findings,
            refused,
            impact,
        })
        .into_response());
    }
    if refused {
        let errors: Vec<String> = findings
            .iter()
            .filter(|f| f.level == "error")
            .map(|f| format!("{} [{}] {}: {}", f.policy, f.rule, f.field, f.message))
            .collect();
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "lint-failed",
            format!(
                "the publication would make the catalogue inconsistent: {}",
                errors.join("; ")
            ),
        ));
    }
    let revision = state
        .store
        .publish(&policy, in_force_from, "admin-api", false)
        .await
        .map_err(|e| {
            if store::is_busy(&e) {
                tracing::warn!(error = %format!("{e:#}"), "publication refused: store busy");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store-busy",
                    "the policy store is busy with other writes; nothing was published, retry shortly",
                )
            } else {
                ApiError::internal(e)
            }
        })?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("publication skipped")))?;
    // The revision is committed: answer so even if this reload fails (the
    // poller loads it on its next tick).
    if let Err(e) = state.refresh(true).await {
        tracing::warn!(error = %format!("{e:#}"), "published, but the catalogue reload failed; the poller will retry");
    }
    tracing::info!(payer = %policy.payer, number = %policy.number, revision, "policy revision published");
    Ok((
        StatusCode::CREATED,
        Json(Published {
            payer: policy.payer,
            number: policy.number,
            revision,
            in_force_from,
            lint: findings,
        }),
    )
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedbackQuery {
    /// The CDS service id.
    #[param(value_type = String, pattern = "^(order-sign|order-select|order-dispatch|appointment-book|encounter-start|encounter-discharge)-crd$")]
    service: String,
}

/// CDS Hooks feedback received for a service (admin), oldest first.
#[utoipa::path(get, path = "/api/v1/cds-feedback", params(FeedbackQuery), security(("bearer" = [])),
    responses((status = 200, body = [Object]), (status = 401, body = ApiError)))]
pub async fn list_feedback(
    State(state): State<AppStateRef>,
    headers: HeaderMap,
    q: Result<ApiQuery<FeedbackQuery>, ApiError>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    require_admin(&state, &headers)?;
    let ApiQuery(q) = q?;
    if crate::cds::service_hook(&q.service).is_none() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-service",
            format!(
                "no CDS service {}; see GET /cds-services",
                medpol_core::excerpt(&q.service)
            ),
        )
        .field("service"));
    }
    Ok(Json(
        state
            .store
            .feedback(&q.service)
            .await
            .map_err(ApiError::internal)?,
    ))
}

/// A time bound of the decision log: a date (midnight UTC) or an RFC 3339
/// time, normalised to the log's form.
pub(crate) fn time_bound(v: &Option<String>, field: &str) -> Result<Option<String>, ApiError> {
    match v {
        None => Ok(None),
        Some(s) if iso_date::parse(s).is_ok() => Ok(iso_date::parse(s)
            .ok()
            .map(|d| format!("{d}T00:00:00.000Z"))),
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| {
                Some(
                    t.with_timezone(&chrono::Utc)
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                )
            })
            .map_err(|_| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-date",
                    format!(
                        "{} is not a date (YYYY-MM-DD) or an RFC 3339 time",
                        medpol_core::excerpt(s)
                    ),
                )
                .field(field)
            }),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DecisionQuery {
    /// Decided at or after (RFC 3339 or YYYY-MM-DD).
    from: Option<String>,
    /// Decided before (RFC 3339 or YYYY-MM-DD).
    to: Option<String>,
    /// A policy applied, `payer/number`.
    policy: Option<String>,
    /// The strictest coverage.
    #[param(value_type = Option<String>, pattern = "^(covered|conditional|not-covered|no-policy)$")]
    outcome: Option<String>,
    /// At most this many (default 100, at most 10,000), newest first.
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<i64>,
}

/// Read the decision log (admin).
#[utoipa::path(get, path = "/api/v1/decisions", params(DecisionQuery), security(("bearer" = [])),
    responses((status = 200, body = [DecisionRecord]), (status = 401, body = ApiError), (status = 422, body = ApiError)))]
pub async fn list_decisions(
    State(state): State<AppStateRef>,
    headers: HeaderMap,
    q: Result<ApiQuery<DecisionQuery>, ApiError>,
) -> Result<Json<Vec<DecisionRecord>>, ApiError> {
    require_admin(&state, &headers)?;
    let ApiQuery(q) = q?;
    let limit = limit(q.limit, 10_000)?;
    if let Some(o) = &q.outcome {
        if !["covered", "conditional", "not-covered", "no-policy"].contains(&o.as_str()) {
            return Err(ApiError {
                valid: Some(vec![
                    "covered".into(),
                    "conditional".into(),
                    "not-covered".into(),
                    "no-policy".into(),
                ]),
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-outcome",
                    format!("unknown outcome {}", medpol_core::excerpt(o)),
                )
                .field("outcome")
            });
        }
    }
    let bound = time_bound;
    let filter = DecisionFilter {
        from: bound(&q.from, "from")?,
        to: bound(&q.to, "to")?,
        policy: q.policy.clone(),
        outcome: q.outcome.clone(),
        limit,
    };
    Ok(Json(
        state
            .store
            .decisions(&filter)
            .await
            .map_err(ApiError::internal)?,
    ))
}
