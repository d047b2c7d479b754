//! The instance's provider keys, kept out of everything mindgate relays or
//! stores: an upstream may echo a key back (a 401 quoting the
//! `Authorization` header, a model repeating its prompt), and that text goes
//! to clients and into chat logs.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};
use bytes::Bytes;

/// What a key becomes.
pub const REDACTED: &str = "[redacted]";

/// Keys shorter than this are not searched for: no real provider key is
/// that short, and such a string would match ordinary text.
const MIN_KEY_LEN: usize = 8;

/// The keys to redact, searched for all at once.
#[derive(Debug, Default)]
pub struct Redactor {
    /// `None` when there are no keys: nothing to search.
    keys: Option<AhoCorasick>,
}

impl Redactor {
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a str>) -> Redactor {
        let keys: Vec<&str> = keys
            .into_iter()
            .map(str::trim)
            .filter(|key| key.len() >= MIN_KEY_LEN)
            .collect();
        if keys.is_empty() {
            return Redactor::default();
        }
        // Leftmost-longest: a key that extends another is redacted whole.
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(keys)
            .map_err(|e| log::error!("provider keys cannot be searched for: {e}"))
            .ok();
        Redactor { keys: matcher }
    }

    /// `bytes` with every key replaced; the same buffer when none is in it.
    pub fn bytes(&self, bytes: Bytes) -> Bytes {
        match &self.keys {
            Some(keys) if keys.is_match(&bytes[..]) => {
                Bytes::from(keys.replace_all_bytes(&bytes, &vec![REDACTED; keys.patterns_len()]))
            }
            _ => bytes,
        }
    }

    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.keys {
            Some(keys) if keys.is_match(text) => {
                Cow::Owned(keys.replace_all(text, &vec![REDACTED; keys.patterns_len()]))
            }
            _ => Cow::Borrowed(text),
        }
    }

    /// Redacts `text` in place (no copy when no key is in it).
    pub fn scrub(&self, text: &mut String) {
        if let Cow::Owned(redacted) = self.text(text) {
            *text = redacted;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_replaced_and_short_ones_are_ignored() {
        let redactor = Redactor::new(["sk-abcdefgh", "sk-abcdefgh-longer", "short", ""]);
        assert_eq!(
            redactor.text("Bearer sk-abcdefgh-longer and sk-abcdefgh, short"),
            "Bearer [redacted] and [redacted], short"
        );
        let same = Bytes::from_static(b"nothing here");
        assert_eq!(redactor.bytes(same.clone()).as_ptr(), same.as_ptr());
        assert_eq!(
            redactor.bytes(Bytes::from_static(b"{\"m\":\"sk-abcdefgh\"}")),
            &b"{\"m\":\"[redacted]\"}"[..]
        );
        let mut text = "x sk-abcdefgh".to_owned();
        redactor.scrub(&mut text);
        assert_eq!(text, "x [redacted]");
        assert_eq!(Redactor::new(["tiny"]).text("tiny"), "tiny");
    }
}
