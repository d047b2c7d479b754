//! Server configuration: flags win over environment, which wins over defaults.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args};

use crate::db::providers::ProviderSeed;
use crate::domain::{InstanceTimeZone, Retention};
use crate::http::client_ip::TrustedProxies;
use crate::http::BasePath;
use crate::secrets::SecretKey;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DB: &str = "mindgate.db";

/// The database file, shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct DbConfig {
    /// SQLite database file (created on first start)
    #[arg(long = "db", env = "MINDGATE_DB", default_value = DEFAULT_DB, value_name = "PATH")]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on, HOST:PORT (port 0 picks a free one)
    #[arg(long, env = "MINDGATE_LISTEN", default_value = DEFAULT_LISTEN, value_name = "ADDR")]
    pub listen: String,
    #[command(flatten)]
    pub db: DbConfig,
    #[command(flatten)]
    pub app: AppConfig,
}

/// Everything the server needs besides its socket and its database.
#[derive(Debug, Clone, Default, Args)]
pub struct AppConfig {
    #[command(flatten)]
    pub gateway: GatewayConfig,
    #[command(flatten)]
    pub admin: AdminConfig,
    #[command(flatten)]
    pub http: HttpConfig,
}

/// The admin UI.
#[derive(Debug, Clone, Default, Args)]
pub struct AdminConfig {
    /// Mark admin cookies Secure even over plain HTTP (behind a TLS proxy that does not send X-Forwarded-Proto)
    #[arg(long, env = "MINDGATE_SECURE_COOKIES", action = ArgAction::Set, default_value_t = false, value_parser = BoolishValueParser::new(), value_name = "BOOL")]
    pub secure_cookies: bool,
    /// Where the one-time setup link reads the time; tests set their own.
    #[arg(skip)]
    pub clock: Clock,
}

/// A monotonic clock: the system's, or one that a test moves forward (to
/// see a setup link expire without waiting 30 minutes).
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Instant + Send + Sync>);

impl Clock {
    pub fn new(now: impl Fn() -> Instant + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    pub fn now(&self) -> Instant {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new(Instant::now)
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// What every route shares: how long a request body may take, which
/// browser origins may call the API, which proxies name the client, and
/// the path everything is served under.
#[derive(Debug, Clone, Args)]
pub struct HttpConfig {
    /// Time allowed for a request body to arrive, plus 1s per --body-min-rate bytes received
    #[arg(long, env = "MINDGATE_BODY_TIMEOUT", default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub body_timeout: Duration,
    /// Bytes of a request body that earn it one more second (a large body on a slow link still arrives)
    #[arg(long, env = "MINDGATE_BODY_MIN_RATE", default_value_t = DEFAULT_BODY_MIN_RATE, value_parser = clap::value_parser!(u64).range(1..), value_name = "BYTES")]
    pub body_min_rate: u64,
    /// Origins whose web pages may call the API, comma-separated (https://chat.example.com), or * for any
    #[arg(long, env = "MINDGATE_CORS_ORIGINS", value_delimiter = ',', value_parser = crate::http::parse_origin, value_name = "ORIGINS")]
    pub cors_origins: Vec<String>,
    /// Reverse proxies whose X-Forwarded-For names the client: comma-separated addresses or CIDRs
    #[arg(long, env = "MINDGATE_TRUSTED_PROXIES", default_value = "", hide_default_value = true, value_parser = TrustedProxies::parse, value_name = "CIDRS")]
    pub trusted_proxies: TrustedProxies,
    /// Serve everything (API, admin, static files) under this path, for a reverse proxy: e.g. /mindgate
    #[arg(long, env = "MINDGATE_BASE_PATH", default_value = "", hide_default_value = true, value_parser = BasePath::parse, value_name = "PATH")]
    pub base_path: BasePath,
}

pub const DEFAULT_BODY_MIN_RATE: u64 = 16 * 1024;

impl Default for HttpConfig {
    /// The defaults, without reading the environment.
    fn default() -> Self {
        HttpConfig {
            body_timeout: Duration::from_secs(30),
            body_min_rate: DEFAULT_BODY_MIN_RATE,
            cors_origins: Vec::new(),
            trusted_proxies: TrustedProxies::default(),
            base_path: BasePath::default(),
        }
    }
}

/// How the chat completions gateway talks to upstreams.
#[derive(Debug, Clone, Args)]
pub struct GatewayConfig {
    /// Time allowed to connect to an upstream (e.g. 10s, 500ms)
    #[arg(long, env = "MINDGATE_CONNECT_TIMEOUT", default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub connect_timeout: Duration,
    /// Time allowed for an upstream's response to begin
    #[arg(long, env = "MINDGATE_FIRST_BYTE_TIMEOUT", default_value = "300s", value_parser = parse_duration, value_name = "DURATION")]
    pub first_byte_timeout: Duration,
    /// Longest silence allowed between two chunks of an upstream's response
    #[arg(long, env = "MINDGATE_IDLE_TIMEOUT", default_value = "120s", value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Duration,
    /// Retries of a failed upstream request before its first byte (0 to 2)
    #[arg(long, env = "MINDGATE_RETRIES", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=2), value_name = "N")]
    pub retries: u32,
    /// Largest chat completion request body, in bytes
    #[arg(long, env = "MINDGATE_MAX_BODY_BYTES", default_value_t = 32 * 1024 * 1024, value_name = "BYTES")]
    pub max_body_bytes: usize,
    /// Largest single event of an upstream's stream, in bytes
    #[arg(long, env = "MINDGATE_MAX_EVENT_BYTES", default_value_t = 4 * 1024 * 1024, value_name = "BYTES")]
    pub max_event_bytes: usize,
    /// Largest whole (non-streamed) upstream answer, in bytes
    #[arg(long, env = "MINDGATE_MAX_ANSWER_BYTES", default_value_t = 32 * 1024 * 1024, value_name = "BYTES")]
    pub max_answer_bytes: usize,
    /// Record completions in the chat logs (on/off); unset keeps the admin's setting
    #[arg(long, env = "MINDGATE_RECORD_CHATS", value_parser = BoolishValueParser::new(), value_name = "BOOL")]
    pub record_chats: Option<bool>,
    /// Record each chat's conversation and title (on), or only what it used, who and when (off); unset keeps the admin's setting
    #[arg(long, env = "MINDGATE_RECORD_CONVERSATIONS", value_parser = BoolishValueParser::new(), value_name = "BOOL")]
    pub record_conversations: Option<bool>,
    /// Delete chat logs older than this many days, 0 to keep them forever; unset keeps the admin's setting
    #[arg(long, env = "MINDGATE_CHATLOG_RETENTION_DAYS", value_parser = Retention::parse_arg, value_name = "DAYS")]
    pub chatlog_retention_days: Option<Retention>,
    /// The IANA time zone (e.g. Europe/Paris) whose calendar day, week and month limits follow; unset keeps the admin's setting
    #[arg(long, env = "MINDGATE_TIMEZONE", value_parser = InstanceTimeZone::parse_arg, value_name = "ZONE")]
    pub timezone: Option<InstanceTimeZone>,
    /// Most connections to upstreams per worker thread, 0 for no limit but the open files limit
    #[arg(
        long,
        env = "MINDGATE_MAX_UPSTREAM_CONNECTIONS",
        default_value_t = 0,
        value_name = "N"
    )]
    pub max_upstream_connections: usize,
    /// At start, import the model list of every provider that has its key into the catalog (on/off), in the background
    #[arg(long, env = "MINDGATE_SYNC_MODELS", action = ArgAction::Set, default_value_t = false, value_parser = BoolishValueParser::new(), value_name = "BOOL")]
    pub sync_models: bool,
    /// From OPENAI_API_KEY and OPENAI_BASE_URL.
    #[arg(skip = ProviderSeed::from_env("OPENAI_BASE_URL", "OPENAI_API_KEY"))]
    pub openai: ProviderSeed,
    /// From ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL.
    #[arg(skip = ProviderSeed::from_env("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY"))]
    pub anthropic: ProviderSeed,
    /// Seals provider keys at rest; from MINDGATE_SECRET_KEY or
    /// MINDGATE_SECRET_KEY_FILE (never a flag: it would show in `ps`).
    #[arg(skip)]
    pub secret_key: SecretKey,
}

impl Default for GatewayConfig {
    /// The defaults, without reading the environment.
    fn default() -> Self {
        GatewayConfig {
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(300),
            idle_timeout: Duration::from_secs(120),
            retries: 2,
            max_body_bytes: 32 * 1024 * 1024,
            max_event_bytes: 4 * 1024 * 1024,
            max_answer_bytes: 32 * 1024 * 1024,
            record_chats: None,
            record_conversations: None,
            chatlog_retention_days: None,
            timezone: None,
            max_upstream_connections: 0,
            sync_models: false,
            openai: ProviderSeed::default(),
            anthropic: ProviderSeed::default(),
            secret_key: SecretKey::default(),
        }
    }
}

impl ProviderSeed {
    /// Reads a provider's base URL and key from the environment; empty
    /// values count as unset.
    pub fn from_env(base_url_var: &str, key_var: &str) -> ProviderSeed {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        ProviderSeed {
            base_url: var(base_url_var).map(|u| u.trim().trim_end_matches('/').to_owned()),
            api_key: var(key_var).map(|k| k.trim().to_owned()),
        }
    }
}

/// `10s`, `500ms`, `2m`, or a bare number of seconds.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration like 10s, 500ms or 2m"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        _ => return Err(format!("{raw:?} has an unknown unit; use ms, s or m")),
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(format!("{raw:?} must be more than zero"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::parse_duration;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5h").is_err());
    }
}
