use std::fmt;

use url::{Host, Url};

use super::FieldError;

/// Upper bound on the length of a tenant URL, in bytes.
pub const MAX_TENANT_URL_BYTES: usize = 2048;

/// Which URL schemes a tenant URL may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantUrlPolicy {
    HttpsOnly,
    /// Also accept plain `http`, for identity provider mocks in local testing.
    AllowHttp,
}

/// The base URL of an identity provider tenant, such as `https://example.okta.com`: absolute,
/// with a host, and without credentials, query or fragment. Stored exactly as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantUrl(String);

impl TenantUrl {
    pub fn parse(value: &str, policy: TenantUrlPolicy) -> Result<Self, FieldError> {
        let invalid = |message: &str| FieldError::invalid("tenant_url", message);
        if value.len() > MAX_TENANT_URL_BYTES {
            let message = format!("tenant_url must be at most {MAX_TENANT_URL_BYTES} bytes");
            return Err(invalid(&message));
        }
        // The URL parser would percent-encode or strip these; a tenant URL is stored as given,
        // so it must already be in its plain ASCII form.
        if !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                "tenant_url must be ASCII without spaces or control characters; \
                 write an internationalised host in its xn-- form",
            ));
        }
        let Ok(url) = Url::parse(value) else {
            return Err(invalid(
                "tenant_url must be an absolute URL such as https://example.okta.com",
            ));
        };

        match (url.scheme(), policy) {
            ("https", _) | ("http", TenantUrlPolicy::AllowHttp) => {}
            ("http", TenantUrlPolicy::HttpsOnly) => {
                return Err(invalid("tenant_url must use https"));
            }
            _ => return Err(invalid("tenant_url must be an https URL")),
        }
        // For special schemes the parser reads `https:host` and `https:///host` as if they
        // were `https://host`, so the authority is checked on the text itself.
        let authority = value.split_once(':').map_or("", |(_, rest)| rest);
        let has_authority = authority.starts_with("//") && !authority[2..].starts_with('/');
        if !has_authority || value.contains('\\') || url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("tenant_url must name a host"));
        }
        // The URL parser accepts hosts such as `a*.com` and `a_b.com`, which no DNS name has.
        if let Some(Host::Domain(host)) = url.host() {
            if !is_host_name(host) {
                return Err(invalid(
                    "tenant_url must have a host name of dot-separated labels of 1 to 63 \
                     letters, digits and inner hyphens, ending in a label that starts with a \
                     letter, or an IP address",
                ));
            }
        }
        if !url.username().is_empty() || url.password().is_some() || value.contains('@') {
            return Err(invalid("tenant_url must not contain credentials"));
        }
        if url.query().is_some() {
            return Err(invalid("tenant_url must not contain a query"));
        }
        if url.fragment().is_some() {
            return Err(invalid("tenant_url must not contain a fragment"));
        }
        Ok(Self(value.to_owned()))
    }

    /// Wraps a value read back from the store, which was validated when it was written.
    pub(crate) fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Maximum length of a DNS label, in bytes.
const MAX_LABEL_BYTES: usize = 63;

/// Checks that `host` is a DNS host name: dot-separated labels of 1 to 63 letters, digits and
/// hyphens, none starting or ending with a hyphen, the last starting with a letter.
fn is_host_name(host: &str) -> bool {
    let is_label = |label: &str| {
        (1..=MAX_LABEL_BYTES).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let top_level = host.rsplit('.').next().unwrap_or_default();
    host.split('.').all(is_label) && top_level.starts_with(|c: char| c.is_ascii_alphabetic())
}

impl fmt::Display for TenantUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_https_urls() {
        let cases = [
            ("host only", "https://example.okta.com"),
            ("trailing slash", "https://example.okta.com/"),
            ("port", "https://example.okta.com:8443"),
            ("path", "https://example.com/tenants/a"),
            ("uppercase scheme", "HTTPS://example.okta.com"),
            ("IPv4", "https://192.0.2.10"),
            ("IPv6", "https://[2001:db8::1]:8443"),
            ("punycode host", "https://xn--bcher-kva.example"),
        ];
        for (label, input) in cases {
            let url = TenantUrl::parse(input, TenantUrlPolicy::HttpsOnly)
                .unwrap_or_else(|e| panic!("{label}: {e:?}"));
            assert_eq!(url.as_str(), input, "{label}");
        }
    }

    #[test]
    fn parse_rejects_invalid_urls() {
        let too_long = format!("https://example.com/{}", "a".repeat(MAX_TENANT_URL_BYTES));
        let cases = [
            ("empty", ""),
            ("relative", "example.okta.com"),
            ("plain http", "http://example.okta.com"),
            ("javascript", "javascript:alert(1)"),
            ("file", "file:///etc/passwd"),
            ("ftp", "ftp://example.com"),
            ("credentials", "https://user:secret@example.com"),
            ("user only", "https://user@example.com"),
            ("query", "https://example.com/?a=1"),
            ("empty query", "https://example.com/?"),
            ("fragment", "https://example.com/#top"),
            ("empty fragment", "https://example.com/#"),
            ("missing host", "https://"),
            ("missing host with path", "https:///path"),
            ("no slashes", "https:example.com"),
            ("backslashes", "https:\\\\example.com"),
            ("non-ASCII host", "https://bücher.example"),
            ("space", "https://example.com/a b"),
            ("NUL", "https://example.com/\0"),
            ("too long", too_long.as_str()),
            ("asterisk in host", "https://example.okta.com*"),
            ("underscore in host", "https://exa_mple.com"),
            ("hyphen-first label", "https://-example.com"),
            ("empty label", "https://example..com"),
            ("digit-first top-level label", "https://example.1com"),
        ];
        for (label, input) in cases {
            let result = TenantUrl::parse(input, TenantUrlPolicy::HttpsOnly);
            assert!(result.is_err(), "{label} was accepted");
        }
    }

    #[test]
    fn parse_accepts_http_when_allowed() {
        let url = TenantUrl::parse("http://127.0.0.1:9000", TenantUrlPolicy::AllowHttp);

        assert_eq!(url.unwrap().as_str(), "http://127.0.0.1:9000");
    }

    #[test]
    fn error_never_echoes_credentials() {
        let error = TenantUrl::parse(
            "https://admin:hunter2@example.com",
            TenantUrlPolicy::HttpsOnly,
        )
        .unwrap_err();

        assert!(!error.message.contains("hunter2"));
    }
}
