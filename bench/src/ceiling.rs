//! The HTTP ceiling: an actix-web server that does no work per request beyond routing. It
//! responds to every API-shaped GET with one constant integration envelope, built by ztrisk's own
//! view types so that its size matches a real response, and a request id header like the
//! daemon's.

use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpResponse, HttpServer};
use serde_json::json;
use ztrisk::api::{Envelope, IntegrationView};
use ztrisk::domain::{
    AccountTag, Integration, IntegrationId, IntegrationType, ReferenceId, TenantUrl,
    TenantUrlPolicy,
};

#[derive(clap::Args)]
pub struct CeilingArgs {
    /// Port to listen on at 127.0.0.1.
    #[arg(long)]
    port: u16,
    /// Prefix of the API paths, as the daemon's `server.base_path`.
    #[arg(long, default_value = "/client/v4")]
    base_path: String,
    /// Public URL in the envelope's `well_known_url`, as the daemon's `server.public_url`.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    public_url: String,
}

/// The response every route sends.
#[derive(Clone)]
struct ConstantResponse {
    body: Bytes,
    request_id: HeaderValue,
}

pub fn run(args: CeilingArgs) -> anyhow::Result<()> {
    let response = ConstantResponse {
        body: Bytes::from(envelope_body(&args.public_url)?),
        request_id: HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())?,
    };
    println!(
        "{}",
        json!({ "port": args.port, "body_bytes": response.body.len() })
    );

    actix_web::rt::System::new().block_on(async move {
        let base_path = args.base_path.clone();
        HttpServer::new(move || {
            let collection =
                format!("{base_path}/accounts/{{account_id}}/zt_risk_scoring/integrations");
            App::new()
                .app_data(web::Data::new(response.clone()))
                .route(&collection, web::get().to(respond))
                .route(
                    &format!("{collection}/{{integration_id}}"),
                    web::get().to(respond),
                )
                .route(
                    &format!("{collection}/reference_id/{{reference_id}}"),
                    web::get().to(respond),
                )
        })
        .bind(("127.0.0.1", args.port))?
        .run()
        .await?;
        anyhow::Ok(())
    })
}

async fn respond(response: web::Data<ConstantResponse>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")))
        .insert_header(("x-request-id", response.request_id.clone()))
        .body(response.body.clone())
}

/// Serializes the envelope of one integration shaped like the seeded ones, as the daemon does.
fn envelope_body(public_url: &str) -> anyhow::Result<Vec<u8>> {
    let integration = Integration {
        id: IntegrationId::generate(),
        account_tag: AccountTag::parse(&format!("1{:031x}", 0)).expect("valid account tag"),
        reference_id: ReferenceId::generate(),
        integration_type: IntegrationType::Okta,
        tenant_url: TenantUrl::parse("https://tenant-00000.okta.com", TenantUrlPolicy::HttpsOnly)
            .expect("valid tenant URL"),
        active: true,
        created_at: chrono::Utc::now(),
    };
    let envelope = Envelope {
        success: true,
        errors: &[],
        messages: &[],
        result: Some(IntegrationView::new(&integration, public_url)),
    };
    Ok(serde_json::to_vec(&envelope)?)
}
