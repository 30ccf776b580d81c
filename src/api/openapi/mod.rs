//! The OpenAPI 3.1 document of the API, generated from the handlers' annotations and served at
//! `GET /openapi.json`, outside the base path.

mod responses;
mod schemas;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Server};
use utoipa::{Modify, OpenApi};

pub use responses::{
    BadRequest, Conflict, Forbidden, InternalError, NotFound, PayloadTooLarge, RequestTimeout,
    TooManyRequests, Unauthorized, Unavailable, UnsupportedMediaType,
};
pub use schemas::{
    AccountPathParams, CreateIntegrationBody, DeleteEnvelope, FailureEnvelope, IntegrationEnvelope,
    IntegrationListEnvelope, IntegrationPathParams, IntegrationTypeName, ReferenceIdValue,
    ReferencePathParams, TenantUrlValue, TokenStatusEnvelope, TokenStatusName,
    UpdateIntegrationBody,
};

use super::envelope::{ErrorEntry, ErrorSource, Message};
use super::{integrations, tokens};
use super::{IntegrationView, TokenStatusView};

/// The path of the document, outside the base path.
pub const PATH: &str = "/openapi.json";

/// The tag of the six operations, as in Cloudflare's own document.
pub const INTEGRATIONS_TAG: &str = "Zero Trust Risk Scoring Integrations";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ztrisk",
        description = "Cloudflare's Zero Trust risk scoring integrations API, served by a \
                       self-hosted daemon over SQLite. Paths, operation ids, the JSON envelope \
                       and field names are Cloudflare's, so the official Cloudflare SDKs work \
                       against it with only their base URL changed.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        integrations::list_integrations,
        integrations::create_integration,
        integrations::get_integration_by_reference_id,
        integrations::get_integration,
        integrations::update_integration,
        integrations::delete_integration,
        tokens::verify_token,
        tokens::verify_account_token,
    ),
    components(
        schemas(
            IntegrationView,
            IntegrationTypeName,
            CreateIntegrationBody,
            UpdateIntegrationBody,
            TenantUrlValue,
            ReferenceIdValue,
            IntegrationEnvelope,
            IntegrationListEnvelope,
            DeleteEnvelope,
            FailureEnvelope,
            TokenStatusView,
            TokenStatusName,
            TokenStatusEnvelope,
            ErrorEntry,
            ErrorSource,
            Message,
        ),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            RequestTimeout,
            TooManyRequests,
            InternalError,
            Unavailable,
        ),
    ),
    modifiers(&BearerToken),
    security(("api_token" = [])),
    tags(
        (name = INTEGRATIONS_TAG, description = "Identity provider tenants that receive \
         changes in users' risk scores over the OpenID Shared Signals Framework."),
        (name = "User API Tokens", description = "Checking the token a request carries."),
        (name = "Account Owned API Tokens", description = "Checking that the token a request \
         carries covers an account."),
    ),
)]
struct ApiDoc;

/// Adds the `api_token` security scheme, as Cloudflare names it: an API token sent as
/// `Authorization: Bearer <token>`.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, document: &mut Document) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "An API token of this daemon. The first one is written beside the database at \
                 first start (data/ztrisk.token by default); `ztrisk token create` makes more.",
            ))
            .build();
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme("api_token", SecurityScheme::Http(scheme));
    }
}

/// Builds the document for a daemon serving the API under `base_path`, which becomes the one
/// server entry: a URL relative to the document, so it holds on any host and port.
pub fn document(base_path: &str) -> Document {
    let mut document = ApiDoc::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let url = if base_path.is_empty() { "/" } else { base_path };
    let mut server = Server::new(url);
    server.description = Some("This daemon, under its configured base path.".to_owned());
    document.servers = Some(vec![server]);
    document
}

/// Serializes `document` as JSON, with the link fields spelled as OpenAPI spells them.
pub fn to_json(document: &Document) -> serde_json::Value {
    let mut json = serde_json::to_value(document).expect("the OpenAPI document serializes");
    // NOTE: utoipa 5.5 serializes the fields of a link object in snake case
    // (`operation_id`), which OpenAPI tools reject, so they are renamed here.
    let operations = json["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut());
    let links = operations
        .filter_map(|operation| operation.get_mut("responses")?.as_object_mut())
        .flat_map(|responses| responses.values_mut())
        .filter_map(|response| response.get_mut("links")?.as_object_mut())
        .flat_map(|links| links.values_mut())
        .filter_map(|link| link.as_object_mut());
    for link in links {
        for (snake_case, camel_case) in LINK_FIELDS {
            if let Some(value) = link.remove(snake_case) {
                link.insert(camel_case.to_owned(), value);
            }
        }
    }
    json
}

const LINK_FIELDS: [(&str, &str); 3] = [
    ("operation_id", "operationId"),
    ("operation_ref", "operationRef"),
    ("request_body", "requestBody"),
];

/// The handler of `GET /openapi.json`, serving `document` serialized once at start.
pub fn handler(base_path: &str) -> impl Fn() -> std::future::Ready<HttpResponse> + Clone + 'static {
    let json = Bytes::from(to_json(&document(base_path)).to_string());
    move || {
        let response = HttpResponse::Ok()
            .content_type(mime::APPLICATION_JSON)
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(json.clone());
        std::future::ready(response)
    }
}
