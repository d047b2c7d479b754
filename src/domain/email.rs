use std::fmt;

use serde::Serialize;

use crate::error::ApiError;

const MAX_LEN: usize = 254;

/// A checked e-mail address: trimmed, lower-cased, one `@`, a non-empty
/// local part and a dotted domain, at most 254 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, ApiError> {
        let email = raw.trim().to_lowercase();
        let invalid =
            |why: &str| ApiError::invalid_field("email", format!("`email` {why}, got {:?}", raw));
        if email.is_empty() {
            return Err(ApiError::invalid_field(
                "email",
                "`email` must not be empty",
            ));
        }
        if email.chars().count() > MAX_LEN {
            return Err(ApiError::invalid_field(
                "email",
                format!("`email` must be at most {MAX_LEN} characters"),
            ));
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("must not contain spaces or control characters"));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(invalid("must contain an @"));
        };
        if domain.contains('@') {
            return Err(invalid("must contain exactly one @"));
        }
        if local.is_empty() {
            return Err(invalid("needs a name before the @"));
        }
        if !domain.contains('.') || domain.split('.').any(str::is_empty) {
            return Err(invalid(
                "needs a domain with a dot after the @, like example.com",
            ));
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn normalises_and_checks() {
        assert_eq!(
            Email::parse("  Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@example",
            "a@b@c.com",
            "ann@.com",
            "ann@x..com",
            "a n@x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }
}
