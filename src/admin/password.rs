//! Admin passwords: argon2id with OWASP's parameters (m=19456 KiB, t=2,
//! p=1), stored as PHC strings.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::domain::check_length;
use crate::error::ApiError;

const MIN_LEN: usize = 12;
const MAX_LEN: usize = 256;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password's length; the error names `param`.
pub fn check_new(param: &str, password: &str) -> Result<(), ApiError> {
    check_length(param, password, MIN_LEN, MAX_LEN)
}

/// Checks a new password and its repetition from a form.
pub fn check_new_pair(password: &str, confirm: &str) -> Result<(), ApiError> {
    check_new("password", password)?;
    if password != confirm {
        return Err(ApiError::invalid_field(
            "confirm",
            "the two passwords differ",
        ));
    }
    Ok(())
}

/// Hashes a password (slow on purpose: call it off the async workers).
pub fn hash(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| ApiError::internal(format!("argon2 salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(format!("argon2: {e}")))
}

/// Whether `password` matches the stored hash. With no hash (an unknown
/// email) a dummy one is checked, so both cases take the same time.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("not the password of anyone").unwrap_or_default());
    let Ok(parsed) = PasswordHash::new(stored.unwrap_or(dummy)) else {
        return false;
    };
    argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && stored.is_some()
}

#[cfg(test)]
mod tests {
    use super::{check_new, hash, verify};

    #[test]
    fn hashes_verify_and_unknown_never_does() {
        let stored = hash("correct horse battery").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse battery", Some(&stored)));
        assert!(!verify("wrong horse battery", Some(&stored)));
        assert!(!verify("not the password of anyone", None));
        assert!(check_new("password", "short").is_err());
        assert!(check_new("password", "long enough now").is_ok());
    }
}
