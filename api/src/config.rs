//! Configuration from the environment. Every name is part of the operator contract
//! (README's table); local defaults make `scripts/run` work with no set-up.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Test,
    Production,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub env: Environment,
    pub database_url: String,
    /// A read replica for reports; `None`: reports read the primary.
    pub replica_database_url: Option<String>,
    pub redis_url: String,
    /// Prefix of every Redis key this process writes (tests isolate themselves with it).
    pub redis_prefix: String,
    pub jwt_secret: String,
    pub bind: String,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub db_pool_size: usize,
    pub http_workers: usize,
    pub login_max_failures_per_account: u32,
    pub login_max_failures_per_ip: u32,
    pub login_failure_window: Duration,
    /// Write-offs up to this amount post at once; larger ones wait for a manager.
    pub write_off_approval_threshold: rust_decimal::Decimal,
    /// Largest import file accepted (bytes).
    pub import_max_bytes: u64,
}

/// 1M invoice rows are ~100 MB; room for wide files several times that.
pub const DEFAULT_IMPORT_MAX_BYTES: u64 = 512 * 1024 * 1024;

pub const DEV_JWT_SECRET: &str = "recoup-development-secret-do-not-use-in-production";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set; it is required when RECOUP_ENV=production")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

fn number<T: std::str::FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("{v:?} is not a number"),
        }),
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests); blank
    /// values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let env = match var("RECOUP_ENV").as_deref() {
            None | Some("development") => Environment::Development,
            Some("test") => Environment::Test,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "RECOUP_ENV",
                    reason: format!("{other:?}: use development, test or production"),
                });
            }
        };
        let production = env == Environment::Production;
        let jwt_secret = match var("RECOUP_JWT_SECRET") {
            Some(s) => s,
            None if production => return Err(ConfigError::Missing("RECOUP_JWT_SECRET")),
            None => DEV_JWT_SECRET.to_owned(),
        };
        if production && (jwt_secret == DEV_JWT_SECRET || jwt_secret.len() < 32) {
            return Err(ConfigError::Invalid {
                name: "RECOUP_JWT_SECRET",
                reason: "must be at least 32 bytes and not the development default".into(),
            });
        }
        let database_url = match var("RECOUP_DATABASE_URL") {
            Some(u) => u,
            None if production => return Err(ConfigError::Missing("RECOUP_DATABASE_URL")),
            None => "postgres://postgres:postgres@127.0.0.1:5432/recoup".to_owned(),
        };
        let admin_password = var("RECOUP_ADMIN_PASSWORD");
        if let Some(Err(reason)) = admin_password
            .as_deref()
            .map(recoup_core::password::check_strength)
        {
            return Err(ConfigError::Invalid {
                name: "RECOUP_ADMIN_PASSWORD",
                reason: reason.into(),
            });
        }
        let cpus = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(2);
        Ok(Config {
            env,
            database_url,
            replica_database_url: var("RECOUP_REPLICA_DATABASE_URL"),
            redis_url: var("RECOUP_REDIS_URL")
                .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned()),
            redis_prefix: var("RECOUP_REDIS_PREFIX").unwrap_or_else(|| "recoup".to_owned()),
            jwt_secret,
            bind: var("RECOUP_BIND").unwrap_or_else(|| "127.0.0.1:8080".to_owned()),
            admin_email: var("RECOUP_ADMIN_EMAIL"),
            admin_password,
            access_token_ttl: Duration::from_secs(number(
                &var,
                "RECOUP_ACCESS_TOKEN_TTL_SECS",
                900,
            )?),
            refresh_token_ttl: Duration::from_secs(number(
                &var,
                "RECOUP_REFRESH_TOKEN_TTL_SECS",
                30 * 24 * 3600,
            )?),
            db_pool_size: number(&var, "RECOUP_DB_POOL_SIZE", 16)?,
            http_workers: number(&var, "RECOUP_HTTP_WORKERS", cpus)?,
            login_max_failures_per_account: number(
                &var,
                "RECOUP_LOGIN_MAX_FAILURES_PER_ACCOUNT",
                5,
            )?,
            login_max_failures_per_ip: number(&var, "RECOUP_LOGIN_MAX_FAILURES_PER_IP", 50)?,
            login_failure_window: Duration::from_secs(number(
                &var,
                "RECOUP_LOGIN_FAILURE_WINDOW_SECS",
                900,
            )?),
            write_off_approval_threshold: number(
                &var,
                "RECOUP_WRITE_OFF_APPROVAL_THRESHOLD",
                rust_decimal::Decimal::new(50_000, 2),
            )?,
            import_max_bytes: number(&var, "RECOUP_IMPORT_MAX_BYTES", DEFAULT_IMPORT_MAX_BYTES)?,
        })
    }

    /// A configuration for tests and tools: local services, development secret.
    pub fn local(database_url: &str, redis_prefix: &str) -> Self {
        Config {
            env: Environment::Test,
            database_url: database_url.to_owned(),
            replica_database_url: None,
            redis_url: "redis://127.0.0.1:6379".to_owned(),
            redis_prefix: redis_prefix.to_owned(),
            jwt_secret: DEV_JWT_SECRET.to_owned(),
            bind: "127.0.0.1:0".to_owned(),
            admin_email: None,
            admin_password: None,
            access_token_ttl: Duration::from_secs(900),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            db_pool_size: 4,
            http_workers: 1,
            login_max_failures_per_account: 5,
            login_max_failures_per_ip: 50,
            login_failure_window: Duration::from_secs(900),
            write_off_approval_threshold: rust_decimal::Decimal::new(50_000, 2),
            import_max_bytes: DEFAULT_IMPORT_MAX_BYTES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const SECRET: &str = "a-real-secret-of-at-least-thirty-two-bytes";
    const DB: &str = "postgres://recoup@db.internal/recoup";

    #[test]
    fn development_runs_on_defaults() {
        let config = with(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.env, Environment::Development);
        assert_eq!(config.bind, "127.0.0.1:8080");
        assert_eq!(config.jwt_secret, DEV_JWT_SECRET);
        assert_eq!(config.access_token_ttl, Duration::from_secs(900));
        assert_eq!(
            config.write_off_approval_threshold,
            rust_decimal::Decimal::new(50_000, 2)
        );
    }

    #[test]
    fn production_refuses_to_start_without_real_secrets() {
        let prod = ("RECOUP_ENV", "production");
        assert!(matches!(
            with(&[prod, ("RECOUP_DATABASE_URL", DB)]),
            Err(ConfigError::Missing("RECOUP_JWT_SECRET"))
        ));
        assert!(matches!(
            with(&[
                prod,
                ("RECOUP_DATABASE_URL", DB),
                ("RECOUP_JWT_SECRET", "  ")
            ]),
            Err(ConfigError::Missing("RECOUP_JWT_SECRET"))
        ));
        assert!(matches!(
            with(&[
                prod,
                ("RECOUP_DATABASE_URL", DB),
                ("RECOUP_JWT_SECRET", DEV_JWT_SECRET)
            ]),
            Err(ConfigError::Invalid {
                name: "RECOUP_JWT_SECRET",
                ..
            })
        ));
        assert!(matches!(
            with(&[
                prod,
                ("RECOUP_DATABASE_URL", DB),
                ("RECOUP_JWT_SECRET", "short")
            ]),
            Err(ConfigError::Invalid {
                name: "RECOUP_JWT_SECRET",
                ..
            })
        ));
        assert!(matches!(
            with(&[prod, ("RECOUP_JWT_SECRET", SECRET)]),
            Err(ConfigError::Missing("RECOUP_DATABASE_URL"))
        ));
        let ok = with(&[
            prod,
            ("RECOUP_JWT_SECRET", SECRET),
            ("RECOUP_DATABASE_URL", DB),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.env, Environment::Production);
        assert_eq!(ok.database_url, DB);
    }

    #[test]
    fn bad_values_are_named() {
        assert!(matches!(
            with(&[("RECOUP_ENV", "staging")]),
            Err(ConfigError::Invalid {
                name: "RECOUP_ENV",
                ..
            })
        ));
        assert!(matches!(
            with(&[("RECOUP_DB_POOL_SIZE", "lots")]),
            Err(ConfigError::Invalid {
                name: "RECOUP_DB_POOL_SIZE",
                ..
            })
        ));
        assert!(matches!(
            with(&[("RECOUP_ADMIN_PASSWORD", "short")]),
            Err(ConfigError::Invalid {
                name: "RECOUP_ADMIN_PASSWORD",
                ..
            })
        ));
        assert!(matches!(
            with(&[("RECOUP_WRITE_OFF_APPROVAL_THRESHOLD", "1,000")]),
            Err(ConfigError::Invalid {
                name: "RECOUP_WRITE_OFF_APPROVAL_THRESHOLD",
                ..
            })
        ));
    }
}
