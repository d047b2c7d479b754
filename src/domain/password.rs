use std::fmt;

use super::text::check_length;
use super::InvalidInput;

const MIN_LEN: usize = 12;
const MAX_LEN: usize = 256;

/// A new admin password: 12 to 256 characters, kept as typed. It never
/// shows in a `Debug`.
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(raw: &str) -> Result<NewPassword, InvalidInput> {
        check_length("password", raw, MIN_LEN, MAX_LEN)?;
        Ok(NewPassword(raw.to_owned()))
    }

    /// A new password typed twice, as the forms ask for it.
    pub fn confirmed(password: &str, confirm: &str) -> Result<NewPassword, InvalidInput> {
        let password = NewPassword::parse(password)?;
        if password.0 != confirm {
            return Err(InvalidInput::new("confirm", "the two passwords differ"));
        }
        Ok(password)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::NewPassword;

    #[test]
    fn twelve_to_256_characters_typed_the_same_twice() {
        let err = NewPassword::parse("short").unwrap_err();
        assert_eq!(err.field, "password");
        assert_eq!(
            err.message,
            "`password` must be 12 to 256 characters, got 5"
        );
        assert!(NewPassword::parse("long enough now").is_ok());
        assert!(NewPassword::parse(&"x".repeat(257)).is_err());
        let err = NewPassword::confirmed("long enough now", "long enough no").unwrap_err();
        assert_eq!(err.field, "confirm");
        let ok = NewPassword::confirmed("long enough now", "long enough now").unwrap();
        assert_eq!(ok.as_str(), "long enough now");
        assert_eq!(format!("{ok:?}"), "NewPassword(..)");
    }
}
