//! Login throttling in Redis, so every API process shares one count: failed logins are
//! counted per account and per client address in a fixed window; at the limit further
//! attempts are refused with 429 before the password is even checked.

use actix_web::http::StatusCode;
use recoup_core::ProblemCode;
use redis::AsyncCommands;

use crate::error::ApiError;
use crate::state::AppState;

pub struct LoginThrottle<'a> {
    state: &'a AppState,
    account_key: String,
    ip_key: String,
}

fn unavailable(e: redis::RedisError) -> ApiError {
    // Fail closed: without the counter, brute force would be unthrottled.
    tracing::error!(error = %e, "redis unavailable for login throttling");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ProblemCode::Unavailable,
        "a backing service is unavailable; retry shortly",
    )
}

impl<'a> LoginThrottle<'a> {
    pub fn new(state: &'a AppState, email: &str, ip: &str) -> Self {
        let email = email.trim().to_lowercase();
        Self {
            state,
            account_key: state.redis_key(&["login-failures", "account", &email]),
            ip_key: state.redis_key(&["login-failures", "ip", ip]),
        }
    }

    /// Refuses when either counter is at its limit.
    pub async fn check(&self) -> Result<(), ApiError> {
        let mut redis = self.state.redis.clone();
        let (account, ip): (Option<u32>, Option<u32>) = redis::pipe()
            .get(&self.account_key)
            .get(&self.ip_key)
            .query_async(&mut redis)
            .await
            .map_err(unavailable)?;
        let config = &self.state.config;
        let blocked = if account.unwrap_or(0) >= config.login_max_failures_per_account {
            Some(&self.account_key)
        } else if ip.unwrap_or(0) >= config.login_max_failures_per_ip {
            Some(&self.ip_key)
        } else {
            None
        };
        if let Some(key) = blocked {
            let ttl: i64 = redis.ttl(key).await.map_err(unavailable)?;
            let mut error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ProblemCode::TooManyLoginAttempts,
                "too many failed logins; wait before trying again",
            );
            error.retry_after = Some(u64::try_from(ttl.max(1)).unwrap_or(1));
            return Err(error);
        }
        Ok(())
    }

    pub async fn failed(&self) -> Result<(), ApiError> {
        let mut redis = self.state.redis.clone();
        let window = i64::try_from(self.state.config.login_failure_window.as_secs()).unwrap_or(900);
        let () = redis::pipe()
            .incr(&self.account_key, 1)
            .ignore()
            .cmd("EXPIRE")
            .arg(&self.account_key)
            .arg(window)
            .arg("NX")
            .ignore()
            .incr(&self.ip_key, 1)
            .ignore()
            .cmd("EXPIRE")
            .arg(&self.ip_key)
            .arg(window)
            .arg("NX")
            .ignore()
            .query_async(&mut redis)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub async fn succeeded(&self) -> Result<(), ApiError> {
        let mut redis = self.state.redis.clone();
        let () = redis.del(&self.account_key).await.map_err(unavailable)?;
        Ok(())
    }
}
