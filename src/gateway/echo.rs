//! The built-in `echo` model: answers with the last user message, with no
//! upstream and no key, so the whole flow can be tried on a fresh machine.

use bytes::{Bytes, BytesMut};

use super::answer::{Completion, Finish, Piece, Transcript, Usage};
use super::message::ChatMessage;
use super::protocols::Encoder;

pub fn completion(messages: &[ChatMessage]) -> Completion {
    let text = messages
        .iter()
        .rev()
        .find(|m| m.is_user())
        .map(|m| m.text().into_owned())
        .unwrap_or_default();
    let prompt_words: usize = messages
        .iter()
        .map(|m| m.text().split_whitespace().count())
        .sum();
    Completion {
        id: None,
        usage: Usage {
            prompt_tokens: Some(prompt_words as i64),
            completion_tokens: Some(text.split_whitespace().count() as i64),
            ..Usage::default()
        },
        text,
        tool_calls: Vec::new(),
        finish: Some(Finish::Stop),
    }
}

/// The answer as stream chunks, one word (with the space before it) each.
pub fn chunks(completion: &Completion, mut encoder: Box<dyn Encoder>) -> Vec<Bytes> {
    let mut transcript = Transcript::default();
    let mut chunks = Vec::new();
    let mut pieces: Vec<Piece> = split_words(&completion.text)
        .into_iter()
        .map(|word| Piece::Text(word.to_owned()))
        .collect();
    pieces.push(Piece::Finish(Finish::Stop));
    pieces.push(Piece::Usage(completion.usage));
    for piece in &pieces {
        transcript.take(piece);
        let mut out = BytesMut::new();
        encoder.piece(piece, &mut out);
        if !out.is_empty() {
            chunks.push(out.freeze());
        }
    }
    let mut out = BytesMut::new();
    encoder.end(&transcript, &mut out);
    chunks.push(out.freeze());
    chunks
}

/// Splits before each run of whitespace, so the pieces join back exactly.
fn split_words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = 0;
    let mut in_space = false;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if space && !in_space && i > start {
            words.push(&text[start..i]);
            start = i;
        }
        in_space = space;
    }
    if start < text.len() {
        words.push(&text[start..]);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::split_words;

    #[test]
    fn words_join_back_exactly() {
        let text = "Hello  there, world!\nBye";
        let words = split_words(text);
        assert_eq!(words, vec!["Hello", "  there,", " world!", "\nBye"]);
        assert_eq!(words.concat(), text);
    }
}
