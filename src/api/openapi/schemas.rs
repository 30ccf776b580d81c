//! Schema-only types that describe request bodies, path parameters and envelopes in the
//! OpenAPI document. Handlers read bodies field by field (see `body.rs`) to report every
//! problem at once, so these types are never deserialized. The schemathesis run of
//! `scripts/test-sdk` checks them against the running daemon.

use std::borrow::Cow;

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::api::envelope::Message;
use crate::api::{ErrorEntry, IntegrationView, TokenStatusView};
use crate::domain::{ReferenceId, MAX_TENANT_URL_BYTES};

/// `tenant_url` as the daemon accepts it: `https`, a DNS host name or an IPv4 address, an
/// optional port and path, and no credentials, query or fragment. It is a subset: the daemon
/// also accepts an uppercase scheme, IPv6 literals, ports above 9999 and `%` in the path.
const TENANT_URL_PATTERN: &str = concat!(
    r"^https://(",
    r"([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
    r"|((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}",
    r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])",
    r")(:[0-9]{1,4})?(/[A-Za-z0-9._~!$&'()*+,;=:-]*)*$"
);

/// `reference_id` as the daemon accepts it: no control characters and no line or paragraph
/// separators. The length limit is in `minLength` and `maxLength`.
const REFERENCE_ID_PATTERN: &str = r"^[^\u0000-\u001F\u007F-\u009F\u2028\u2029]+$";

/// The `TenantUrl` schema: the base URL of an identity provider tenant.
pub struct TenantUrlValue;

impl PartialSchema for TenantUrlValue {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom("uri".into())))
            .max_length(Some(MAX_TENANT_URL_BYTES))
            .pattern(Some(TENANT_URL_PATTERN))
            .examples(["https://example.okta.com"])
            .description(Some(
                "The base URL of the tenant, such as `https://example.okta.com`: at most 2,048 \
                 bytes of ASCII, without credentials, query or fragment. The host is a DNS \
                 name (labels of 1 to 63 letters, digits and inner hyphens, the last starting \
                 with a letter) or an IP address. Plain `http` is accepted only when \
                 `integrations.allow_http_tenant_url` is set.",
            ))
            .into()
    }
}

impl ToSchema for TenantUrlValue {
    fn name() -> Cow<'static, str> {
        "TenantUrl".into()
    }
}

/// The `ReferenceId` schema: a client-chosen id of an integration.
pub struct ReferenceIdValue;

impl PartialSchema for ReferenceIdValue {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(ReferenceId::MAX_CHARS))
            .pattern(Some(REFERENCE_ID_PATTERN))
            .examples(["okta-prod"])
            .description(Some(
                "A client-chosen id, unique within the account: 1 to 255 characters without \
                 control characters, compared byte for byte.",
            ))
            .into()
    }
}

impl ToSchema for ReferenceIdValue {
    fn name() -> Cow<'static, str> {
        "ReferenceId".into()
    }
}

/// The identity provider kind of an integration.
#[derive(ToSchema)]
#[schema(as = IntegrationType)]
pub enum IntegrationTypeName {
    Okta,
}

/// The status of a token that passes verification. Cloudflare's schema also names `disabled`
/// and `expired`, which this daemon rejects with a 401 instead.
#[derive(ToSchema)]
#[schema(as = TokenStatusValue, rename_all = "lowercase")]
pub enum TokenStatusName {
    Active,
}

/// The body of a create request. Other fields are ignored.
#[derive(ToSchema)]
#[schema(example = json!({
    "integration_type": "Okta",
    "tenant_url": "https://example.okta.com",
    "reference_id": "okta-prod",
}))]
pub struct CreateIntegrationBody {
    /// The identity provider kind. Any letter case is accepted, and it is stored as `Okta`.
    pub integration_type: IntegrationTypeName,
    pub tenant_url: TenantUrlValue,
    /// A client-chosen id, unique within the account. Absent or `null` gives a random UUIDv4.
    pub reference_id: Option<ReferenceIdValue>,
    /// Whether the integration exports changes in risk score. Absent or `null` means `true`.
    #[schema(default = true)]
    pub active: Option<bool>,
}

/// The body of an update (PUT) request: `tenant_url` and `active` are overwritten, and so is
/// `reference_id` when it is given. Other fields are ignored.
#[derive(ToSchema)]
#[schema(example = json!({
    "tenant_url": "https://example.okta.com",
    "active": false,
    "reference_id": null,
}))]
pub struct UpdateIntegrationBody {
    /// Whether the integration exports changes in risk score. `null` keeps the stored value,
    /// but the field must be present.
    #[schema(required = true)]
    pub active: Option<bool>,
    pub tenant_url: TenantUrlValue,
    /// A new reference id, unique within the account. Absent or `null` keeps the stored one.
    pub reference_id: Option<ReferenceIdValue>,
    /// May be sent, as Terraform and older SDKs do, and must then name the current type in any
    /// letter case.
    pub integration_type: Option<IntegrationTypeName>,
}

/// The path of list and create.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AccountPathParams {
    /// The Cloudflare account tag, 32 hexadecimal characters in either letter case.
    #[param(
        pattern = "^[0-9a-fA-F]{32}$",
        example = "0123456789abcdef0123456789abcdef"
    )]
    pub account_id: String,
}

/// The path of get, update and delete.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IntegrationPathParams {
    /// The Cloudflare account tag, 32 hexadecimal characters in either letter case.
    #[param(
        pattern = "^[0-9a-fA-F]{32}$",
        example = "0123456789abcdef0123456789abcdef"
    )]
    pub account_id: String,
    /// The id of the integration, a hyphenated UUID in either letter case.
    #[param(
        format = "uuid",
        example = "2b6c1a62-5d6b-4d7e-9b1e-0c6f1f0a2d4e",
        pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    pub integration_id: String,
}

/// The path of get by reference id.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ReferencePathParams {
    /// The Cloudflare account tag, 32 hexadecimal characters in either letter case.
    #[param(
        pattern = "^[0-9a-fA-F]{32}$",
        example = "0123456789abcdef0123456789abcdef"
    )]
    pub account_id: String,
    /// The reference id, percent-encoded. The daemon decodes it exactly once. HTTP clients
    /// remove `.` and `..` path segments, so send these two reference ids as `%2E` and
    /// `%2E%2E`. The Python SDK 5.9.0 refuses to send them in any form.
    pub reference_id: ReferenceIdValue,
}

/// A success envelope whose `result` is one integration.
#[derive(ToSchema)]
pub struct IntegrationEnvelope {
    #[schema(schema_with = literal_true)]
    pub success: bool,
    #[schema(schema_with = no_errors)]
    pub errors: Vec<ErrorEntry>,
    pub messages: Vec<Message>,
    #[schema(value_type = IntegrationView)]
    pub result: IntegrationView,
}

/// A success envelope whose `result` is the account's integrations, ordered by `created_at`,
/// then `id`.
#[derive(ToSchema)]
pub struct IntegrationListEnvelope {
    #[schema(schema_with = literal_true)]
    pub success: bool,
    #[schema(schema_with = no_errors)]
    pub errors: Vec<ErrorEntry>,
    pub messages: Vec<Message>,
    pub result: Vec<IntegrationView>,
}

/// The success envelope of a token verification.
#[derive(ToSchema)]
pub struct TokenStatusEnvelope {
    #[schema(schema_with = literal_true)]
    pub success: bool,
    #[schema(schema_with = no_errors)]
    pub errors: Vec<ErrorEntry>,
    /// One message, code 10000: "This API Token is valid and active".
    pub messages: Vec<Message>,
    pub result: TokenStatusView,
}

/// The success envelope of a delete, whose `result` is `{}`.
#[derive(ToSchema)]
pub struct DeleteEnvelope {
    #[schema(schema_with = literal_true)]
    pub success: bool,
    #[schema(schema_with = no_errors)]
    pub errors: Vec<ErrorEntry>,
    pub messages: Vec<Message>,
    #[schema(schema_with = empty_object)]
    pub result: (),
}

/// The envelope of every failure: one entry in `errors` per problem, and `result` null.
#[derive(ToSchema)]
pub struct FailureEnvelope {
    #[schema(schema_with = literal_false)]
    pub success: bool,
    #[schema(min_items = 1)]
    pub errors: Vec<ErrorEntry>,
    pub messages: Vec<Message>,
    #[schema(schema_with = null)]
    pub result: (),
}

fn literal_true() -> Schema {
    literal_bool(true)
}

fn literal_false() -> Schema {
    literal_bool(false)
}

fn literal_bool(value: bool) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([value]))
        .description(Some("Whether the request succeeded."))
        .into()
}

fn no_errors() -> Schema {
    ArrayBuilder::new()
        .items(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
            "ErrorEntry",
        )))
        .max_items(Some(0))
        .into()
}

fn empty_object() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .max_properties(Some(0))
        .into()
}

fn null() -> Schema {
    ObjectBuilder::new().schema_type(Type::Null).into()
}
