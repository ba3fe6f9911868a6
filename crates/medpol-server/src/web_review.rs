//! Web pages for prior authorization: the reviewer's queue by time left, a
//! request with the policy's recommendation, its citations and the
//! questionnaire answers, and the decision form; and the public CMS-0057-F
//! metrics report with server-drawn SVG charts.
//!
//! A reviewer signs in with the reviewer token: the session is a cookie
//! (`HttpOnly`, `SameSite=Strict`, `Secure` behind an https public URL)
//! holding an expiry and its HMAC under the token, so every replica
//! honours it and changing the token ends every session. Every form that
//! changes something carries a CSRF token (the HMAC of the session), checked
//! before anything else.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{Datelike, Utc};
use hmac::{Hmac, Mac};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use crate::pas::model::{ItemDecision, ItemState, ItemStatus};
use crate::pas::{metrics, store as pa_store};
use crate::web::{citation_href, page};
use crate::AppState;

type St = State<Arc<AppState>>;

const COOKIE: &str = "medpol_review";
/// A session lasts a working day.
const SESSION_SECONDS: i64 = 8 * 3600;
/// The queue page shows the soonest due; the API pages through the rest.
const QUEUE_ROWS: i64 = 500;

pub fn routes() -> Router<Arc<AppState>> {
    let review = Router::new()
        .route("/review", get(queue_page))
        .route("/review/sign-in", post(sign_in))
        .route("/review/sign-out", post(sign_out))
        .route("/review/requests/{id}", get(request_page))
        .route("/review/requests/{id}/decision", post(decide))
        .layer(axum::middleware::map_response(private));
    Router::new()
        .route("/reports/prior-auth", get(report))
        .merge(review)
}

/// A reviewer's pages show members' requests: no shared cache or browser
/// history may keep them, and what a page shows depends on the cookie.
async fn private(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::VARY, HeaderValue::from_static("Cookie"));
    r
}

fn mac(key: &str, message: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    m.update(message.as_bytes());
    m.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A signed-in reviewer's session: its expiry, and the CSRF token of its forms.
struct Session {
    csrf: String,
}

fn session(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    let key = state.pas.reviewer_token.as_deref()?;
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    let value = cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)?
        .1;
    let (exp, sig) = value.split_once('.')?;
    let exp: i64 = exp.parse().ok()?;
    if exp < Utc::now().timestamp()
        || !crate::auth::same_secret(sig, &mac(key, &format!("session|{exp}")))
    {
        return None;
    }
    Some(Session {
        csrf: mac(key, &format!("csrf|{exp}")),
    })
}

fn secure(state: &AppState) -> bool {
    state
        .cds
        .public_url
        .get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
}

fn sign_in_form(message: Option<&str>) -> Markup {
    html! {
        h1 { "Prior-authorization review" }
        p { "Sign in with the reviewer token to work the queue." }
        form method="post" action="/review/sign-in" {
            div.field {
                label for="token" { "Reviewer token" }
                input type="password" id="token" name="token" autocomplete="current-password" required
                    aria-describedby=[message.map(|_| "token-error")];
                @if let Some(m) = message { p.error id="token-error" { (m) } }
            }
            button type="submit" { "Sign in" }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct SignIn {
    token: String,
}

async fn sign_in(State(state): St, Form(f): Form<SignIn>) -> Response {
    let Some(key) = state.pas.reviewer_token.as_deref() else {
        return page(
            StatusCode::UNAUTHORIZED,
            "Sign in",
            sign_in_form(Some(
                "The reviewer role is off: the service was started without --reviewer-token.",
            )),
        );
    };
    if !crate::auth::same_secret(f.token.trim(), key.trim()) {
        tracing::warn!("reviewer sign-in refused");
        return page(
            StatusCode::UNAUTHORIZED,
            "Sign in",
            sign_in_form(Some("That is not the reviewer token.")),
        );
    }
    let exp = Utc::now().timestamp() + SESSION_SECONDS;
    let cookie = format!(
        "{COOKIE}={exp}.{}; Path=/; Max-Age={SESSION_SECONDS}; HttpOnly; SameSite=Strict{}",
        mac(key, &format!("session|{exp}")),
        if secure(&state) { "; Secure" } else { "" }
    );
    let mut r = Redirect::to("/review").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

fn csrf_refused() -> Response {
    page(
        StatusCode::FORBIDDEN,
        "Refused",
        html! { h1 { "Refused" } p { "The form was not sent from this session (its CSRF token does not match). Reload the page and try again." } },
    )
}

async fn sign_out(State(state): St, headers: HeaderMap, Form(f): Form<CsrfOnly>) -> Response {
    match session(&state, &headers) {
        Some(s) if crate::auth::same_secret(&f.csrf, &s.csrf) => {}
        Some(_) => return csrf_refused(),
        None => return Redirect::to("/review").into_response(),
    }
    let mut r = Redirect::to("/review").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("medpol_review=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"),
    );
    r
}

fn sign_out_form(s: &Session) -> Markup {
    html! {
        form.inline method="post" action="/review/sign-out" {
            input type="hidden" name="csrf" value=(s.csrf);
            button type="submit" { "Sign out" }
        }
    }
}

fn time_left(minutes: i64) -> String {
    let (sign, m) = if minutes < 0 {
        ("overdue by ", -minutes)
    } else {
        ("", minutes)
    };
    let (d, h, min) = (m / 1440, (m % 1440) / 60, m % 60);
    if d > 0 {
        format!("{sign}{d} d {h} h")
    } else {
        format!("{sign}{h} h {min} min")
    }
}

/// The queue, by time left; or the sign-in form.
async fn queue_page(State(state): St, headers: HeaderMap) -> Response {
    let Some(s) = session(&state, &headers) else {
        return page(StatusCode::OK, "Sign in", sign_in_form(None));
    };
    let rows = match state.store.pa_queue(Some("pended"), None, QUEUE_ROWS).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "review queue");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Review queue",
                html! { h1 { "Review queue" } p.error { "The queue cannot be read right now; try again shortly." } },
            );
        }
    };
    let now = state.pas.clock.now();
    let overdue = rows
        .iter()
        .filter(|q| crate::pas::model::minutes_left(q.latest.state.due_at, now) < 0)
        .count();
    let body = html! {
        h1 { "Prior-authorization review queue" }
        (sign_out_form(&s))
        @if rows.len() as i64 >= QUEUE_ROWS {
            p { "Showing the " (QUEUE_ROWS) " soonest due; " strong { (overdue) " of them overdue" } ". The rest are in " code { "GET /api/v1/prior-auth/requests" } "." }
        } @else {
            p { (rows.len()) " request(s) waiting; " strong { (overdue) " overdue" } ". Soonest due first." }
        }
        @if rows.is_empty() { p { "Nothing is waiting for review." } } @else {
            table {
                caption { "Pended requests" }
                thead { tr { th scope="col" { "Time left" } th scope="col" { "Due" } th scope="col" { "Priority" } th scope="col" { "Review" } th scope="col" { "Product" } th scope="col" { "Items" } } }
                tbody {
                    @for q in &rows {
                        @let left = crate::pas::model::minutes_left(q.latest.state.due_at, now);
                        tr {
                            td { @if left < 0 { strong.error { (time_left(left)) } } @else { (time_left(left)) } }
                            td { (pa_store::ts(q.latest.state.due_at)) }
                            td { (q.request.priority.id()) }
                            td { a href=(format!("/review/requests/{}", q.request.id)) { (q.request.kind.id()) " " (short(&q.request.id)) } }
                            td { (q.request.payer) "/" (q.request.product) }
                            td { @for i in &q.latest.state.items { (code_of(i)) " (" (i.status.id()) "; recommended: " (i.recommendation.action) ") " } }
                        }
                    }
                }
            }
        }
    };
    page(StatusCode::OK, "Review queue", body)
}

fn short(id: &str) -> &str {
    &id[id.len().saturating_sub(12)..]
}

fn code_of(i: &ItemState) -> &str {
    i.code.rsplit('|').next().unwrap_or(&i.code)
}

/// One request: the recommendation per item with its citations, the
/// questionnaire answers, the history, and the decision form.
async fn request_page(State(state): St, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let Some(s) = session(&state, &headers) else {
        return Redirect::to("/review").into_response();
    };
    render_request(&state, &s, &id, None, StatusCode::OK).await
}

/// An error beside a field of one item's form.
struct FormError {
    sequence: u32,
    field: &'static str,
    message: String,
}

async fn render_request(
    state: &AppState,
    s: &Session,
    id: &str,
    error: Option<FormError>,
    status: StatusCode,
) -> Response {
    let (req, events) = match crate::pas::load(state, id).await {
        Ok(x) => x,
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            return page(
                StatusCode::NOT_FOUND,
                "Not found",
                html! { h1 { "No such request" } p { a href="/review" { "Back to the queue" } } },
            );
        }
        Err(_) => {
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Prior-authorization request",
                html! { h1 { "Prior-authorization request" } p.error { "The request cannot be read right now; try again shortly." } p { a href="/review" { "Back to the queue" } } },
            );
        }
    };
    let latest = &events.last().expect("loaded with events").state;
    let bundle: Value = serde_json::from_str(&req.bundle).unwrap_or(Value::Null);
    let answers: Vec<(String, String)> = crate::cds::fhir::list(&bundle["entry"])
        .into_iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == "QuestionnaireResponse")
        .flat_map(|r| {
            let mut out = Vec::new();
            collect(&r["item"], &mut out);
            out
        })
        .collect();
    let now = state.pas.clock.now();
    let left = crate::pas::model::minutes_left(latest.due_at, now);
    let date = now.date_naive();
    let body = html! {
        p { a href="/review" { "← Queue" } }
        h1 { "Request " (short(&req.id)) " (" (req.kind.id()) ")" }
        (sign_out_form(s))
        @if let Some(e) = error.as_ref().filter(|e| !latest.items.iter().any(|i| i.sequence == e.sequence && i.status == ItemStatus::Pended)) {
            p.error role="alert" { "Item " (e.sequence) ": " (e.message) }
        }
        dl {
            dt { "Status" } dd { (latest.status()) }
            dt { "Priority" } dd { (req.priority.id()) }
            dt { "Received" } dd { (pa_store::ts(req.received_at)) }
            dt { "Due" } dd { (pa_store::ts(latest.due_at)) " (" (time_left(left)) ")" @if latest.extended { ", extended" } }
            dt { "Member's product" } dd { (req.payer) "/" (req.product) }
            dt { "Claim identifier" } dd { (req.claim_key) }
            @if let Some(p) = &req.parent { dt { "Reviews" } dd { a href=(format!("/review/requests/{p}")) { (short(p)) } } }
        }
        @for item in &latest.items {
            section.statement aria-labelledby=(format!("item-{}", item.sequence)) {
                h2 id=(format!("item-{}", item.sequence)) { "Item " (item.sequence) ": " (code_of(item)) }
                p { "Status: " strong { (item.status.id()) } }
                p { "Policy's recommendation: " strong { (item.recommendation.action) } ". " (item.recommendation.reason) }
                @if !item.recommendation.citations.is_empty() {
                    ul { @for c in &item.recommendation.citations { li {
                        "“" (c.text) "” — " a href=(citation_href(&c.policy, &c.path, date)) { (c.policy) " version " (c.version) }
                    } } }
                }
                @if let Some(ce) = &item.recommendation.clinical_exception { p.hint { "Clinical exception process: " (ce) } }
                @if let Some(r) = &item.reason { p id=(format!("reason-given-{}", item.sequence)) { "Reason given: " (r) } }
                @if let Some(n) = &item.auth_number { p { "Preauthorization number: " (n) } }
                @if item.status == ItemStatus::Pended { (decision_form(s, &req.id, item, error.as_ref().filter(|e| e.sequence == item.sequence))) }
            }
        }
        h2 { "Questionnaire answers" }
        @if answers.is_empty() { p { "None were sent with the request." } } @else {
            table { thead { tr { th scope="col" { "Criterion" } th scope="col" { "Answer" } } }
                tbody { @for (link, a) in &answers { tr { td { (link) } td { (a) } } } } }
        }
        h2 { "History" }
        table { thead { tr { th scope="col" { "When" } th scope="col" { "What" } th scope="col" { "Who" } th scope="col" { "Status after" } } }
            tbody { @for e in &events { tr { td { (e.at) } td { (e.kind) } td { (e.actor) } td { (e.status) } } } } }
    };
    page(status, "Prior-authorization request", body)
}

fn collect(items: &Value, out: &mut Vec<(String, String)>) {
    for i in crate::cds::fhir::list(items) {
        let link = i["linkId"].as_str().unwrap_or("").to_string();
        for a in crate::cds::fhir::list(&i["answer"]) {
            if let Some(b) = a["valueBoolean"].as_bool() {
                out.push((link.clone(), if b { "yes" } else { "no" }.into()));
            }
        }
        collect(&i["item"], out);
    }
}

fn decision_form(s: &Session, id: &str, item: &ItemState, error: Option<&FormError>) -> Markup {
    let n = item.sequence;
    let err = |field: &str| {
        error
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
    };
    let described = |field: &str| err(field).map(|_| format!("{field}-{n}-error"));
    html! {
        form method="post" action=(format!("/review/requests/{id}/decision")) {
            input type="hidden" name="csrf" value=(s.csrf);
            input type="hidden" name="sequence" value=(n);
            fieldset {
                legend { "Decision on item " (n) }
                @for (value, label) in [("certify", "Certify"), ("deny", "Deny"), ("modify", "Certify with changes")] {
                    div.choice { input type="radio" name="action" id=(format!("action-{n}-{value}")) value=(value) required aria-describedby=[described("action")];
                          " " label for=(format!("action-{n}-{value}")) { (label) } }
                }
                @if let Some(m) = err("action") { p.error id=(format!("action-{n}-error")) { (m) } }
                div.field {
                    label for=(format!("reason-{n}")) { "Reason (required to deny or modify; the requester is told it)" }
                    textarea id=(format!("reason-{n}")) name="reason" rows="3" cols="60" aria-describedby=[described("reason")] {}
                    @if let Some(m) = err("reason") { p.error id=(format!("reason-{n}-error")) { (m) } }
                }
                div.field {
                    label for=(format!("authorized-{n}")) { "What is authorized instead (to modify)" }
                    input type="text" id=(format!("authorized-{n}")) name="authorized" aria-describedby=[described("authorized")];
                    @if let Some(m) = err("authorized") { p.error id=(format!("authorized-{n}-error")) { (m) } }
                }
                button type="submit" { "Record the decision" }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    csrf: String,
    sequence: u32,
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    authorized: String,
}

async fn decide(
    State(state): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Response {
    let Some(s) = session(&state, &headers) else {
        return Redirect::to("/review").into_response();
    };
    if !crate::auth::same_secret(&f.csrf, &s.csrf) {
        return csrf_refused();
    }
    let field = match f.action.as_str() {
        "" => Some((
            "action",
            "Choose certify, deny or certify with changes.".to_string(),
        )),
        "deny" | "modify" if f.reason.trim().is_empty() => Some((
            "reason",
            "A reason is required to deny or modify.".to_string(),
        )),
        "modify" if f.authorized.trim().is_empty() => {
            Some(("authorized", "Say what is authorized instead.".to_string()))
        }
        _ => None,
    };
    if let Some((field, message)) = field {
        return render_request(
            &state,
            &s,
            &id,
            Some(FormError {
                sequence: f.sequence,
                field,
                message,
            }),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let decision = ItemDecision {
        sequence: f.sequence,
        action: f.action,
        reason: Some(f.reason).filter(|r| !r.trim().is_empty()),
        reason_code: None,
        authorized: Some(f.authorized).filter(|a| !a.trim().is_empty()),
    };
    match crate::pas::decide_request(&state, &id, &[decision]).await {
        Ok(_) => Redirect::to(&format!("/review/requests/{id}")).into_response(),
        Err(e) => {
            // The API's status as it is: 409 when the item was decided
            // meanwhile (another reviewer, another tab), 422 for a decision
            // it refuses, 5xx when the store fails.
            let status = e.status();
            render_request(
                &state,
                &s,
                &id,
                Some(FormError {
                    sequence: f.sequence,
                    field: "action",
                    message: e.message,
                }),
                status,
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    year: Option<String>,
}

/// A horizontal bar chart of percentages (0 to 100), drawn on the server.
fn bars(title: &str, id: &str, rows: &[(&str, f64, &str)], max: f64, unit: &str) -> Markup {
    let height = 28 * rows.len() + 10;
    html! {
        figure {
            svg role="img" aria-labelledby=(format!("{id}-title {id}-desc")) width="100%" height=(height)
                viewBox=(format!("0 0 520 {height}")) xmlns="http://www.w3.org/2000/svg" {
                title id=(format!("{id}-title")) { (title) }
                desc id=(format!("{id}-desc")) {
                    @for (label, v, _) in rows { (label) ": " (format!("{v:.1}")) " " (unit) "; " }
                }
                @for (n, (label, v, color)) in rows.iter().enumerate() {
                    @let y = 5 + 28 * n;
                    @let w = if max > 0.0 { (v / max * 300.0).clamp(0.0, 300.0) } else { 0.0 };
                    text x="0" y=(y + 17) font-size="13" fill="#1a1a1a" { (label) }
                    rect x="170" y=(y) width=(format!("{w:.1}")) height="20" fill=(color) {}
                    text x=(format!("{:.1}", 176.0 + w)) y=(y + 15) font-size="13" fill="#1a1a1a" { (format!("{v:.1}")) " " (unit) }
                }
            }
            figcaption { (title) }
        }
    }
}

/// The public CMS-0057-F report of a year.
async fn report(State(state): St, Query(q): Query<ReportQuery>) -> Response {
    let this_year = state.pas.clock.now().year();
    let year = match q.year.as_deref().map(str::trim).filter(|y| !y.is_empty()) {
        None => this_year,
        Some(y) => match y.parse::<i32>() {
            Ok(y) if (2000..=2200).contains(&y) => y,
            _ => {
                let body = html! {
                    h1 { "Prior-authorization report" }
                    form.inline method="get" action="/reports/prior-auth" {
                        div.field { label for="year" { "Year" } input id="year" name="year" value=(y) inputmode="numeric" aria-describedby="year-error";
                            p.error id="year-error" { "The year must be a number from 2000 to 2200." } }
                        button type="submit" { "Show" }
                    }
                };
                return page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Prior-authorization report",
                    body,
                );
            }
        },
    };
    let m = match crate::pas::metrics_of(&state.store, year).await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "prior-auth report");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Prior-authorization report",
                html! { h1 { "Prior-authorization report" } p.error { "The report cannot be computed right now; try again shortly." } },
            );
        }
    };
    let pct = |v: f64| format!("{v:.1}%");
    let hours = |h: Option<f64>| h.map_or("—".to_string(), |h| format!("{h:.2}"));
    let rows: [(&str, metrics::PriorityMetrics); 2] = [
        ("Standard", m.standard.clone()),
        ("Expedited", m.expedited.clone()),
    ];
    let body = html! {
        h1 { "Prior-authorization report, " (year) }
        p { "The measures CMS-0057-F asks payers to publish, computed from every prior-authorization request received in " (year) ". Definitions are in the documentation (docs/prior-auth.md)." }
        form.inline method="get" action="/reports/prior-auth" {
            div.field { label for="year" { "Year" } input id="year" name="year" value=(year) inputmode="numeric"; }
            button type="submit" { "Show" }
        }
        table {
            caption { "Requests and decisions by priority" }
            thead { tr { th scope="col" { "Measure" } th scope="col" { "Standard" } th scope="col" { "Expedited" } } }
            tbody {
                tr { th scope="row" { "Requests" } td { (m.standard.requests) } td { (m.expedited.requests) } }
                tr { th scope="row" { "Decided" } td { (m.standard.decided) } td { (m.expedited.decided) } }
                tr { th scope="row" { "Approved" } td { (pct(m.standard.approved_percent)) } td { (pct(m.expedited.approved_percent)) } }
                tr { th scope="row" { "Denied" } td { (pct(m.standard.denied_percent)) } td { (pct(m.expedited.denied_percent)) } }
                tr { th scope="row" { "Approved after appeal" } td { (pct(m.standard.approved_after_appeal_percent)) } td { (pct(m.expedited.approved_after_appeal_percent)) } }
                tr { th scope="row" { "Approved after an extended time frame" } td { (pct(m.standard.extended_and_approved_percent)) } td { (pct(m.expedited.extended_and_approved_percent)) } }
                tr { th scope="row" { "Average hours to decision" } td { (hours(m.standard.average_hours)) } td { (hours(m.expedited.average_hours)) } }
                tr { th scope="row" { "Median hours to decision" } td { (hours(m.standard.median_hours)) } td { (hours(m.expedited.median_hours)) } }
            }
        }
        @for (name, r) in &rows {
            h2 { (name) " requests" }
            (bars(&format!("{name} requests: approved and denied, percent of decided"), &format!("chart-{}", name.to_lowercase()),
                  &[("Approved", r.approved_percent, "#1d6b2f"), ("Denied", r.denied_percent, "#a40000"),
                    ("Approved after appeal", r.approved_after_appeal_percent, "#0b5394")], 100.0, "%"))
        }
        @let max_h = [m.standard.average_hours, m.standard.median_hours, m.expedited.average_hours, m.expedited.median_hours].iter().flatten().fold(0.0f64, |a, b| a.max(*b));
        h2 { "Time to decision" }
        (bars("Hours from submission to decision", "chart-hours",
              &[("Standard, average", m.standard.average_hours.unwrap_or(0.0), "#0b5394"), ("Standard, median", m.standard.median_hours.unwrap_or(0.0), "#0b5394"),
                ("Expedited, average", m.expedited.average_hours.unwrap_or(0.0), "#8a5a00"), ("Expedited, median", m.expedited.median_hours.unwrap_or(0.0), "#8a5a00")],
              max_h, "h"))
    };
    page(StatusCode::OK, "Prior-authorization report", body)
}
