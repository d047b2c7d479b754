//! What the domain says of bad input: which field, and what is wrong with
//! it, in words a client can act on. The API renders it as a 400 naming the
//! field; the admin shows it beside the form.

use std::fmt;

/// Input that does not parse: the field it came in (`email`, `tags[1]`,
/// `messages[0].role`) and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInput {
    /// Empty when the problem is the input as a whole (a body that is not
    /// JSON, a change that changes nothing).
    pub field: String,
    pub message: String,
}

impl InvalidInput {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> InvalidInput {
        InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A problem with the input as a whole, not one field of it.
    pub fn whole(message: impl Into<String>) -> InvalidInput {
        InvalidInput::new("", message)
    }
}

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InvalidInput {}
