//! The six handlers of the integrations API, the request bodies they read and the view they
//! return.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::body::{FieldReader, JsonObject, Optional};
use super::envelope::success;
use super::openapi::INTEGRATIONS_TAG;
use super::path::{AccountPath, IntegrationPath, ReferencePath};
use super::{ApiError, AppState};
use crate::domain::{
    FieldError, Integration, IntegrationType, IntegrationUpdate, NewIntegration, ReferenceId,
    TenantUrl, TenantUrlPolicy,
};
use crate::store::format_timestamp;

/// An integration as the API returns it. The field names, types and required fields are those
/// of Cloudflare's `dlp_RiskScoreIntegration` schema.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Integration)]
pub struct IntegrationView {
    /// The Cloudflare account tag: the account id of the path, in lowercase.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    pub account_tag: String,
    /// Whether the integration is enabled and exports changes in risk score.
    pub active: bool,
    /// When the integration was created: RFC 3339 in UTC, with microseconds.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The id of the integration, a UUIDv4 in lowercase.
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(value_type = super::openapi::IntegrationTypeName)]
    pub integration_type: &'static str,
    /// The client's id of the integration, unique within the account.
    pub reference_id: String,
    /// The base URL of the identity provider tenant, as given.
    pub tenant_url: String,
    /// The URL of the integration's Shared Signals Framework configuration,
    /// `{server.public_url}/.well-known/sse-configuration/{id}`.
    #[schema(format = "uri")]
    pub well_known_url: String,
}

impl IntegrationView {
    pub fn new(integration: &Integration, public_url: &str) -> Self {
        let id = integration.id.to_string();
        Self {
            account_tag: integration.account_tag.to_string(),
            active: integration.active,
            created_at: format_timestamp(&integration.created_at),
            well_known_url: format!("{public_url}/.well-known/sse-configuration/{id}"),
            id,
            integration_type: integration.integration_type.as_str(),
            reference_id: integration.reference_id.to_string(),
            tenant_url: integration.tenant_url.to_string(),
        }
    }
}

#[utoipa::path(
    post,
    path = "/accounts/{account_id}/zt_risk_scoring/integrations",
    operation_id = "dlp-zt-risk-score-integration-create",
    tag = INTEGRATIONS_TAG,
    summary = "Create new risk score integration.",
    description = "Creates an integration in the account. The account needs no set-up: its \
                   first integration brings it into being. Returns 200, as Cloudflare does.",
    params(super::openapi::AccountPathParams),
    request_body = super::openapi::CreateIntegrationBody,
    responses(
        (status = 200, description = "The new integration.",
         body = super::openapi::IntegrationEnvelope,
         // Links follow the id, which never changes. An update may change the reference id,
         // so no link leads from create to get by reference id.
         links(
             ("GetIntegration" = (
                 operation_id = "dlp-zt-risk-score-integration-get",
                 parameters(
                     ("account_id" = "$response.body#/result/account_tag"),
                     ("integration_id" = "$response.body#/result/id"),
                 ),
             )),
             ("UpdateIntegration" = (
                 operation_id = "dlp-zt-risk-score-integration-update",
                 parameters(
                     ("account_id" = "$response.body#/result/account_tag"),
                     ("integration_id" = "$response.body#/result/id"),
                 ),
             )),
             ("DeleteIntegration" = (
                 operation_id = "dlp-zt-risk-score-integration-delete",
                 parameters(
                     ("account_id" = "$response.body#/result/account_tag"),
                     ("integration_id" = "$response.body#/result/id"),
                 ),
             )),
         )),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 409, response = super::openapi::Conflict),
        (status = 413, response = super::openapi::PayloadTooLarge),
        (status = 408, response = super::openapi::RequestTimeout),
        (status = 415, response = super::openapi::UnsupportedMediaType),
        (status = 429, response = super::openapi::TooManyRequests),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn create_integration(
    state: web::Data<AppState>,
    AccountPath(account_tag): AccountPath,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    let request = parse_create_body(&body, state.tenant_url_policy)?;
    let integration = request.into_integration(account_tag);

    state.store.insert(integration.clone()).await?;

    Ok(success(IntegrationView::new(
        &integration,
        &state.public_url,
    )))
}

#[utoipa::path(
    get,
    path = "/accounts/{account_id}/zt_risk_scoring/integrations",
    operation_id = "dlp-zt-risk-score-integration-list",
    tag = INTEGRATIONS_TAG,
    summary = "List all risk score integrations for the account.",
    description = "Lists the account's integrations ordered by `created_at`, then `id`. An \
                   account with none returns an empty array.",
    params(super::openapi::AccountPathParams),
    responses(
        (status = 200, description = "The account's integrations.",
         body = super::openapi::IntegrationListEnvelope),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 429, response = super::openapi::TooManyRequests),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn list_integrations(
    state: web::Data<AppState>,
    AccountPath(account_tag): AccountPath,
) -> Result<HttpResponse, ApiError> {
    let integrations = state.store.list_for_account(&account_tag).await?;

    let views: Vec<_> = integrations
        .iter()
        .map(|integration| IntegrationView::new(integration, &state.public_url))
        .collect();
    Ok(success(views))
}

#[utoipa::path(
    get,
    path = "/accounts/{account_id}/zt_risk_scoring/integrations/{integration_id}",
    operation_id = "dlp-zt-risk-score-integration-get",
    tag = INTEGRATIONS_TAG,
    summary = "Get risk score integration by id.",
    params(super::openapi::IntegrationPathParams),
    responses(
        (status = 200, description = "The integration.",
         body = super::openapi::IntegrationEnvelope),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 404, response = super::openapi::NotFound),
        (status = 429, response = super::openapi::TooManyRequests),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn get_integration(
    state: web::Data<AppState>,
    IntegrationPath(account_tag, id): IntegrationPath,
) -> Result<HttpResponse, ApiError> {
    let integration = state.store.find_by_id(&account_tag, &id).await?;

    let integration = integration.ok_or(ApiError::NotFound)?;
    Ok(success(IntegrationView::new(
        &integration,
        &state.public_url,
    )))
}

#[utoipa::path(
    get,
    path = "/accounts/{account_id}/zt_risk_scoring/integrations/reference_id/{reference_id}",
    operation_id = "dlp-zt-risk-score-integration-get-by-reference-id",
    tag = INTEGRATIONS_TAG,
    summary = "Get risk score integration by reference id.",
    description = "Finds the integration whose `reference_id` is the percent-decoded last path \
                   segment, so `team%2Fprod` finds `team/prod`.",
    params(super::openapi::ReferencePathParams),
    responses(
        (status = 200, description = "The integration.",
         body = super::openapi::IntegrationEnvelope),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 404, response = super::openapi::NotFound),
        (status = 429, response = super::openapi::TooManyRequests),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn get_integration_by_reference_id(
    state: web::Data<AppState>,
    ReferencePath(account_tag, reference_id): ReferencePath,
) -> Result<HttpResponse, ApiError> {
    let integration = state
        .store
        .find_by_reference_id(&account_tag, &reference_id)
        .await?;

    let integration = integration.ok_or(ApiError::NotFound)?;
    Ok(success(IntegrationView::new(
        &integration,
        &state.public_url,
    )))
}

#[utoipa::path(
    put,
    path = "/accounts/{account_id}/zt_risk_scoring/integrations/{integration_id}",
    operation_id = "dlp-zt-risk-score-integration-update",
    tag = INTEGRATIONS_TAG,
    summary = "Update a risk score integration.",
    description = "Overwrites `tenant_url` and `active`, and `reference_id` when it is given. \
                   `null` for `active` or `reference_id` keeps the stored value. `id`, \
                   `account_tag` and `created_at` never change.",
    params(super::openapi::IntegrationPathParams),
    request_body = super::openapi::UpdateIntegrationBody,
    responses(
        (status = 200, description = "The updated integration.",
         body = super::openapi::IntegrationEnvelope),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 404, response = super::openapi::NotFound),
        (status = 409, response = super::openapi::Conflict),
        (status = 413, response = super::openapi::PayloadTooLarge),
        (status = 408, response = super::openapi::RequestTimeout),
        (status = 415, response = super::openapi::UnsupportedMediaType),
        (status = 429, response = super::openapi::TooManyRequests),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn update_integration(
    state: web::Data<AppState>,
    IntegrationPath(account_tag, id): IntegrationPath,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    let update = parse_update_body(&body, state.tenant_url_policy)?;

    let integration = state.store.replace(&account_tag, &id, update).await?;

    let integration = integration.ok_or(ApiError::NotFound)?;
    Ok(success(IntegrationView::new(
        &integration,
        &state.public_url,
    )))
}

#[utoipa::path(
    delete,
    path = "/accounts/{account_id}/zt_risk_scoring/integrations/{integration_id}",
    operation_id = "dlp-zt-risk-score-integration-delete",
    tag = INTEGRATIONS_TAG,
    summary = "Delete a risk score integration.",
    description = "Deletes the integration and returns `{}`. A second delete returns 404.",
    params(super::openapi::IntegrationPathParams),
    responses(
        (status = 200, description = "The integration was deleted.",
         body = super::openapi::DeleteEnvelope),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 404, response = super::openapi::NotFound),
        (status = 429, response = super::openapi::TooManyRequests),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    ),
)]
pub async fn delete_integration(
    state: web::Data<AppState>,
    IntegrationPath(account_tag, id): IntegrationPath,
) -> Result<HttpResponse, ApiError> {
    let deleted = state.store.delete(&account_tag, &id).await?;

    if !deleted {
        return Err(ApiError::NotFound);
    }
    Ok(success(serde_json::Map::new()))
}

/// Reads a create body: `integration_type` and `tenant_url` required, `reference_id` and
/// `active` optional (`null` counts as absent). Other fields are ignored.
pub fn parse_create_body(
    body: &JsonObject,
    policy: TenantUrlPolicy,
) -> Result<NewIntegration, ApiError> {
    let mut fields = FieldReader::new(body);

    let integration_type = fields
        .required_str("integration_type")
        .and_then(|value| fields.check(IntegrationType::parse(value)));
    let tenant_url = fields
        .required_str("tenant_url")
        .and_then(|value| fields.check(TenantUrl::parse(value, policy)));
    let reference_id = match fields.optional_str("reference_id") {
        Optional::Unset => Some(None),
        Optional::Set(value) => fields.check(ReferenceId::parse(value)).map(Some),
        Optional::Invalid => None,
    };
    let active = match fields.nullable_bool("active") {
        Err(()) | Ok(Optional::Unset) => Some(true),
        Ok(Optional::Set(value)) => Some(value),
        Ok(Optional::Invalid) => None,
    };

    fields.finish(|| {
        Some(NewIntegration {
            integration_type: integration_type?,
            tenant_url: tenant_url?,
            reference_id: reference_id?,
            active: active?,
        })
    })
}

/// Reads a PUT body: `tenant_url` and `active` required, `reference_id` optional. `null` for
/// `active` or `reference_id` keeps the stored value. `integration_type` may be sent and must
/// then name the integration's type.
pub fn parse_update_body(
    body: &JsonObject,
    policy: TenantUrlPolicy,
) -> Result<IntegrationUpdate, ApiError> {
    let mut fields = FieldReader::new(body);

    let tenant_url = fields
        .required_str("tenant_url")
        .and_then(|value| fields.check(TenantUrl::parse(value, policy)));
    let active = match fields.nullable_bool("active") {
        Err(()) => fields.reject(FieldError::missing("active")),
        Ok(Optional::Unset) => Some(None),
        Ok(Optional::Set(value)) => Some(Some(value)),
        Ok(Optional::Invalid) => None,
    };
    let reference_id = match fields.optional_str("reference_id") {
        Optional::Unset => Some(None),
        Optional::Set(value) => fields.check(ReferenceId::parse(value)).map(Some),
        Optional::Invalid => None,
    };
    // Every stored integration is of the one supported type, so a type that parses is the
    // integration's own type.
    if let Optional::Set(value) = fields.optional_str("integration_type") {
        fields.check(IntegrationType::parse(value).map_err(|_| {
            FieldError::invalid(
                "integration_type",
                "integration_type cannot be changed; send \"Okta\" or leave it out",
            )
        }));
    }

    fields.finish(|| {
        Some(IntegrationUpdate {
            tenant_url: tenant_url?,
            active: active?,
            reference_id: reference_id?,
        })
    })
}
