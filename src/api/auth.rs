//! The middleware that requires an API token on every route under the base path, and the
//! extractor that gives handlers the token it accepted.
//!
//! The checks run in this order, and each rejects with its own status and code:
//! 1. global API key headers (`X-Auth-Email`, `X-Auth-Key`);
//! 2. a missing or malformed `Authorization` header;
//! 3. an unknown, revoked or expired token;
//! 4. an account in the path that the token does not cover;
//! 5. a read-only token on a method other than GET or HEAD.
//!
//! Authentication comes before routing and before the path is validated, so a client without
//! a valid token learns nothing about which paths or accounts exist. A request that passes
//! carries its `AuthenticatedToken` in the request extensions.

use std::future::{ready, Ready};

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderMap, AUTHORIZATION};
use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, ResponseError};
use futures_util::future::{Either, MapOk};
use futures_util::TryFutureExt;

use super::{ApiError, AppState};
use crate::auth::{AuthenticatedToken, AuthenticationError, TokenAuthority};
use crate::domain::{AccountTag, Permission, TokenSecret};
use crate::telemetry::RespondedBeforeRouting;

/// Middleware that rejects every request without a valid API token for its account and
/// method.
pub struct RequireToken;

impl<S, B> Transform<S, ServiceRequest> for RequireToken
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = RequireTokenService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireTokenService { service }))
    }
}

pub struct RequireTokenService<S> {
    service: S,
}

type IntoLeftBody<B> = fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>>;

impl<S, B> Service<ServiceRequest> for RequireTokenService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future =
        Either<Ready<Result<Self::Response, Self::Error>>, MapOk<S::Future, IntoLeftBody<B>>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let outcome = match request.app_data::<web::Data<AppState>>() {
            Some(state) => authorize(&request, &state.tokens),
            None => Err(ApiError::Internal("the app has no AppState".into())),
        };
        match outcome {
            Ok(token) => {
                request.extensions_mut().insert(token);
                let into_left: IntoLeftBody<B> = ServiceResponse::map_into_left_body;
                Either::Right(self.service.call(request).map_ok(into_left))
            }
            Err(error) => {
                request.extensions_mut().insert(RespondedBeforeRouting);
                let response = request.into_response(error.error_response());
                Either::Left(ready(Ok(response.map_into_right_body())))
            }
        }
    }
}

/// Runs every check on `request` and returns the accepted token, logging each rejection.
fn authorize(
    request: &ServiceRequest,
    tokens: &TokenAuthority,
) -> Result<AuthenticatedToken, ApiError> {
    let reject = |reason, token: Option<&AuthenticatedToken>, error| {
        tokens.log_rejection(
            reason,
            token.map(AuthenticatedToken::id),
            request.peer_addr(),
        );
        Err(error)
    };
    let headers = request.headers();
    let email = headers.contains_key("x-auth-email");
    let key = headers.contains_key("x-auth-key");
    if email || key {
        return reject(
            "global API key headers",
            None,
            ApiError::GlobalApiKey { email, key },
        );
    }
    let secret = match bearer_secret(headers) {
        Ok(secret) => secret,
        Err(error @ ApiError::MissingCredentials) => return reject("no credentials", None, error),
        Err(error) => return reject("malformed Authorization header", None, error),
    };

    let token = match tokens.authenticate(&secret) {
        Ok(token) => token,
        Err(AuthenticationError::Unknown) => {
            return reject("unknown token", None, ApiError::InvalidToken);
        }
        Err(AuthenticationError::Revoked(id)) => {
            tokens.log_rejection("revoked token", Some(&id), request.peer_addr());
            return Err(ApiError::InvalidToken);
        }
        Err(AuthenticationError::Expired(id)) => {
            tokens.log_rejection("expired token", Some(&id), request.peer_addr());
            return Err(ApiError::InvalidToken);
        }
        Err(AuthenticationError::Unavailable(error)) => return Err(ApiError::Unavailable(error)),
    };

    if let Some(account) = path_account(request) {
        if !token.scope().allows(&account) {
            let error = ApiError::AccountNotAllowed;
            return reject("token does not cover the account", Some(&token), error);
        }
    }
    let is_read = matches!(*request.method(), Method::GET | Method::HEAD);
    if !is_read && token.permission() == Permission::Read {
        return reject(
            "read-only token on a write",
            Some(&token),
            ApiError::ReadOnlyToken,
        );
    }
    Ok(token)
}

/// The secret of the only `Authorization` header, which must be `Bearer <secret>` (the
/// scheme in any letter case).
fn bearer_secret(headers: &HeaderMap) -> Result<TokenSecret, ApiError> {
    let mut values = headers.get_all(AUTHORIZATION);
    let value = values.next().ok_or(ApiError::MissingCredentials)?;
    if values.next().is_some() {
        return Err(ApiError::MalformedAuthorization);
    }
    let value = value
        .to_str()
        .map_err(|_| ApiError::MalformedAuthorization)?;
    let (scheme, credentials) = value
        .split_once(' ')
        .ok_or(ApiError::MalformedAuthorization)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::MalformedAuthorization);
    }
    TokenSecret::parse(credentials.trim_start_matches(' ')).ok_or(ApiError::MalformedAuthorization)
}

/// The account of an `/accounts/{account_id}/…` path, read from the same path text the
/// router matches, so the handler sees the same account. `None` for other paths and for a
/// malformed account id, which the handler rejects with a 400 (or the router with a 404).
fn path_account(request: &ServiceRequest) -> Option<AccountTag> {
    let rest = request
        .match_info()
        .unprocessed()
        .strip_prefix("/accounts/")?;
    let segment = rest.split('/').next()?;
    AccountTag::parse(segment).ok()
}

impl FromRequest for AuthenticatedToken {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    /// Fails with a 500 on a route that `RequireToken` does not wrap, which is a bug.
    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = request.extensions().get::<AuthenticatedToken>().cloned();
        ready(token.ok_or_else(|| ApiError::Internal("the route has no token check".into())))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
        }
        headers
    }

    #[test]
    fn bearer_secret_accepts_any_scheme_case() {
        let secret = TokenSecret::generate();
        let cases = [
            ("canonical", format!("Bearer {}", secret.expose())),
            ("lowercase", format!("bearer {}", secret.expose())),
            ("uppercase", format!("BEARER {}", secret.expose())),
            ("two spaces", format!("Bearer  {}", secret.expose())),
        ];
        for (label, value) in cases {
            let parsed = bearer_secret(&headers(&[&value]));

            assert_eq!(parsed.ok().as_ref(), Some(&secret), "{label}");
        }
    }

    #[test]
    fn bearer_secret_rejects_other_forms() {
        let secret = TokenSecret::generate();
        let token = secret.expose();
        let cases = [
            ("empty", "".to_owned()),
            ("scheme only", "Bearer".to_owned()),
            ("scheme and space", "Bearer ".to_owned()),
            ("token only", token.to_owned()),
            ("basic scheme", format!("Basic {token}")),
            ("short token", "Bearer abc".to_owned()),
            ("token with space", format!("Bearer {token} x")),
            ("token with plus", format!("Bearer {token}+")),
        ];
        for (label, value) in cases {
            let parsed = bearer_secret(&headers(&[&value]));

            assert!(
                matches!(parsed, Err(ApiError::MalformedAuthorization)),
                "{label}: {parsed:?}"
            );
        }
    }

    #[test]
    fn bearer_secret_rejects_two_headers() {
        let value = format!("Bearer {}", TokenSecret::generate().expose());

        let parsed = bearer_secret(&headers(&[&value, &value]));

        assert!(matches!(parsed, Err(ApiError::MalformedAuthorization)));
    }

    #[test]
    fn bearer_secret_reports_missing_header() {
        let parsed = bearer_secret(&HeaderMap::new());

        assert!(matches!(parsed, Err(ApiError::MissingCredentials)));
    }
}
