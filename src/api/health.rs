//! Liveness and readiness probes, outside the API's base path.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::{success, ApiError, AppState};

/// Answers 200 while the process serves HTTP.
pub async fn healthz() -> HttpResponse {
    success(json!({ "status": "ok" }))
}

/// Answers 200 when the database answers a query, and 503 otherwise.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .database
        .ping()
        .await
        .map_err(|error| ApiError::Unavailable(error.into()))?;
    Ok(success(json!({ "status": "ready" })))
}
