//! The HTTP API: routes, shared state, and the JSON fallbacks for unknown routes and methods.

mod auth;
mod body;
mod docs;
mod envelope;
mod error;
mod health;
mod integrations;
pub mod openapi;
mod path;
mod rate_limit;
mod tokens;

use actix_web::{web, HttpResponse, Resource};

pub use auth::RequireToken;
pub use body::{parse_object, JsonObject};
pub use envelope::{success, success_with_messages, Envelope, ErrorEntry, ErrorSource, Message};
pub use error::{ApiError, SHOULD_RETRY};
pub use integrations::{parse_create_body, parse_update_body, IntegrationView};
pub use path::decode_reference_id;
pub use rate_limit::{RateLimit, RateLimiter};
pub use tokens::TokenStatusView;

use crate::auth::TokenAuthority;
use crate::domain::TenantUrlPolicy;
use crate::store::{Database, IntegrationStore};

/// State shared by every handler.
pub struct AppState {
    pub store: IntegrationStore,
    pub database: std::sync::Arc<Database>,
    /// `server.public_url` without a trailing slash.
    pub public_url: String,
    pub tenant_url_policy: TenantUrlPolicy,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Maximum time a client may take to send a request body.
    pub body_read_timeout: std::time::Duration,
    /// Checks the API token of every request under the base path.
    pub tokens: std::sync::Arc<TokenAuthority>,
}

const INTEGRATIONS: &str = "/accounts/{account_id}/zt_risk_scoring/integrations";
const INTEGRATION: &str = "/accounts/{account_id}/zt_risk_scoring/integrations/{integration_id}";
const INTEGRATION_BY_REFERENCE_ID: &str =
    "/accounts/{account_id}/zt_risk_scoring/integrations/reference_id/{reference_id}";
const USER_TOKEN_VERIFY: &str = "/user/tokens/verify";
const ACCOUNT_TOKEN_VERIFY: &str = "/accounts/{account_id}/tokens/verify";

/// One path of the API under the base path: its pattern, the methods it serves as sent in
/// `Allow`, and a function that adds their handlers to the resource.
pub struct Endpoint {
    pub path: &'static str,
    pub allow: &'static str,
    add_handlers: fn(Resource) -> Resource,
}

/// Every API path under the base path. `configure` registers exactly these, and the OpenAPI
/// document is tested against this list, so a route cannot be added without documenting it.
/// The router tries them in this order with one regex match each, so the path of GET, PUT and
/// DELETE by id comes first. No request path matches two of the patterns, so the order changes
/// no response.
pub const ENDPOINTS: [Endpoint; 5] = [
    Endpoint {
        path: INTEGRATION,
        allow: "GET, PUT, DELETE",
        add_handlers: |resource| {
            resource
                .get(integrations::get_integration)
                .put(integrations::update_integration)
                .delete(integrations::delete_integration)
        },
    },
    Endpoint {
        path: INTEGRATION_BY_REFERENCE_ID,
        allow: "GET",
        add_handlers: |resource| resource.get(integrations::get_integration_by_reference_id),
    },
    Endpoint {
        path: INTEGRATIONS,
        allow: "GET, POST",
        add_handlers: |resource| {
            resource
                .get(integrations::list_integrations)
                .post(integrations::create_integration)
        },
    },
    Endpoint {
        path: USER_TOKEN_VERIFY,
        allow: "GET",
        add_handlers: |resource| resource.get(tokens::verify_token),
    },
    Endpoint {
        path: ACCOUNT_TOKEN_VERIFY,
        allow: "GET",
        add_handlers: |resource| resource.get(tokens::verify_account_token),
    },
];

/// Registers the API routes under `base_path`, and the health probes, the OpenAPI document and
/// the API page at the root. Each path is one resource, so a wrong method gets a 405 that lists
/// the allowed ones. Every route under `base_path`, and every unknown path there, requires an
/// API token; the routes at the root do not.
pub fn configure(config: &mut web::ServiceConfig, base_path: &str) {
    config
        .service(get_only("/healthz").get(health::healthz))
        .service(get_only("/readyz").get(health::readyz))
        .service(get_only(openapi::PATH).get(openapi::handler(base_path)))
        .configure(docs::configure);

    // The last wrap runs first: the token check puts the token in the request extensions
    // before the rate limit counts the request against it.
    let mut scope = web::scope(base_path).wrap(RateLimit).wrap(RequireToken);
    for endpoint in &ENDPOINTS {
        let allow = endpoint.allow;
        let resource = (endpoint.add_handlers)(web::resource(endpoint.path))
            .default_service(web::to(move || method_not_allowed(allow)));
        scope = scope.service(resource);
    }
    config.service(scope);
}

/// Returns a resource at `path` that rejects every method but GET with a 405.
pub(crate) fn get_only(path: &str) -> Resource {
    web::resource(path).default_service(web::to(|| method_not_allowed("GET")))
}

/// The fallback for paths that match no route.
pub async fn route_not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound)
}

async fn method_not_allowed(allow: &'static str) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed { allow })
}
