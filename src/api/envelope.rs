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
}

/// The request field at fault, as a JSON pointer such as `/tenant_url`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorSource {
    pub pointer: String,
}

/// An informational message; the API sends none today, but the field is always present.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    #[schema(minimum = 1000)]
    pub code: u32,
    pub message: String,
}

/// Builds a 200 response with `result` in a success envelope.
pub fn success<T: Serialize>(result: T) -> HttpResponse {
    HttpResponse::Ok().json(Envelope {
        success: true,
        errors: &[],
        messages: &[],
        result: Some(result),
    })
}
