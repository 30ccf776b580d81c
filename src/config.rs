//! Typed settings: loading them from the embedded defaults, files and environment, and
//! validating them before the daemon starts.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use url::Url;

const DEFAULTS: &str = include_str!("../config/default.toml");
const LOCAL_FILE: &str = "config/local.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub limits: LimitSettings,
    pub rate_limit: RateLimitSettings,
    pub database: DatabaseSettings,
    pub integrations: IntegrationSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub base_path: String,
    pub public_url: String,
    /// Bytes.
    pub body_limit: usize,
    /// Zero means one per CPU core.
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
}

/// Bounds on how long and how many clients may hold the daemon's connections.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    pub header_read_timeout_ms: u64,
    pub body_read_timeout_ms: u64,
    /// Zero disables keep-alive.
    pub keep_alive_secs: u64,
    /// Zero waits without limit.
    pub client_disconnect_timeout_ms: u64,
    /// Across all workers.
    pub max_connections: usize,
    pub backlog: u32,
}

/// The per-client request allowance: a bucket of `requests` that refills over `period_secs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub requests: u64,
    pub period_secs: u64,
    pub max_clients: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub synchronous: Synchronous,
    pub busy_timeout_ms: u64,
    pub migrate_on_start: bool,
}

/// SQLite's `synchronous` setting for the writer connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Synchronous {
    Full,
    Normal,
}

impl TryFrom<String> for Synchronous {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        match value.as_str() {
            "full" => Ok(Self::Full),
            "normal" => Ok(Self::Normal),
            _ => Err(format!("must be \"full\" or \"normal\", not {value:?}")),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSettings {
    pub max_per_account: u32,
    pub allow_http_tenant_url: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum LogFormat {
    Text,
    Json,
}

impl TryFrom<String> for LogFormat {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        match value.as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(format!("must be \"text\" or \"json\", not {value:?}")),
        }
    }
}

/// A setting that was missing, malformed or out of range, named by its key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("invalid configuration: {key} {problem}")]
    Invalid { key: &'static str, problem: String },
}

impl Settings {
    /// Loads the settings: embedded defaults, then `config/local.toml` if present, then
    /// `explicit_file`, then `ZTRISK__SECTION__KEY` environment variables.
    pub fn load(explicit_file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut builder = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .add_source(File::new(LOCAL_FILE, FileFormat::Toml).required(false));
        if let Some(path) = explicit_file {
            builder = builder.add_source(File::from(path.to_path_buf()).required(true));
        }
        let environment = Environment::with_prefix("ZTRISK")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true);
        let settings: Settings = builder.add_source(environment).build()?.try_deserialize()?;

        settings.validate()?;
        Ok(settings)
    }

    /// Loads only the embedded defaults, for tests and tools that then adjust fields.
    pub fn defaults() -> Self {
        let config = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .build()
            .expect("embedded defaults are valid TOML");
        config
            .try_deserialize()
            .expect("embedded defaults match the settings types")
    }

    /// Checks ranges and formats that the types alone do not express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let server = &self.server;
        if server.host.parse::<IpAddr>().is_err() && !is_host_name(&server.host) {
            return Err(invalid(
                "server.host",
                "must be an IP address or a host name",
            ));
        }
        if !server.base_path.is_empty()
            && (!server.base_path.starts_with('/')
                || server.base_path.ends_with('/')
                || !server.base_path.bytes().all(is_path_byte))
        {
            return Err(invalid(
                "server.base_path",
                "must be empty or a path such as /client/v4 that starts with / and does not \
                 end with one",
            ));
        }
        check_public_url(&server.public_url)?;
        check_range(
            "server.body_limit",
            server.body_limit as u64,
            1,
            16 * 1024 * 1024,
        )?;
        check_range("server.workers", server.workers as u64, 0, 256)?;
        check_range(
            "server.shutdown_timeout_secs",
            server.shutdown_timeout_secs,
            0,
            3600,
        )?;

        self.validate_limits()?;

        let database = &self.database;
        if self.database_path().is_none() {
            return Err(invalid(
                "database.url",
                "must name a SQLite file, such as sqlite://data/ztrisk.db",
            ));
        }
        check_range("database.pool_size", database.pool_size.into(), 1, 64)?;
        check_range(
            "database.busy_timeout_ms",
            database.busy_timeout_ms,
            0,
            600_000,
        )?;

        let max_per_account = self.integrations.max_per_account.into();
        check_range("integrations.max_per_account", max_per_account, 1, 100_000)?;

        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(invalid(
                "log.level",
                "must be error, warn, info, debug, trace or a tracing filter",
            ));
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        let limits = &self.limits;
        check_range(
            "limits.header_read_timeout_ms",
            limits.header_read_timeout_ms,
            1,
            600_000,
        )?;
        check_range(
            "limits.body_read_timeout_ms",
            limits.body_read_timeout_ms,
            1,
            600_000,
        )?;
        check_range("limits.keep_alive_secs", limits.keep_alive_secs, 0, 3600)?;
        check_range(
            "limits.client_disconnect_timeout_ms",
            limits.client_disconnect_timeout_ms,
            0,
            60_000,
        )?;
        check_range(
            "limits.max_connections",
            limits.max_connections as u64,
            1,
            1_000_000,
        )?;
        check_range("limits.backlog", limits.backlog.into(), 1, 65_535)?;

        let rate_limit = &self.rate_limit;
        check_range("rate_limit.requests", rate_limit.requests, 1, 1_000_000_000)?;
        check_range("rate_limit.period_secs", rate_limit.period_secs, 1, 86_400)?;
        check_range(
            "rate_limit.max_clients",
            rate_limit.max_clients as u64,
            1,
            10_000_000,
        )
    }

    /// The database file named by `database.url`, or `None` if the URL names no file. The
    /// path is percent-decoded, as sqlx decodes it when it opens the database.
    pub fn database_path(&self) -> Option<PathBuf> {
        let url = &self.database.url;
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let in_memory = url::form_urlencoded::parse(query.as_bytes())
            .any(|(key, value)| key == "mode" && value == "memory");
        if path.is_empty() || path == ":memory:" || in_memory {
            return None;
        }
        let path = percent_decode_str(path).decode_utf8().ok()?;
        Some(PathBuf::from(path.as_ref()))
    }

    /// `server.public_url` without a trailing slash.
    pub fn public_url(&self) -> &str {
        self.server.public_url.trim_end_matches('/')
    }
}

fn check_public_url(value: &str) -> Result<(), ConfigError> {
    let accepted = Url::parse(value).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some()
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
    });
    if accepted {
        return Ok(());
    }
    Err(invalid(
        "server.public_url",
        "must be an http or https URL without query or fragment, such as https://ztrisk.example.com",
    ))
}

fn check_range(key: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    Err(invalid(
        key,
        &format!("must be between {min} and {max}, not {value}"),
    ))
}

fn invalid(key: &'static str, problem: &str) -> ConfigError {
    ConfigError::Invalid {
        key,
        problem: problem.to_owned(),
    }
}

fn is_host_name(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let settings = Settings::defaults();

        assert!(settings.validate().is_ok());
        assert_eq!(settings.server.base_path, "/client/v4");
        assert_eq!(
            settings.database_path(),
            Some(PathBuf::from("data/ztrisk.db"))
        );
    }

    #[test]
    fn database_path_decodes_like_sqlx() {
        let path_of = |url: &str| {
            let mut settings = Settings::defaults();
            settings.database.url = url.into();
            settings.database_path()
        };

        let spaced = Some(PathBuf::from("/srv/my data/z.db"));
        assert_eq!(path_of("sqlite:///srv/my%20data/z.db"), spaced);
        assert_eq!(path_of("sqlite:/srv/my%20data/z.db?mode=rwc"), spaced);
        assert_eq!(path_of("sqlite:z.db?mode=memory"), None);
        assert_eq!(path_of("sqlite::memory:"), None);
        assert_eq!(path_of("sqlite://%FF.db"), None);
    }

    #[test]
    fn validate_names_key_of_bad_value() {
        type Change = fn(&mut Settings);
        let cases: [(&str, Change, &str); 11] = [
            (
                "base path",
                |s| s.server.base_path = "client".into(),
                "server.base_path",
            ),
            (
                "trailing slash",
                |s| s.server.base_path = "/v4/".into(),
                "server.base_path",
            ),
            (
                "public url",
                |s| s.server.public_url = "ftp://x".into(),
                "server.public_url",
            ),
            (
                "pool size",
                |s| s.database.pool_size = 0,
                "database.pool_size",
            ),
            (
                "memory db",
                |s| s.database.url = "sqlite::memory:".into(),
                "database.url",
            ),
            (
                "cap",
                |s| s.integrations.max_per_account = 0,
                "integrations.max_per_account",
            ),
            (
                "header timeout",
                |s| s.limits.header_read_timeout_ms = 0,
                "limits.header_read_timeout_ms",
            ),
            (
                "body timeout",
                |s| s.limits.body_read_timeout_ms = 600_001,
                "limits.body_read_timeout_ms",
            ),
            (
                "connections",
                |s| s.limits.max_connections = 0,
                "limits.max_connections",
            ),
            (
                "rate limit requests",
                |s| s.rate_limit.requests = 0,
                "rate_limit.requests",
            ),
            (
                "rate limit period",
                |s| s.rate_limit.period_secs = 0,
                "rate_limit.period_secs",
            ),
        ];
        for (label, change, key) in cases {
            let mut settings = Settings::defaults();
            change(&mut settings);

            let error = settings.validate().expect_err(label).to_string();

            assert!(error.contains(key), "{label}: {error}");
        }
    }
}
