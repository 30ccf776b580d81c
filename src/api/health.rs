//! Liveness and readiness probes, outside the API's base path.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::{success, ApiError, AppState};

/// Answers 200 while the process serves HTTP.
pub async fn healthz() -> HttpResponse {
    success(json!({ "status": "ok" }))
}

/// Answers 200 when the database can serve reads and writes, and 503 with the reason
/// otherwise (see `Database::check_ready`).
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .database
        .check_ready()
        .await
        .map_err(ApiError::Unavailable)?;
    Ok(success(json!({ "status": "ready" })))
}
