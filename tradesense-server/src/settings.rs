//! Settings: every variable of the configuration table in docs/API.md, read from
//! the environment (and a `.env` file in the working directory), parsed once
//! at start, so a bad value fails fast with the variable's name and never
//! its value.
//!
//! Secrets are [`SecretString`]s and URLs with credentials are
//! [`RedactedUrl`]s: `Debug` of [`Settings`] never prints one.

use ipnet::IpNet;
use rand::distr::{Alphanumeric, SampleString};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tradesense_core::auth::{SessionConfig, TokenKeys};
use tradesense_core::passkeys::{CHALLENGE_TTL, RelyingParty, RelyingPartyError};
use tradesense_core::store::DbOptions;
pub use tradesense_core::telemetry::LogFormat;

/// The minimum length of `SECRET_KEY` and `JWT_SECRET_KEY`.
pub const MIN_SECRET_LEN: usize = 32;

/// Where the process runs; production hardens the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local development: ephemeral keys allowed, pretty logs.
    Development,
    /// Production: secrets mandatory, `Secure` cookies, JSON logs.
    Production,
}

/// A URL that may carry a password (`postgres://user:pw@host/db`). `Debug`
/// and `Display` show it with the password replaced by `***`.
#[derive(Clone)]
pub struct RedactedUrl(SecretString);

impl RedactedUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(SecretString::from(url.into()))
    }

    /// The URL with its credentials, for the one place that connects.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL without its password.
    pub fn redacted(&self) -> String {
        match url::Url::parse(self.expose()) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("***"));
                url.to_string()
            }
            Ok(url) => url.to_string(),
            Err(_) => "<unparsable url>".to_owned(),
        }
    }
}

impl fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// A setting that could not be used. Names the variable, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable}: {reason}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

fn config_error(variable: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        reason: reason.into(),
    }
}

/// Everything the server and the library's components are configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `ENVIRONMENT`.
    pub environment: Environment,
    /// `BIND_ADDR`.
    pub bind_addr: SocketAddr,
    /// `DATABASE_URL`: `sqlite://...` or `postgres://...`.
    pub database_url: RedactedUrl,
    /// `DATABASE_MAX_CONNECTIONS`.
    pub database_max_connections: u32,
    /// `DATABASE_ACQUIRE_TIMEOUT_SECONDS`: how long a request waits for a
    /// pooled connection before failing (default 5).
    pub database_acquire_timeout: Duration,
    /// `REDIS_URL`: unset means the in-process cache only.
    pub redis_url: Option<RedactedUrl>,
    /// `SECRET_KEY`: derives the key that encrypts MFA secrets at rest.
    pub secret_key: SecretString,
    /// `JWT_SECRET_KEY`: signs access tokens.
    pub jwt_secret_key: SecretString,
    /// `JWT_PREVIOUS_SECRET_KEYS`: comma-separated keys still accepted for
    /// verification after a rotation.
    pub jwt_previous_secret_keys: Vec<SecretString>,
    /// The variables that were missing in development and replaced by an
    /// ephemeral random key (the caller warns loudly about each).
    pub ephemeral_secrets: Vec<&'static str>,
    /// `ACCESS_TOKEN_TTL_SECONDS`: a session's absolute lifetime.
    pub access_token_ttl: Duration,
    /// `SESSION_IDLE_TIMEOUT_SECONDS` (default 8 h; `0` = `None`, no idle
    /// timeout): a session without a request this long is over.
    pub session_idle_timeout: Option<Duration>,
    /// `CORS_ORIGINS`.
    pub cors_origins: Vec<String>,
    /// `RATE_LIMIT_PER_MINUTE` (0 = off).
    pub rate_limit_per_minute: u32,
    /// `AUTH_RATE_LIMIT_PER_MINUTE` (0 = off).
    pub auth_rate_limit_per_minute: u32,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `MAX_BODY_BYTES` (default 1 MiB).
    pub max_body_bytes: usize,
    /// `REQUEST_TIMEOUT_SECONDS` (default 30): a request taking longer is
    /// answered `503`.
    pub request_timeout: Duration,
    /// `HEADER_READ_TIMEOUT_SECONDS` (default 10): slowloris protection.
    pub header_read_timeout: Duration,
    /// `MAX_CONNECTIONS` (default 1024): connections beyond this wait in the
    /// kernel's accept queue.
    pub max_connections: usize,
    /// `SHUTDOWN_GRACE_SECONDS` (default 30): how long in-flight requests may
    /// run after SIGTERM.
    pub shutdown_grace: Duration,
    /// `WEBAUTHN_ORIGIN` (default `http://localhost:<port of BIND_ADDR>`),
    /// `WEBAUTHN_RP_ID` (default: the origin's host), `WEBAUTHN_RP_NAME`
    /// (default `TradeSense`): the relying party of passkeys.
    pub relying_party: RelyingParty,
    /// How long a passkey ceremony may take: 5 minutes, not configurable
    /// from the environment (tests shorten it to see expiry).
    pub passkey_challenge_ttl: Duration,
}

impl Settings {
    /// Reads `.env` (if present; real environment variables win) and then
    /// the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is worth failing on.
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(err) if err.not_found() => {}
            Err(err) => return Err(config_error(".env", err.to_string())),
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds settings from any variable source (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let environment = match get("ENVIRONMENT").as_deref().map(str::trim) {
            None => Environment::Development,
            Some(value) if value.eq_ignore_ascii_case("development") => Environment::Development,
            Some(value) if value.eq_ignore_ascii_case("production") => Environment::Production,
            Some(_) => {
                return Err(config_error(
                    "ENVIRONMENT",
                    "must be `development` or `production`",
                ));
            }
        };
        let mut ephemeral_secrets = Vec::new();
        let mut secret = |name: &'static str| -> Result<SecretString, ConfigError> {
            match get(name) {
                Some(value) if value.chars().count() >= MIN_SECRET_LEN => Ok(value.into()),
                Some(_) if environment == Environment::Production => Err(config_error(
                    name,
                    format!("must be at least {MIN_SECRET_LEN} characters in production"),
                )),
                None if environment == Environment::Production => {
                    Err(config_error(name, "is required in production"))
                }
                _ => {
                    ephemeral_secrets.push(name);
                    Ok(Alphanumeric.sample_string(&mut rand::rng(), 64).into())
                }
            }
        };
        let secret_key = secret("SECRET_KEY")?;
        let mut jwt_secret_key = secret("JWT_SECRET_KEY")?;
        // One key for two jobs (sealing MFA secrets, signing tokens) would
        // make a leak of either a leak of both.
        if secret_key.expose_secret() == jwt_secret_key.expose_secret() {
            if environment == Environment::Production {
                return Err(config_error(
                    "SECRET_KEY",
                    "must differ from JWT_SECRET_KEY in production",
                ));
            }
            // Development: the signing key is the one to replace (tokens
            // die at restart; MFA secrets sealed under SECRET_KEY survive).
            ephemeral_secrets.push("JWT_SECRET_KEY");
            jwt_secret_key = Alphanumeric.sample_string(&mut rand::rng(), 64).into();
        }
        let jwt_previous_secret_keys = get("JWT_PREVIOUS_SECRET_KEYS")
            .map(|value| {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|key| !key.is_empty())
                    .map(|key| {
                        if key.chars().count() < MIN_SECRET_LEN {
                            Err(config_error(
                                "JWT_PREVIOUS_SECRET_KEYS",
                                format!("every key must be at least {MIN_SECRET_LEN} characters"),
                            ))
                        } else {
                            Ok(SecretString::from(key.to_owned()))
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        if environment == Environment::Production
            && jwt_previous_secret_keys
                .iter()
                .any(|key| key.expose_secret() == secret_key.expose_secret())
        {
            return Err(config_error(
                "JWT_PREVIOUS_SECRET_KEYS",
                "must not contain SECRET_KEY in production",
            ));
        }

        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://tradesense.db".into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(config_error(
                "DATABASE_URL",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        let redis_url = get("REDIS_URL")
            .map(|value| {
                if value.starts_with("redis://") || value.starts_with("rediss://") {
                    Ok(RedactedUrl::new(value))
                } else {
                    Err(config_error(
                        "REDIS_URL",
                        "must start with redis:// or rediss://",
                    ))
                }
            })
            .transpose()?;

        let cors_origins = list(get("CORS_ORIGINS"))
            .map(|origin| {
                let origin = origin.trim_end_matches('/');
                match url::Url::parse(origin) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") && url.path() == "/" => {
                        Ok(origin.to_owned())
                    }
                    _ => Err(config_error(
                        "CORS_ORIGINS",
                        "each entry must be an origin like https://app.example.com",
                    )),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let trusted_proxies = list(get("TRUSTED_PROXIES"))
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        config_error("TRUSTED_PROXIES", "each entry must be an IP or CIDR")
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let log_format = match get("LOG_FORMAT").as_deref() {
            None if environment == Environment::Production => LogFormat::Json,
            None => LogFormat::Pretty,
            Some(value) if value.eq_ignore_ascii_case("json") => LogFormat::Json,
            Some(value) if value.eq_ignore_ascii_case("pretty") => LogFormat::Pretty,
            Some(_) => return Err(config_error("LOG_FORMAT", "must be `pretty` or `json`")),
        };

        let number = |name: &'static str, default: u64, min: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(value) => match value.trim().parse::<u64>() {
                    Ok(n) if n >= min => Ok(n),
                    Ok(_) => Err(config_error(name, format!("must be at least {min}"))),
                    Err(_) => Err(config_error(name, "must be a whole number")),
                },
            }
        };
        let seconds =
            |name: &'static str, default: u64| number(name, default, 1).map(Duration::from_secs);
        let as_u32 = |name: &'static str, n: u64| {
            u32::try_from(n).map_err(|_| config_error(name, "is too large"))
        };

        let bind_addr: SocketAddr = get("BIND_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8000".into())
            .trim()
            .parse()
            .map_err(|_| config_error("BIND_ADDR", "must be an address like 127.0.0.1:8000"))?;
        let relying_party = relying_party(&get, bind_addr)?;

        Ok(Self {
            environment,
            bind_addr,
            database_url: RedactedUrl::new(database_url),
            database_max_connections: as_u32(
                "DATABASE_MAX_CONNECTIONS",
                number("DATABASE_MAX_CONNECTIONS", 20, 1)?,
            )?,
            database_acquire_timeout: seconds("DATABASE_ACQUIRE_TIMEOUT_SECONDS", 5)?,
            redis_url,
            secret_key,
            jwt_secret_key,
            jwt_previous_secret_keys,
            ephemeral_secrets,
            access_token_ttl: seconds("ACCESS_TOKEN_TTL_SECONDS", 86_400)?,
            session_idle_timeout: Some(number("SESSION_IDLE_TIMEOUT_SECONDS", 8 * 60 * 60, 0)?)
                .filter(|&secs| secs > 0)
                .map(Duration::from_secs),
            cors_origins,
            rate_limit_per_minute: as_u32(
                "RATE_LIMIT_PER_MINUTE",
                number("RATE_LIMIT_PER_MINUTE", 100, 0)?,
            )?,
            auth_rate_limit_per_minute: as_u32(
                "AUTH_RATE_LIMIT_PER_MINUTE",
                number("AUTH_RATE_LIMIT_PER_MINUTE", 5, 0)?,
            )?,
            trusted_proxies,
            log_format,
            max_body_bytes: usize::try_from(number("MAX_BODY_BYTES", 1024 * 1024, 1)?)
                .map_err(|_| config_error("MAX_BODY_BYTES", "is too large"))?,
            request_timeout: seconds("REQUEST_TIMEOUT_SECONDS", 30)?,
            header_read_timeout: seconds("HEADER_READ_TIMEOUT_SECONDS", 10)?,
            max_connections: usize::try_from(number("MAX_CONNECTIONS", 1024, 1)?)
                .map_err(|_| config_error("MAX_CONNECTIONS", "is too large"))?,
            shutdown_grace: seconds("SHUTDOWN_GRACE_SECONDS", 30)?,
            relying_party,
            passkey_challenge_ttl: CHALLENGE_TTL,
        })
    }

    /// Settings for tests and examples: development, the given database,
    /// fixed non-secret keys, limits off.
    pub fn for_tests(database_url: &str) -> Self {
        let vars = [
            ("DATABASE_URL", database_url),
            ("SECRET_KEY", "test-secret-key-test-secret-key-0123456789"),
            (
                "JWT_SECRET_KEY",
                "test-jwt-key-test-jwt-key-test-jwt-key-0123",
            ),
            ("BIND_ADDR", "127.0.0.1:0"),
            ("RATE_LIMIT_PER_MINUTE", "0"),
            ("AUTH_RATE_LIMIT_PER_MINUTE", "0"),
        ];
        Self::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
        .expect("test settings are valid")
    }

    /// Whether cookies get the `Secure` attribute.
    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }

    /// How the store connects: `DATABASE_URL`, `DATABASE_MAX_CONNECTIONS`,
    /// `DATABASE_ACQUIRE_TIMEOUT_SECONDS`.
    pub fn db_options(&self) -> DbOptions {
        DbOptions::new(self.database_url.expose())
            .max_connections(self.database_max_connections)
            .acquire_timeout(self.database_acquire_timeout)
    }

    /// The session rules: `SESSION_IDLE_TIMEOUT_SECONDS`, with the core's
    /// default coarseness of `last_seen_at`.
    pub fn session_config(&self) -> SessionConfig {
        SessionConfig {
            idle_timeout: self.session_idle_timeout,
            ..SessionConfig::default()
        }
    }

    /// Token keys from `JWT_SECRET_KEY`, `JWT_PREVIOUS_SECRET_KEYS` and
    /// `ACCESS_TOKEN_TTL_SECONDS`, with the default issuer and audiences.
    pub fn token_keys(&self) -> TokenKeys {
        let previous: Vec<&[u8]> = self
            .jwt_previous_secret_keys
            .iter()
            .map(|key| key.expose_secret().as_bytes())
            .collect();
        TokenKeys::new(
            self.jwt_secret_key.expose_secret().as_bytes(),
            &previous,
            self.access_token_ttl,
        )
    }
}

/// The relying party from `WEBAUTHN_*`, each error naming its variable.
/// The default origin is a host name, not the listen IP: an RP ID cannot
/// be an IP address.
fn relying_party(
    get: &impl Fn(&str) -> Option<String>,
    bind_addr: SocketAddr,
) -> Result<RelyingParty, ConfigError> {
    let origin =
        get("WEBAUTHN_ORIGIN").unwrap_or_else(|| format!("http://localhost:{}", bind_addr.port()));
    let rp_id = get("WEBAUTHN_RP_ID");
    let name = get("WEBAUTHN_RP_NAME").unwrap_or_else(|| "TradeSense".to_owned());
    RelyingParty::new(&origin, rp_id.as_deref(), &name).map_err(|err| {
        let variable = match err {
            RelyingPartyError::Origin(_) => "WEBAUTHN_ORIGIN",
            RelyingPartyError::RpId(_) => "WEBAUTHN_RP_ID",
            RelyingPartyError::RpName(_) => "WEBAUTHN_RP_NAME",
        };
        let reason = match err {
            RelyingPartyError::Origin(reason)
            | RelyingPartyError::RpId(reason)
            | RelyingPartyError::RpName(reason) => reason,
        };
        config_error(variable, reason)
    })
}

fn list(value: Option<String>) -> impl Iterator<Item = String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(|entry| entry.trim().to_owned())
        .filter(|entry| !entry.is_empty())
        .collect::<Vec<_>>()
        .into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_are_the_embedded_development_setup() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.bind_addr.to_string(), "127.0.0.1:8000");
        assert_eq!(s.database_url.expose(), "sqlite://tradesense.db");
        assert_eq!(s.database_max_connections, 20);
        assert_eq!(s.ephemeral_secrets, ["SECRET_KEY", "JWT_SECRET_KEY"]);
        assert_eq!(s.rate_limit_per_minute, 100);
        assert_eq!(s.auth_rate_limit_per_minute, 5);
        assert_eq!(s.log_format, LogFormat::Pretty);
    }

    #[test]
    fn production_requires_long_secrets_and_names_them_not_their_value() {
        let err = settings(&[("ENVIRONMENT", "production")]).unwrap_err();
        assert_eq!(err.variable, "SECRET_KEY");
        let err = settings(&[
            ("ENVIRONMENT", "production"),
            ("SECRET_KEY", "a-secret-that-is-long-enough-0123456789"),
            ("JWT_SECRET_KEY", "short-jwt-value"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "JWT_SECRET_KEY");
        assert!(!err.to_string().contains("short-jwt-value"));
    }

    #[test]
    fn production_refuses_one_key_for_both_jobs_naming_both_variables() {
        let same = "the-same-secret-for-both-jobs-0123456789";
        let err = settings(&[
            ("ENVIRONMENT", "production"),
            ("SECRET_KEY", same),
            ("JWT_SECRET_KEY", same),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "SECRET_KEY");
        let message = err.to_string();
        assert!(message.contains("JWT_SECRET_KEY"), "{message}");
        assert!(!message.contains(same), "{message}");
        let err = settings(&[
            ("ENVIRONMENT", "production"),
            ("SECRET_KEY", same),
            ("JWT_SECRET_KEY", "a-different-jwt-secret-0123456789abcdef"),
            ("JWT_PREVIOUS_SECRET_KEYS", same),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "JWT_PREVIOUS_SECRET_KEYS");
        assert!(!err.to_string().contains(same));
        // Development: the signing key is replaced, loudly.
        let s = settings(&[("SECRET_KEY", same), ("JWT_SECRET_KEY", same)]).unwrap();
        assert_eq!(s.ephemeral_secrets, ["JWT_SECRET_KEY"]);
        assert_eq!(s.secret_key.expose_secret(), same);
        assert_ne!(s.jwt_secret_key.expose_secret(), same);
    }

    #[test]
    fn the_idle_timeout_defaults_to_eight_hours_and_zero_is_off() {
        assert_eq!(
            settings(&[]).unwrap().session_idle_timeout,
            Some(Duration::from_secs(28_800))
        );
        let off = settings(&[("SESSION_IDLE_TIMEOUT_SECONDS", "0")]).unwrap();
        assert_eq!(off.session_idle_timeout, None);
        assert_eq!(off.session_config().idle_timeout, None);
        let short = settings(&[("SESSION_IDLE_TIMEOUT_SECONDS", "600")]).unwrap();
        assert_eq!(
            short.session_config().idle_timeout,
            Some(Duration::from_secs(600))
        );
        let err = settings(&[("SESSION_IDLE_TIMEOUT_SECONDS", "soon")]).unwrap_err();
        assert_eq!(err.variable, "SESSION_IDLE_TIMEOUT_SECONDS");
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("BIND_ADDR", "not an address"),
            ("DATABASE_MAX_CONNECTIONS", "abc"),
            ("ENVIRONMENT", "staging"),
            ("DATABASE_URL", "mysql://x"),
            ("TRUSTED_PROXIES", "10.0.0.0/99"),
            ("CORS_ORIGINS", "not-an-origin"),
        ] {
            let err = settings(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{err}");
        }
    }

    #[test]
    fn debug_redacts_secrets_and_url_passwords() {
        let s = settings(&[
            ("SECRET_KEY", "super-secret-value-that-is-long-enough"),
            ("JWT_SECRET_KEY", "jwt-secret-value-that-is-long-enough!!"),
            ("DATABASE_URL", "postgres://app:hunter2pw@db:5432/ts"),
            ("REDIS_URL", "redis://:redispw99@cache:6379"),
        ])
        .unwrap();
        let debug = format!("{s:?}");
        for secret in [
            "super-secret-value",
            "jwt-secret-value",
            "hunter2pw",
            "redispw99",
        ] {
            assert!(!debug.contains(secret), "{secret} leaked in {debug}");
        }
        assert!(debug.contains("postgres://app:***@db:5432/ts"));
    }

    #[test]
    fn the_relying_party_defaults_to_localhost_on_the_bind_port() {
        let s = settings(&[("BIND_ADDR", "0.0.0.0:8123")]).unwrap();
        assert_eq!(s.relying_party.origin_str(), "http://localhost:8123");
        assert_eq!(s.relying_party.id(), "localhost");
        assert_eq!(s.relying_party.name(), "TradeSense");
        let s = settings(&[
            ("WEBAUTHN_ORIGIN", "https://app.tradesense.example"),
            ("WEBAUTHN_RP_ID", "tradesense.example"),
            ("WEBAUTHN_RP_NAME", "TradeSense Staging"),
        ])
        .unwrap();
        assert_eq!(s.relying_party.id(), "tradesense.example");
        assert_eq!(s.relying_party.name(), "TradeSense Staging");
        for (vars, variable) in [
            (
                &[("WEBAUTHN_ORIGIN", "http://127.0.0.1:8000")][..],
                "WEBAUTHN_ORIGIN",
            ),
            (
                &[("WEBAUTHN_ORIGIN", "http://app.example.com")][..],
                "WEBAUTHN_ORIGIN",
            ),
            (
                &[
                    ("WEBAUTHN_ORIGIN", "https://app.example.com"),
                    ("WEBAUTHN_RP_ID", "evil.example"),
                ][..],
                "WEBAUTHN_RP_ID",
            ),
            (&[("WEBAUTHN_RP_ID", "10.0.0.1")][..], "WEBAUTHN_RP_ID"),
        ] {
            let err = settings(vars).unwrap_err();
            assert_eq!(err.variable, variable, "{err}");
        }
    }

    #[test]
    fn lists_and_zero_limits_parse() {
        let s = settings(&[
            (
                "CORS_ORIGINS",
                "https://app.example.com, http://localhost:3000/",
            ),
            ("TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1"),
            ("RATE_LIMIT_PER_MINUTE", "0"),
        ])
        .unwrap();
        assert_eq!(
            s.cors_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert_eq!(s.trusted_proxies.len(), 2);
        assert_eq!(s.rate_limit_per_minute, 0);
    }
}
