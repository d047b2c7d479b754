//! Server-sent events: cutting an upstream's byte stream into whole events
//! (chunks may end anywhere), and reading an event's name and data.

use bytes::{Bytes, BytesMut};

#[derive(Debug, Default)]
pub struct Splitter {
    buffer: BytesMut,
    /// Where the search for the end of the current event resumes.
    scanned: usize,
}

impl Splitter {
    pub fn push(&mut self, chunk: &[u8]) {
        self.buffer.extend_from_slice(chunk);
    }

    /// The next whole event, with the blank line that ends it.
    pub fn next_event(&mut self) -> Option<Bytes> {
        let bytes = &self.buffer[..];
        let mut i = self.scanned.saturating_sub(3);
        while i + 1 < bytes.len() {
            if bytes[i] == b'\n' {
                let end = match (bytes[i + 1], bytes.get(i + 2)) {
                    (b'\n', _) => Some(i + 2),
                    (b'\r', Some(b'\n')) => Some(i + 3),
                    _ => None,
                };
                if let Some(end) = end {
                    self.scanned = 0;
                    return Some(self.buffer.split_to(end).freeze());
                }
            }
            i += 1;
        }
        self.scanned = bytes.len();
        None
    }

    /// What is left when the stream ends: an event missing its blank line.
    pub fn rest(&mut self) -> Option<Bytes> {
        self.scanned = 0;
        let rest = self.buffer.split().freeze();
        (!rest.iter().all(u8::is_ascii_whitespace)).then_some(rest)
    }
}

/// An event's `event:` name and its `data:` lines joined.
#[derive(Debug, PartialEq, Eq)]
pub struct Event<'a> {
    pub name: Option<&'a str>,
    pub data: String,
}

pub fn parse(raw: &[u8]) -> Event<'_> {
    let text = std::str::from_utf8(raw).unwrap_or_default();
    let mut name = None;
    let mut data = String::new();
    for line in text.lines() {
        if let Some(value) = field(line, "event") {
            name = Some(value);
        } else if let Some(value) = field(line, "data") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(value);
        }
    }
    Event { name, data }
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let value = line.strip_prefix(name)?.strip_prefix(':')?;
    Some(value.strip_prefix(' ').unwrap_or(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_wherever_chunks_end() {
        let mut splitter = Splitter::default();
        splitter.push(b"data: {\"a\"");
        assert_eq!(splitter.next_event(), None);
        splitter.push(b":1}\n");
        assert_eq!(splitter.next_event(), None);
        splitter.push(b"\nevent: x\r\ndata: 2\r\n\r\ndata: [DO");
        assert_eq!(splitter.next_event().unwrap(), &b"data: {\"a\":1}\n\n"[..]);
        let second = splitter.next_event().unwrap();
        assert_eq!(
            parse(&second),
            Event {
                name: Some("x"),
                data: "2".into()
            }
        );
        assert_eq!(splitter.next_event(), None);
        assert_eq!(splitter.rest().unwrap(), &b"data: [DO"[..]);
    }
}
