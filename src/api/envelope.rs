//! Cloudflare's response envelope, shared by every response of the API.

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

/// `{"success": …, "errors": […], "messages": […], "result": …}`.
#[derive(Debug, Serialize)]
pub struct Envelope<'a, T: Serialize> {
    pub success: bool,
    pub errors: &'a [ErrorEntry],
    pub messages: &'a [Message],
    pub result: Option<T>,
}

/// One problem of a failed request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorEntry {
    /// Stable error code, listed in the README.
    #[schema(minimum = 1000)]
    pub code: u32,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<ErrorSource>,
    /// The more specific problems behind this one, as Cloudflare sends for invalid headers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub error_chain: Vec<ErrorEntry>,
}

/// The request field at fault, as a JSON pointer such as `/tenant_url`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorSource {
    pub pointer: String,
}

/// An informational message, such as the one a token verification returns.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    #[schema(minimum = 1000)]
    pub code: u32,
    pub message: String,
    /// Cloudflare's `type` field, which is `null` in the messages this API sends.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// Builds a 200 response with `result` in a success envelope.
pub fn success<T: Serialize>(result: T) -> HttpResponse {
    success_with_messages(result, &[])
}

/// Builds a 200 response with `result` and `messages` in a success envelope.
pub fn success_with_messages<T: Serialize>(result: T, messages: &[Message]) -> HttpResponse {
    HttpResponse::Ok().json(Envelope {
        success: true,
        errors: &[],
        messages,
        result: Some(result),
    })
}
