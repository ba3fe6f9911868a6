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
pub mod engine;
pub mod history;
pub mod markup;
pub mod model;
pub mod request;
pub mod setting;
pub mod validate;

pub use code::{Code, CodeError, CodePattern, CodeSystem};
pub use determination::{Coverage, Determination, LineDetermination, PriorAuth, Reason};
pub use engine::{CompileError, Engine, ProductRef};
pub use model::{Catalog, CoverageStatus, Payer, Policy};
pub use request::{Request, RequestError, ServiceLine};
pub use setting::Setting;
