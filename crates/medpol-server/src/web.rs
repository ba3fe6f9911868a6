//! Web pages for people, server-rendered (maud: markup checked at compile
//! time, every interpolation escaped), readable without JavaScript (there is
//! none), one style sheet: the policy library and its search, a policy as
//! published with its versions and what changed, the coverage check, and the
//! review calendar. Handlers are thin: the answers come from the engine and
//! `medpol_core::{diff, review}`, as for the JSON API.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::NaiveDate;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use medpol_core::code::{Code, CodeSystem, Modifier};
use medpol_core::model::{iso_date, Policy};
use medpol_core::request::{Request, ServiceLine};
use medpol_core::Setting;
use serde::Deserialize;

use crate::AppState;

type St = State<Arc<AppState>>;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(library))
        .route("/policies", get(library))
        .route("/policies/{payer}/{number}", get(policy_page))
        .route("/check", get(check))
        .route("/reviews", get(reviews))
        .route("/static/site.css", get(stylesheet))
}

/// The pages' Content-Security-Policy: nothing runs, styles come from the
/// one sheet, forms post only here, no framing.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const CSS: &str = "\
:root{--fg:#1a1a1a;--muted:#555;--accent:#0b5394;--bad:#a40000;--ok:#1d6b2f;--warn:#8a5a00}\
*{box-sizing:border-box}\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:var(--fg);max-width:64rem;margin:0 auto;padding:0 1rem 3rem;line-height:1.5}\
header.site{display:flex;flex-wrap:wrap;gap:1rem;align-items:baseline;border-bottom:2px solid var(--accent);padding:.75rem 0;margin-bottom:1rem}\
header.site a{color:var(--accent);font-weight:600;text-decoration:none}header.site a:hover,header.site a:focus{text-decoration:underline}\
.brand{font-size:1.25rem;margin-right:auto}\
a{color:var(--accent)}a:focus,button:focus,input:focus,select:focus{outline:3px solid #f0a000;outline-offset:2px}\
table{border-collapse:collapse;margin:1rem 0;width:100%}td,th{border:1px solid #999;padding:.35rem .5rem;text-align:left;vertical-align:top}\
th{background:#eef3f8}\
form.inline{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:1rem 0}\
label{display:block;font-weight:600}input,select,button{font:inherit;padding:.35rem .5rem}\
button{background:var(--accent);color:#fff;border:0;border-radius:3px;cursor:pointer}\
.field{margin:.5rem 0}.error{color:var(--bad);font-weight:600}.hint{color:var(--muted);font-size:.9rem}\
.coverage-not-covered{color:var(--bad);font-weight:700}.coverage-covered{color:var(--ok);font-weight:700}\
.coverage-conditional{color:var(--warn);font-weight:700}\
ins{background:#dff5e1;text-decoration:underline}del{background:#fbe3e3}\
.statement{border-left:4px solid var(--accent);padding:.25rem .75rem;margin:.75rem 0;background:#f7f9fb}\
nav ul{list-style:none;padding-left:0}.choice label{display:inline}fieldset{border:1px solid #999;margin:.75rem 0}.banner{font-weight:bold}\
@media (max-width:40rem){td,th{display:block;border:0;border-bottom:1px solid #ccc}tr{display:block;margin-bottom:.75rem}}";

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

pub(crate) fn page(status: StatusCode, title: &str, body: Markup) -> Response {
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · medpol" }
                link rel="stylesheet" href="/static/site.css";
            }
            body {
                a href="#main" class="hint" { "Skip to content" }
                header.site {
                    a.brand href="/" { "medpol medical policies" }
                    nav aria-label="Site" {
                        a href="/policies" { "Library" } " "
                        a href="/check" { "Coverage check" } " "
                        a href="/reviews" { "Review calendar" } " "
                        a href="/review" { "Prior-auth queue" } " "
                        a href="/reports/prior-auth" { "Prior-auth report" }
                    }
                }
                main id="main" { (body) }
            }
        }
    };
    let mut r = (status, axum::response::Html(doc.into_string())).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

#[derive(Debug, Default, Deserialize)]
pub struct LibraryQuery {
    q: Option<String>,
}

/// What each statement says, product by product, for the results table.
fn status_summary(p: &Policy) -> String {
    let mut by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in &p.statements {
        for product in &s.products {
            let v = by.entry(product.as_str()).or_default();
            if !v.contains(&s.status.id()) {
                v.push(s.status.id());
            }
        }
    }
    by.iter()
        .map(|(k, v)| format!("{k}: {}", v.join(" / ")))
        .collect::<Vec<_>>()
        .join("; ")
}

fn policy_href(payer: &str, number: &str) -> String {
    format!("/policies/{payer}/{number}")
}

/// The library: every policy, or those a search finds (a code the policy
/// lists, a policy number, or words of its title, description or summary).
async fn library(State(state): St, Query(q): Query<LibraryQuery>) -> Response {
    let current = state.current();
    let catalog = current.engine.catalog();
    let query = q.q.as_deref().unwrap_or("").trim();
    let listed = Code::infer_procedure(query)
        .ok()
        .map(|c| current.engine.policies_for_code(&c));
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    // One row per policy (payer, number): its latest revision, in catalogue order.
    let mut found: Vec<&Policy> = Vec::new();
    let mut row: std::collections::HashMap<(&str, &str), usize> = Default::default();
    for p in &catalog.policies {
        let hit = query.is_empty()
            || p.number == query
            || listed
                .as_ref()
                .is_some_and(|l| l.iter().any(|x| std::ptr::eq(x.policy, p)))
            || p.mentions_all(&words);
        if !hit {
            continue;
        }
        match row.get(&(p.payer.as_str(), p.number.as_str())) {
            Some(&i) => found[i] = p,
            None => {
                row.insert((&p.payer, &p.number), found.len());
                found.push(p);
            }
        }
    }
    let body = html! {
        h1 { "Medical policy library" }
        form.inline method="get" action="/policies" role="search" {
            div.field {
                label for="q" { "Search by code, policy number or words" }
                input id="q" name="q" type="search" value=(query) placeholder="M0076, 183, prolotherapy";
            }
            button type="submit" { "Search" }
        }
        @if query.is_empty() {
            p { (found.len()) " policies." }
        } @else {
            p role="status" { (found.len()) " result" @if found.len() != 1 { "s" } " for “" (query) "”." }
        }
        @if !found.is_empty() {
            table {
                thead { tr { th scope="col" { "Policy" } th scope="col" { "Number" } th scope="col" { "Payer" }
                    th scope="col" { "Status by product" } th scope="col" { "Effective" } th scope="col" { "Version" } } }
                tbody {
                    @for p in &found {
                        tr {
                            td { a href=(policy_href(&p.payer, &p.number)) { (p.title) } }
                            td { (p.number) }
                            td { (p.payer) }
                            td { (status_summary(p)) }
                            td { (p.effective) }
                            td { (p.versions().last().map(|v| v.label.clone()).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    };
    page(StatusCode::OK, "Library", body)
}

#[derive(Debug, Default, Deserialize)]
pub struct AsOf {
    date: Option<String>,
}

/// A policy as published on a date, with its versions, what changed into
/// this version, working links to related policies, and an anchor on every
/// statement (`#statement-{id}`), prior-auth rule and code.
async fn policy_page(
    State(state): St,
    Path((payer_id, number)): Path<(String, String)>,
    Query(q): Query<AsOf>,
) -> Response {
    let current = state.current();
    let catalog = current.engine.catalog();
    let date = match q.date.as_deref().filter(|d| !d.is_empty()) {
        None => None,
        Some(d) => match iso_date::parse(d) {
            Ok(d) => Some(d),
            Err(e) => {
                return page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Bad date",
                    html! { h1 { "Bad date" } p.error { "date: " (e) } },
                )
            }
        },
    };
    let found = catalog.policies.iter().enumerate().rfind(|(_, p)| {
        p.payer == payer_id && p.number == number && date.is_none_or(|d| p.decides_on(d))
    });
    // The stored revision before this one, if any: its text against this
    // one's, word by word.
    let revision_diff = found.and_then(|(i, p)| {
        let (from, _) = p.window();
        catalog
            .policies
            .iter()
            .enumerate()
            .rfind(|(j, q)| {
                *j != i && q.payer == p.payer && q.number == p.number && q.window().0 < from
            })
            .map(|(j, _)| {
                (
                    current.revisions[j].revision,
                    current.revisions[i].revision,
                    medpol_core::diff::diff_policies(
                        &current.revisions[j].policy,
                        &current.revisions[i].policy,
                    ),
                )
            })
    });
    let found = found.map(|(_, p)| p);
    let Some(p) = found else {
        return page(
            StatusCode::NOT_FOUND,
            "Not found",
            html! { h1 { "No such policy" } p { "No policy " (payer_id) "/" (number)
            @if let Some(d) = date { " in effect on " (d) } "." } p { a href="/policies" { "Search the library" } } },
        );
    };
    let Some(payer) = catalog.payer(&p.payer) else {
        return page(
            StatusCode::NOT_FOUND,
            "Not found",
            html! { h1 { "No such payer" } },
        );
    };
    let versions = p.versions();
    let version = match date {
        Some(d) => p.version_on(d),
        None => versions.last().cloned(),
    };
    let shown = match date {
        Some(d) => medpol_document::as_of(p, d).unwrap_or_else(|| p.clone()),
        None => p.clone(),
    };
    // The published layout, as medpol-document writes (and escapes) it.
    let (toc, main) = medpol_document::html_fragments(&shown, payer);
    let previous = version.as_ref().and_then(|v| {
        versions
            .iter()
            .rev()
            .find(|x| x.effective < v.effective)
            .cloned()
    });
    let changed = match (&previous, &version) {
        // Over the policy's whole life, not this revision's window.
        (Some(a), Some(b)) => medpol_core::diff::versions_between(
            &Policy {
                in_force_from: None,
                retired: None,
                ..p.clone()
            },
            a.effective,
            b.effective,
        ),
        _ => None,
    };
    let related_exists = |n: &str| catalog.find_policies(Some(&p.payer), n).next().is_some();
    let body = html! {
        h1 { "Medical policy " (p.number) ": " (p.title) }
        p.hint { (payer.name) " · effective " (p.effective)
            @if let Some(v) = &version { " · version " (v.label) " (from " (v.effective) ")" } }
        form.inline method="get" action=(policy_href(&p.payer, &p.number)) {
            div.field {
                label for="date" { "As of date of service" }
                input id="date" name="date" type="date" value=(date.map(|d| d.to_string()).unwrap_or_default());
            }
            button type="submit" { "Show" }
        }
        section aria-labelledby="statements-h" {
            h2 id="statements-h" { "Statements" }
            @for s in &p.statements {
                div.statement id=(format!("statement-{}", s.id)) {
                    p { strong { (s.heading.as_deref().unwrap_or(&s.id)) } " — " (s.status.id())
                        " (" (s.products.join(", ")) ")" }
                    p { (medpol_core::markup::plain(&s.text)) }
                    @if !s.criteria.is_empty() {
                        ol { @for c in &s.criteria { li id=(format!("statement-{}-criterion-{}", s.id, c.id)) { (c.text)
                            @if !c.criteria.is_empty() { ol { @for k in &c.criteria { li id=(format!("statement-{}-criterion-{}-{}", s.id, c.id, k.id)) { (k.text) } } } } } } }
                    }
                }
            }
            @for (i, r) in p.prior_auth.iter().enumerate() {
                div.statement id=(format!("prior-auth-{}", r.setting.id())) {
                    p { strong { "Prior authorization, " (r.setting.id()) } }
                    p { (medpol_core::markup::plain(&r.text)) }
                    @if !r.rows.is_empty() {
                        table { tbody { @for (j, row) in r.rows.iter().enumerate() {
                            tr id=(format!("prior-auth-{}-row-{}", i, j + 1)) { th scope="row" { (row.label) } td { (row.text) } } } } }
                    }
                }
            }
        }
        @if !p.related_policies.is_empty() {
            section aria-labelledby="related-h" {
                h2 id="related-h" { "Related policies" }
                ul { @for r in &p.related_policies { li {
                    @if related_exists(&r.number) { a href=(policy_href(&p.payer, &r.number)) { (r.number) " " (r.title) } }
                    @else { (r.number) " " (r.title) " " span.hint { "(not in this library)" } }
                } } }
            }
        }
        section aria-labelledby="versions-h" {
            h2 id="versions-h" { "Versions" }
            @if let Some(c) = &changed {
                p { "What changed from version " (c.from.label) " to " (c.to.label) ", per the history: "
                    strong { (c.parts.iter().map(|x| x.id()).collect::<Vec<_>>().join(", ")) }
                    "; policy statements " @if c.statements_unchanged { "unchanged." } @else { "changed." } }
            }
            ul { @for v in versions.iter().rev() { li {
                a href=(format!("{}?date={}", policy_href(&p.payer, &p.number), v.effective)) { (v.label) }
                " — " (v.actions.join(" "))
            } } }
        }
        @if let Some((before, after, d)) = &revision_diff {
            section aria-labelledby="revision-h" {
                h2 id="revision-h" { "Changes from revision " (before) " to revision " (after) }
                @if d.changes.is_empty() { p { "The texts are the same." } }
                ul { @for c in &d.changes { li {
                    strong { (c.part.id()) " " (c.kind.id()) } " " (c.item) ": "
                    @if !c.words.is_empty() {
                        @for w in &c.words {
                            @match w.op { "insert" => { ins { (w.text) } } "delete" => { del { (w.text) } } _ => { (w.text) } }
                        }
                    } @else {
                        @if let Some(b) = &c.before { del { (b) } } " "
                        @if let Some(a) = &c.after { ins { (a) } }
                    }
                } } }
            }
        }
        section aria-labelledby="document-h" {
            h2 id="document-h" { "The policy as published" }
            (PreEscaped(toc))
            (PreEscaped(main))
        }
    };
    page(StatusCode::OK, &format!("Policy {}", p.number), body)
}

#[derive(Debug, Default, Deserialize)]
pub struct CheckQuery {
    product: Option<String>,
    setting: Option<String>,
    date: Option<String>,
    /// Codes, with modifiers after a colon, separated by spaces or commas.
    codes: Option<String>,
    diagnoses: Option<String>,
}

/// The coverage check: a GET form (shareable URL) and its answer, line by
/// line, with citations linking to the statement's anchor.
async fn check(State(state): St, Query(q): Query<CheckQuery>) -> Response {
    let current = state.current();
    let engine = &current.engine;
    let asked = q.codes.as_deref().is_some_and(|c| !c.trim().is_empty());
    let mut errors: BTreeMap<&'static str, String> = BTreeMap::new();
    // `payer/product`, so that a product id two payers share stays one choice each.
    let mut products: Vec<(String, String)> = Vec::new();
    for payer in &engine.catalog().payers {
        for l in &payer.lines_of_business {
            products.push((
                format!("{}/{}", payer.id, l.id),
                format!("{} — {}", payer.name, l.id),
            ));
        }
    }
    // A bare product id (a shared link from before) selects its payer's entry.
    let chosen = q.product.as_deref().map(|p| {
        if p.contains('/') {
            p.to_string()
        } else {
            products
                .iter()
                .find(|(v, _)| v.ends_with(&format!("/{p}")))
                .map(|(v, _)| v.clone())
                .unwrap_or_else(|| p.to_string())
        }
    });
    let mut answer = None;
    if asked {
        let product = q.product.clone().unwrap_or_default();
        let setting = match q.setting.as_deref().unwrap_or("").parse::<Setting>() {
            Ok(s) => Some(s),
            Err(e) => {
                errors.insert("setting", e.to_string());
                None
            }
        };
        let date = match iso_date::parse(q.date.as_deref().unwrap_or("")) {
            Ok(d) => Some(d),
            Err(e) => {
                errors.insert("date", e);
                None
            }
        };
        let mut lines = Vec::new();
        for spec in q
            .codes
            .as_deref()
            .unwrap_or("")
            .split([',', ' '])
            .filter(|s| !s.is_empty())
        {
            let (code, mods) = spec.split_once(':').unwrap_or((spec, ""));
            match Code::infer_procedure(code) {
                Ok(c) => {
                    let modifiers: Result<Vec<Modifier>, _> = mods
                        .split(';')
                        .filter(|m| !m.is_empty())
                        .map(Modifier::parse)
                        .collect();
                    match modifiers {
                        Ok(modifiers) => lines.push(ServiceLine { code: c, modifiers }),
                        Err(e) => {
                            errors.insert("codes", format!("{}: {e}", medpol_core::excerpt(spec)));
                        }
                    }
                }
                Err(e) => {
                    errors.insert("codes", e.to_string());
                }
            }
        }
        let mut diagnoses = Vec::new();
        for d in q
            .diagnoses
            .as_deref()
            .unwrap_or("")
            .split([',', ' ', ';'])
            .filter(|s| !s.is_empty())
        {
            match Code::parse(CodeSystem::Icd10cm, d) {
                Ok(c) => diagnoses.push(c),
                Err(e) => {
                    errors.insert("diagnoses", e.to_string());
                }
            }
        }
        if let (true, Some(setting), Some(date)) = (errors.is_empty(), setting, date) {
            let (payer, product) = match product.split_once('/') {
                Some((a, b)) => (Some(a.to_string()), b.to_string()),
                None => (None, product.clone()),
            };
            let request = Request {
                payer,
                product,
                setting,
                date,
                lines,
                diagnoses,
            };
            match engine.determine(&request) {
                Ok(d) => {
                    // An answer given is an answer on record, as over the API.
                    match state.records.record_of(&request, &d, "web") {
                        Ok(record) => {
                            if let Err(e) = state.log.record(record).await {
                                return page(
                                    StatusCode::SERVICE_UNAVAILABLE,
                                    "Unavailable",
                                    html! { h1 { "Try again shortly" } p { (e.to_string()) } },
                                );
                            }
                        }
                        // No record, no answer: as over the API.
                        Err(e) => {
                            tracing::error!(error = %e, "decision record not built");
                            return page(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                "Error",
                                html! { h1 { "The answer could not be recorded" } p { "Nothing was decided; try again." } },
                            );
                        }
                    }
                    answer = Some((
                        d.lines
                            .iter()
                            .map(|l| line_view(l, date))
                            .collect::<Vec<Markup>>(),
                        d.product.to_string(),
                    ));
                }
                Err(e) => {
                    let field = match &e {
                        medpol_core::RequestError::UnknownProduct { .. }
                        | medpol_core::RequestError::AmbiguousProduct { .. } => "product",
                        _ => "codes",
                    };
                    errors.insert(field, e.to_string());
                }
            }
        }
    }
    let field_error = |f: &str| errors.get(f).cloned();
    let body = html! {
        h1 { "Coverage check" }
        p.hint { "Is a service covered for a member's product, and is prior authorization needed? The answer cites the policy statement behind it." }
        form method="get" action="/check" {
            div.field {
                label for="product" { "Product (line of business)" }
                select id="product" name="product" aria-describedby="product-error" {
                    @for (value, label) in &products { option value=(value) selected[chosen.as_deref() == Some(value.as_str())] { (label) } }
                }
                @if let Some(e) = field_error("product") { p.error id="product-error" { (e) } }
            }
            div.field {
                label for="setting" { "Setting or place of service" }
                input id="setting" name="setting" value=(q.setting.as_deref().unwrap_or("outpatient")) aria-describedby="setting-hint setting-error";
                p.hint id="setting-hint" { "inpatient, outpatient, or a two-digit CMS place-of-service code (21 = inpatient hospital)" }
                @if let Some(e) = field_error("setting") { p.error id="setting-error" { (e) } }
            }
            div.field {
                label for="date" { "Date of service" }
                input id="date" name="date" type="date" value=(q.date.as_deref().unwrap_or("")) aria-describedby="date-error";
                @if let Some(e) = field_error("date") { p.error id="date-error" { (e) } }
            }
            div.field {
                label for="codes" { "Procedure codes" }
                input id="codes" name="codes" value=(q.codes.as_deref().unwrap_or("")) placeholder="M0076 20610:RT;59" aria-describedby="codes-hint codes-error";
                p.hint id="codes-hint" { "HCPCS, CPT or ICD-10-PCS, separated by spaces; modifiers after a colon" }
                @if let Some(e) = field_error("codes") { p.error id="codes-error" role="alert" { (e) } }
            }
            div.field {
                label for="diagnoses" { "Diagnoses (ICD-10-CM, optional)" }
                input id="diagnoses" name="diagnoses" value=(q.diagnoses.as_deref().unwrap_or("")) aria-describedby="diagnoses-error";
                @if let Some(e) = field_error("diagnoses") { p.error id="diagnoses-error" { (e) } }
            }
            button type="submit" { "Check" }
        }
        @if let Some((lines, product)) = &answer {
            section aria-labelledby="answer-h" {
                h2 id="answer-h" { "Answer for " (product) }
                @for l in lines { (l) }
            }
        }
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page(status, "Coverage check", body)
}

/// Where a citation lands: the policy page as of a date, at the statement's
/// (or prior-auth rule's) anchor.
pub(crate) fn citation_href(policy: &str, path: &str, date: NaiveDate) -> String {
    let (payer, number) = policy.split_once('/').unwrap_or(("", policy));
    let frag = path.replace('/', "-");
    let frag = match frag.strip_prefix("statement-") {
        Some(_) => frag,
        None if path.starts_with("prior-auth") => {
            // prior-auth/outpatient/row/2 -> prior-auth-outpatient
            format!("prior-auth-{}", path.split('/').nth(1).unwrap_or(""))
        }
        None => "document-h".to_string(),
    };
    format!("{}?date={date}#{frag}", policy_href(payer, number))
}

fn line_view(l: &medpol_core::LineDetermination<'_>, date: NaiveDate) -> Markup {
    let anchor =
        |c: &medpol_core::determination::Citation<'_>| citation_href(c.policy, c.path, date);
    html! {
        article.statement aria-label=(format!("{} {}", l.code.system().label(), l.code.as_str())) {
            h3 { (l.code.system().label()) " " (l.code.as_str()) }
            p { "Coverage: " span class=(format!("coverage-{}", l.coverage.id())) { (l.coverage.id()) }
                @if !l.reasons.is_empty() { " (" (l.reasons.iter().map(|r| r.id()).collect::<Vec<_>>().join(", ")) ")" } }
            p { "Prior authorization: " strong { (l.prior_auth.id()) } }
            @for set in &l.criteria {
                p { "Criteria (" (set.combine.id()) "):" }
                ol { @for n in set.criteria { li { (n.text) } } }
            }
            @for i in &l.indications {
                p { (i.indication.unwrap_or("an indication")) ": " (i.coverage.id()) }
            }
            @if !l.citations.is_empty() {
                p { "Because:" }
                ul { @for c in &l.citations { li {
                    "“" (c.text) "” — "
                    a href=(anchor(c)) { (c.policy) " version " (c.version) ", " (c.section) }
                } } }
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ReviewsQuery {
    due_within: Option<String>,
}

/// The review calendar.
async fn reviews(State(state): St, Query(q): Query<ReviewsQuery>) -> Response {
    let today = chrono::Utc::now().date_naive();
    let given = q
        .due_within
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let within = given.map(|d| {
        d.trim_end_matches('d')
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
    });
    let bad = matches!(within, Some(None));
    let within = within.flatten();
    let current = state.current();
    let entries = medpol_core::review::calendar(current.engine.catalog(), today, within);
    let body = html! {
        h1 { "Review calendar" }
        p.hint { "Each policy's last review, from its history, and when the annual review is due, soonest first (as of " (today) ")." }
        form.inline method="get" action="/reviews" {
            div.field { label for="due_within" { "Due within (days)" }
                input id="due_within" name="due_within" inputmode="numeric" aria-describedby="due-within-error" value=(given.unwrap_or(""));
                @if bad { p.error id="due-within-error" role="alert" { "a number of days, 0 or more (e.g. 60)" } } }
            button type="submit" { "Filter" }
        }
        table {
            thead { tr { th scope="col" { "Policy" } th scope="col" { "Last review" } th scope="col" { "Next due" }
                th scope="col" { "Days left" } th scope="col" { "State" } } }
            tbody { @for e in &entries {
                @let (payer, number) = e.policy.split_once('/').unwrap_or(("", &e.policy));
                tr {
                    td { a href=(policy_href(payer, number)) { (e.policy) " " (e.title) } }
                    td { (e.last_review_label) }
                    td { (e.next_due) }
                    td { (e.days_left) }
                    td { (e.state.id()) }
                }
            } }
        }
    };
    let status = if bad {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(status, "Review calendar", body)
}
