//! Server-sent events: cutting an upstream's byte stream into whole events
//! (chunks may end anywhere), and reading an event's name and data.
//!
//! Lines may end with LF, CRLF or a lone CR, as the SSE format allows; the
//! splitter turns each into LF as bytes arrive, so everything after it
//! deals with one line ending only.

use bytes::{Bytes, BytesMut};
use memchr::{memchr, memmem};

/// A buffer this large is not kept once empty: one big event must not pin
/// its memory for the rest of a long stream.
const KEEP_CAPACITY: usize = 64 << 10;

#[derive(Debug)]
pub struct Splitter {
    buffer: BytesMut,
    /// Where the search for the end of the current event resumes.
    scanned: usize,
    /// The last chunk ended with a CR: an LF opening the next belongs to it.
    after_cr: bool,
    /// Largest event, in bytes.
    limit: usize,
}

/// An event (or what has come of it so far) is larger than the limit.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge;

impl Splitter {
    pub fn new(limit: usize) -> Splitter {
        Splitter {
            buffer: BytesMut::new(),
            scanned: 0,
            after_cr: false,
            limit,
        }
    }

    pub fn push(&mut self, mut chunk: &[u8]) {
        if std::mem::take(&mut self.after_cr) && chunk.first() == Some(&b'\n') {
            chunk = &chunk[1..];
        }
        while let Some(cr) = memchr(b'\r', chunk) {
            self.buffer.extend_from_slice(&chunk[..cr]);
            self.buffer.extend_from_slice(b"\n");
            chunk = &chunk[cr + 1..];
            match chunk.first() {
                Some(b'\n') => chunk = &chunk[1..],
                Some(_) => {}
                None => self.after_cr = true,
            }
        }
        self.buffer.extend_from_slice(chunk);
    }

    /// The next whole event, with the blank line that ends it.
    pub fn next_event(&mut self) -> Result<Option<Bytes>, TooLarge> {
        let from = self.scanned.saturating_sub(1);
        let Some(at) = memmem::find(&self.buffer[from..], b"\n\n") else {
            self.scanned = self.buffer.len();
            return if self.buffer.len() > self.limit {
                Err(TooLarge)
            } else {
                Ok(None)
            };
        };
        let end = from + at + 2;
        if end > self.limit {
            return Err(TooLarge);
        }
        self.scanned = 0;
        let event = self.buffer.split_to(end).freeze();
        if self.buffer.is_empty() && self.buffer.capacity() > KEEP_CAPACITY {
            self.buffer = BytesMut::new();
        }
        Ok(Some(event))
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

/// The event's fields; `None` when it is not UTF-8, as SSE must be.
pub fn parse(raw: &[u8]) -> Option<Event<'_>> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut name = None;
    let mut data = String::new();
    for line in text.split('\n') {
        if let Some(value) = field(line, "event") {
            name = Some(value);
        } else if let Some(value) = field(line, "data") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(value);
        }
    }
    Some(Event { name, data })
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let value = line.strip_prefix(name)?.strip_prefix(':')?;
    Some(value.strip_prefix(' ').unwrap_or(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(splitter: &mut Splitter) -> Vec<Bytes> {
        std::iter::from_fn(|| splitter.next_event().unwrap()).collect()
    }

    #[test]
    fn events_split_wherever_chunks_end() {
        let mut splitter = Splitter::new(1 << 20);
        splitter.push(b"data: {\"a\"");
        assert_eq!(splitter.next_event(), Ok(None));
        splitter.push(b":1}\n");
        assert_eq!(splitter.next_event(), Ok(None));
        splitter.push(b"\nevent: x\r\ndata: 2\r\n\r\ndata: [DO");
        let all = events(&mut splitter);
        assert_eq!(all[0], &b"data: {\"a\":1}\n\n"[..]);
        assert_eq!(
            parse(&all[1]),
            Some(Event {
                name: Some("x"),
                data: "2".into()
            })
        );
        assert_eq!(all.len(), 2);
        assert_eq!(splitter.rest().unwrap(), &b"data: [DO"[..]);
    }

    #[test]
    fn every_line_ending_ends_lines_even_across_chunks() {
        let mut splitter = Splitter::new(1 << 20);
        // CR-only, then a CRLF whose CR ends one chunk and LF opens the next.
        for chunk in [
            &b"data: 1\r\r"[..],
            b"data: 2\r",
            b"\n\r",
            b"\ndata: 3\n\r\n",
        ] {
            splitter.push(chunk);
        }
        let data: Vec<String> = events(&mut splitter)
            .iter()
            .map(|e| parse(e).unwrap().data)
            .collect();
        assert_eq!(data, ["1", "2", "3"]);
        assert_eq!(splitter.rest(), None);
    }

    #[test]
    fn an_event_past_the_limit_is_refused_before_it_ends() {
        let mut splitter = Splitter::new(16);
        splitter.push(b"data: 12345678\n\n");
        assert_eq!(
            splitter.next_event(),
            Ok(Some(Bytes::from("data: 12345678\n\n")))
        );
        splitter.push(b"data: 123456789");
        assert_eq!(splitter.next_event(), Ok(None));
        splitter.push(b"01");
        assert_eq!(splitter.next_event(), Err(TooLarge));
        let mut whole = Splitter::new(16);
        whole.push(b"data: 1234567890\n\n");
        assert_eq!(whole.next_event(), Err(TooLarge));
    }

    #[test]
    fn only_utf8_events_parse() {
        assert_eq!(parse(b"data: \xff\n\n"), None);
    }
}
