//! `--base-path`: the path everything is served under, for a reverse proxy
//! that mounts mindgate at `/mindgate` rather than at its root.

use std::fmt;
use std::sync::Arc;

/// Empty (the root), or `/a/b`: a leading slash, no trailing one, plain
/// segments. It goes into links, `Location` headers and cookie paths as it
/// is, so it holds only characters none of them has to escape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BasePath(Arc<str>);

impl BasePath {
    pub fn parse(raw: &str) -> Result<BasePath, String> {
        if raw.is_empty() {
            return Ok(BasePath::default());
        }
        let problem = if !raw.starts_with('/') {
            Some("must start with /")
        } else if raw.ends_with('/') {
            Some("must not end with / (use /mindgate, not /mindgate/)")
        } else if raw.contains(['?', '#']) {
            Some("must be a path alone, with no query or fragment")
        } else if raw.split('/').skip(1).any(|s| s.is_empty()) {
            Some("must not contain an empty segment (//)")
        } else if raw.split('/').any(|s| s == "." || s == "..") {
            Some("must not contain . or .. segments")
        } else if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b))
        {
            Some("may hold only letters, digits and - . _ ~ between its slashes")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(format!("{raw:?} {problem}, e.g. /mindgate")),
            None => Ok(BasePath(raw.into())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BasePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::BasePath;

    #[test]
    fn a_base_path_is_a_clean_absolute_path_or_nothing() {
        assert_eq!(BasePath::parse("").unwrap().as_str(), "");
        assert_eq!(BasePath::parse("/mindgate").unwrap().as_str(), "/mindgate");
        assert_eq!(
            BasePath::parse("/a/b-c_d.e~").unwrap().as_str(),
            "/a/b-c_d.e~"
        );
        for (bad, problem) in [
            ("mindgate", "must start with /"),
            ("/", "must not end with /"),
            ("/mindgate/", "must not end with /"),
            ("/a?b=1", "no query"),
            ("/a#b", "no query or fragment"),
            ("/a//b", "empty segment"),
            ("/a/../b", ". or .."),
            ("/..", ". or .."),
            ("/a b", "only letters"),
            ("/a;b", "only letters"),
            ("/é", "only letters"),
        ] {
            let message = BasePath::parse(bad).unwrap_err();
            assert!(message.contains(problem), "{bad:?}: {message}");
        }
    }
}
