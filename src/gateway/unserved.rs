//! Which upstream endpoints are known not to serve a client protocol
//! natively: an OpenAI-compatible server that answered `/responses` with a
//! 404 for a model is asked through chat completions straight away for a
//! while, rather than once more on every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::providers::Wire;

/// How long a server is believed not to serve a wire.
pub const REMEMBERED_FOR: Duration = Duration::from_secs(3600);
/// The most (provider, model, wire) kept: past it the oldest goes, so
/// clients naming ever new models cannot grow it.
const MAX_ENTRIES: usize = 4096;

type Key = (String, String, Wire);

/// (provider, upstream model, wire) → when the upstream said it does not
/// serve that wire.
#[derive(Default)]
pub struct Unserved {
    since: Mutex<HashMap<Key, Instant>>,
}

impl Unserved {
    /// Whether `provider` was found, within the hour, not to serve `wire`
    /// for `model`.
    pub fn knows(&self, provider: &str, model: &str, wire: Wire) -> bool {
        let since = self.since.lock().unwrap_or_else(|p| p.into_inner());
        let key = (provider.to_owned(), model.to_owned(), wire);
        since
            .get(&key)
            .is_some_and(|at| at.elapsed() < REMEMBERED_FOR)
    }

    /// Remembers that `provider` does not serve `wire` for `model`.
    pub fn remember(&self, provider: &str, model: &str, wire: Wire) {
        let mut since = self.since.lock().unwrap_or_else(|p| p.into_inner());
        if since.len() >= MAX_ENTRIES {
            since.retain(|_, at| at.elapsed() < REMEMBERED_FOR);
        }
        if since.len() >= MAX_ENTRIES {
            let oldest = since
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                since.remove(&oldest);
            }
        }
        since.insert(
            (provider.to_owned(), model.to_owned(), wire),
            Instant::now(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_remembers_each_provider_model_and_wire_apart_and_stays_bounded() {
        let unserved = Unserved::default();
        unserved.remember("openai", "m", Wire::OpenAiChat);
        assert!(unserved.knows("openai", "m", Wire::OpenAiChat));
        assert!(!unserved.knows("openai", "other", Wire::OpenAiChat));
        assert!(!unserved.knows("ollama", "m", Wire::OpenAiChat));
        assert!(!unserved.knows("openai", "m", Wire::AnthropicMessages));
        for i in 0..MAX_ENTRIES + 10 {
            unserved.remember("p", &i.to_string(), Wire::OpenAiChat);
        }
        assert_eq!(unserved.since.lock().unwrap().len(), MAX_ENTRIES);
        assert!(unserved.knows("p", &(MAX_ENTRIES + 9).to_string(), Wire::OpenAiChat));
        assert!(
            !unserved.knows("openai", "m", Wire::OpenAiChat),
            "the oldest went"
        );
    }

    #[test]
    fn it_forgets_after_an_hour() {
        let unserved = Unserved::default();
        unserved.remember("openai", "m", Wire::OpenAiChat);
        let key = ("openai".to_owned(), "m".to_owned(), Wire::OpenAiChat);
        let long_ago = Instant::now().checked_sub(REMEMBERED_FOR + Duration::from_secs(1));
        if let Some(long_ago) = long_ago {
            unserved.since.lock().unwrap().insert(key, long_ago);
            assert!(!unserved.knows("openai", "m", Wire::OpenAiChat));
        }
    }
}
