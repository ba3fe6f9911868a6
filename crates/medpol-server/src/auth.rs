//! CDS Hooks 2.0 client authentication: the EHR calling a CDS service sends
//! `Authorization: Bearer <JWT>`, signed with a key the EHR publishes in a
//! JWKS. This module decides whether such a token comes from a trusted EHR,
//! was minted for the endpoint called, is fresh, and has not been seen before.
//!
//! The checks follow the CDS Hooks 2.0 security section and Da Vinci CRD:
//!
//! - Only asymmetric signatures are accepted (ES384, RS384, ES256; RS256 and
//!   PS384 too). `alg: none` and HMAC are refused before any key is looked
//!   up, so a token can never choose to be checked against a shared secret or
//!   against nothing (the classic JWT algorithm-confusion attacks).
//! - The signer is found by `iss` in an operator-configured list
//!   ([`TrustedClient`]); a token's `jku` is honoured only when it equals the
//!   JWKS URL configured for that issuer. Fetching whatever URL a token names
//!   would let anyone sign with their own key (and make us fetch arbitrary
//!   URLs).
//! - `aud` must be exactly the URL of the endpoint called, so a token minted
//!   for another service (or another hook) cannot be replayed here.
//! - The signature, the algorithm, `aud`, `exp` (with the skew as leeway)
//!   and the required claims are checked by `jsonwebtoken::decode` under one
//!   `Validation`; what CDS Hooks adds is checked here: `iat` not in the
//!   future and the lifetime (at most an hour), against an injected clock
//!   with a configurable skew (so tests are deterministic; `exp` is judged by
//!   that clock too), `jti` and `jku`.
//! - `jti` is remembered per issuer until the token could no longer be
//!   accepted anyway (`exp` + skew), which bounds the replay cache.
//!
//! [`ClientAuth::verify`] is synchronous. For issuers whose JWKS is given by
//! URL it may perform a blocking HTTP GET (at most once per
//! [`JWKS_REFRESH`] per issuer); [`ClientAuth::needs_network`] tells the
//! caller when to run it under `tokio::task::spawn_blocking`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind as JwtErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

/// The longest lifetime (`exp - iat`) a token may declare. CDS Hooks asks
/// EHRs for short-lived tokens; a long one is more useful to a thief than to
/// the EHR.
pub const MAX_LIFETIME: Duration = Duration::from_secs(3600);

/// How often, at most, a JWKS given by URL is fetched per issuer. Keys rotate
/// rarely; this bounds both the load on the EHR and how long a token signed
/// with a freshly rotated key may be refused.
pub const JWKS_REFRESH: Duration = Duration::from_secs(300);

/// The signing algorithms accepted, as they appear in error messages.
const ACCEPTED: &str = "ES384, RS384, ES256, RS256 or PS384";

/// Compares a secret given by a caller with the expected one in constant
/// time (for equal lengths), so it cannot be guessed byte by byte.
pub fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Tokens longer than this are refused unparsed: a real client token is well
/// under 2 KiB, and a bound keeps decoding work small.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// A fetched JWKS larger than this is refused (a real one is a few KiB).
const MAX_JWKS_BYTES: u64 = 1 << 20;

/// The whole JWKS fetch (connect, send, receive) must finish within this.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// An EHR allowed to call the service, identified by the `iss` of its tokens,
/// with the key set its tokens are verified against: a file (read at start)
/// or a URL (fetched when first needed, then refreshed at most every
/// [`JWKS_REFRESH`]). Exactly one of the two must be given.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedClient {
    pub iss: String,
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    #[serde(default)]
    pub jwks_url: Option<String>,
}

/// The claims of a verified token that a handler may want: who called
/// (`iss`, and `sub` when the EHR names one), and the token's identity and
/// window, for the decision log.
#[derive(Debug, Clone)]
pub struct ClientClaims {
    pub iss: String,
    pub sub: Option<String>,
    pub jti: String,
    pub exp: u64,
    pub iat: u64,
}

/// Why a token (or the trusted-client configuration) was refused. Token
/// failures all mean HTTP 401; each says what was wrong and what is
/// expected, so an EHR integrator can fix their side from the message alone.
/// Messages never include the token itself.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token: expected an `Authorization: Bearer <JWT>` header")]
    MissingToken,
    #[error(
        "malformed token: {0}; expected a signed JWT `header.claims.signature` \
         (base64url parts, JSON header and claims)"
    )]
    Malformed(String),
    #[error("the token is unsigned (alg \"none\"); expected a signature with {ACCEPTED}")]
    AlgNone,
    #[error(
        "the token is signed with a shared secret ({alg}); CDS clients must sign with \
         an asymmetric key published in their JWKS: {ACCEPTED}"
    )]
    SymmetricAlg { alg: String },
    #[error("unsupported signing algorithm {alg:?}; expected {ACCEPTED}")]
    UnsupportedAlg { alg: String },
    #[error("the token's typ is {typ:?}; expected \"JWT\"")]
    WrongType { typ: String },
    #[error("the token has no `iss` claim; expected the issuer URL of the calling EHR")]
    MissingIssuer,
    #[error(
        "issuer {iss:?} is not a trusted client of this service; \
         the operator must add it to the trusted clients first"
    )]
    UntrustedIssuer { iss: String },
    #[error(
        "the token's jku {jku:?} is not the JWKS URL configured for issuer {iss:?}; \
         omit jku or send the configured URL"
    )]
    UntrustedJku { iss: String, jku: String },
    #[error(
        "no key in the JWKS of issuer {iss:?} {}; expected the kid of a key in that JWKS",
        match kid { Some(k) => format!("has kid {k:?} (for {alg})"), None => format!("fits {alg} and the token has no kid") }
    )]
    UnknownKey {
        iss: String,
        kid: Option<String>,
        alg: String,
    },
    #[error(
        "key {kid:?} of issuer {iss:?} is {key}, which cannot verify {alg}; expected {expected}"
    )]
    KeyAlgMismatch {
        iss: String,
        kid: String,
        alg: String,
        key: String,
        expected: String,
    },
    #[error("could not fetch the JWKS of issuer {iss:?} from {url}: {message}")]
    JwksFetch {
        iss: String,
        url: String,
        message: String,
    },
    #[error(
        "bad signature: the token was not signed by {} of issuer {iss:?}",
        match kid { Some(k) => format!("key {k:?}"), None => "any key".to_string() }
    )]
    BadSignature { iss: String, kid: Option<String> },
    #[error("the token has no `aud` claim; expected {expected:?}, the URL of the endpoint called")]
    MissingAudience { expected: String },
    #[error(
        "the token's aud is {found:?}; expected {expected:?}, the exact URL of the endpoint called"
    )]
    WrongAudience {
        expected: String,
        found: Vec<String>,
    },
    #[error("the token has no `exp` claim; expected an expiry (seconds since 1970) at most an hour after iat")]
    MissingExpiry,
    #[error("the token expired at {exp} (now {now}, clock skew allowed {skew} s); expected a fresh token")]
    Expired { exp: u64, now: u64, skew: u64 },
    #[error("the token has no `iat` claim; expected its issue time (seconds since 1970)")]
    MissingIssuedAt,
    #[error(
        "the token was issued in the future (iat {iat}, now {now}, clock skew allowed {skew} s); \
         expected the EHR's clock to be in sync"
    )]
    IssuedInFuture { iat: u64, now: u64, skew: u64 },
    #[error(
        "the token's lifetime (exp - iat) is {lifetime} s; expected more than 0 and at most {} s",
        MAX_LIFETIME.as_secs()
    )]
    BadLifetime { lifetime: i128 },
    #[error("the token has no `jti` claim; expected a unique token id")]
    MissingJti,
    #[error(
        "token {jti:?} from issuer {iss:?} was already used; expected a new token (new jti) for each call"
    )]
    Replayed { iss: String, jti: String },

    #[error("reading the trusted clients {}: {source}", path.display())]
    ConfigRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the trusted clients {} are not valid: {message}; expected [[client]] tables \
         with iss and one of jwks_file or jwks_url",
        path.display()
    )]
    ConfigParse { path: PathBuf, message: String },
    #[error("trusted client {iss:?}: {message}")]
    InvalidClient { iss: String, message: String },
    #[error("reading the JWKS {} of issuer {iss:?}: {source}", path.display())]
    JwksRead {
        iss: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the JWKS of issuer {iss:?} ({origin}) is not usable: {message}")]
    JwksInvalid {
        iss: String,
        origin: String,
        message: String,
    },
}

impl AuthError {
    /// A stable machine-readable code for API error bodies
    /// (`{"error": "...", "message": "..."}`), like `ApiError::error`.
    pub fn code(&self) -> &'static str {
        use AuthError::*;
        match self {
            MissingToken => "missing-token",
            Malformed(_) => "malformed-token",
            AlgNone => "unsigned-token",
            SymmetricAlg { .. } => "symmetric-algorithm",
            UnsupportedAlg { .. } => "unsupported-algorithm",
            WrongType { .. } => "wrong-token-type",
            MissingIssuer => "missing-iss",
            UntrustedIssuer { .. } => "untrusted-issuer",
            UntrustedJku { .. } => "untrusted-jku",
            UnknownKey { .. } => "unknown-key",
            KeyAlgMismatch { .. } => "key-algorithm-mismatch",
            JwksFetch { .. } => "jwks-unavailable",
            BadSignature { .. } => "bad-signature",
            MissingAudience { .. } => "missing-aud",
            WrongAudience { .. } => "wrong-aud",
            MissingExpiry => "missing-exp",
            Expired { .. } => "expired",
            MissingIssuedAt => "missing-iat",
            IssuedInFuture { .. } => "iat-in-future",
            BadLifetime { .. } => "bad-lifetime",
            MissingJti => "missing-jti",
            Replayed { .. } => "replayed-token",
            ConfigRead { .. } | ConfigParse { .. } | InvalidClient { .. } => "auth-config",
            JwksRead { .. } | JwksInvalid { .. } => "auth-config",
        }
    }
}

/// The token in an `Authorization` header value: `Bearer <token>` (the
/// scheme is case-insensitive, as HTTP says).
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::MissingToken)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::MissingToken)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::MissingToken);
    }
    Ok(token)
}

/// The trusted-clients file: `[[client]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientsFile {
    #[serde(default)]
    client: Vec<TrustedClient>,
}

/// Loaded from a TOML file: `[[client]] iss = "...", jwks_file = "..." |
/// jwks_url = "..."`. A relative `jwks_file` resolves against the TOML file's
/// folder, so the file and its key sets can move together. Unknown keys are
/// refused (a misspelt `jwks_uri` would otherwise silently trust nothing), and
/// so is a file with no client.
pub fn load_clients(path: &Path) -> Result<Vec<TrustedClient>, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::ConfigRead {
        path: path.to_path_buf(),
        source,
    })?;
    let file: ClientsFile = toml::from_str(&text).map_err(|e| AuthError::ConfigParse {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })?;
    if file.client.is_empty() {
        return Err(AuthError::ConfigParse {
            path: path.to_path_buf(),
            message: "no [[client]] is configured, so every call would be refused".into(),
        });
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    Ok(file
        .client
        .into_iter()
        .map(|mut c| {
            if let Some(f) = &c.jwks_file {
                if f.is_relative() {
                    c.jwks_file = Some(dir.join(f));
                }
            }
            c
        })
        .collect())
}

/// The kind of public key an algorithm needs. Checked before verifying, both
/// to report a mismatch clearly and because handing jsonwebtoken a key of the
/// wrong family is not something to rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    EcP256,
    EcP384,
    Rsa,
}

impl KeyType {
    fn describe(self) -> &'static str {
        match self {
            KeyType::EcP256 => "an EC P-256 key",
            KeyType::EcP384 => "an EC P-384 key",
            KeyType::Rsa => "an RSA key",
        }
    }
}

/// The accepted algorithms and the key type each needs; anything else is
/// refused by [`check_alg`].
fn accepted_alg(name: &str) -> Option<(Algorithm, KeyType)> {
    Some(match name {
        "ES384" => (Algorithm::ES384, KeyType::EcP384),
        "ES256" => (Algorithm::ES256, KeyType::EcP256),
        "RS384" => (Algorithm::RS384, KeyType::Rsa),
        "RS256" => (Algorithm::RS256, KeyType::Rsa),
        "PS384" => (Algorithm::PS384, KeyType::Rsa),
        _ => return None,
    })
}

/// Refuses `none` and HMAC explicitly (they are attacks, not just
/// unsupported), then anything not accepted.
fn check_alg(name: &str) -> Result<(Algorithm, KeyType), AuthError> {
    if name.eq_ignore_ascii_case("none") {
        return Err(AuthError::AlgNone);
    }
    if name
        .as_bytes()
        .get(..2)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"HS"))
    {
        return Err(AuthError::SymmetricAlg { alg: name.into() });
    }
    accepted_alg(name).ok_or_else(|| AuthError::UnsupportedAlg { alg: name.into() })
}

/// One usable verification key from a JWKS.
#[derive(Clone)]
struct Key {
    kid: Option<String>,
    kty: KeyType,
    /// The JWK's own `alg`, when it pins one: the key then verifies only that.
    alg: Option<String>,
    key: DecodingKey,
}

impl Key {
    fn fits(&self, alg: &str, kty: KeyType) -> bool {
        self.kty == kty && self.alg.as_deref().is_none_or(|a| a == alg)
    }

    fn describe(&self) -> String {
        match &self.alg {
            Some(a) => format!("{} for {a}", self.kty.describe()),
            None => self.kty.describe().to_string(),
        }
    }
}

/// The usable signing keys of a JWKS. Keys that cannot verify an accepted
/// algorithm (encryption keys, symmetric keys, Ed25519, P-521, malformed
/// entries) are skipped rather than failing the whole set, so an EHR adding
/// such a key to its published set does not lock it out.
fn parse_jwks(bytes: &[u8]) -> Result<Vec<Key>, String> {
    #[derive(Deserialize)]
    struct RawSet {
        keys: Vec<Value>,
    }
    let set: RawSet = serde_json::from_slice(bytes)
        .map_err(|e| format!("not a JWKS ({{\"keys\": [...]}}): {e}"))?;
    let mut keys = Vec::new();
    for raw in set.keys {
        let jwk: Jwk = match serde_json::from_value(raw) {
            Ok(j) => j,
            Err(e) => {
                tracing::debug!(error = %e, "skipping a JWK that cannot be read");
                continue;
            }
        };
        if let Some(k) = usable_key(&jwk) {
            keys.push(k);
        }
    }
    if keys.is_empty() {
        return Err("it has no usable signature key (EC P-256, EC P-384 or RSA)".into());
    }
    Ok(keys)
}

fn usable_key(jwk: &Jwk) -> Option<Key> {
    let common = &jwk.common;
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    if common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    let kty = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => KeyType::EcP256,
            EllipticCurve::P384 => KeyType::EcP384,
            _ => return None,
        },
        AlgorithmParameters::RSA(_) => KeyType::Rsa,
        _ => return None,
    };
    let alg = common.key_algorithm.map(|a| a.to_string());
    if alg
        .as_deref()
        .is_some_and(|a| accepted_alg(a).is_none_or(|(_, t)| t != kty))
    {
        // Pinned to an algorithm we do not accept (or that contradicts its type).
        return None;
    }
    match DecodingKey::from_jwk(jwk) {
        Ok(key) => Some(Key {
            kid: common.key_id.clone(),
            kty,
            alg,
            key,
        }),
        Err(e) => {
            tracing::warn!(kid = ?common.key_id, error = %e, "skipping a malformed JWK");
            None
        }
    }
}

/// Where an issuer's keys come from.
enum KeySource {
    File(Arc<Vec<Key>>),
    Url { url: String, cache: Mutex<UrlCache> },
}

#[derive(Default)]
struct UrlCache {
    keys: Option<Arc<Vec<Key>>>,
    /// When the last fetch was attempted (successful or not): failures are
    /// rate-limited too, so an unreachable EHR is not hammered.
    attempted: Option<Instant>,
    error: Option<String>,
}

impl UrlCache {
    fn due(&self) -> bool {
        self.attempted.is_none_or(|t| t.elapsed() >= JWKS_REFRESH)
    }
}

/// The `jti`s accepted so far, per issuer, each kept until its token could
/// no longer be accepted (`exp` + skew). Only tokens with a valid signature
/// from a trusted client get here, and each stays at most an hour plus twice
/// the skew, so the cache is bounded by the trusted clients' call rate.
#[derive(Default)]
struct ReplayCache {
    /// (iss, jti) → the second after which the entry may go.
    live: HashMap<(String, String), u64>,
    /// The same entries by expiry, soonest first, for cheap eviction.
    by_expiry: BinaryHeap<Reverse<(u64, String, String)>>,
}

impl ReplayCache {
    fn evict(&mut self, now: u64) {
        while let Some(Reverse((until, _, _))) = self.by_expiry.peek() {
            if *until >= now {
                break;
            }
            if let Some(Reverse((until, iss, jti))) = self.by_expiry.pop() {
                let key = (iss, jti);
                if self.live.get(&key) == Some(&until) {
                    self.live.remove(&key);
                }
            }
        }
    }

    /// Records the token; false if it was already there (a replay).
    fn insert(&mut self, iss: &str, jti: &str, until: u64, now: u64) -> bool {
        self.evict(now);
        let key = (iss.to_string(), jti.to_string());
        if self.live.contains_key(&key) {
            return false;
        }
        self.live.insert(key, until);
        self.by_expiry
            .push(Reverse((until, iss.to_string(), jti.to_string())));
        true
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.live.len()
    }
}

/// Verifies the bearer tokens of CDS clients: the trusted issuers and their
/// keys, the replay cache, and the clock skew allowed. Share one per service
/// (it is `Send + Sync`); the replay cache only works if every call of a
/// replica goes through the same instance.
pub struct ClientAuth {
    clients: HashMap<String, KeySource>,
    skew: u64,
    seen: Mutex<ReplayCache>,
    agent: ureq::Agent,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves the data consistent
    // (every update is a single insert or swap), so carry on.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The header fields CDS Hooks defines. `alg` is read as a string (not
/// jsonwebtoken's `Algorithm`) so that `none` and unknown names get their own
/// errors instead of a parse failure.
#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
    typ: Option<String>,
    jku: Option<String>,
    crit: Option<Value>,
}

/// The claims, as raw JSON values so that a missing claim and a claim of the
/// wrong type get different errors.
#[derive(Deserialize)]
struct RawClaims {
    iss: Option<Value>,
    sub: Option<Value>,
    aud: Option<Value>,
    exp: Option<Value>,
    iat: Option<Value>,
    jti: Option<Value>,
}

/// A split and decoded (not yet verified) token.
struct Parsed<'a> {
    header: RawHeader,
    claims: RawClaims,
    signature: &'a str,
}

fn b64_json<T: serde::de::DeserializeOwned>(part: &str, what: &str) -> Result<T, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::Malformed(format!("the {what} is not base64url")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| AuthError::Malformed(format!("the {what} is not a JSON object: {e}")))
}

fn parse(token: &str) -> Result<Parsed<'_>, AuthError> {
    if token.is_empty() {
        return Err(AuthError::MissingToken);
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed(format!(
            "it is {} bytes long (at most {MAX_TOKEN_LEN})",
            token.len()
        )));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed(format!(
            "it has {} dot-separated parts, not 3",
            token.split('.').count()
        )));
    };
    let header: RawHeader = b64_json(h, "header")?;
    let claims: RawClaims = b64_json(c, "claims part")?;
    Ok(Parsed {
        header,
        claims,
        signature: s,
    })
}

/// A claim that must be a string, if present.
fn string_claim(v: Option<Value>, name: &str) -> Result<Option<String>, AuthError> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AuthError::Malformed(format!("`{name}` is not a string"))),
    }
}

/// A NumericDate claim (seconds since 1970; fractions allowed and dropped).
fn time_claim(v: Option<&Value>, name: &str) -> Result<Option<u64>, AuthError> {
    let Some(v) = v else { return Ok(None) };
    let bad = || AuthError::Malformed(format!("`{name}` is not a time in seconds since 1970"));
    let Value::Number(n) = v else {
        return Err(bad());
    };
    if let Some(u) = n.as_u64() {
        return Ok(Some(u));
    }
    match n.as_f64() {
        // `as` saturates, so an absurd float becomes u64::MAX, not UB.
        Some(f) if f.is_finite() && f >= 0.0 => Ok(Some(f as u64)),
        _ => Err(bad()),
    }
}

/// The `aud` claim, a string or a list of strings, if present.
fn audiences(v: Option<Value>) -> Result<Option<Vec<String>>, AuthError> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s])),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(AuthError::Malformed("`aud` holds a non-string".into())),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(AuthError::Malformed(
            "`aud` is neither a string nor an array of strings".into(),
        )),
    }
}

impl ClientAuth {
    /// Reads the JWKS files now (so a bad file stops the service at start);
    /// JWKS URLs are fetched when first needed. Refuses an empty or
    /// duplicate `iss`, a client with neither or both of `jwks_file` and
    /// `jwks_url`, and a URL that is not http(s).
    pub fn new(clients: Vec<TrustedClient>, max_skew: Duration) -> Result<ClientAuth, AuthError> {
        let mut by_iss = HashMap::new();
        for c in clients {
            let invalid = |message: &str| AuthError::InvalidClient {
                iss: c.iss.clone(),
                message: message.into(),
            };
            if c.iss.trim().is_empty() {
                return Err(invalid("iss is empty; expected the EHR's issuer URL"));
            }
            if by_iss.contains_key(&c.iss) {
                return Err(invalid("configured twice; expected each iss once"));
            }
            let source = match (&c.jwks_file, &c.jwks_url) {
                (Some(path), None) => {
                    let bytes = std::fs::read(path).map_err(|source| AuthError::JwksRead {
                        iss: c.iss.clone(),
                        path: path.clone(),
                        source,
                    })?;
                    let keys = parse_jwks(&bytes).map_err(|message| AuthError::JwksInvalid {
                        iss: c.iss.clone(),
                        origin: path.display().to_string(),
                        message,
                    })?;
                    KeySource::File(Arc::new(keys))
                }
                (None, Some(url)) => {
                    let lower = url.to_ascii_lowercase();
                    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
                        return Err(invalid("jwks_url is not an http(s) URL"));
                    }
                    KeySource::Url {
                        url: url.clone(),
                        cache: Mutex::new(UrlCache::default()),
                    }
                }
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        "both jwks_file and jwks_url are given; expected exactly one",
                    ))
                }
                (None, None) => {
                    return Err(invalid(
                        "neither jwks_file nor jwks_url is given; expected exactly one",
                    ))
                }
            };
            by_iss.insert(c.iss, source);
        }
        Ok(ClientAuth {
            clients: by_iss,
            skew: max_skew.as_secs(),
            seen: Mutex::new(ReplayCache::default()),
            agent: ureq::AgentBuilder::new().timeout(FETCH_TIMEOUT).build(),
        })
    }

    /// Whether verifying this token would fetch a JWKS over the network (its
    /// issuer's keys come from a URL that is not fetched yet or is due for a
    /// refresh). When true, call [`verify`](Self::verify) inside
    /// `tokio::task::spawn_blocking`; when false it only does CPU work (one
    /// signature check). A token that cannot be parsed needs no network.
    pub fn needs_network(&self, token: &str) -> bool {
        let Ok(p) = parse(token) else { return false };
        let Ok(Some(iss)) = string_claim(p.claims.iss, "iss") else {
            return false;
        };
        match self.clients.get(&iss) {
            Some(KeySource::Url { cache, .. }) => lock(cache).due(),
            _ => false,
        }
    }

    /// Verifies a token for a call to `audience` (the full URL of the
    /// endpoint called). Returns the verified claims.
    ///
    /// Order matters: the algorithm is checked before any key lookup, the
    /// signature before any claim is trusted, and the `jti` is recorded only
    /// once everything else passed (so a refused token does not burn its id).
    pub fn verify(
        &self,
        token: &str,
        audience: &str,
        now: SystemTime,
    ) -> Result<ClientClaims, AuthError> {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let Parsed {
            header,
            claims,
            signature,
        } = parse(token)?;

        let alg_name = header
            .alg
            .ok_or_else(|| AuthError::Malformed("the header has no `alg`".into()))?;
        let (alg, kty) = check_alg(&alg_name)?;
        if let Some(typ) = header.typ {
            if !typ.eq_ignore_ascii_case("JWT") {
                return Err(AuthError::WrongType { typ });
            }
        }
        if header.crit.is_some() {
            return Err(AuthError::Malformed(
                "the header has `crit` extensions, which this service does not understand".into(),
            ));
        }
        // Garbage in the signature gets its own message, before any key lookup.
        if URL_SAFE_NO_PAD
            .decode(signature)
            .ok()
            .filter(|s| !s.is_empty())
            .is_none()
        {
            return Err(AuthError::Malformed(
                "the signature is empty or not base64url".into(),
            ));
        }

        let iss = string_claim(claims.iss, "iss")?.ok_or(AuthError::MissingIssuer)?;
        let source = self
            .clients
            .get(&iss)
            .ok_or_else(|| AuthError::UntrustedIssuer { iss: iss.clone() })?;
        if let Some(jku) = header.jku {
            let honoured = matches!(source, KeySource::Url { url, .. } if *url == jku);
            if !honoured {
                return Err(AuthError::UntrustedJku { iss, jku });
            }
        }
        let keys = self.keys(&iss, source)?;

        let kid = header.kid;
        let candidates: Vec<&Key> = match &kid {
            Some(kid) => {
                let named: Vec<&Key> = keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid.as_str()))
                    .collect();
                if named.is_empty() {
                    return Err(AuthError::UnknownKey {
                        iss,
                        kid: Some(kid.clone()),
                        alg: alg_name,
                    });
                }
                let fitting: Vec<&Key> = named
                    .iter()
                    .copied()
                    .filter(|k| k.fits(&alg_name, kty))
                    .collect();
                if fitting.is_empty() {
                    return Err(AuthError::KeyAlgMismatch {
                        iss,
                        kid: kid.clone(),
                        key: named[0].describe(),
                        expected: format!("{} for {alg_name}", kty.describe()),
                        alg: alg_name,
                    });
                }
                fitting
            }
            None => {
                let fitting: Vec<&Key> = keys.iter().filter(|k| k.fits(&alg_name, kty)).collect();
                if fitting.is_empty() {
                    return Err(AuthError::UnknownKey {
                        iss,
                        kid: None,
                        alg: alg_name,
                    });
                }
                fitting
            }
        };
        // The claims' shapes, for clear messages; nothing in them is
        // believed before the signature has been checked below.
        let found_aud = audiences(claims.aud)?;
        let exp = time_claim(claims.exp.as_ref(), "exp")?;

        // Signature, algorithm, `aud`, `exp` with leeway and the required
        // claims: jsonwebtoken's `decode` under one `Validation`. What CDS
        // Hooks adds (`iat`, the lifetime, `jti`, `jku`) follows.
        let mut validation = Validation::new(alg);
        validation.leeway = self.skew;
        validation.set_audience(&[audience]);
        // `exp` is required below rather than here: RFC 7519 allows a
        // fractional NumericDate, which jsonwebtoken cannot parse and would
        // report as missing.
        validation.set_required_spec_claims(&["iss", "aud"]);
        let mut verdict = None;
        for k in &candidates {
            match jsonwebtoken::decode::<serde::de::IgnoredAny>(token, &k.key, &validation) {
                Ok(_) => {
                    verdict = Some(Ok(()));
                    break;
                }
                Err(e) if matches!(e.kind(), JwtErrorKind::InvalidSignature) => continue,
                Err(e) => {
                    verdict = Some(Err(e));
                    break;
                }
            }
        }
        match verdict {
            None => return Err(AuthError::BadSignature { iss, kid }),
            Some(Ok(())) => {}
            // The signature is good: what failed is a claim.
            Some(Err(e)) => {
                return Err(match e.kind() {
                    JwtErrorKind::MissingRequiredClaim(c) if c == "aud" => {
                        AuthError::MissingAudience {
                            expected: audience.into(),
                        }
                    }
                    JwtErrorKind::InvalidAudience => AuthError::WrongAudience {
                        expected: audience.into(),
                        found: found_aud.unwrap_or_default(),
                    },
                    JwtErrorKind::ExpiredSignature => AuthError::Expired {
                        exp: exp.unwrap_or(0),
                        now: SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .map(|d| d.as_secs())
                            .unwrap_or(0),
                        skew: self.skew,
                    },
                    other => AuthError::Malformed(format!("{other:?}")),
                })
            }
        }

        // jsonwebtoken judges `exp` by the system clock; the same rule by the
        // injected one keeps `exp`, `iat` and the replay window judged at one
        // instant (and tests deterministic).
        let skew = self.skew;
        let exp = exp.ok_or(AuthError::MissingExpiry)?;
        if now > exp.saturating_add(skew) {
            return Err(AuthError::Expired { exp, now, skew });
        }
        let iat = time_claim(claims.iat.as_ref(), "iat")?.ok_or(AuthError::MissingIssuedAt)?;
        if iat > now.saturating_add(skew) {
            return Err(AuthError::IssuedInFuture { iat, now, skew });
        }
        let lifetime = i128::from(exp) - i128::from(iat);
        if lifetime <= 0 || lifetime > i128::from(MAX_LIFETIME.as_secs()) {
            return Err(AuthError::BadLifetime { lifetime });
        }
        let jti = string_claim(claims.jti, "jti")?
            .filter(|j| !j.is_empty())
            .ok_or(AuthError::MissingJti)?;
        let sub = string_claim(claims.sub, "sub")?;

        if !lock(&self.seen).insert(&iss, &jti, exp.saturating_add(skew), now) {
            return Err(AuthError::Replayed { iss, jti });
        }
        Ok(ClientClaims {
            iss,
            sub,
            jti,
            exp,
            iat,
        })
    }

    /// The issuer's current keys: from the file, or from the URL cache,
    /// fetched first if due. A failed refresh keeps the keys last fetched,
    /// so a brief outage of the EHR's key endpoint does not lock it out.
    /// The lock is held while fetching so that concurrent calls for one
    /// issuer cause one fetch, not many.
    fn keys(&self, iss: &str, source: &KeySource) -> Result<Arc<Vec<Key>>, AuthError> {
        let (url, cache) = match source {
            KeySource::File(keys) => return Ok(keys.clone()),
            KeySource::Url { url, cache } => (url, cache),
        };
        let mut cache = lock(cache);
        if cache.due() {
            cache.attempted = Some(Instant::now());
            match self.fetch_jwks(url) {
                Ok(keys) => {
                    cache.keys = Some(Arc::new(keys));
                    cache.error = None;
                }
                Err(message) => {
                    tracing::warn!(%iss, %url, error = %message, "could not fetch a client's JWKS");
                    cache.error = Some(message);
                }
            }
        }
        match (&cache.keys, &cache.error) {
            (Some(keys), _) => Ok(keys.clone()),
            (None, error) => Err(AuthError::JwksFetch {
                iss: iss.into(),
                url: url.clone(),
                message: error.clone().unwrap_or_else(|| "not fetched yet".into()),
            }),
        }
    }

    fn fetch_jwks(&self, url: &str) -> Result<Vec<Key>, String> {
        let response = self.agent.get(url).call().map_err(|e| match e {
            ureq::Error::Status(code, _) => format!("HTTP status {code}"),
            ureq::Error::Transport(t) => t.to_string(),
        })?;
        let mut body = Vec::new();
        response
            .into_reader()
            .take(MAX_JWKS_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|e| format!("reading the response: {e}"))?;
        if body.len() as u64 > MAX_JWKS_BYTES {
            return Err(format!("the response is over {MAX_JWKS_BYTES} bytes"));
        }
        parse_jwks(&body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};

    const ISS: &str = "https://ehr.example.org";
    const AUD: &str = "https://cds.example.com/cds-services/medpol-crd-order-sign";
    /// The tests' "now": the real time, read once. jsonwebtoken judges
    /// `exp` by the system clock, so tokens must be fresh in real time too.
    fn now() -> u64 {
        static NOW: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
        });
        *NOW
    }

    fn keys_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys")
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn auth() -> ClientAuth {
        let clients = load_clients(&keys_dir().join("clients.toml")).expect("clients.toml loads");
        ClientAuth::new(clients, Duration::from_secs(30)).expect("fixtures are valid")
    }

    fn fresh_jti() -> String {
        static N: AtomicU64 = AtomicU64::new(0);
        format!("jti-{}", N.fetch_add(1, Ordering::Relaxed))
    }

    fn claims() -> Value {
        json!({
            "iss": ISS,
            "aud": AUD,
            "exp": now() + 300,
            "iat": now(),
            "jti": fresh_jti(),
        })
    }

    fn sign(alg: Algorithm, pem: &str, kid: Option<&str>, claims: &Value) -> String {
        let bytes = std::fs::read(keys_dir().join(pem)).expect("fixture key");
        let key = match alg {
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&bytes),
            _ => EncodingKey::from_rsa_pem(&bytes),
        }
        .expect("fixture key parses");
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_string);
        encode(&header, claims, &key).expect("signs")
    }

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    /// A token with the given header and claims and a syntactically valid
    /// but meaningless signature.
    fn craft(header: Value, claims: &Value, signature: &str) -> String {
        format!("{}.{}.{}", b64(&header), b64(claims), signature)
    }

    fn es384(claims: &Value) -> String {
        sign(Algorithm::ES384, "es384.pem", Some("es384-1"), claims)
    }

    fn check(token: &str) -> Result<ClientClaims, AuthError> {
        auth().verify(token, AUD, at(now()))
    }

    #[test]
    fn accepts_es384() {
        let c = claims();
        let ok = check(&es384(&c)).expect("accepted");
        assert_eq!(ok.iss, ISS);
        assert_eq!(ok.jti, c["jti"].as_str().unwrap());
        assert_eq!((ok.iat, ok.exp), (now(), now() + 300));
        assert_eq!(ok.sub, None);
    }

    #[test]
    fn accepts_rs384() {
        let t = sign(Algorithm::RS384, "rs384.pem", Some("rs384-1"), &claims());
        check(&t).expect("accepted");
    }

    #[test]
    fn accepts_es256() {
        let t = sign(Algorithm::ES256, "es256.pem", Some("es256-1"), &claims());
        check(&t).expect("accepted");
    }

    #[test]
    fn accepts_without_kid_and_with_sub_and_aud_array() {
        let mut c = claims();
        c["aud"] = json!(["https://other.example.com", AUD]);
        c["sub"] = json!("practitioner-1");
        let t = sign(Algorithm::ES384, "es384.pem", None, &c);
        let ok = check(&t).expect("accepted");
        assert_eq!(ok.sub.as_deref(), Some("practitioner-1"));
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(
            bearer_token(Some("Bearer abc.def.ghi")).unwrap(),
            "abc.def.ghi"
        );
        assert_eq!(bearer_token(Some("bearer  abc ")).unwrap(), "abc");
        for bad in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some("Basic abc"),
        ] {
            assert!(
                matches!(bearer_token(bad), Err(AuthError::MissingToken)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_missing_or_malformed_token() {
        assert!(matches!(check(""), Err(AuthError::MissingToken)));
        let c = claims();
        for bad in [
            "garbage".to_string(),
            "a.b".to_string(),
            "a.b.c.d.e".to_string(),
            "!!!.???.sig".to_string(),
            format!("{}.{}.c2ln", URL_SAFE_NO_PAD.encode("not json"), b64(&c)),
            format!(
                "{}.{}.c2ln",
                b64(&json!({"alg": "ES384"})),
                b64(&json!([1]))
            ),
            format!("{}.{}.c2ln", b64(&json!({"kid": "x"})), b64(&c)),
            format!("{}.{}.c2ln", b64(&json!({"alg": 7})), b64(&c)),
            craft(json!({"alg": "ES384", "kid": "es384-1"}), &c, ""),
            craft(json!({"alg": "ES384", "kid": "es384-1"}), &c, "***"),
            "x".repeat(MAX_TOKEN_LEN + 1),
        ] {
            let e = check(&bad).expect_err("refused");
            assert!(matches!(e, AuthError::Malformed(_)), "{bad:.40}: {e}");
        }
    }

    #[test]
    fn rejects_alg_none() {
        for alg in ["none", "None", "NONE"] {
            let t = craft(json!({"alg": alg, "typ": "JWT"}), &claims(), "");
            assert!(matches!(check(&t), Err(AuthError::AlgNone)), "{alg}");
        }
    }

    #[test]
    fn rejects_hmac() {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("es384-1".into());
        let t = encode(&header, &claims(), &EncodingKey::from_secret(b"secret")).unwrap();
        let e = check(&t).expect_err("refused");
        assert!(
            matches!(e, AuthError::SymmetricAlg { ref alg } if alg == "HS256"),
            "{e}"
        );
        for alg in ["HS384", "HS512"] {
            let t = craft(json!({"alg": alg}), &claims(), "c2ln");
            assert!(matches!(check(&t), Err(AuthError::SymmetricAlg { .. })));
        }
    }

    #[test]
    fn rejects_unsupported_alg() {
        for alg in ["ES512", "EdDSA", "RS512", "PS256", "RSA-OAEP", ""] {
            let t = craft(json!({"alg": alg, "kid": "es384-1"}), &claims(), "c2ln");
            let e = check(&t).expect_err("refused");
            assert!(matches!(e, AuthError::UnsupportedAlg { .. }), "{alg}: {e}");
        }
    }

    #[test]
    fn rejects_wrong_typ() {
        let t = craft(json!({"alg": "ES384", "typ": "at+jwt"}), &claims(), "c2ln");
        assert!(matches!(check(&t), Err(AuthError::WrongType { .. })));
    }

    #[test]
    fn rejects_unknown_iss() {
        let mut c = claims();
        c["iss"] = json!("https://evil.example.net");
        let e = check(&es384(&c)).expect_err("refused");
        assert!(matches!(e, AuthError::UntrustedIssuer { .. }), "{e}");
        c.as_object_mut().unwrap().remove("iss");
        assert!(matches!(check(&es384(&c)), Err(AuthError::MissingIssuer)));
    }

    #[test]
    fn rejects_jku_not_configured() {
        let bytes = std::fs::read(keys_dir().join("es384.pem")).unwrap();
        let mut header = Header::new(Algorithm::ES384);
        header.kid = Some("es384-1".into());
        header.jku = Some("https://evil.example.net/jwks.json".into());
        let t = encode(
            &header,
            &claims(),
            &EncodingKey::from_ec_pem(&bytes).unwrap(),
        )
        .unwrap();
        let e = check(&t).expect_err("refused");
        assert!(matches!(e, AuthError::UntrustedJku { .. }), "{e}");
    }

    #[test]
    fn rejects_unknown_kid() {
        let t = sign(Algorithm::ES384, "es384.pem", Some("es384-9"), &claims());
        let e = check(&t).expect_err("refused");
        assert!(
            matches!(e, AuthError::UnknownKey { kid: Some(_), .. }),
            "{e}"
        );
    }

    #[test]
    fn rejects_key_of_wrong_type() {
        // ES256 claimed with the P-384 key's kid; PS384 with an RSA key pinned to RS384.
        let t = sign(Algorithm::ES256, "es256.pem", Some("es384-1"), &claims());
        let e = check(&t).expect_err("refused");
        assert!(matches!(e, AuthError::KeyAlgMismatch { .. }), "{e}");
        let t = sign(Algorithm::PS384, "rs384.pem", Some("rs384-1"), &claims());
        let e = check(&t).expect_err("refused");
        assert!(matches!(e, AuthError::KeyAlgMismatch { .. }), "{e}");
    }

    #[test]
    fn rejects_bad_signature() {
        let t = sign(Algorithm::ES384, "other.pem", Some("es384-1"), &claims());
        let e = check(&t).expect_err("refused");
        assert!(matches!(e, AuthError::BadSignature { .. }), "{e}");
        // Without kid, every P-384 key is tried, and none fits.
        let t = sign(Algorithm::ES384, "other.pem", None, &claims());
        assert!(matches!(check(&t), Err(AuthError::BadSignature { .. })));
        // A genuine token whose claims were altered.
        let good = es384(&claims());
        let mut c = claims();
        c["iss"] = json!(ISS);
        let parts: Vec<&str> = good.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], b64(&c), parts[2]);
        assert!(matches!(
            check(&forged),
            Err(AuthError::BadSignature { .. })
        ));
    }

    #[test]
    fn rejects_wrong_aud() {
        let mut c = claims();
        c["aud"] = json!("https://cds.example.com/cds-services/other-service");
        let e = check(&es384(&c)).expect_err("refused");
        assert!(matches!(e, AuthError::WrongAudience { .. }), "{e}");
        // Exact comparison: a trailing slash is a different URL.
        c["aud"] = json!(format!("{AUD}/"));
        assert!(matches!(
            check(&es384(&c)),
            Err(AuthError::WrongAudience { .. })
        ));
        c["aud"] = json!(["https://a.example", "https://b.example"]);
        assert!(matches!(
            check(&es384(&c)),
            Err(AuthError::WrongAudience { .. })
        ));
    }

    #[test]
    fn rejects_missing_aud() {
        let mut c = claims();
        c.as_object_mut().unwrap().remove("aud");
        let e = check(&es384(&c)).expect_err("refused");
        assert!(matches!(e, AuthError::MissingAudience { .. }), "{e}");
    }

    #[test]
    fn rejects_expired() {
        let mut c = claims();
        c["iat"] = json!(now() - 400);
        c["exp"] = json!(now() - 100);
        let e = check(&es384(&c)).expect_err("refused");
        assert!(matches!(e, AuthError::Expired { .. }), "{e}");
        c.as_object_mut().unwrap().remove("exp");
        assert!(matches!(check(&es384(&c)), Err(AuthError::MissingExpiry)));
    }

    /// `exp` is jsonwebtoken's check (its `Validation`, by the system
    /// clock) as well as ours (by the injected clock): a token fresh by an
    /// injected clock set in the past is still refused.
    #[test]
    fn exp_is_checked_by_jsonwebtoken_too() {
        let mut c = claims();
        c["iat"] = json!(now() - 4000);
        c["exp"] = json!(now() - 3000);
        let e = auth()
            .verify(&es384(&c), AUD, at(now() - 3100))
            .expect_err("expired by the system clock");
        assert!(matches!(e, AuthError::Expired { .. }), "{e}");
    }

    #[test]
    fn accepts_within_skew() {
        let mut c = claims();
        c["iat"] = json!(now() - 200);
        c["exp"] = json!(now() - 20);
        check(&es384(&c)).expect("exp 20 s ago is within the 30 s skew");
        let mut c = claims();
        c["iat"] = json!(now() + 20);
        check(&es384(&c)).expect("iat 20 s ahead is within the 30 s skew");
        let mut c = claims();
        c["iat"] = json!(now() - 200);
        c["exp"] = json!(now() - 31);
        assert!(matches!(check(&es384(&c)), Err(AuthError::Expired { .. })));
    }

    #[test]
    fn rejects_iat_in_future() {
        let mut c = claims();
        c["iat"] = json!(now() + 120);
        c["exp"] = json!(now() + 400);
        let e = check(&es384(&c)).expect_err("refused");
        assert!(matches!(e, AuthError::IssuedInFuture { .. }), "{e}");
        c.as_object_mut().unwrap().remove("iat");
        assert!(matches!(check(&es384(&c)), Err(AuthError::MissingIssuedAt)));
    }

    #[test]
    fn rejects_too_long_lifetime() {
        let mut c = claims();
        c["exp"] = json!(now() + 3601);
        let e = check(&es384(&c)).expect_err("refused");
        assert!(
            matches!(e, AuthError::BadLifetime { lifetime: 3601 }),
            "{e}"
        );
        c["exp"] = json!(now() + 3600);
        check(&es384(&c)).expect("exactly an hour is allowed");
        c["exp"] = json!(now());
        assert!(matches!(
            check(&es384(&c)),
            Err(AuthError::BadLifetime { .. })
        ));
    }

    #[test]
    fn rejects_missing_jti() {
        let mut c = claims();
        c.as_object_mut().unwrap().remove("jti");
        let e = check(&es384(&c)).expect_err("refused");
        assert!(matches!(e, AuthError::MissingJti), "{e}");
        c["jti"] = json!("");
        assert!(matches!(check(&es384(&c)), Err(AuthError::MissingJti)));
    }

    #[test]
    fn rejects_replayed_jti() {
        let auth = auth();
        let c = claims();
        let t = es384(&c);
        auth.verify(&t, AUD, at(now())).expect("first use");
        let e = auth.verify(&t, AUD, at(now() + 1)).expect_err("replay");
        assert!(matches!(e, AuthError::Replayed { .. }), "{e}");
        // Same jti in a different (freshly signed) token is a replay too.
        let t2 = sign(Algorithm::RS384, "rs384.pem", Some("rs384-1"), &c);
        assert!(matches!(
            auth.verify(&t2, AUD, at(now() + 2)),
            Err(AuthError::Replayed { .. })
        ));
        // A refused token does not burn its jti.
        let mut c3 = claims();
        c3["aud"] = json!("https://elsewhere.example");
        assert!(auth.verify(&es384(&c3), AUD, at(now())).is_err());
        c3["aud"] = json!(AUD);
        auth.verify(&es384(&c3), AUD, at(now()))
            .expect("jti unused");
    }

    #[test]
    fn replay_cache_forgets_expired_tokens() {
        let auth = auth();
        let c = claims();
        auth.verify(&es384(&c), AUD, at(now())).unwrap();
        assert_eq!(lock(&auth.seen).len(), 1);
        // Past exp + skew the entry goes when the next token arrives.
        let later = now() + 300 + 31;
        let mut c2 = claims();
        c2["iat"] = json!(later);
        c2["exp"] = json!(later + 60);
        auth.verify(&es384(&c2), AUD, at(later)).unwrap();
        assert_eq!(lock(&auth.seen).len(), 1);
    }

    #[test]
    fn no_panic_on_odd_claims() {
        let c = claims();
        let odd = [
            json!({"iss": 5}),
            json!({"iss": ISS, "aud": 5}),
            json!({"iss": ISS, "aud": [AUD, 5]}),
            json!({"iss": ISS, "aud": AUD, "exp": "soon"}),
            json!({"iss": ISS, "aud": AUD, "exp": -5, "iat": now()}),
            json!({"iss": ISS, "aud": AUD, "exp": 1e300, "iat": 0, "jti": "x"}),
            json!({"iss": ISS, "aud": AUD, "exp": now() + 10, "iat": now(), "jti": 5}),
            json!({"iss": ISS, "aud": AUD, "exp": now() + 10, "iat": now(), "jti": "y", "sub": []}),
            json!({"iss": ISS, "aud": AUD, "exp": u64::MAX, "iat": u64::MAX, "jti": "z"}),
        ];
        for claims in odd {
            let e = check(&es384(&claims)).expect_err("refused");
            assert!(!e.to_string().is_empty());
        }
        // Fractional NumericDates are fine.
        let mut f = c.clone();
        f["exp"] = json!((now() + 300) as f64 + 0.5);
        check(&es384(&f)).expect("fractional exp accepted");
    }

    #[test]
    fn load_clients_resolves_relative_paths_and_checks_fields() {
        let dir = tempfile::tempdir().unwrap();
        let clients = load_clients(&keys_dir().join("clients.toml")).unwrap();
        assert_eq!(clients.len(), 1);
        assert_eq!(
            clients[0].jwks_file.as_deref(),
            Some(keys_dir().join("jwks.json").as_path())
        );

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[[client]]\niss = \"x\"\njwks_uri = \"https://x\"\n").unwrap();
        assert!(matches!(
            load_clients(&bad),
            Err(AuthError::ConfigParse { .. })
        ));
        std::fs::write(&bad, "# nobody\n").unwrap();
        assert!(matches!(
            load_clients(&bad),
            Err(AuthError::ConfigParse { .. })
        ));
        let missing = dir.path().join("missing.toml");
        assert!(matches!(
            load_clients(&missing),
            Err(AuthError::ConfigRead { .. })
        ));

        let both = TrustedClient {
            iss: ISS.into(),
            jwks_file: Some(keys_dir().join("jwks.json")),
            jwks_url: Some("https://x/jwks".into()),
        };
        let none = TrustedClient {
            jwks_file: None,
            jwks_url: None,
            ..both.clone()
        };
        let ftp = TrustedClient {
            jwks_file: None,
            jwks_url: Some("ftp://x/jwks".into()),
            ..both.clone()
        };
        for c in [both, none, ftp] {
            let e = ClientAuth::new(vec![c], Duration::ZERO)
                .err()
                .expect("refused");
            assert!(matches!(e, AuthError::InvalidClient { .. }), "{e}");
        }
        let not_jwks = TrustedClient {
            iss: ISS.into(),
            jwks_file: Some(keys_dir().join("clients.toml")),
            jwks_url: None,
        };
        let e = ClientAuth::new(vec![not_jwks], Duration::ZERO)
            .err()
            .expect("refused");
        assert!(matches!(e, AuthError::JwksInvalid { .. }), "{e}");
    }

    /// Serves `body` to exactly one HTTP/1.1 request on 127.0.0.1; returns
    /// the URL and the thread (which ends after answering).
    fn serve_once(body: String) -> (String, std::thread::JoinHandle<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let handle = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(body.as_bytes());
        });
        (url, handle)
    }

    #[test]
    fn jwks_url_client() {
        let jwks = std::fs::read_to_string(keys_dir().join("jwks.json")).unwrap();
        let (url, server) = serve_once(jwks);
        let client = TrustedClient {
            iss: ISS.into(),
            jwks_file: None,
            jwks_url: Some(url.clone()),
        };
        let auth = ClientAuth::new(vec![client], Duration::from_secs(30)).unwrap();
        let t = es384(&claims());
        assert!(auth.needs_network(&t));
        auth.verify(&t, AUD, at(now()))
            .expect("accepted with fetched keys");
        server.join().unwrap();
        // Cached now: no network, and the server (gone) is not asked again.
        let bytes = std::fs::read(keys_dir().join("rs384.pem")).unwrap();
        let mut header = Header::new(Algorithm::RS384);
        header.kid = Some("rs384-1".into());
        header.jku = Some(url);
        let t2 = encode(
            &header,
            &claims(),
            &EncodingKey::from_rsa_pem(&bytes).unwrap(),
        )
        .unwrap();
        assert!(!auth.needs_network(&t2));
        auth.verify(&t2, AUD, at(now()))
            .expect("configured jku is honoured");
    }

    #[test]
    fn jwks_url_unreachable() {
        // Bind then drop, so the port is (very likely) closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = TrustedClient {
            iss: ISS.into(),
            jwks_file: None,
            jwks_url: Some(format!("http://127.0.0.1:{port}/jwks.json")),
        };
        let auth = ClientAuth::new(vec![client], Duration::from_secs(30)).unwrap();
        let e = auth
            .verify(&es384(&claims()), AUD, at(now()))
            .expect_err("no keys");
        assert!(matches!(e, AuthError::JwksFetch { .. }), "{e}");
        // The failure is rate-limited too.
        assert!(!auth.needs_network(&es384(&claims())));
    }

    #[test]
    fn error_messages_say_what_is_expected() {
        let e = AuthError::WrongAudience {
            expected: AUD.into(),
            found: vec!["https://x".into()],
        };
        assert!(e.to_string().contains(AUD), "{e}");
        assert_eq!(e.code(), "wrong-aud");
        let e = AuthError::UnknownKey {
            iss: ISS.into(),
            kid: None,
            alg: "ES384".into(),
        };
        assert!(e.to_string().contains("no kid"), "{e}");
    }
}
