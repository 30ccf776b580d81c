//! The per-client rate limit: a middleware that counts each client's requests against a token
//! bucket and returns 429 with `Retry-After` once the bucket is empty.
//!
//! A client is the API token that authenticated the request, or the client's IP address when
//! no token is present. Each bucket is one timestamp (the generic cell rate algorithm), so a
//! check costs one hash lookup under a short lock and every client takes the same memory.

use std::collections::HashMap;
use std::future::{ready, Ready};
use std::net::{IpAddr, Ipv6Addr};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{web, HttpMessage, ResponseError};
use futures_util::future::LocalBoxFuture;

use super::ApiError;
use crate::auth::AuthenticatedToken;
use crate::config::RateLimitSettings;
use crate::domain::TokenId;

/// Whose allowance a request draws on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Client {
    Token(TokenId),
    /// An IPv4 address, or the /64 prefix of an IPv6 address, since one IPv6 host is usually
    /// assigned a whole /64.
    Address(IpAddr),
    /// Clients that arrived while the table was full of active clients share this bucket.
    Overflow,
}

/// The shared table of buckets. Every worker gets a clone, and the clones share one table.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Option<Arc<Limiter>>,
}

struct Limiter {
    requests: u64,
    period_secs: u64,
    /// Time the bucket needs to regain one request.
    interval: Duration,
    /// How far ahead of now a client's theoretical arrival time may run: the burst size.
    tolerance: Duration,
    max_clients: usize,
    epoch: Instant,
    table: Mutex<Table>,
}

struct Table {
    /// Each client's theoretical arrival time, as an offset from `epoch`. A client whose time
    /// is in the past has its full allowance, so it can be forgotten.
    arrivals: HashMap<Client, Duration>,
    /// Earliest time the next sweep of forgotten clients may run, so a full table of active
    /// clients is not swept on every request.
    next_sweep: Duration,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Rejected; the client may retry after this long.
    Limited(Duration),
}

impl RateLimiter {
    /// Builds the limiter from `settings`. When the limit is disabled, every request passes.
    pub fn new(settings: &RateLimitSettings) -> Self {
        if !settings.enabled {
            return Self { inner: None };
        }
        let period = Duration::from_secs(settings.period_secs);
        let interval = period / u32::try_from(settings.requests).unwrap_or(u32::MAX);
        let limiter = Limiter {
            requests: settings.requests,
            period_secs: settings.period_secs,
            interval,
            tolerance: period.saturating_sub(interval),
            max_clients: settings.max_clients,
            epoch: Instant::now(),
            table: Mutex::new(Table {
                arrivals: HashMap::new(),
                next_sweep: Duration::ZERO,
            }),
        };
        Self {
            inner: Some(Arc::new(limiter)),
        }
    }

    /// Counts one request of the client with the token `token` or, without one, at `address`.
    fn check(&self, token: Option<&TokenId>, address: Option<IpAddr>) -> Decision {
        let Some(limiter) = &self.inner else {
            return Decision::Allowed;
        };
        let client = match (token, address) {
            (Some(token), _) => Client::Token(token.clone()),
            (None, Some(address)) => Client::Address(network_of(address)),
            (None, None) => Client::Overflow,
        };
        limiter.check(client, limiter.epoch.elapsed())
    }
}

impl Limiter {
    fn check(&self, client: Client, now: Duration) -> Decision {
        // A poisoned lock only means another request panicked between two plain writes, which
        // leaves the table consistent.
        let mut table = self
            .table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let client = self.admit(&mut table, client, now);

        let arrival = table.arrivals.entry(client).or_insert(now);
        let start = (*arrival).max(now);
        let ahead = start - now;
        if ahead > self.tolerance {
            return Decision::Limited(ahead - self.tolerance);
        }
        *arrival = start + self.interval;
        Decision::Allowed
    }

    /// Returns the key to count `client` under: itself if it is known or there is room, else
    /// the shared overflow bucket.
    fn admit(&self, table: &mut Table, client: Client, now: Duration) -> Client {
        if table.arrivals.len() < self.max_clients || table.arrivals.contains_key(&client) {
            return client;
        }
        if now >= table.next_sweep {
            table.arrivals.retain(|_, arrival| *arrival > now);
            table.next_sweep = now + self.interval.max(Duration::from_secs(1));
        }
        if table.arrivals.len() < self.max_clients {
            client
        } else {
            Client::Overflow
        }
    }
}

/// Maps an address to the network it is counted under: the address itself for IPv4 (and
/// IPv4-mapped IPv6), its /64 prefix for other IPv6 addresses.
fn network_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// Middleware that applies the `RateLimiter` found in the app data to every request it wraps.
/// Without one in the app data, requests pass unchecked. Wrap it inside the authentication
/// middleware, so that the token id is in the extensions when it runs.
pub struct RateLimit;

impl<S, B> Transform<S, ServiceRequest> for RateLimit
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = RateLimitService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RateLimitService {
            service: Rc::new(service),
        }))
    }
}

pub struct RateLimitService<S> {
    service: Rc<S>,
}

impl<S, B> Service<ServiceRequest> for RateLimitService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let decision = match request.app_data::<web::Data<RateLimiter>>() {
            Some(limiter) => {
                let address = request.peer_addr().map(|peer| peer.ip());
                let extensions = request.extensions();
                let token = extensions
                    .get::<AuthenticatedToken>()
                    .map(AuthenticatedToken::id);
                limiter.check(token, address)
            }
            None => Decision::Allowed,
        };
        if let Decision::Limited(wait) = decision {
            let error = rate_limited(request.app_data::<web::Data<RateLimiter>>(), wait);
            let response = request.into_response(error.error_response());
            return Box::pin(ready(Ok(response.map_into_right_body())));
        }
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            let response = service.call(request).await?;
            Ok(response.map_into_left_body())
        })
    }
}

fn rate_limited(limiter: Option<&web::Data<RateLimiter>>, wait: Duration) -> ApiError {
    let (requests, period_secs) = limiter
        .and_then(|limiter| limiter.inner.as_ref())
        .map_or((0, 0), |limiter| (limiter.requests, limiter.period_secs));
    // Retry-After is in whole seconds, rounded up, so a client that honours it is let in.
    let retry_after_secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::RateLimited {
        requests,
        period_secs,
        retry_after_secs: retry_after_secs.max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(requests: u64, period_secs: u64, max_clients: usize) -> Limiter {
        let settings = RateLimitSettings {
            enabled: true,
            requests,
            period_secs,
            max_clients,
        };
        let limiter = RateLimiter::new(&settings).inner.expect("enabled");
        Arc::try_unwrap(limiter).ok().expect("one owner")
    }

    fn token(name: &str) -> Client {
        let id = format!("{:0>32}", hex_of(name));
        Client::Token(TokenId::parse(&id).expect("a valid token id"))
    }

    fn hex_of(name: &str) -> String {
        name.bytes().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn bucket_allows_burst_then_limits() {
        let limiter = limiter(10, 60, 100);
        let now = Duration::from_secs(1);

        let allowed = (0..10)
            .filter(|_| limiter.check(token("a"), now) == Decision::Allowed)
            .count();
        let eleventh = limiter.check(token("a"), now);

        assert_eq!(allowed, 10);
        assert_eq!(eleventh, Decision::Limited(Duration::from_secs(6)));
    }

    #[test]
    fn bucket_refills_one_per_interval() {
        let limiter = limiter(10, 60, 100);
        let start = Duration::from_secs(1);
        for _ in 0..10 {
            limiter.check(token("a"), start);
        }

        let early = limiter.check(token("a"), start + Duration::from_secs(5));
        let on_time = limiter.check(token("a"), start + Duration::from_secs(6));
        let again = limiter.check(token("a"), start + Duration::from_secs(6));

        assert!(matches!(early, Decision::Limited(_)), "{early:?}");
        assert_eq!(on_time, Decision::Allowed);
        assert!(matches!(again, Decision::Limited(_)), "{again:?}");
    }

    #[test]
    fn clients_have_separate_buckets() {
        let limiter = limiter(2, 60, 100);
        let now = Duration::from_secs(1);
        for _ in 0..5 {
            limiter.check(token("noisy"), now);
        }

        let other_token = limiter.check(token("quiet"), now);
        let address = limiter.check(Client::Address("192.0.2.1".parse().unwrap()), now);
        let noisy = limiter.check(token("noisy"), now);

        assert_eq!(other_token, Decision::Allowed);
        assert_eq!(address, Decision::Allowed);
        assert!(matches!(noisy, Decision::Limited(_)), "{noisy:?}");
    }

    #[test]
    fn full_table_forgets_idle_clients() {
        let limiter = limiter(1, 1, 2);
        let start = Duration::from_secs(1);
        limiter.check(token("a"), start);
        limiter.check(token("b"), start);

        let while_active = limiter.check(token("c"), start);
        let overflowed = limiter
            .table
            .lock()
            .unwrap()
            .arrivals
            .contains_key(&Client::Overflow);
        let after_idle = limiter.check(token("d"), start + Duration::from_secs(5));

        let table = limiter.table.lock().unwrap();
        assert_eq!(while_active, Decision::Allowed, "overflow bucket was empty");
        assert!(overflowed, "c was not counted in the overflow bucket");
        assert_eq!(after_idle, Decision::Allowed);
        assert!(table.arrivals.contains_key(&token("d")));
        assert!(!table.arrivals.contains_key(&token("a")));
        assert!(
            table.arrivals.len() <= 3,
            "{} entries",
            table.arrivals.len()
        );
    }

    #[test]
    fn full_table_shares_overflow_bucket() {
        let limiter = limiter(1, 60, 1);
        let now = Duration::from_secs(1);
        limiter.check(token("a"), now);

        let first_newcomer = limiter.check(token("b"), now);
        let second_newcomer = limiter.check(token("c"), now);

        assert_eq!(first_newcomer, Decision::Allowed);
        assert!(matches!(second_newcomer, Decision::Limited(_)));
    }

    #[test]
    fn ipv6_clients_are_grouped_by_prefix() {
        let cases = [
            ("same /64", "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true),
            ("other /64", "2001:db8:1:2::1", "2001:db8:1:3::1", false),
            ("mapped IPv4", "::ffff:192.0.2.1", "192.0.2.1", true),
            ("two IPv4", "192.0.2.1", "192.0.2.2", false),
        ];
        for (label, a, b, same) in cases {
            let a = network_of(a.parse().unwrap());
            let b = network_of(b.parse().unwrap());

            assert_eq!(a == b, same, "{label}: {a} and {b}");
        }
    }

    #[test]
    fn disabled_limiter_allows_everything() {
        let settings = RateLimitSettings {
            enabled: false,
            requests: 1,
            period_secs: 60,
            max_clients: 1,
        };
        let limiter = RateLimiter::new(&settings);

        let decisions: Vec<_> = (0..5)
            .map(|_| limiter.check(None, Some("192.0.2.1".parse().unwrap())))
            .collect();

        assert!(decisions.iter().all(|d| *d == Decision::Allowed));
    }
}
