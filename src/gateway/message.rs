//! A chat message in OpenAI's shape, typed: its role, its content (text or a
//! list of parts), and every other field (tool calls, `name`,
//! `tool_call_id`, fields newer than mindgate) kept as it came, so an
//! OpenAI-compatible provider receives the client's messages unchanged.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::domain::{json_type, wrong, InvalidInput};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
    Function,
}

impl Role {
    const ALL: [Role; 6] = [
        Role::System,
        Role::Developer,
        Role::User,
        Role::Assistant,
        Role::Tool,
        Role::Function,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
            Role::Function => "function",
        }
    }

    fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == name)
    }
}

/// A message's content when it has some (not null, not absent).
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

/// One part of a content list, kept as it came, its `type` read once.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    kind: PartKind,
    fields: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    /// `{"type": "text", "text": "..."}`
    Text,
    /// `{"type": "image_url", "image_url": {"url": "..."}}`
    ImageUrl,
    /// An image already in Anthropic's shape.
    Image,
    /// Any other part (audio, files, a provider's own): passed on as is.
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    role: Role,
    content: Option<Content>,
    /// Every field in the order it came. The `role` and `content` entries
    /// are only slots holding their place (their values live typed above),
    /// so the message goes upstream with its fields in the client's order;
    /// content that was absent has no slot, content that was null has one.
    fields: Map<String, Value>,
}

/// What is wrong with a content value, for the caller to name the field.
#[derive(Debug)]
pub enum ContentError {
    /// Neither a string nor an array (nor null): its JSON type.
    NotTextOrParts(&'static str),
    /// The part at this index has no string `type`.
    PartWithoutType(usize),
}

/// `messages`, each checked; errors name the message (`messages[0].role`).
pub fn parse_messages(values: Vec<Value>) -> Result<Vec<ChatMessage>, InvalidInput> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| ChatMessage::parse(value, i))
        .collect()
}

impl ChatMessage {
    /// A message with text content, as mindgate writes one (an AI
    /// character's instruction, a turn of a Claude-style prompt).
    pub fn new(role: Role, text: impl Into<String>) -> ChatMessage {
        let mut fields = Map::new();
        fields.insert("role".into(), Value::Null);
        fields.insert("content".into(), Value::Null);
        ChatMessage {
            role,
            content: Some(Content::Text(text.into())),
            fields,
        }
    }

    /// The message at `messages[index]`.
    fn parse(value: Value, index: usize) -> Result<ChatMessage, InvalidInput> {
        let field = |name: &str| format!("messages[{index}].{name}");
        let mut fields = match value {
            Value::Object(fields) => fields,
            other => return Err(wrong(&format!("messages[{index}]"), "an object", &other)),
        };
        // Taking a value out leaves null behind: the slot keeps its place.
        let role = match fields.get_mut("role").map(std::mem::take) {
            Some(Value::String(name)) => Role::parse(&name).ok_or_else(|| {
                InvalidInput::new(
                    field("role"),
                    format!(
                        "`{}` must be one of {}, not {name:?}",
                        field("role"),
                        Role::ALL.map(Role::as_str).join(", ")
                    ),
                )
            })?,
            _ => {
                return Err(InvalidInput::new(
                    field("role"),
                    format!("`{}` is required and must be a string", field("role")),
                ))
            }
        };
        let content = match fields.get_mut("content").map(std::mem::take) {
            None => None,
            Some(value) => Content::parse(value).map_err(|error| match error {
                ContentError::NotTextOrParts(kind) => InvalidInput::new(
                    field("content"),
                    format!(
                        "`{}` must be a string or an array of parts, not {kind}",
                        field("content")
                    ),
                ),
                ContentError::PartWithoutType(j) => {
                    let name = format!("messages[{index}].content[{j}].type");
                    let message = format!("`{name}` is required and must be a string");
                    InvalidInput::new(name, message)
                }
            })?,
        };
        Ok(ChatMessage {
            role,
            content,
            fields,
        })
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn is_user(&self) -> bool {
        self.role == Role::User
    }

    /// `None` when the content is null or absent.
    pub fn content(&self) -> Option<&Content> {
        self.content.as_ref()
    }

    /// The content's plain text (see `Content::text`); empty when none.
    pub fn text(&self) -> Cow<'_, str> {
        self.content
            .as_ref()
            .map_or(Cow::Borrowed(""), Content::text)
    }

    /// An assistant's `tool_calls`, as sent.
    pub fn tool_calls(&self) -> &[Value] {
        match self.fields.get("tool_calls") {
            Some(Value::Array(calls)) => calls,
            _ => &[],
        }
    }

    /// The call a `tool` message answers.
    pub fn tool_call_id(&self) -> Option<&str> {
        self.fields.get("tool_call_id").and_then(Value::as_str)
    }
}

/// The message as JSON, its fields in the order they came. The values move:
/// nothing is copied.
impl From<ChatMessage> for Value {
    fn from(message: ChatMessage) -> Value {
        let ChatMessage {
            role,
            content,
            mut fields,
        } = message;
        if let Some(slot) = fields.get_mut("role") {
            *slot = Value::String(role.as_str().to_owned());
        }
        if let (Some(slot), Some(content)) = (fields.get_mut("content"), content) {
            *slot = content.into();
        }
        Value::Object(fields)
    }
}

impl Content {
    /// A content value: `None` for null, else text or parts (each part an
    /// object with a string `type`).
    pub fn parse(value: Value) -> Result<Option<Content>, ContentError> {
        match value {
            Value::Null => Ok(None),
            Value::String(text) => Ok(Some(Content::Text(text))),
            Value::Array(parts) => parts
                .into_iter()
                .enumerate()
                .map(|(j, part)| Part::parse(part).ok_or(ContentError::PartWithoutType(j)))
                .collect::<Result<_, _>>()
                .map(|parts| Some(Content::Parts(parts))),
            other => Err(ContentError::NotTextOrParts(json_type(&other))),
        }
    }

    /// The plain text: the text itself, or the text parts one per line with
    /// each image as `[image]` (other parts left out).
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Content::Text(text) => Cow::Borrowed(text),
            Content::Parts(parts) => Cow::Owned(
                parts
                    .iter()
                    .filter_map(|part| match part.kind {
                        PartKind::Text => part.text(),
                        PartKind::ImageUrl | PartKind::Image => Some("[image]"),
                        PartKind::Other => None,
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        }
    }

    /// `text()`, without a copy of text content.
    pub fn into_text(self) -> String {
        match self {
            Content::Text(text) => text,
            parts => parts.text().into_owned(),
        }
    }
}

impl From<Content> for Value {
    fn from(content: Content) -> Value {
        match content {
            Content::Text(text) => Value::String(text),
            Content::Parts(parts) => Value::Array(
                parts
                    .into_iter()
                    .map(|part| Value::Object(part.fields))
                    .collect(),
            ),
        }
    }
}

impl Part {
    fn parse(value: Value) -> Option<Part> {
        let Value::Object(fields) = value else {
            return None;
        };
        let kind = match fields.get("type")?.as_str()? {
            "text" => PartKind::Text,
            "image_url" => PartKind::ImageUrl,
            "image" => PartKind::Image,
            _ => PartKind::Other,
        };
        Some(Part { kind, fields })
    }

    pub fn kind(&self) -> PartKind {
        self.kind
    }

    /// A text part's text, when it is a string.
    pub fn text(&self) -> Option<&str> {
        match self.kind {
            PartKind::Text => self.fields.get("text")?.as_str(),
            _ => None,
        }
    }

    /// An `image_url` part's URL (`{"url": ...}`, or the URL alone).
    pub fn image_url(&self) -> Option<&str> {
        match self.kind {
            PartKind::ImageUrl => match self.fields.get("image_url")? {
                Value::String(url) => Some(url),
                image => image.get("url")?.as_str(),
            },
            _ => None,
        }
    }

    /// The part as it came.
    pub fn to_value(&self) -> Value {
        Value::Object(self.fields.clone())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(json: &str) -> Result<Vec<ChatMessage>, InvalidInput> {
        parse_messages(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn messages_go_back_out_exactly_as_they_came() {
        // Unusual field orders, unknown fields, null and absent content,
        // parts of every kind, tool calls and their answers.
        let sent = r#"[{"content":"Be brief.","role":"system","name":"rules"},{"role":"developer","content":"x","x_future":{"a":[1,2.5,null]}},{"role":"user","content":[{"type":"text","text":"Look","cache_control":{"type":"ephemeral"}},{"image_url":{"url":"https://example.com/a.png","detail":"low"},"type":"image_url"},{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}},{"type":"text","text":5}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}],"refusal":null},{"role":"tool","tool_call_id":"c1","content":"rain"},{"role":"function","name":"f","content":""},{"role":"assistant","tool_calls":[]}]"#;
        let messages = parse(sent).unwrap();
        let back = Value::Array(messages.into_iter().map(Value::from).collect());
        assert_eq!(back.to_string(), sent);
    }

    #[test]
    fn roles_content_and_tool_fields_are_read() {
        let messages = parse(
            r#"[{"role":"user","content":"Hi"},
                {"role":"assistant","content":null,"tool_calls":[{"id":"c1"}]},
                {"role":"tool","tool_call_id":"c1"}]"#,
        )
        .unwrap();
        assert_eq!(
            messages.iter().map(ChatMessage::role).collect::<Vec<_>>(),
            [Role::User, Role::Assistant, Role::Tool]
        );
        assert!(messages[0].is_user() && !messages[1].is_user());
        assert_eq!(messages[0].content(), Some(&Content::Text("Hi".to_owned())));
        assert_eq!(messages[1].content(), None);
        assert_eq!(messages[1].tool_calls(), [json!({"id": "c1"})]);
        assert_eq!(messages[2].tool_call_id(), Some("c1"));
        assert!(messages[0].tool_calls().is_empty());
        assert_eq!(messages[0].tool_call_id(), None);
    }

    #[test]
    fn text_joins_text_parts_and_marks_images() {
        let messages = parse(
            r#"[{"role":"user","content":[
                  {"type":"text","text":"Hello"},
                  {"type":"image_url","image_url":{"url":"x"}},
                  {"type":"input_audio","input_audio":{}},
                  {"type":"image","source":{}},
                  {"type":"text","text":"there"}]},
                {"role":"assistant","content":null},
                {"role":"assistant"},
                {"role":"user","content":"plain"}]"#,
        )
        .unwrap();
        assert_eq!(messages[0].text(), "Hello\n[image]\n[image]\nthere");
        assert_eq!(messages[1].text(), "");
        assert_eq!(messages[2].text(), "");
        assert!(matches!(messages[3].text(), Cow::Borrowed("plain")));
        let Some(Content::Parts(parts)) = messages[0].content() else {
            panic!("parts expected");
        };
        assert_eq!(
            parts.iter().map(Part::kind).collect::<Vec<_>>(),
            [
                PartKind::Text,
                PartKind::ImageUrl,
                PartKind::Other,
                PartKind::Image,
                PartKind::Text
            ]
        );
        assert_eq!(parts[1].image_url(), Some("x"));
        assert_eq!(parts[0].image_url(), None);
        assert_eq!(parts[1].text(), None);
    }

    #[test]
    fn bad_messages_name_the_field() {
        let cases = [
            (
                r#"[{"role":"user"}, 5]"#,
                "messages[1]",
                "must be an object, not a number",
            ),
            (
                r#"[{"content":"hi"}]"#,
                "messages[0].role",
                "is required and must be a string",
            ),
            (
                r#"[{"role":null}]"#,
                "messages[0].role",
                "is required and must be a string",
            ),
            (
                r#"[{"role":"wizard"}]"#,
                "messages[0].role",
                "must be one of system, developer, user, assistant, tool, function, not \"wizard\"",
            ),
            (
                r#"[{"role":"user"},{"role":"user","content":{"text":"hi"}}]"#,
                "messages[1].content",
                "must be a string or an array of parts, not an object",
            ),
            (
                r#"[{"role":"user","content":[{"type":"text","text":"a"},{"text":"b"}]}]"#,
                "messages[0].content[1].type",
                "is required and must be a string",
            ),
            (
                r#"[{"role":"user","content":["a"]}]"#,
                "messages[0].content[0].type",
                "is required and must be a string",
            ),
        ];
        for (json, field, problem) in cases {
            let error = parse(json).unwrap_err();
            assert_eq!(error.field, field, "{json}");
            assert_eq!(error.message, format!("`{field}` {problem}"), "{json}");
        }
    }

    #[test]
    fn a_new_message_is_role_then_text() {
        let message = ChatMessage::new(Role::System, "You are a pirate.");
        assert_eq!(
            Value::from(message).to_string(),
            r#"{"role":"system","content":"You are a pirate."}"#
        );
    }
}
