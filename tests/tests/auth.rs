//! Login, refresh rotation and reuse detection, logout, token validation, throttling,
//! API keys and their scopes, /v1/me and /v1/users.

use anyhow::Result;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use recoup_api::config::DEV_JWT_SECRET;
use recoup_core::user::Role;
use recoup_e2e::{ROLES, TestApp, expect_problem, read};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_returns_the_documented_token_pair_and_me_answers() -> Result<()> {
    let app = TestApp::spawn().await?;
    let manager = app.user(Role::Manager).await?;
    let tokens = app
        .login(&manager.email.to_uppercase(), &manager.password)
        .await?;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(
        tokens["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );
    assert!(
        tokens["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 40)
    );

    let res = app.as_user(&manager, Method::GET, "/v1/me").send().await?;
    let etag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, me) = read(res).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], manager.email.as_str());
    assert_eq!(me["role"], "manager");
    assert!(me.get("password_hash").is_none());
    let etag = etag.unwrap_or_default();
    let res = app
        .as_user(&manager, Method::GET, "/v1/me")
        .header("if-none-match", &etag)
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(app.audit_count("session.login").await?, 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_failures_are_uniform_and_throttled() -> Result<()> {
    let app = TestApp::spawn_with(|c| c.login_max_failures_per_account = 3).await?;
    let user = app.user(Role::Collector).await?;
    let attempt = |email: String, password: String| {
        app.anon(Method::POST, "/v1/auth/login")
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    let unknown = expect_problem(
        attempt("nobody@recoup.test".into(), "whatever-password".into()).await?,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await?;
    let wrong = expect_problem(
        attempt(user.email.clone(), "wrong-password-123".into()).await?,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await?;
    assert_eq!(unknown["detail"], wrong["detail"], "no user enumeration");

    // Two more failures reach the per-account limit of 3; then even the right password waits.
    for _ in 0..2 {
        expect_problem(
            attempt(user.email.clone(), "wrong-password-123".into()).await?,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await?;
    }
    let res = attempt(user.email.clone(), user.password.clone()).await?;
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    expect_problem(
        res,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_login_attempts",
    )
    .await?;
    assert!(
        retry_after.is_some_and(|s| s > 0 && s <= 900),
        "{retry_after:?}"
    );
    // Another account from the same address is not blocked by this account's count.
    let other = app.user(Role::Sales).await?;
    assert!(app.login(&other.email, &other.password).await.is_ok());

    // An inactive user fails like a wrong password.
    let admin = app.admin().await?;
    let res = app
        .as_user(admin, Method::PATCH, &format!("/v1/users/{}", other.id))
        .json(&json!({"active": false}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    expect_problem(
        attempt(other.email.clone(), other.password.clone()).await?,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_ip_throttle_spans_accounts() -> Result<()> {
    let app = TestApp::spawn_with(|c| c.login_max_failures_per_ip = 4).await?;
    for i in 0..4 {
        let res = app
            .anon(Method::POST, "/v1/auth/login")
            .json(&json!({"email": format!("x{i}@recoup.test"), "password": "wrong-password-1"}))
            .send()
            .await?;
        expect_problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await?;
    }
    let res = app
        .anon(Method::POST, "/v1/auth/login")
        .json(&json!({"email": "y@recoup.test", "password": "wrong-password-1"}))
        .send()
        .await?;
    expect_problem(
        res,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_login_attempts",
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_reuse_revokes_the_family() -> Result<()> {
    let app = TestApp::spawn().await?;
    let user = app.user(Role::Collector).await?;
    let refresh = |token: String| {
        app.anon(Method::POST, "/v1/auth/refresh")
            .json(&json!({"refresh_token": token}))
            .send()
    };

    let (status, second) = read(refresh(user.refresh_token.clone()).await?).await?;
    assert_eq!(status, StatusCode::OK);
    let second_refresh = second["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(second_refresh, user.refresh_token);
    let res = app
        .anon(Method::GET, "/v1/me")
        .bearer_auth(second["access_token"].as_str().unwrap_or_default())
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);

    // The first token was spent: presenting it again is theft, and kills the family...
    expect_problem(
        refresh(user.refresh_token.clone()).await?,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await?;
    // ...so even the legitimately rotated token no longer works.
    expect_problem(
        refresh(second_refresh).await?,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await?;
    assert_eq!(app.audit_count("session.reuse_detected").await?, 1);
    // Another login is a separate family and unaffected.
    let fresh = app.login(&user.email, &user.password).await?;
    let (status, _) = read(
        refresh(
            fresh["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
        .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    expect_problem(
        refresh("not-a-token".into()).await?,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_expire_by_the_clock() -> Result<()> {
    let app = TestApp::spawn().await?;
    let user = app.user(Role::Sales).await?;
    app.clock.advance(chrono::Duration::days(31));
    let res = app
        .anon(Method::POST, "/v1/auth/refresh")
        .json(&json!({"refresh_token": user.refresh_token}))
        .send()
        .await?;
    expect_problem(res, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session() -> Result<()> {
    let app = TestApp::spawn().await?;
    let user = app.user(Role::Accountant).await?;
    let res = app
        .as_user(&user, Method::POST, "/v1/auth/logout")
        .json(&json!({"refresh_token": user.refresh_token}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .anon(Method::POST, "/v1/auth/refresh")
        .json(&json!({"refresh_token": user.refresh_token}))
        .send()
        .await?;
    expect_problem(res, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await?;
    // Idempotent.
    let res = app
        .as_user(&user, Method::POST, "/v1/auth/logout")
        .json(&json!({"refresh_token": user.refresh_token}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.audit_count("session.logout").await?, 1);
    // Another user's token cannot be logged out by someone else.
    let other = app.user(Role::Sales).await?;
    let res = app
        .as_user(&user, Method::POST, "/v1/auth/logout")
        .json(&json!({"refresh_token": other.refresh_token}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .anon(Method::POST, "/v1/auth/refresh")
        .json(&json!({"refresh_token": other.refresh_token}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .anon(Method::POST, "/v1/auth/logout")
        .json(&json!({"refresh_token": user.refresh_token}))
        .send()
        .await?;
    expect_problem(res, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    Ok(())
}

fn forge(header: Header, claims: serde_json::Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_access_tokens_are_refused() -> Result<()> {
    let app = TestApp::spawn().await?;
    let user = app.user(Role::Manager).await?;
    let now = app.clock_now().timestamp();
    let good = json!({"sub": user.id, "role": "manager", "iss": "recoup", "aud": "recoup-api", "iat": now, "exp": now + 600});
    let secret = DEV_JWT_SECRET.as_bytes();
    let me = |token: String| app.anon(Method::GET, "/v1/me").bearer_auth(token).send();

    // The forged-but-valid baseline passes, so each refusal below is about its one flaw.
    assert_eq!(
        me(forge(Header::new(Algorithm::HS256), good.clone(), secret))
            .await?
            .status(),
        StatusCode::OK
    );

    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("someone-else");
    expect_problem(
        me(forge(Header::new(Algorithm::HS256), wrong_aud, secret)).await?,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await?;
    let mut wrong_iss = good.clone();
    wrong_iss["iss"] = json!("evil");
    expect_problem(
        me(forge(Header::new(Algorithm::HS256), wrong_iss, secret)).await?,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await?;
    let mut no_exp = good.clone();
    no_exp.as_object_mut().map(|o| o.remove("exp"));
    expect_problem(
        me(forge(Header::new(Algorithm::HS256), no_exp, secret)).await?,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await?;
    let mut no_role = good.clone();
    no_role.as_object_mut().map(|o| o.remove("role"));
    expect_problem(
        me(forge(Header::new(Algorithm::HS256), no_role, secret)).await?,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await?;
    // Same secret, other algorithm: the algorithm is pinned.
    expect_problem(
        me(forge(Header::new(Algorithm::HS512), good.clone(), secret)).await?,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await?;
    // Wrong key.
    expect_problem(
        me(forge(
            Header::new(Algorithm::HS256),
            good.clone(),
            b"another-secret-of-sufficient-length!!",
        ))
        .await?,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await?;
    // alg: none, unsigned.
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    expect_problem(
        me(unsigned).await?,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await?;
    expect_problem(
        me("garbage".into()).await?,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await?;

    // Expiry follows the injected clock: the real token dies 15 minutes after login.
    assert_eq!(
        app.as_user(&user, Method::GET, "/v1/me")
            .send()
            .await?
            .status(),
        StatusCode::OK
    );
    app.clock.advance(chrono::Duration::minutes(15));
    expect_problem(
        app.as_user(&user, Method::GET, "/v1/me").send().await?,
        StatusCode::UNAUTHORIZED,
        "token_expired",
    )
    .await?;

    let res = app
        .anon(Method::GET, "/v1/me")
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await?;
    expect_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await?;
    let res = app.anon(Method::GET, "/v1/me").send().await?;
    assert_eq!(
        res.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    expect_problem(res, StatusCode::UNAUTHORIZED, "unauthenticated").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_shown_once_scoped_and_revocable() -> Result<()> {
    let app = TestApp::spawn().await?;
    let admin = app.admin().await?;
    let (status, created) = read(
        app.as_user(admin, Method::POST, "/v1/api-keys")
            .json(&json!({"name": "ERP sync", "scopes": ["customers:read"]}))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED);
    let key = created["key"].as_str().unwrap_or_default().to_owned();
    assert!(key.starts_with("rk_") && key.len() > 40);
    assert!(key.starts_with(created["prefix"].as_str().unwrap_or("?")));
    let stored: i64 = app
        .count(&format!(
            "SELECT 1 FROM api_keys WHERE key_hash::text LIKE '%{}%'",
            &key[3..]
        ))
        .await?;
    assert_eq!(stored, 0, "the key itself is not stored");

    let (status, list) = read(
        app.as_user(admin, Method::GET, "/v1/api-keys")
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    assert!(list["data"][0].get("key").is_none(), "never listed again");

    app.customer(json!({"name": "Keyed", "kind": "commercial", "currency": "USD"}))
        .await?;
    let with_key =
        |method: Method, path: &str| app.anon(method, path).header("x-api-key", key.as_str());
    let (status, customers) = read(with_key(Method::GET, "/v1/customers").send().await?).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(customers["data"].as_array().map(Vec::len), Some(1));
    let res = with_key(Method::POST, "/v1/customers")
        .json(&json!({"name": "Nope", "kind": "commercial", "currency": "USD"}))
        .send()
        .await?;
    expect_problem(res, StatusCode::FORBIDDEN, "insufficient_scope").await?;
    expect_problem(
        with_key(Method::GET, "/v1/users").send().await?,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
    )
    .await?;
    expect_problem(
        with_key(Method::GET, "/v1/me").send().await?,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await?;
    let res = with_key(Method::GET, "/v1/customers")
        .bearer_auth(&admin.token)
        .send()
        .await?;
    expect_problem(res, StatusCode::UNAUTHORIZED, "ambiguous_credentials").await?;

    // A writer key may create customers; the audit names the key.
    let (_, writer) = read(
        app.as_user(admin, Method::POST, "/v1/api-keys")
            .json(&json!({"name": "ERP writer", "scopes": ["customers:write", "customers:read"]}))
            .send()
            .await?,
    )
    .await?;
    let writer_key = writer["key"].as_str().unwrap_or_default();
    let res = app.anon(Method::POST, "/v1/customers").header("x-api-key", writer_key).json(&json!({"name": "From ERP", "kind": "commercial", "currency": "EUR", "external_id": "ERP-1"})).send().await?;
    assert_eq!(res.status(), StatusCode::CREATED);
    let by_key = app.count(&format!("SELECT 1 FROM audit_events WHERE action = 'customer.create' AND actor_kind = 'api_key' AND actor_id = '{}'", writer["id"].as_str().unwrap_or_default())).await?;
    assert_eq!(by_key, 1);

    let res = app
        .as_user(
            admin,
            Method::DELETE,
            &format!(
                "/v1/api-keys/{}",
                created["id"].as_str().unwrap_or_default()
            ),
        )
        .send()
        .await?;
    let (status, revoked) = read(res).await?;
    assert_eq!(status, StatusCode::OK);
    assert!(revoked["revoked_at"].is_string());
    expect_problem(
        with_key(Method::GET, "/v1/customers").send().await?,
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
    )
    .await?;
    let res = app
        .anon(Method::GET, "/v1/customers")
        .header("x-api-key", "rk_madeup")
        .send()
        .await?;
    expect_problem(res, StatusCode::UNAUTHORIZED, "invalid_api_key").await?;

    let res = app
        .as_user(admin, Method::POST, "/v1/api-keys")
        .json(&json!({"name": "", "scopes": []}))
        .send()
        .await?;
    let problem =
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    assert_eq!(problem["errors"].as_array().map(Vec::len), Some(2));
    let res = app
        .as_user(admin, Method::POST, "/v1/api-keys")
        .json(&json!({"name": "x", "scopes": ["everything"]}))
        .send()
        .await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    let res = app
        .as_user(
            admin,
            Method::DELETE,
            &format!("/v1/api-keys/{}", uuid::Uuid::new_v4()),
        )
        .send()
        .await?;
    expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;

    // Only admins manage keys.
    for role in ROLES.into_iter().filter(|r| *r != Role::Admin) {
        let user = app.user(role).await?;
        let res = app
            .as_user(&user, Method::GET, "/v1/api-keys")
            .send()
            .await?;
        expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        let res = app
            .as_user(&user, Method::POST, "/v1/api-keys")
            .json(&json!({"name": "x", "scopes": ["customers:read"]}))
            .send()
            .await?;
        expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        let res = app
            .as_user(
                &user,
                Method::DELETE,
                &format!("/v1/api-keys/{}", writer["id"].as_str().unwrap_or_default()),
            )
            .send()
            .await?;
        expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_managed_by_admins_only() -> Result<()> {
    let app = TestApp::spawn().await?;
    let admin = app.admin().await?;
    let body = json!({"email": "new.collector@recoup.test", "name": "New Collector", "role": "collector", "password": "long-enough-password"});
    let (status, created) = read(
        app.as_user(admin, Method::POST, "/v1/users")
            .json(&body)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["role"], "collector");
    assert!(created.get("password").is_none() && created.get("password_hash").is_none());
    assert_eq!(
        app.audit_count("user.create").await?,
        2,
        "the admin itself and this one"
    );
    let stored: String = app
        .db
        .client()
        .await?
        .query_one(
            "SELECT password_hash FROM users WHERE email = 'new.collector@recoup.test'",
            &[],
        )
        .await?
        .get(0);
    assert!(stored.starts_with("$argon2id$"));

    let res = app.as_user(admin, Method::POST, "/v1/users").json(&json!({"email": "NEW.collector@recoup.test", "name": "Dup", "role": "sales", "password": "long-enough-password"})).send().await?;
    expect_problem(res, StatusCode::CONFLICT, "email_taken").await?;
    let res = app
        .as_user(admin, Method::POST, "/v1/users")
        .json(&json!({"email": "not-an-email", "name": "", "role": "sales", "password": "short"}))
        .send()
        .await?;
    let problem =
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|x| x["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["email", "name", "password"]);
    let res = app.as_user(admin, Method::POST, "/v1/users").json(&json!({"email": "a@b.test", "name": "x", "role": "overlord", "password": "long-enough-password"})).send().await?;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await?;

    let id = created["id"].as_str().unwrap_or_default();
    let (status, listed) = read(
        app.as_user(admin, Method::GET, "/v1/users?role=collector")
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));
    let (status, _) = read(
        app.as_user(admin, Method::GET, &format!("/v1/users/{id}"))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, StatusCode::OK);

    // Admins cannot lock themselves out.
    let res = app
        .as_user(admin, Method::PATCH, &format!("/v1/users/{}", admin.id))
        .json(&json!({"role": "sales"}))
        .send()
        .await?;
    expect_problem(res, StatusCode::CONFLICT, "self_lockout").await?;
    // A password change ends the user's sessions.
    let collector_tokens = app
        .login("new.collector@recoup.test", "long-enough-password")
        .await?;
    let res = app
        .as_user(admin, Method::PATCH, &format!("/v1/users/{id}"))
        .json(&json!({"password": "another-long-password"}))
        .send()
        .await?;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .anon(Method::POST, "/v1/auth/refresh")
        .json(&json!({"refresh_token": collector_tokens["refresh_token"]}))
        .send()
        .await?;
    expect_problem(res, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await?;
    assert!(
        app.login("new.collector@recoup.test", "another-long-password")
            .await
            .is_ok()
    );

    for role in ROLES {
        let user = app.user(role).await?;
        let reads = matches!(role, Role::Admin | Role::Manager | Role::Auditor);
        let res = app.as_user(&user, Method::GET, "/v1/users").send().await?;
        if reads {
            assert_eq!(res.status(), StatusCode::OK, "{role}")
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
        let res = app
            .as_user(&user, Method::GET, &format!("/v1/users/{id}"))
            .send()
            .await?;
        if reads {
            assert_eq!(res.status(), StatusCode::OK, "{role}")
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
        let res = app.as_user(&user, Method::POST, "/v1/users").json(&json!({"email": format!("{role}-made@recoup.test"), "name": "X", "role": "sales", "password": "long-enough-password"})).send().await?;
        if role == Role::Admin {
            assert_eq!(res.status(), StatusCode::CREATED)
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
        let res = app
            .as_user(&user, Method::PATCH, &format!("/v1/users/{id}"))
            .json(&json!({"name": "Renamed"}))
            .send()
            .await?;
        if role == Role::Admin {
            assert_eq!(res.status(), StatusCode::OK)
        } else {
            expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await?;
        }
    }
    let res = app
        .as_user(
            admin,
            Method::GET,
            &format!("/v1/users/{}", uuid::Uuid::new_v4()),
        )
        .send()
        .await?;
    expect_problem(res, StatusCode::NOT_FOUND, "not_found").await?;
    Ok(())
}
