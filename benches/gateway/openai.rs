//! OpenAI's embeddings and legacy text completions: requests, and whole
//! answers as OpenAI sends them; mindgate passes them through byte for
//! byte.

use std::fmt::Write;

use crate::load::Api;

/// Numbers in a vector, as many as `text-embedding-3-small`'s.
const DIMENSIONS: usize = 1536;

/// One input's vector, as floats (the API's default encoding).
fn embedding() -> String {
    // A fixed pseudo-random unit vector (xorshift, then a sum of uniforms
    // for a bell shape): numbers of the length real ones have.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let vector: Vec<f64> = (0..DIMENSIONS)
        .map(|_| (0..4).map(|_| uniform()).sum())
        .collect();
    let norm = vector.iter().map(|x| x * x).sum::<f64>().sqrt();
    let mut numbers = String::with_capacity(DIMENSIONS * 22);
    for (i, x) in vector.iter().enumerate() {
        let separator = if i == 0 { "" } else { "," };
        // A 32-bit float, printed as OpenAI prints it: exactly, as a double.
        let _ = write!(numbers, "{separator}{}", f64::from((x / norm) as f32));
    }
    format!(
        r#"{{"object":"list","data":[{{"object":"embedding","index":0,"embedding":[{numbers}]}}],"model":"text-embedding-3-small","usage":{{"prompt_tokens":11,"total_tokens":11}}}}"#
    )
}

/// OpenAI's embeddings API: one input, 1536 floats back (about 33 kB).
pub const EMBEDDINGS: Api = Api {
    name: "embeddings",
    path: "/v1/embeddings",
    headers: &[],
    body: r#"{"model":"text-embedding-3-small","input":"The food was delicious and the waiter was friendly."}"#,
    answer: embedding,
    stream: None,
};

/// OpenAI's legacy text completions, whole, from a model that serves them.
pub const TEXT_COMPLETIONS: Api = Api {
    name: "completions (legacy)",
    path: "/v1/completions",
    headers: &[],
    body: r#"{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test","max_tokens":16}"#,
    answer: || {
        concat!(
            r#"{"id":"cmpl-BbnchQ7xv2mKp9TzRw4LdYc8NfE3","object":"text_completion","#,
            r#""created":1764172800,"model":"gpt-3.5-turbo-instruct:20230824-v2","#,
            r#""choices":[{"text":"\n\nThis is indeed a test.","index":0,"logprobs":null,"#,
            r#""finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"#,
            r#""total_tokens":12}}"#
        )
        .to_owned()
    },
    stream: None,
};
