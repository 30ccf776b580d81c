//! The HTTP API: routes, shared state, and the JSON fallbacks for unknown routes and methods.

mod auth;
mod body;
mod envelope;
mod error;
mod health;
mod integrations;
mod path;
mod rate_limit;
mod tokens;

use actix_web::{web, HttpResponse};

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
    /// Longest time a client may take to send a request body.
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

/// Registers the API routes under `base_path` and the health routes at the root. Each path is
/// one resource, so a wrong method gets a 405 that lists the allowed ones. Every route under
/// `base_path`, and every unknown path there, requires an API token; the health routes do not.
pub fn configure(config: &mut web::ServiceConfig, base_path: &str) {
    config
        .service(
            web::resource("/healthz")
                .get(health::healthz)
                .default_service(web::to(|| method_not_allowed("GET"))),
        )
        .service(
            web::resource("/readyz")
                .get(health::readyz)
                .default_service(web::to(|| method_not_allowed("GET"))),
        )
        .service(
            web::scope(base_path)
                // The last wrap runs first: the token check puts the token in the request
                // extensions before the rate limit counts the request against it.
                .wrap(RateLimit)
                .wrap(RequireToken)
                .service(
                    web::resource(USER_TOKEN_VERIFY)
                        .get(tokens::verify_token)
                        .default_service(web::to(|| method_not_allowed("GET"))),
                )
                .service(
                    web::resource(ACCOUNT_TOKEN_VERIFY)
                        .get(tokens::verify_account_token)
                        .default_service(web::to(|| method_not_allowed("GET"))),
                )
                .service(
                    web::resource(INTEGRATIONS)
                        .get(integrations::list_integrations)
                        .post(integrations::create_integration)
                        .default_service(web::to(|| method_not_allowed("GET, POST"))),
                )
                .service(
                    web::resource(INTEGRATION_BY_REFERENCE_ID)
                        .get(integrations::get_integration_by_reference_id)
                        .default_service(web::to(|| method_not_allowed("GET"))),
                )
                .service(
                    web::resource(INTEGRATION)
                        .get(integrations::get_integration)
                        .put(integrations::update_integration)
                        .delete(integrations::delete_integration)
                        .default_service(web::to(|| method_not_allowed("GET, PUT, DELETE"))),
                ),
        );
}

/// The fallback for paths that match no route.
pub async fn route_not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound)
}

async fn method_not_allowed(allow: &'static str) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed { allow })
}
