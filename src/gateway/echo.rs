//! The built-in `echo` model: answers with the last user message, with no
//! upstream and no key, so the whole flow can be tried on a fresh machine;
//! and embeds any input in a small vector of its own, the same each time.

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::answer::{Completion, Finish, Piece, Transcript, Usage};
use super::message::ChatMessage;
use super::protocols::Encoder;
use crate::domain::InvalidInput;

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

/// The dimensions of echo's vectors when the request names none.
pub const EMBEDDING_DIMENSIONS: usize = 16;

/// The most numbers echo answers with, all its vectors together: some
/// 25 MB of JSON.
const MAX_EMBEDDING_NUMBERS: usize = 1 << 21;

/// Refuses a request whose vectors together would be too large.
pub fn check_embeddings(inputs: usize, dimensions: Option<usize>) -> Result<(), InvalidInput> {
    let dimensions = dimensions.unwrap_or(EMBEDDING_DIMENSIONS);
    if inputs.saturating_mul(dimensions) <= MAX_EMBEDDING_NUMBERS {
        return Ok(());
    }
    Err(InvalidInput::new(
        "dimensions",
        format!(
            "echo answers with at most {MAX_EMBEDDING_NUMBERS} numbers in all: \
             {inputs} inputs of {dimensions} dimensions are more; ask for fewer"
        ),
    ))
}

/// One input to embed: text, or token ids.
pub enum EmbeddingInput<'a> {
    Text(&'a str),
    Tokens(&'a [Value]),
}

/// The inputs of a checked `input`: a string, or an array of strings, of
/// token ids, or of arrays of token ids.
pub fn embedding_inputs(input: &Value) -> Vec<EmbeddingInput<'_>> {
    let items = match input {
        Value::String(text) => return vec![EmbeddingInput::Text(text)],
        Value::Array(items) => items,
        _ => return Vec::new(),
    };
    if items.first().is_some_and(Value::is_number) {
        return vec![EmbeddingInput::Tokens(items)];
    }
    items
        .iter()
        .filter_map(|item| match item {
            Value::String(text) => Some(EmbeddingInput::Text(text)),
            Value::Array(ids) => Some(EmbeddingInput::Tokens(ids)),
            _ => None,
        })
        .collect()
}

/// A unit vector of `dimensions` made from the input's hash: the same
/// input gives the same vector, another input another one.
pub fn embedding(input: &EmbeddingInput, dimensions: usize) -> Vec<f32> {
    let mut hash = Sha256::new();
    match input {
        EmbeddingInput::Text(text) => {
            hash.update(b"text:");
            hash.update(text.as_bytes());
        }
        EmbeddingInput::Tokens(ids) => {
            hash.update(b"tokens:");
            for id in ids.iter().filter_map(Value::as_u64) {
                hash.update(id.to_le_bytes());
            }
        }
    }
    let seed = hash.finalize();
    let mut vector = Vec::with_capacity(dimensions);
    for block in 0u64.. {
        let bytes = Sha256::new()
            .chain_update(seed)
            .chain_update(block.to_le_bytes())
            .finalize();
        for word in bytes.chunks_exact(4) {
            if vector.len() == dimensions {
                break;
            }
            let word = u32::from_le_bytes(word.try_into().expect("chunks of 4"));
            // From -1 to 1.
            vector.push((f64::from(word) / f64::from(u32::MAX) * 2.0 - 1.0) as f32);
        }
        if vector.len() == dimensions {
            break;
        }
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
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
    use serde_json::json;

    use super::*;

    #[test]
    fn echo_embeds_each_input_in_a_unit_vector_of_its_own() {
        let hello = embedding(&EmbeddingInput::Text("hello"), 16);
        assert_eq!(hello.len(), 16);
        assert_eq!(hello, embedding(&EmbeddingInput::Text("hello"), 16));
        assert_ne!(hello, embedding(&EmbeddingInput::Text("hello!"), 16));
        let norm: f32 = hello.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        assert_eq!(embedding(&EmbeddingInput::Text("x"), 1001).len(), 1001);
        let ids = json!([1, 2]);
        let tokens = embedding(&EmbeddingInput::Tokens(ids.as_array().unwrap()), 16);
        assert_ne!(tokens, hello);
        assert_ne!(tokens, embedding(&EmbeddingInput::Text("[1,2]"), 16));
    }

    #[test]
    fn inputs_are_the_string_or_each_item_or_one_list_of_token_ids() {
        let count = |input: Value| embedding_inputs(&input).len();
        assert_eq!(count(json!("a")), 1);
        assert_eq!(count(json!(["a", "b", "c"])), 3);
        assert_eq!(count(json!([1, 2, 3])), 1);
        assert_eq!(count(json!([[1], [2, 3]])), 2);
        assert!(check_embeddings(2048, Some(1024)).is_ok());
        let refused = check_embeddings(2048, Some(1025)).unwrap_err();
        assert_eq!(refused.field, "dimensions");
    }

    #[test]
    fn words_join_back_exactly() {
        let text = "Hello  there, world!\nBye";
        let words = split_words(text);
        assert_eq!(words, vec!["Hello", "  there,", " world!", "\nBye"]);
        assert_eq!(words.concat(), text);
    }
}
