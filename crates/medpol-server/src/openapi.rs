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
        crate::lifecycle::policy_diff,
        crate::lifecycle::reviews,
        crate::lifecycle::impact,
        crate::prior_auth::requirements,
        crate::pas::queue,
        crate::pas::request_detail,
        crate::pas::decision,
        crate::pas::extend,
        crate::pas::appeal,
        crate::pas::clinical_exception,
        crate::pas::metrics_handler,
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
    modifiers(&BearerAuth, &EveryOperation)
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

/// What every operation may answer besides its own responses: 500 (the
/// service's fault, as an [`api::ApiError`]) and, where it takes a query
/// string, 422 for a malformed one.
struct EveryOperation;

impl Modify for EveryOperation {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Ref, ResponseBuilder};
        let error = || {
            utoipa::openapi::content::ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ApiError")))
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let responses = &mut op.responses.responses;
                responses.entry("500".into()).or_insert_with(|| {
                    ResponseBuilder::new()
                        .description("internal error (see the service log)")
                        .content("application/json", error())
                        .into()
                });
                let has_query = op.parameters.as_ref().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Query)
                });
                if has_query {
                    responses.entry("422".into()).or_insert_with(|| {
                        ResponseBuilder::new()
                            .description("a query parameter is invalid")
                            .content("application/json", error())
                            .into()
                    });
                }
            }
        }
    }
}

/// `GET /api/v1/openapi.json`: the document, with the payers and products
/// of the catalogue the service decides from (so a client, or a fuzzer,
/// knows the valid values).
pub async fn serve_document(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<crate::AppState>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let current = state.current();
    match document_for(current.engine.catalog()) {
        Ok(doc) => axum::Json(doc).into_response(),
        Err(e) => api::ApiError::internal(e.into()).into_response(),
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// [`document`] with the catalogue's payer and product ids as the values a
/// determination request may name.
pub fn document_for(
    catalog: &medpol_core::model::Catalog,
) -> Result<serde_json::Value, serde_json::Error> {
    let mut doc = serde_json::to_value(document())?;
    let payers: Vec<&str> = catalog.payers.iter().map(|p| p.id.as_str()).collect();
    let mut products: Vec<String> = Vec::new();
    for payer in &catalog.payers {
        for lob in &payer.lines_of_business {
            let qualified = format!("{}/{}", payer.id, lob.id);
            // A bare id is valid only when one payer offers it.
            let offered = catalog
                .payers
                .iter()
                .filter(|p| p.lines_of_business.iter().any(|l| l.id == lob.id))
                .count();
            if offered == 1 && !products.contains(&lob.id) {
                products.push(lob.id.clone());
            }
            products.push(qualified);
        }
    }
    let request = &mut doc["components"]["schemas"]["Request"]["properties"];
    if request.is_object() && !payers.is_empty() {
        request["product"]["enum"] = serde_json::json!(products);
        request["payer"]["enum"] = serde_json::json!(payers);
    }
    Ok(doc)
}
