//! Builds the HTTP server on a `TcpListener`, so tests can bind port 0.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{from_fn, Logger};
use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::json;

use crate::admin::AdminState;
use crate::config::{AppConfig, HttpConfig, ServeConfig};
use crate::db::{Db, OpenError};
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::http::client_ip::client_ip;
use crate::http::BodyDeadline;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] OpenError),
    #[error("cannot start the gateway: {0}")]
    Gateway(ApiError),
    #[error("cannot start the admin: {0}")]
    Admin(ApiError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// A server bound to its address, not yet running.
pub struct Application {
    address: SocketAddr,
    server: Server,
    gateway: web::Data<Gateway>,
    admin: web::Data<AdminState>,
}

impl Application {
    pub fn build(config: &ServeConfig) -> Result<Application, StartupError> {
        let db = Db::open(&config.db.path)?;
        let listen_err = |source| StartupError::Listen {
            addr: config.listen.clone(),
            source,
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
            .map_err(|source| StartupError::Listen {
                addr: "the given socket".to_owned(),
                source,
            })?;
        let gateway =
            web::Data::new(Gateway::start(&db, config.gateway).map_err(StartupError::Gateway)?);
        let admin =
            web::Data::new(AdminState::start(&db, &config.admin).map_err(StartupError::Admin)?);
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
            run(listener, db, config.http, gateway.clone(), admin.clone()).map_err(|source| {
                StartupError::Listen {
                    addr: address.to_string(),
                    source,
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
        web::block(move || gateway.recorder.close())
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
    let server = HttpServer::new(move || {
        App::new()
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
            .app_data(BodyDeadline::from(&http))
            .app_data(gateway.clone())
            .app_data(web::Data::from(gateway.catalog.clone()))
            .app_data(admin.clone())
            .app_data(web::Data::new(crate::gateway::client(
                gateway.config.connect_timeout,
            )))
            .route("/healthz", web::get().to(healthz))
            .route("/", web::get().to(index))
            .configure(|cfg| {
                crate::api::mount(cfg, gateway.config.max_body_bytes, &http.cors_origins)
            })
            .configure(crate::admin::mount)
            .configure(crate::assets::mount)
            .default_service(web::to(crate::api::not_found))
    })
    // Stream events are small writes: send each at once.
    .tcp_nodelay(true)
    .listen(listener)?
    .run();
    Ok(server)
}

/// 200 once the server is up and its database answers.
async fn healthz(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    db.read(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ok" })))
}

async fn index() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "name": "mindgate",
        "version": env!("CARGO_PKG_VERSION"),
        "api": "/api/v1",
        "openapi": "/api/v1/openapi.json",
    }))
}
