//! The six handlers of the integrations API, the request bodies they read and the view they
//! return.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::body::{FieldReader, JsonObject, Optional};
use super::envelope::success;
use super::path::{AccountPath, IntegrationPath, ReferencePath};
use super::{ApiError, AppState};
use crate::domain::{
    FieldError, Integration, IntegrationType, IntegrationUpdate, NewIntegration, ReferenceId,
    TenantUrl, TenantUrlPolicy,
};
use crate::store::format_timestamp;

/// An integration as the API returns it.
#[derive(Debug, Serialize)]
pub struct IntegrationView {
    pub account_tag: String,
    pub active: bool,
    pub created_at: String,
    pub id: String,
    pub integration_type: &'static str,
    pub reference_id: String,
    pub tenant_url: String,
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
