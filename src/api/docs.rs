//! The interactive API page at `/docs`: Swagger UI, vendored in `assets/swagger-ui/` and
//! compiled into the binary, so the page needs no internet access.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

use super::get_only;

/// The swagger-ui-dist release in `assets/swagger-ui/`. Asset URLs carry it, so a browser may
/// cache them for good and still loads new ones after an upgrade.
const SWAGGER_UI_VERSION: &str = "5.35.0";

const PAGE: &str = "/docs";

/// The vendored files, by the name they are served under.
const ASSETS: [(&str, &str, &[u8]); 3] = [
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js"),
    ),
    (
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/swagger-ui.css"),
    ),
    (
        "init.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/docs/init.js"),
    ),
];

/// Only the daemon's own origin; Swagger UI sets inline styles, and its icons are data URLs.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Registers the page and its assets, each returning 405 for methods other than GET.
pub fn configure(config: &mut web::ServiceConfig) {
    config.service(get_only(PAGE).get(page));
    for (name, content_type, body) in ASSETS {
        let path = format!("{PAGE}/{SWAGGER_UI_VERSION}/{name}");
        config.service(get_only(&path).get(move || asset(content_type, body)));
    }
}

async fn page() -> HttpResponse {
    let html =
        include_str!("../../assets/docs/index.html").replace("{version}", SWAGGER_UI_VERSION);
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(html)
}

async fn asset(content_type: &'static str, body: &'static [u8]) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}
