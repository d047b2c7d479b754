//! Builds the HTTP server on a `TcpListener`, so tests can bind port 0.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::num::NonZeroUsize;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{from_fn, Logger, NormalizePath};
use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::json;

use crate::admin::AdminState;
use crate::config::{AppConfig, HttpConfig, ServeConfig};
use crate::db::{Db, OpenError, StoreError};
use crate::error::ApiError;
use crate::gateway::{self, Gateway};
use crate::http::client_ip::client_ip;
use crate::http::{BasePath, BodyDeadline};

/// Why the server did not start. Each message holds what it wraps (none is
/// a `source`), so it reads whole wherever it is shown.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] OpenError),
    #[error("cannot start the gateway: {0}")]
    Gateway(gateway::StartError),
    #[error("cannot start the admin: {0}")]
    Admin(StoreError),
    #[error("cannot listen on {addr}: {error}")]
    Listen { addr: String, error: std::io::Error },
}

/// A server bound to its address, not yet running.
pub struct Application {
    address: SocketAddr,
    server: Server,
    gateway: web::Data<Gateway>,
    admin: web::Data<AdminState>,
}

/// Connections waiting to be accepted: as many as the kernel allows
/// (`net.core.somaxconn`). The standard library's 128 drops the rest of a
/// burst of new chats, which then wait a second for a SYN retry.
const LISTEN_BACKLOG: i32 = i32::MAX;

/// Descriptors kept for everything but chats: the database's files, the
/// listener, the runtime's own.
const RESERVED_FILES: u64 = 64;

/// Below room for this many chats at once, the open files limit is worth a
/// warning: a team's chats and agents run to hundreds, each up to minutes.
const EXPECTED_CHATS: u64 = 1000;

/// Raises the soft limit on open files to the hard one, and returns the
/// limit now in force. Each chat holds two descriptors (the client's
/// connection and the upstream's), and the usual soft limit of 1024 would
/// stop at about 500 chats.
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// How many chats at once `files` descriptors leave room for.
fn chats_within(files: u64) -> u64 {
    files.saturating_sub(RESERVED_FILES) / 2
}

fn log_open_files_limit() {
    match raise_open_files_limit() {
        Ok(files) if chats_within(files) < EXPECTED_CHATS => log::warn!(
            "open files limit {files}: room for only about {} chats at once; \
             raise the hard limit (ulimit -Hn, systemd's LimitNOFILE=) for more",
            chats_within(files)
        ),
        Ok(files) => log::info!(
            "open files limit {files}: room for about {} chats at once",
            chats_within(files)
        ),
        Err(e) => log::warn!("cannot raise the open files limit: {e}"),
    }
}

impl Application {
    pub fn build(config: &ServeConfig) -> Result<Application, StartupError> {
        log_open_files_limit();
        let db = Db::open(&config.db.path)?;
        let listen_err = |error| StartupError::Listen {
            addr: config.listen.clone(),
            error,
        };
        let listener = TcpListener::bind(&config.listen).map_err(listen_err)?;
        Application::on_listener(listener, db, config.app.clone())
    }

    pub fn on_listener(
        listener: TcpListener,
        db: Db,
        config: AppConfig,
    ) -> Result<Application, StartupError> {
        let address = listener
            .local_addr()
            .map_err(|error| StartupError::Listen {
                addr: "the given socket".to_owned(),
                error,
            })?;
        socket2::SockRef::from(&listener)
            .listen(LISTEN_BACKLOG)
            .map_err(|error| StartupError::Listen {
                addr: address.to_string(),
                error,
            })?;
        let gateway =
            web::Data::new(Gateway::start(&db, config.gateway).map_err(StartupError::Gateway)?);
        if gateway.config.sync_models {
            gateway::import_at_start(db.clone(), gateway.catalog.clone());
        }
        let admin = web::Data::new(
            AdminState::start(&db, &config.admin, &config.http.base_path)
                .map_err(StartupError::Admin)?,
        );
        if let Some(path) = admin.setup_path() {
            // A wildcard address is no place to open: point at this machine.
            let mut shown = address;
            if shown.ip().is_unspecified() {
                shown.set_ip(if shown.is_ipv4() {
                    Ipv4Addr::LOCALHOST.into()
                } else {
                    Ipv6Addr::LOCALHOST.into()
                });
            }
            log::warn!(
                "no admin yet: create the first one within {} minutes at http://{shown}{path}",
                crate::admin::SETUP_TOKEN_LIFETIME.as_secs() / 60
            );
        }
        let server =
            run(listener, db, config.http, gateway.clone(), admin.clone()).map_err(|error| {
                StartupError::Listen {
                    addr: address.to_string(),
                    error,
                }
            })?;
        Ok(Application {
            address,
            server,
            gateway,
            admin,
        })
    }

    /// The address actually bound (with port 0 resolved).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The one-time link that creates the first admin, while there is none.
    pub fn setup_path(&self) -> Option<String> {
        self.admin.setup_path()
    }

    /// Stops the server (gracefully, when asked) from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until a signal or the handle stops the server; in-flight
    /// requests finish first.
    /// Chat logs still queued are written before this returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        let gateway = self.gateway.clone();
        web::block(move || {
            gateway.chat_log_upkeep.close();
            gateway.chat_log_writer.close();
        })
        .await
        .map_err(std::io::Error::other)?;
        served
    }
}

fn run(
    listener: TcpListener,
    db: Db,
    http: HttpConfig,
    gateway: web::Data<Gateway>,
    admin: web::Data<AdminState>,
) -> std::io::Result<Server> {
    let db = web::Data::new(db);
    let trusted = web::Data::new(http.trusted_proxies.clone());
    let base = web::Data::new(http.base_path.clone());
    let workers = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let server = HttpServer::new(move || {
        App::new()
            // A trailing slash reaches the same page (`/admin/` is `/admin`);
            // innermost, so the access log shows the path as it was sent.
            .wrap(NormalizePath::trim())
            .wrap(from_fn(crate::http::body_deadline))
            .wrap(from_fn(crate::http::head_as_get))
            // The client as the login limiter sees it, proxies resolved.
            .wrap(
                Logger::new(r#"%{client}xi "%r" %s %b %Dms"#).custom_request_replace(
                    "client",
                    |req| {
                        client_ip(req.request()).map_or_else(|| "-".to_owned(), |ip| ip.to_string())
                    },
                ),
            )
            .app_data(db.clone())
            .app_data(trusted.clone())
            .app_data(base.clone())
            .app_data(BodyDeadline::from(&http))
            .app_data(crate::http::path_config())
            .app_data(gateway.clone())
            .app_data(web::Data::from(gateway.catalog.clone()))
            .app_data(web::Data::from(gateway.governor.clone()))
            .app_data(admin.clone())
            .app_data(web::Data::new(crate::gateway::client(
                gateway.config.connect_timeout,
                gateway.config.max_upstream_connections,
            )))
            // Everything under the base path; outside it, the 404 below.
            .service(
                web::scope(http.base_path.as_str())
                    .route("/healthz", web::get().to(healthz))
                    // `/` and, under a base path, the base path itself.
                    .service(web::resource(["", "/"]).get(index))
                    .configure(|cfg| {
                        crate::api::mount(cfg, gateway.config.max_body_bytes, &http.cors_origins)
                    })
                    .configure(crate::admin::mount)
                    .configure(crate::assets::mount),
            )
            .default_service(web::to(crate::api::not_found))
    })
    // Stream events are small writes: send each at once.
    .tcp_nodelay(true)
    .workers(workers)
    .max_connections(connections_per_worker(workers))
    .listen(listener)?
    .run();
    Ok(server)
}

/// Each worker's share of the chats the open files limit leaves room for:
/// past that, connections wait in the backlog rather than fail for want of
/// a descriptor for their upstream. actix's default (25,600 a worker) would
/// stop short of the descriptors on a large machine.
fn connections_per_worker(workers: usize) -> usize {
    let Ok((files, _)) = rlimit::getrlimit(rlimit::Resource::NOFILE) else {
        return usize::MAX;
    };
    let share = chats_within(files) / workers as u64;
    usize::try_from(share).unwrap_or(usize::MAX).max(1)
}

/// 200 once the server is up and its database answers.
async fn healthz(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    db.read(|conn| Ok::<_, StoreError>(conn.query_row("SELECT 1", [], |_| Ok(()))?))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ok" })))
}

async fn index(base: web::Data<BasePath>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "name": "mindgate",
        "version": env!("CARGO_PKG_VERSION"),
        "api": format!("{}/api/v1", base.as_str()),
        "openapi": format!("{}/api/v1/openapi.json", base.as_str()),
    }))
}
