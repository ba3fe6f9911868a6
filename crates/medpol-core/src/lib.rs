//! medpol's pure core: the medical-policy model, the code systems, and the
//! determination engine.
//!
//! Nothing in this crate performs I/O. Policies arrive as [`model::Catalog`]
//! values built by an adapter (the TOML policy files, a database, an importer);
//! [`engine::Engine::compile`] turns a catalogue into indexes, and
//! [`engine::Engine::determine`] answers a [`request::Request`] with a
//! [`determination::Determination`] that cites the policy text behind it.

pub mod binding;
pub mod code;
pub mod determination;
pub mod diff;
pub mod engine;
pub mod history;
pub mod impact;
pub mod lint;
pub mod markup;
pub mod model;
pub mod request;
pub mod review;
pub mod setting;
pub mod validate;

pub use code::{Code, CodeError, CodePattern, CodeSystem};
pub use determination::{Coverage, Determination, LineDetermination, PriorAuth, Reason};
pub use engine::{CompileError, Engine, ProductRef};
pub use model::{Catalog, CoverageStatus, Payer, Policy};
pub use request::{Request, RequestError, ServiceLine};
pub use setting::Setting;

/// How much of a caller's input an error message shows.
pub const EXCERPT_CHARS: usize = 32;

/// A short, escaped excerpt of input for an error message, in backticks:
/// at most [`EXCERPT_CHARS`] characters; anything but letters, digits and
/// plain punctuation is written as a `\u{..}` escape, so a message never
/// carries markup, control characters or a megabyte of what was sent back to
/// the caller (or into a log).
pub fn excerpt(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(EXCERPT_CHARS) + 16);
    out.push('`');
    for (n, c) in s.chars().enumerate() {
        if n == EXCERPT_CHARS {
            out.push_str(&format!("…` ({} bytes)", s.len()));
            return out;
        }
        if c.is_ascii_alphanumeric() || " -_.,:;/+#()[]=@!?*%$^~|".contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    out.push('`');
    out
}

#[cfg(test)]
mod tests {
    use super::excerpt;

    #[test]
    fn excerpts_are_short_and_escaped() {
        assert_eq!(excerpt("M0076"), "`M0076`");
        assert_eq!(excerpt("<b>x</b>"), "`\\u{3c}b\\u{3e}x\\u{3c}/b\\u{3e}`");
        assert_eq!(excerpt("a\nb\0"), "`a\\u{a}b\\u{0}`");
        let long = "x".repeat(1 << 20);
        let e = excerpt(&long);
        assert!(e.len() < 64, "{e}");
        assert!(e.ends_with("(1048576 bytes)"), "{e}");
    }
}
