//! Validated values of the integrations API and of its API tokens. Each type is built only
//! through its constructors (`parse`, or `generate` for new ids and secrets), so an invalid
//! value cannot reach the store.

mod account_tag;
mod api_token;
mod field_error;
mod integration;
mod integration_id;
mod reference_id;
mod tenant_url;

pub use account_tag::AccountTag;
pub use api_token::{AccountScope, Permission, TokenHash, TokenId, TokenSecret};
pub use field_error::{FieldError, FieldErrorKind};
pub use integration::{Integration, IntegrationType, IntegrationUpdate, NewIntegration};
pub use integration_id::IntegrationId;
pub use reference_id::ReferenceId;
pub use tenant_url::{TenantUrl, TenantUrlPolicy, MAX_TENANT_URL_BYTES};
