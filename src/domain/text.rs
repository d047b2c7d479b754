use crate::error::ApiError;

/// Checks that `value` is `min..=max` characters long (counted as Unicode
/// scalar values, not bytes); the error names `param`.
pub fn check_length(param: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let len = value.chars().count();
    if (min..=max).contains(&len) {
        return Ok(());
    }
    let range = if min == 0 {
        format!("at most {max}")
    } else {
        format!("{min} to {max}")
    };
    Err(ApiError::invalid_field(
        param,
        format!("`{param}` must be {range} characters, got {len}"),
    ))
}

/// Refuses text that is empty or only white space.
pub fn not_blank(param: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid_field(
            param,
            format!("`{param}` must not be empty or blank"),
        ));
    }
    Ok(())
}

/// Trims `raw` and checks the rest is not blank and `min..=max` characters.
pub fn trimmed(param: &str, raw: &str, min: usize, max: usize) -> Result<String, ApiError> {
    if min > 0 {
        not_blank(param, raw)?;
    }
    let value = raw.trim();
    check_length(param, value, min, max)?;
    Ok(value.to_owned())
}
