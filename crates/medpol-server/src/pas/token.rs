//! SMART Backend Services (client credentials with a signed JWT assertion):
//! `POST /auth/token` verifies the client's assertion against its keys (the
//! same trusted-client file and verification as the CDS Hooks clients) and
//! issues a short-lived, scoped bearer token. Only the token's SHA-256 is
//! stored, in the shared store, so every replica accepts it.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;

use super::outcome;
use crate::AppState;

/// How long an access token lives.
pub const TOKEN_SECONDS: i64 = 300;

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `Claim/$submit`: `system/Claim.c` (SMART v2) or `system/Claim.write` (v1).
    Submit,
    /// `Claim/$inquire`: `system/Claim.r`, `system/ClaimResponse.r` or `.read`.
    Inquire,
    /// `Subscription`: `system/Subscription.c` or `.write`.
    Subscribe,
}

/// The permissions one scope grants (unknown scopes grant none).
pub fn grants(scope: &str) -> Vec<Scope> {
    let Some(rest) = scope.strip_prefix("system/") else {
        return Vec::new();
    };
    let Some((resource, perms)) = rest.split_once('.') else {
        return Vec::new();
    };
    let (create, read) = match perms {
        "*" => (true, true),
        "write" => (true, false),
        "read" => (false, true),
        p if !p.is_empty() && p.chars().all(|c| "cruds".contains(c)) => {
            (p.contains('c'), p.contains('r') || p.contains('s'))
        }
        _ => (false, false),
    };
    let mut out = Vec::new();
    if matches!(resource, "Claim" | "*") && create {
        out.push(Scope::Submit);
    }
    if matches!(resource, "Claim" | "ClaimResponse" | "*") && read {
        out.push(Scope::Inquire);
    }
    if matches!(resource, "Subscription" | "*") && create {
        out.push(Scope::Subscribe);
    }
    out
}

#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
    scope: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: impl Into<String>) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({"error": error, "error_description": crate::bounded_message(&description.into())})),
    )
        .into_response()
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn hash(token: &str) -> String {
    crate::store::digest(token.as_bytes())
}

/// `POST /auth/token` (form-encoded, RFC 6749 / SMART Backend Services).
pub async fn issue(
    State(state): State<Arc<AppState>>,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(req)) = form else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "expected an application/x-www-form-urlencoded body with grant_type, client_assertion_type, client_assertion and scope");
    };
    if req.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    if req.client_assertion_type.as_deref()
        != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        );
    }
    let Some(assertion) = req.client_assertion.filter(|a| !a.is_empty()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_assertion (a JWT signed with the client's key) is required",
        );
    };
    let Some(auth) = state.pas.auth.clone() else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "no prior-authorization clients are configured (--pas-clients FILE)",
        );
    };
    let audience = format!("{}/auth/token", state.cds.public_url.trim_end_matches('/'));
    // Verification may fetch a JWKS over the network.
    let verified =
        tokio::task::spawn_blocking(move || auth.verify(&assertion, &audience, SystemTime::now()))
            .await;
    let claims = match verified {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "SMART client assertion refused");
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", e.to_string());
        }
        Err(_) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "the assertion could not be verified",
            )
        }
    };
    if claims.sub.as_deref() != Some(claims.iss.as_str()) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "the assertion's `sub` must equal its `iss` (the client_id)",
        );
    }
    // A replayed assertion is refused by every replica.
    let until = claims.exp.saturating_add(crate::cds::JTI_SKEW_SECS);
    match state
        .store
        .remember_token(
            &format!("smart:{}", claims.iss),
            &claims.jti,
            until,
            now_secs() as u64,
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "this assertion (jti) was already used",
            )
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "could not record the assertion id");
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "retry shortly",
            );
        }
    }
    let requested = req.scope.unwrap_or_default();
    let granted: Vec<&str> = requested
        .split_whitespace()
        .filter(|s| !grants(s).is_empty())
        .collect();
    if granted.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "ask for at least one of: system/Claim.c (submit), system/Claim.r or system/ClaimResponse.r (inquire), system/Subscription.c (subscribe); v1 forms .write/.read are accepted",
        );
    }
    let scope = granted.join(" ");
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let token = URL_SAFE_NO_PAD.encode(bytes);
    if let Err(e) = state
        .store
        .pa_put_token(
            &hash(&token),
            &claims.iss,
            &scope,
            now_secs() + TOKEN_SECONDS,
        )
        .await
    {
        tracing::error!(error = %format!("{e:#}"), "could not store an access token");
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "retry shortly",
        );
    }
    tracing::info!(client = %claims.iss, scope = %scope, "access token issued");
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({"access_token": token, "token_type": "bearer", "expires_in": TOKEN_SECONDS, "scope": scope})),
    )
        .into_response()
}

/// The client a request's bearer token was issued to, when it grants `need`.
// The error is the HTTP answer itself.
#[allow(clippy::result_large_err)]
pub async fn client_of(
    state: &AppState,
    headers: &HeaderMap,
    need: Scope,
) -> Result<String, Response> {
    let token = crate::auth::bearer_token(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
    .map_err(|_| {
        outcome(
            StatusCode::UNAUTHORIZED,
            "security",
            "a bearer token from POST /auth/token (SMART Backend Services) is required",
            None,
        )
    })?;
    match state.store.pa_token(&hash(token), now_secs()).await {
        Ok(Some((client, scope))) => {
            if scope.split_whitespace().any(|s| grants(s).contains(&need)) {
                Ok(client)
            } else {
                Err(outcome(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!(
                        "the token's scope ({scope}) does not allow this; {}",
                        match need {
                            Scope::Submit => "$submit needs system/Claim.c",
                            Scope::Inquire =>
                                "$inquire needs system/Claim.r or system/ClaimResponse.r",
                            Scope::Subscribe => "Subscription needs system/Subscription.c",
                        }
                    ),
                    None,
                ))
            }
        }
        Ok(None) => Err(outcome(
            StatusCode::UNAUTHORIZED,
            "security",
            "the bearer token is unknown or expired; get a new one from POST /auth/token",
            None,
        )),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "access token lookup");
            Err(outcome(
                StatusCode::SERVICE_UNAVAILABLE,
                "transient",
                "retry shortly",
                None,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_in_smart_v1_and_v2_forms() {
        assert_eq!(grants("system/Claim.c"), [Scope::Submit]);
        assert_eq!(grants("system/Claim.write"), [Scope::Submit]);
        assert_eq!(
            grants("system/Claim.cruds"),
            [Scope::Submit, Scope::Inquire]
        );
        assert_eq!(grants("system/ClaimResponse.read"), [Scope::Inquire]);
        assert_eq!(grants("system/Subscription.c"), [Scope::Subscribe]);
        assert_eq!(
            grants("system/*.*"),
            [Scope::Submit, Scope::Inquire, Scope::Subscribe]
        );
        assert!(grants("patient/Claim.c").is_empty());
        assert!(grants("system/Patient.r").is_empty());
        assert!(grants("system/Claim.x").is_empty());
        assert!(grants("openid").is_empty());
    }
}
