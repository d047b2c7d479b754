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
    let blank = if len > 0 && value.trim().is_empty() {
        " (it is blank)"
    } else {
        ""
    };
    Err(ApiError::invalid_field(
        param,
        format!("`{param}` must be {range} characters, got {len}{blank}"),
    ))
}

/// Trims `raw` and checks its length.
pub fn trimmed(param: &str, raw: &str, min: usize, max: usize) -> Result<String, ApiError> {
    let value = raw.trim();
    check_length(param, value, min, max)?;
    Ok(value.to_owned())
}
