//! Password hashing (argon2id, OWASP parameters) and random secrets for tokens and keys.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

fn argon2() -> Result<Argon2<'static>> {
    // 19 MiB, 2 passes, 1 lane: OWASP's recommended argon2id minimum.
    let params = Params::new(19 * 1024, 2, 1, None)
        .map_err(|e| Error::Internal(format!("argon2 params: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes on a blocking thread: argon2 is deliberately slow and would stall the runtime.
pub async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0_u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(e.to_string()))?;
        argon2()?
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("argon2: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
}

/// Verifies on a blocking thread. A malformed stored hash verifies as false.
pub async fn verify(password: String, stored: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return Ok(false);
        };
        Ok(argon2()?
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
}

/// A hash to verify against when no user matches, so an unknown e-mail costs as much
/// time as a wrong password and timing tells nothing.
pub const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4f1w3mDrpZLhJ3pVjYb1kKrwRCEBbQYI0vYUT5g8M0E";

/// 32 random bytes, base64url: for refresh tokens and API keys.
pub fn random_secret() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Tokens and keys are high-entropy, so a fast hash suffices to store them safely.
pub fn token_digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 128;

pub fn check_strength(password: &str) -> std::result::Result<(), &'static str> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err("must be at least 12 characters");
    }
    if n > MAX_PASSWORD_CHARS {
        return Err("must be at most 128 characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ() -> Result<()> {
        let a = hash("correct horse battery".into()).await?;
        let b = hash("correct horse battery".into()).await?;
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery".into(), a.clone()).await?);
        assert!(!verify("wrong horse battery".into(), a).await?);
        assert!(!verify("anything".into(), "not a hash".into()).await?);
        assert!(!verify("anything".into(), DECOY_HASH.into()).await?);
        Ok(())
    }

    #[test]
    fn secrets_are_unique_and_digests_stable() {
        assert_ne!(random_secret(), random_secret());
        assert_eq!(random_secret().len(), 43);
        assert_eq!(token_digest("x"), token_digest("x"));
    }
}
