//! The failure responses of the API as reusable OpenAPI response components, one per status,
//! each describing the error codes it carries.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Type};
use utoipa::ToResponse;

use crate::api::SHOULD_RETRY;

/// Declares a unit struct that is the response component `$name` with `$description`.
macro_rules! failure_response {
    ($name:ident, $retry:expr, $description:expr) => {
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), failure($description, $retry).into())
            }
        }
    };
}

/// The retry advice that a failure response sends.
enum Retry {
    /// `x-should-retry: false`: the same request fails again.
    Never,
    /// `Retry-After` in seconds: the same request may succeed later.
    After,
}

failure_response!(
    BadRequest,
    Retry::Never,
    "The request is invalid, and `errors` lists every problem. Codes: 9106 no `Authorization` \
     header, 6003 a malformed `Authorization` header (with 6111 in `error_chain`) or \
     Cloudflare's global API key headers (6102, 6103), 6007 malformed or empty JSON, 1001 a \
     body that is not an object, 1002 a required field missing or null, 1003 a field of the \
     wrong JSON type, 1004 an invalid value, 1007 the account already holds the maximum \
     number of integrations, 7003 a malformed account id or integration id in the path."
);
failure_response!(
    Unauthorized,
    Retry::Never,
    "Code 10000: the API token is unknown, revoked or expired."
);
failure_response!(
    Forbidden,
    Retry::Never,
    "The API token is valid but may not make this request. Codes: 9109 the token does not \
     cover the account in the path, 10000 a read-only token on a method other than GET."
);
failure_response!(
    NotFound,
    Retry::Never,
    "Code 1005: the account has no integration with that id or reference id."
);
failure_response!(
    Conflict,
    Retry::Never,
    "Code 1006: another integration of the account already has that `reference_id`."
);
failure_response!(
    PayloadTooLarge,
    Retry::Never,
    "Code 1008: the request body is larger than `server.body_limit` (default 64 KiB)."
);
failure_response!(
    UnsupportedMediaType,
    Retry::Never,
    "Code 1009: the request body is not sent as `application/json` in UTF-8."
);
failure_response!(
    RequestTimeout,
    Retry::Never,
    "Code 1012: the request body did not arrive within `limits.body_read_timeout_ms`."
);
failure_response!(
    TooManyRequests,
    Retry::After,
    "Code 971: the token (or, without one, the client address) has used up its allowance of \
     `rate_limit.requests` per `rate_limit.period_secs`. Retry after the number of seconds in \
     `Retry-After`."
);
failure_response!(
    InternalError,
    Retry::Never,
    "Code 1011: an internal error. The request failed and the daemon keeps serving."
);
failure_response!(
    Unavailable,
    Retry::After,
    "Code 1010: the database is unavailable and nothing was changed. Retry after the number \
     of seconds in `Retry-After`."
);

fn failure(description: &str, retry: Retry) -> Response {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("FailureEnvelope")))
        .build();
    let (name, header) = match retry {
        Retry::Never => (
            SHOULD_RETRY,
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["false"])),
                )
                .description(Some(
                    "`false`, so that the official Cloudflare SDKs do not retry the request.",
                )),
        ),
        Retry::After => (
            "retry-after",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                )
                .description(Some("Seconds to wait before retrying.")),
        ),
    };
    ResponseBuilder::new()
        .description(description)
        .content("application/json", content)
        .header(name, header.build())
        .build()
}
