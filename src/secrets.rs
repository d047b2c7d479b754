//! Secrets at rest: with an instance secret (`MINDGATE_SECRET_KEY`, or the
//! file named by `MINDGATE_SECRET_KEY_FILE`), values such as provider keys
//! are stored sealed with XChaCha20-Poly1305, so a copy of the database
//! holds none of them in usable form.
//!
//! The secret must be random text of at least 32 characters; HKDF-SHA256
//! turns it into the 256-bit key. Each value gets a random 192-bit nonce
//! (random nonces of that size never repeat in practice) and is bound to a
//! context, such as its row, given as associated data: a sealed value moved
//! to another row does not open there.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

pub const SECRET_VAR: &str = "MINDGATE_SECRET_KEY";
pub const SECRET_FILE_VAR: &str = "MINDGATE_SECRET_KEY_FILE";

/// 32 characters of `openssl rand -base64 32` carry 192 bits.
const MIN_SECRET_CHARS: usize = 32;
/// Marks a sealed value; the version leaves room for another scheme.
const SEALED_PREFIX: &str = "enc:v1:";
/// Domain separation: this secret may one day derive other keys.
const KDF_INFO: &[u8] = b"mindgate secrets at rest v1";
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "{origin} must hold at least {MIN_SECRET_CHARS} characters of random text \
         (e.g. from `openssl rand -base64 32`), not {chars}"
    )]
    TooShort { origin: String, chars: usize },
    #[error("{SECRET_VAR} must be valid UTF-8")]
    NotUtf8,
    #[error("set only one of {SECRET_VAR} and {SECRET_FILE_VAR}")]
    Both,
    // Not a `source`: the message holds it already.
    #[error("cannot read {SECRET_FILE_VAR} {}: {error}", path.display())]
    File {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Why a stored value does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnsealError {
    #[error("is encrypted, and neither {SECRET_VAR} nor {SECRET_FILE_VAR} is set")]
    NoSecret,
    /// Another secret, or an altered value: the AEAD cannot tell them apart.
    #[error("does not decrypt with the secret given")]
    WrongSecret,
}

/// The key derived from the instance secret, when one is set; without
/// one, values are stored as given. Cheap to clone.
#[derive(Clone, Default)]
pub struct SecretKey {
    cipher: Option<Arc<XChaCha20Poly1305>>,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_set() {
            "SecretKey(set)"
        } else {
            "SecretKey(none)"
        })
    }
}

impl SecretKey {
    /// Derives the key from `secret`, trimmed of surrounding whitespace;
    /// `source` names where it came from, for the error message.
    pub fn derive(secret: &str, source: &str) -> Result<SecretKey, SecretError> {
        let secret = secret.trim();
        let chars = secret.chars().count();
        if chars < MIN_SECRET_CHARS {
            return Err(SecretError::TooShort {
                origin: source.to_owned(),
                chars,
            });
        }
        let mut key = Key::default();
        Hkdf::<Sha256>::new(None, secret.as_bytes())
            .expand(KDF_INFO, &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Ok(SecretKey {
            cipher: Some(Arc::new(XChaCha20Poly1305::new(&key))),
        })
    }

    /// The key from `MINDGATE_SECRET_KEY` or `MINDGATE_SECRET_KEY_FILE`;
    /// none when both are unset or empty.
    pub fn from_env() -> Result<SecretKey, SecretError> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        match (var(SECRET_VAR), var(SECRET_FILE_VAR)) {
            (None, None) => Ok(SecretKey::default()),
            (Some(_), Some(_)) => Err(SecretError::Both),
            (Some(secret), None) => {
                let secret = secret.into_string().map_err(|_| SecretError::NotUtf8)?;
                SecretKey::derive(&secret, SECRET_VAR)
            }
            (None, Some(path)) => SecretKey::from_file(Path::new(&path)),
        }
    }

    fn from_file(path: &Path) -> Result<SecretKey, SecretError> {
        let file_err = |error| SecretError::File {
            path: path.to_owned(),
            error,
        };
        let secret = std::fs::read_to_string(path).map_err(file_err)?;
        warn_if_shared(path);
        SecretKey::derive(&secret, &format!("{SECRET_FILE_VAR} {}", path.display()))
    }

    pub fn is_set(&self) -> bool {
        self.cipher.is_some()
    }

    /// `plaintext` as it should be stored for `context`: sealed when a
    /// secret is set, else as given.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let Some(cipher) = &self.cipher else {
            return plaintext.to_owned();
        };
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 seals anything shorter than 256 GiB");
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", STANDARD.encode(raw))
    }

    /// The plaintext of a stored value: a sealed one opened with the key
    /// and `context` it was sealed with, any other as it is.
    pub fn open(&self, stored: &str, context: &str) -> Result<String, UnsealError> {
        let Some(encoded) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(stored.to_owned());
        };
        let cipher = self.cipher.as_ref().ok_or(UnsealError::NoSecret)?;
        let raw = STANDARD
            .decode(encoded)
            .map_err(|_| UnsealError::WrongSecret)?;
        if raw.len() < NONCE_LEN {
            return Err(UnsealError::WrongSecret);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| UnsealError::WrongSecret)?;
        let plain = cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| UnsealError::WrongSecret)?;
        String::from_utf8(plain).map_err(|_| UnsealError::WrongSecret)
    }
}

/// Whether `stored` is a sealed value (rather than one stored as given).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

/// A key file others may read is a leaked secret waiting to happen; it
/// still works, since mounted secrets (Docker, Kubernetes) are often 0644.
#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o044 != 0 {
            log::warn!(
                "{SECRET_FILE_VAR} {} is readable by other users (mode {mode:03o}); \
                 restrict it with `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "3q2+7wAAAAC6vLq8ZmFjZWZhY2VmYWNlZmFjZQ==";
    const OTHER: &str = "ZmFjZWZhY2VmYWNlZmFjZTNxMis3d0FBQUFDNnZMcTg=";
    const PLAIN: &str = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789";

    fn key(secret: &str) -> SecretKey {
        SecretKey::derive(secret, "test").unwrap()
    }

    #[test]
    fn a_sealed_value_opens_with_the_same_secret_and_context() {
        let key = key(SECRET);
        let sealed = key.seal(PLAIN, "providers/openai");
        assert!(is_sealed(&sealed), "{sealed}");
        assert!(!sealed.contains("sk-proj") && !sealed.contains("0123456789"));
        assert_eq!(key.open(&sealed, "providers/openai").unwrap(), PLAIN);
        // Surrounding whitespace (a key file's newline) is not part of the secret.
        let again = SecretKey::derive(&format!("  {SECRET}\n"), "test").unwrap();
        assert_eq!(again.open(&sealed, "providers/openai").unwrap(), PLAIN);
        // A fresh nonce each time: equal keys do not show as equal values.
        assert_ne!(key.seal(PLAIN, "providers/openai"), sealed);
    }

    #[test]
    fn another_secret_does_not_open_it() {
        let sealed = key(SECRET).seal(PLAIN, "providers/openai");
        assert_eq!(
            key(OTHER).open(&sealed, "providers/openai"),
            Err(UnsealError::WrongSecret)
        );
        assert_eq!(
            SecretKey::default().open(&sealed, "providers/openai"),
            Err(UnsealError::NoSecret)
        );
    }

    #[test]
    fn a_tampered_value_does_not_open() {
        let key = key(SECRET);
        let sealed = key.seal(PLAIN, "providers/openai");
        let mut raw = STANDARD.decode(&sealed[SEALED_PREFIX.len()..]).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let flipped = format!("{SEALED_PREFIX}{}", STANDARD.encode(&raw));
        for bad in [
            flipped.as_str(),
            &sealed[..sealed.len() - 4],
            "enc:v1:not base64!",
            "enc:v1:AAAA",
        ] {
            assert_eq!(
                key.open(bad, "providers/openai"),
                Err(UnsealError::WrongSecret),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_value_moved_to_another_row_does_not_open() {
        let key = key(SECRET);
        let sealed = key.seal(PLAIN, "providers/openai");
        assert_eq!(
            key.open(&sealed, "providers/anthropic"),
            Err(UnsealError::WrongSecret)
        );
    }

    #[test]
    fn without_a_secret_values_stay_as_given() {
        let none = SecretKey::default();
        assert!(!none.is_set());
        assert_eq!(none.seal(PLAIN, "providers/openai"), PLAIN);
        assert_eq!(none.open(PLAIN, "providers/openai").unwrap(), PLAIN);
        // A value stored before the secret was set still reads.
        assert_eq!(key(SECRET).open(PLAIN, "providers/openai").unwrap(), PLAIN);
    }

    #[test]
    fn a_short_secret_is_refused() {
        let err = SecretKey::derive(" short-but-not-32-characters \n", SECRET_VAR).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(SECRET_VAR)
                && message.contains("32 characters")
                && message.contains("openssl rand"),
            "{message}"
        );
        assert!(
            !message.contains("short-but"),
            "the secret is never echoed: {message}"
        );
    }
}
