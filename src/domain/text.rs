use super::InvalidInput;

/// Checks that `value` is `min..=max` characters long (counted as Unicode
/// scalar values, not bytes); the error names `param`.
pub fn check_length(param: &str, value: &str, min: usize, max: usize) -> Result<(), InvalidInput> {
    let len = value.chars().count();
    if (min..=max).contains(&len) {
        return Ok(());
    }
    let range = if min == 0 {
        format!("at most {max}")
    } else {
        format!("{min} to {max}")
    };
    Err(InvalidInput::new(
        param,
        format!("`{param}` must be {range} characters, got {len}"),
    ))
}

/// Refuses text that is empty or only white space.
pub fn not_blank(param: &str, value: &str) -> Result<(), InvalidInput> {
    if value.trim().is_empty() {
        return Err(InvalidInput::new(
            param,
            format!("`{param}` must not be empty or blank"),
        ));
    }
    Ok(())
}

/// Single-line text (names, titles, tags): no control characters at all,
/// at most `max` characters as sent, trimmed, and not blank when `min` > 0.
pub fn trimmed(param: &str, raw: &str, min: usize, max: usize) -> Result<String, InvalidInput> {
    refuse_chars(param, raw, "control characters", |c| c.is_control())?;
    check_length(param, raw, 0, max)?;
    if min > 0 {
        not_blank(param, raw)?;
    }
    let value = raw.trim();
    check_length(param, value, min, max)?;
    Ok(value.to_owned())
}

/// Free text kept verbatim (descriptions, instructions): line breaks and
/// tabs are fine, other control characters (NUL...) are not.
pub fn multiline(param: &str, raw: &str, max: usize) -> Result<(), InvalidInput> {
    refuse_chars(
        param,
        raw,
        "control characters other than tabs and line breaks",
        |c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'),
    )?;
    check_length(param, raw, 0, max)
}

/// Refuses `value` if any character is `bad`, naming the first one and
/// where it is (they are usually invisible).
pub fn refuse_chars(
    param: &str,
    value: &str,
    what: &str,
    bad: impl Fn(char) -> bool,
) -> Result<(), InvalidInput> {
    match value.chars().enumerate().find(|(_, c)| bad(*c)) {
        None => Ok(()),
        Some((at, c)) => Err(InvalidInput::new(
            param,
            format!(
                "`{param}` must not contain {what}; found U+{:04X} at character {}",
                u32::from(c),
                at + 1
            ),
        )),
    }
}

/// Code points that print nothing: the format characters (general category
/// Cf: zero-width spaces and joiners, bidi controls, the soft hyphen, the
/// BOM, tag characters...) and the other default-ignorable ones (variation
/// selectors, Hangul fillers, the ranges Unicode reserves for more), as of
/// Unicode 16. The OpenAPI document's email pattern lists the same ranges.
const INVISIBLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

/// Whether `c` is a format or other default-ignorable (invisible) character.
pub fn is_invisible(c: char) -> bool {
    INVISIBLE
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_text_refuses_control_characters_and_counts_what_was_sent() {
        assert_eq!(trimmed("t", "  vip ", 1, 64).unwrap(), "vip");
        for bad in ["a\0b", "a\nb", "a\tb", "\u{85}x", "x\u{7f}"] {
            let err = trimmed("title", bad, 1, 64).unwrap_err();
            assert_eq!(err.field, "title");
            assert!(err.message.contains("control characters"), "{bad:?}");
        }
        assert!(trimmed("t", &format!(" {}", "x".repeat(64)), 1, 64).is_err());
        assert!(trimmed("t", " \u{3000} ", 1, 64).is_err());
        assert_eq!(trimmed("t", "  ", 0, 64).unwrap(), "");
    }

    #[test]
    fn multiline_text_keeps_line_breaks_and_tabs_only() {
        assert!(multiline("d", "a\r\n\tb", 100).is_ok());
        let err = multiline("instruction", "a\0b", 100).unwrap_err();
        assert_eq!(
            err.message,
            "`instruction` must not contain control characters other than tabs and line breaks; \
             found U+0000 at character 2"
        );
    }

    #[test]
    fn invisible_characters_are_the_format_and_default_ignorable_ones() {
        assert!(INVISIBLE.windows(2).all(|w| w[0].1 < w[1].0), "sorted");
        for c in [
            '\u{AD}',
            '\u{200B}',
            '\u{200D}',
            '\u{202E}',
            '\u{2066}',
            '\u{FEFF}',
            '\u{FE0F}',
            '\u{E0041}',
            '\u{3164}',
        ] {
            assert!(is_invisible(c), "{c:?}");
        }
        for c in ['a', 'é', ' ', '\u{0}', '@', '\u{1F600}', '\u{E1000}'] {
            assert!(!is_invisible(c), "{c:?}");
        }
    }
}
