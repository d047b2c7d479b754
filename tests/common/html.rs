//! Reading an admin page for what it says rather than how it is marked up:
//! the rows of its tables, each cell as the pieces of text it shows.

/// A table row: each cell (`td` or `th`) as its pieces of text, one per
/// element that holds text (`<span class="tag">a</span><span class="tag">b</span>`
/// is `["a", "b"]`), entities decoded and white space folded.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Vec<String>>);

impl Row {
    /// The pieces of text of cell `i` (from 0); none past the last cell.
    pub fn cell(&self, i: usize) -> &[String] {
        self.0.get(i).map_or(&[], Vec::as_slice)
    }

    /// Whether some cell shows exactly `text` as one of its pieces.
    pub fn shows(&self, text: &str) -> bool {
        self.0.iter().flatten().any(|piece| piece == text)
    }
}

/// Every table row of `html`, in order: its cells, `th` (a row's header)
/// and `td` alike.
pub fn rows(html: &str) -> Vec<Row> {
    elements(html, &["tr"])
        .into_iter()
        .map(|row| {
            Row(elements(row, &["th", "td"])
                .into_iter()
                .map(texts)
                .collect())
        })
        .collect()
}

/// The one row that shows `text` (an email, a title), or none.
pub fn row_of(html: &str, text: &str) -> Option<Row> {
    let mut found = rows(html).into_iter().filter(|row| row.shows(text));
    let row = found.next();
    assert!(found.next().is_none(), "more than one row shows {text:?}");
    row
}

/// The inside of the element with the id `id` (one that holds no element
/// of its own kind); empty when there is none.
pub fn by_id<'a>(html: &'a str, id: &str) -> &'a str {
    let Some(at) = html.find(&format!("id=\"{id}\"")) else {
        return "";
    };
    let Some(open) = html[..at].rfind('<') else {
        return "";
    };
    let name: String = html[open + 1..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let inner = &html[at..];
    let inner = &inner[inner.find('>').map_or(0, |i| i + 1)..];
    &inner[..inner.find(&format!("</{name}>")).unwrap_or(inner.len())]
}

/// Where the link that shows `text` leads (its `href`, decoded), if
/// there is one.
pub fn link(html: &str, text: &str) -> Option<String> {
    let mut rest = html;
    while let Some(at) = rest.find("<a ") {
        let tag = &rest[at..];
        let end = tag.find("</a>")?;
        let (head, inner) = tag[..end].split_once('>')?;
        if texts(inner).join(" ") == text {
            let href = head.split_once("href=\"")?.1.split('"').next()?;
            return Some(decode(href));
        }
        rest = &tag[end..];
    }
    None
}

/// The insides of each `<name ...>...</name>` of `html` (not nested), for
/// any of `names`, in order.
fn elements<'a>(html: &'a str, names: &[&str]) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut rest = html;
    loop {
        // The first opening tag of any of the names.
        let next = names
            .iter()
            .filter_map(|name| rest.find(&format!("<{name}")).map(|at| (at, *name)))
            .min();
        let Some((at, name)) = next else { break };
        let after = &rest[at + 1 + name.len()..];
        // `<tr` and not `<track`: the name ends at a space or `>`.
        if !after.starts_with([' ', '>', '\n']) {
            rest = after;
            continue;
        }
        let Some(start) = after.find('>') else { break };
        let inner = &after[start + 1..];
        let end = inner.find(&format!("</{name}>")).unwrap_or(inner.len());
        found.push(&inner[..end]);
        rest = &inner[end..];
    }
    found
}

/// The text between the tags of `html`, piece by piece.
fn texts(html: &str) -> Vec<String> {
    html.split('<')
        .map(|part| part.split_once('>').map_or(part, |(_, text)| text))
        .map(|text| decode(&text.split_whitespace().collect::<Vec<_>>().join(" ")))
        .filter(|text| !text.is_empty())
        .collect()
}

/// `text` with its character references (`&#60;`, `&amp;`...) decoded.
fn decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let name = &rest[1..end];
        let decoded = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => name
                .strip_prefix('#')
                .and_then(|n| match n.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => n.parse().ok(),
                })
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
