//! Every admin path, written once: the route patterns `admin::mount`
//! serves (under `ROOT`), and `Urls`, which fills them in under the base
//! path for the redirects, the navigation, the templates and the tests.

use std::fmt::Display;

use super::format::url_encode;
use crate::domain::Scope;
use crate::http::BasePath;

/// Where the admin is mounted, under the base path.
pub const ROOT: &str = "/admin";

// Route patterns, relative to `ROOT`. A `{name}` is one path segment.
pub const DASHBOARD: &str = "";
pub const LOGIN: &str = "/login";
pub const LOGOUT: &str = "/logout";
pub const SETUP: &str = "/setup";
pub const USERS: &str = "/users";
pub const USERS_IMPORT: &str = "/users/import";
/// One user's page: their usage and latest chats.
pub const USER: &str = "/users/{id}";
pub const USER_ROW: &str = "/users/{id}/row";
pub const USER_EDIT: &str = "/users/{id}/edit";
pub const USER_TAGS: &str = "/users/{id}/tags";
pub const USER_DELETE: &str = "/users/{id}/delete";
pub const CHARACTERS: &str = "/characters";
pub const CHARACTER_NEW: &str = "/characters/new";
pub const CHARACTER: &str = "/characters/{id}";
pub const CHARACTER_EDIT: &str = "/characters/{id}/edit";
pub const CHARACTER_DELETE: &str = "/characters/{id}/delete";
pub const PROVIDERS: &str = "/providers";
pub const PROVIDER: &str = "/providers/{id}";
pub const PROVIDER_TEST: &str = "/providers/{id}/test";
pub const PROVIDER_DELETE: &str = "/providers/{id}/delete";
/// Imports the provider's own model list into the catalog.
pub const PROVIDER_IMPORT: &str = "/providers/{id}/import";
pub const MODELS: &str = "/models";
pub const MODEL_TOGGLE: &str = "/models/toggle";
/// Takes the model's name in the form, like `MODEL_TOGGLE`.
pub const MODEL_PRICE: &str = "/models/price";
/// Takes the model's name in the query (`?name=`): names hold slashes.
pub const MODEL_DELETE: &str = "/models/delete";
/// Which provider takes the names nothing else resolves.
pub const DEFAULT_PROVIDER: &str = "/models/default-provider";
pub const CHATLOGS: &str = "/chatlogs";
pub const CHATLOGS_JSON: &str = "/chatlogs.json";
pub const CHATLOGS_CSV: &str = "/chatlogs.csv";
pub const CHATLOG: &str = "/chatlogs/{chat_id}";
pub const USAGE: &str = "/usage";
pub const USAGE_USERS_CSV: &str = "/usage/users.csv";
pub const USAGE_TAGS_CSV: &str = "/usage/tags.csv";
pub const USAGE_MODELS_CSV: &str = "/usage/models.csv";
/// Every tag in use, and the policy for everyone.
pub const GROUPS: &str = "/groups";
/// One tag's members and policy (`Urls::group` writes the segment).
pub const GROUP: &str = "/groups/{tag}";
/// The policy of a scope (`everyone`, `tag:NAME`, `user:ID`, `key:ID`),
/// saved from its page.
pub const POLICY: &str = "/policies/{scope}";
pub const POLICY_DELETE: &str = "/policies/{scope}/delete";
pub const API_KEYS: &str = "/api-keys";
/// One key's page: its scope and policy.
pub const API_KEY: &str = "/api-keys/{id}";
pub const API_KEY_REVOKE: &str = "/api-keys/{id}/revoke";
pub const SETTINGS: &str = "/settings";
pub const SETTINGS_RECORDING: &str = "/settings/recording";
pub const SETTINGS_CHATLOGS: &str = "/settings/chatlogs";
pub const SETTINGS_TIMEZONE: &str = "/settings/timezone";
pub const SETTINGS_PASSWORD: &str = "/settings/password";
pub const ADMINS: &str = "/settings/admins";
pub const ADMIN_DELETE: &str = "/settings/admins/{id}/delete";

/// The embedded static files (`assets`), outside the admin.
pub const STATIC: &str = "/static/{name:.*}";
/// The API (served by `api`), named on the keys page with its document.
pub const API: &str = "/api/v1";

/// The pages anyone may see, signed in or not.
pub fn is_public(pattern: &str) -> bool {
    matches!(pattern, LOGIN | SETUP)
}

/// `pattern` with its one `{…}` segment replaced by `value`, escaped.
fn fill(pattern: &str, value: impl Display) -> String {
    let (Some(open), Some(close)) = (pattern.find('{'), pattern.find('}')) else {
        return pattern.to_owned();
    };
    let value = url_encode(&value.to_string());
    format!("{}{value}{}", &pattern[..open], &pattern[close + 1..])
}

/// The admin's URLs (path and query) under one base path.
#[derive(Debug, Clone, Default)]
pub struct Urls {
    base: BasePath,
}

impl Urls {
    pub fn new(base: BasePath) -> Urls {
        Urls { base }
    }

    /// A route pattern without segments, under the base path and `ROOT`.
    pub fn at(&self, pattern: &str) -> String {
        format!("{}{ROOT}{pattern}", self.base)
    }

    /// A route pattern with its segment filled in.
    pub fn with(&self, pattern: &str, value: impl Display) -> String {
        self.at(&fill(pattern, value))
    }

    /// The admin's own paths start with this; its cookies are sent to them.
    pub fn root(&self) -> String {
        self.at("")
    }

    /// `path` relative to `ROOT` when it is an admin path (`/admin/users`
    /// gives `/users`, `/admin` gives ``).
    pub fn relative<'p>(&self, path: &'p str) -> Option<&'p str> {
        let rest = path.strip_prefix(self.base.as_str())?.strip_prefix(ROOT)?;
        (rest.is_empty() || rest.starts_with('/')).then_some(rest)
    }

    pub fn dashboard(&self) -> String {
        self.at(DASHBOARD)
    }

    pub fn login(&self) -> String {
        self.at(LOGIN)
    }

    /// The sign-in page, leading back to `next` (a path and query) after.
    pub fn login_then(&self, next: &str) -> String {
        format!("{}?next={}", self.login(), url_encode(next))
    }

    pub fn logout(&self) -> String {
        self.at(LOGOUT)
    }

    pub fn setup(&self) -> String {
        self.at(SETUP)
    }

    /// The one-time link that creates the first admin.
    pub fn setup_with(&self, token: &str) -> String {
        format!("{}?token={token}", self.setup())
    }

    pub fn users(&self) -> String {
        self.at(USERS)
    }

    pub fn users_import(&self) -> String {
        self.at(USERS_IMPORT)
    }

    pub fn user(&self, id: impl Display) -> String {
        self.with(USER, id)
    }

    pub fn user_row(&self, id: impl Display) -> String {
        self.with(USER_ROW, id)
    }

    pub fn user_edit(&self, id: impl Display) -> String {
        self.with(USER_EDIT, id)
    }

    pub fn user_tags(&self, id: impl Display) -> String {
        self.with(USER_TAGS, id)
    }

    pub fn user_delete(&self, id: impl Display) -> String {
        self.with(USER_DELETE, id)
    }

    pub fn characters(&self) -> String {
        self.at(CHARACTERS)
    }

    pub fn character_new(&self) -> String {
        self.at(CHARACTER_NEW)
    }

    pub fn character(&self, id: impl Display) -> String {
        self.with(CHARACTER, id)
    }

    pub fn character_edit(&self, id: impl Display) -> String {
        self.with(CHARACTER_EDIT, id)
    }

    pub fn character_delete(&self, id: impl Display) -> String {
        self.with(CHARACTER_DELETE, id)
    }

    pub fn providers(&self) -> String {
        self.at(PROVIDERS)
    }

    pub fn provider(&self, id: impl Display) -> String {
        self.with(PROVIDER, id)
    }

    pub fn provider_test(&self, id: impl Display) -> String {
        self.with(PROVIDER_TEST, id)
    }

    pub fn provider_delete(&self, id: impl Display) -> String {
        self.with(PROVIDER_DELETE, id)
    }

    pub fn provider_import(&self, id: impl Display) -> String {
        self.with(PROVIDER_IMPORT, id)
    }

    pub fn models(&self) -> String {
        self.at(MODELS)
    }

    pub fn default_provider(&self) -> String {
        self.at(DEFAULT_PROVIDER)
    }

    pub fn model_toggle(&self) -> String {
        self.at(MODEL_TOGGLE)
    }

    pub fn model_price(&self) -> String {
        self.at(MODEL_PRICE)
    }

    pub fn model_delete(&self, name: &str) -> String {
        format!("{}?name={}", self.at(MODEL_DELETE), url_encode(name))
    }

    pub fn chatlogs(&self) -> String {
        self.at(CHATLOGS)
    }

    pub fn chatlogs_json(&self) -> String {
        self.at(CHATLOGS_JSON)
    }

    pub fn chatlogs_csv(&self) -> String {
        self.at(CHATLOGS_CSV)
    }

    pub fn chatlog(&self, chat_id: impl Display) -> String {
        self.with(CHATLOG, chat_id)
    }

    pub fn usage(&self) -> String {
        self.at(USAGE)
    }

    pub fn usage_users_csv(&self) -> String {
        self.at(USAGE_USERS_CSV)
    }

    pub fn usage_tags_csv(&self) -> String {
        self.at(USAGE_TAGS_CSV)
    }

    pub fn usage_models_csv(&self) -> String {
        self.at(USAGE_MODELS_CSV)
    }

    pub fn groups(&self) -> String {
        self.at(GROUPS)
    }

    /// A tag's page. A tag of dots alone (`.`, `..`) would be a dot
    /// segment, which browsers resolve away: a leading space, which no tag
    /// has (they are trimmed), keeps it a name.
    pub fn group(&self, tag: &str) -> String {
        if matches!(tag, "." | "..") {
            self.with(GROUP, format!(" {tag}"))
        } else {
            self.with(GROUP, tag)
        }
    }

    /// Where the policy of `scope` is saved.
    pub fn policy(&self, scope: &Scope) -> String {
        self.with(POLICY, scope)
    }

    pub fn policy_delete(&self, scope: &Scope) -> String {
        self.with(POLICY_DELETE, scope)
    }

    /// The page that shows the policy of `scope`, with its form.
    pub fn policy_page(&self, scope: &Scope) -> String {
        match scope {
            Scope::Everyone => self.groups(),
            Scope::Tag(tag) => self.group(tag),
            Scope::User(id) => self.user(id),
            Scope::Key(id) => self.api_key(id),
        }
    }

    pub fn api_keys(&self) -> String {
        self.at(API_KEYS)
    }

    pub fn api_key(&self, id: impl Display) -> String {
        self.with(API_KEY, id)
    }

    pub fn api_key_revoke(&self, id: impl Display) -> String {
        self.with(API_KEY_REVOKE, id)
    }

    pub fn settings(&self) -> String {
        self.at(SETTINGS)
    }

    pub fn settings_recording(&self) -> String {
        self.at(SETTINGS_RECORDING)
    }

    pub fn settings_chatlogs(&self) -> String {
        self.at(SETTINGS_CHATLOGS)
    }

    pub fn settings_timezone(&self) -> String {
        self.at(SETTINGS_TIMEZONE)
    }

    pub fn settings_password(&self) -> String {
        self.at(SETTINGS_PASSWORD)
    }

    pub fn admins(&self) -> String {
        self.at(ADMINS)
    }

    pub fn admin_delete(&self, id: impl Display) -> String {
        self.with(ADMIN_DELETE, id)
    }

    /// An embedded file, versioned by its content so it may be cached for
    /// good.
    pub fn asset(&self, name: &str) -> String {
        let path = format!("{}{}", self.base, fill(STATIC, name));
        match crate::assets::version(name) {
            Some(hash) => format!("{path}?v={hash}"),
            None => path,
        }
    }

    pub fn api(&self) -> String {
        format!("{}{API}", self.base)
    }

    pub fn openapi(&self) -> String {
        format!("{}/openapi.json", self.api())
    }
}

#[cfg(test)]
mod tests {
    use super::Urls;
    use crate::domain::{ApiKeyId, Scope};
    use crate::http::BasePath;

    #[test]
    fn paths_carry_the_base_and_escape_their_segment() {
        let root = Urls::default();
        assert_eq!(root.dashboard(), "/admin");
        assert_eq!(root.user_tags(7), "/admin/users/7/tags");
        assert_eq!(root.chatlog("a/b?c d"), "/admin/chatlogs/a%2Fb%3Fc%20d");
        assert_eq!(
            root.model_delete("org/m 1"),
            "/admin/models/delete?name=org%2Fm%201"
        );
        let under = Urls::new(BasePath::parse("/mindgate").unwrap());
        assert_eq!(under.dashboard(), "/mindgate/admin");
        assert_eq!(
            under.login_then("/mindgate/admin/users?q=x"),
            "/mindgate/admin/login?next=%2Fmindgate%2Fadmin%2Fusers%3Fq%3Dx"
        );
        assert_eq!(under.openapi(), "/mindgate/api/v1/openapi.json");
        assert!(under
            .asset("admin.css")
            .starts_with("/mindgate/static/admin.css?v="));
        assert_eq!(under.relative("/mindgate/admin/login"), Some("/login"));
        assert_eq!(under.relative("/mindgate/admin"), Some(""));
        assert_eq!(under.relative("/mindgate/administrator"), None);
        assert_eq!(under.relative("/admin/login"), None);
    }

    #[test]
    fn group_and_policy_paths_keep_any_tag_one_segment() {
        let u = Urls::default();
        assert_eq!(u.group("Data team/EU"), "/admin/groups/Data%20team%2FEU");
        assert_eq!(u.group("a?b#c%"), "/admin/groups/a%3Fb%23c%25");
        assert_eq!(u.group(".."), "/admin/groups/%20..");
        assert_eq!(u.group("."), "/admin/groups/%20.");
        assert_eq!(u.group("..."), "/admin/groups/...");
        let tag = Scope::Tag("x/y".into());
        assert_eq!(u.policy(&tag), "/admin/policies/tag%3Ax%2Fy");
        assert_eq!(
            u.policy_delete(&Scope::Everyone),
            "/admin/policies/everyone/delete"
        );
        assert_eq!(u.policy_page(&tag), u.group("x/y"));
        assert_eq!(u.policy_page(&Scope::Key(ApiKeyId(3))), "/admin/api-keys/3");
    }
}
