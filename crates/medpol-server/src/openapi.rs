//! The OpenAPI document, generated from the handlers' and types' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;

#[derive(OpenApi)]
#[openapi(
    info(title = "medpol", description = "Medical-policy determinations with citations: is a service covered, and is prior authorization needed?"),
    paths(
        api::determine,
        api::list_policies,
        api::get_policy,
        api::policy_versions,
        api::publish_policy,
        api::list_decisions,
        api::list_feedback,
        api::healthz,
        api::readyz,
    ),
    components(schemas(
        medpol_core::Request,
        medpol_core::request::ServiceLine,
        medpol_core::Determination,
        medpol_core::LineDetermination,
        api::ApiError,
    )),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
