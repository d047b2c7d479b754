use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use super::text::{check_length, is_invisible, refuse_chars};
use super::InvalidInput;

const MAX_LEN: usize = 254;

/// A checked e-mail address: at most 254 characters as sent, trimmed,
/// lower-cased and in Unicode NFC (so `josé` typed precomposed or with a
/// combining accent is one address), with no spaces, control or invisible
/// characters, one `@`, a non-empty local part and a dotted domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, InvalidInput> {
        let invalid =
            |why: &str| InvalidInput::new("email", format!("`email` {why}, got {:?}", raw));
        check_length("email", raw, 0, MAX_LEN)?;
        let email = Email::normalise(raw);
        if email.is_empty() {
            return Err(InvalidInput::new("email", "`email` must not be empty"));
        }
        refuse_chars(
            "email",
            &email,
            "spaces, control or invisible characters",
            |c| c.is_whitespace() || c.is_control() || is_invisible(c),
        )?;
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

    /// What an address is compared and stored as: trimmed, lower-cased,
    /// NFC. Also applied, unchecked, to terms that search addresses.
    pub fn normalise(raw: &str) -> String {
        raw.trim().to_lowercase().nfc().collect()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// For the command line, which reads an address from its arguments.
impl FromStr for Email {
    type Err = InvalidInput;

    fn from_str(raw: &str) -> Result<Email, InvalidInput> {
        Email::parse(raw)
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

    #[test]
    fn one_address_however_its_accents_are_typed() {
        let precomposed = Email::parse("jos\u{e9}@example.com").unwrap();
        let combining = Email::parse("JOSE\u{301}@example.com").unwrap();
        assert_eq!(precomposed, combining);
        assert_eq!(combining.as_str(), "jos\u{e9}@example.com");
    }

    #[test]
    fn invisible_and_format_characters_are_refused() {
        for c in [
            '\u{200B}',
            '\u{200D}',
            '\u{202E}',
            '\u{2066}',
            '\u{AD}',
            '\u{FEFF}',
            '\u{E0041}',
        ] {
            let err = Email::parse(&format!("an{c}n@example.com")).unwrap_err();
            assert_eq!(err.field, "email");
            assert!(
                err.message
                    .contains(&format!("found U+{:04X} at character 3", u32::from(c))),
                "{}",
                err.message
            );
        }
    }
}
