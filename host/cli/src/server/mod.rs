//! The HTTP server of `ingot run --listen` and `ingot serve`: Prometheus
//! metrics ([`exposition`]), the health probes ([`health`]) and, in
//! `serve`, the admin API ([`api`]).
//!
//! | route      | answers                                                        |
//! |------------|----------------------------------------------------------------|
//! | `/metrics` | every metric of docs/operations.md, Prometheus text format     |
//! | `/healthz` | `200 ok` while the process serves                              |
//! | `/readyz`  | `200` when every pipeline is assigned and caught up, else `503`; JSON saying what each waits for |
//! | `/api/v1/` | the admin API, for the tenants' tokens (`serve` only)          |

pub mod api;
pub mod exposition;
pub mod health;

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;

use crate::{Error, Result};
pub use health::{Live, ReadyBounds};

/// Where `ingot serve` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9410";

/// The `[server]` table of a host file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Whether `serve` runs the server at all.
    pub enabled: bool,
    /// The address to listen on (port 0: any free port, printed at start).
    pub listen: SocketAddr,
    /// `/readyz`: records a pipeline's partitions on this host may be behind.
    pub ready_max_lag_records: u64,
    /// `/readyz`: input versions a stage this host runs may be behind.
    pub ready_max_lag_versions: u64,
    /// The admin API's largest module upload, in MiB.
    pub max_module_mib: u64,
    /// Rows a query of the SQL box returns at most.
    pub sql_max_rows: usize,
    /// Seconds a query of the SQL box may run.
    pub sql_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let bounds = ReadyBounds::default();
        Self {
            enabled: true,
            listen: DEFAULT_LISTEN
                .parse()
                .expect("invariant: the default address parses"),
            ready_max_lag_records: bounds.lag_records,
            ready_max_lag_versions: bounds.lag_versions,
            max_module_mib: 64,
            sql_max_rows: 1_000,
            sql_timeout_secs: 30,
        }
    }
}

impl ServerConfig {
    /// The readiness bounds it sets.
    pub fn bounds(&self) -> ReadyBounds {
        ReadyBounds {
            lag_records: self.ready_max_lag_records,
            lag_versions: self.ready_max_lag_versions,
        }
    }
}

/// A running server; dropping it stops it.
#[derive(Debug)]
pub struct Server {
    address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Installs the metrics recorder and starts serving on `listen`; the
    /// probes answer from `live`, which the caller fills as pipelines
    /// start; `api`, when given, serves the admin API.
    ///
    /// # Errors
    ///
    /// [`Error::Listen`] when the address cannot be bound (in use, not
    /// this machine's).
    pub async fn start(
        listen: SocketAddr,
        bounds: ReadyBounds,
        live: Live,
        api: Option<Arc<api::Api>>,
    ) -> Result<Server> {
        let metrics = exposition::install()?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| Error::Listen {
                address: listen,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| Error::Listen {
            address: listen,
            source,
        })?;
        let mut app = Router::new()
            .route("/metrics", get(metrics_text))
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(ready))
            .with_state(Arc::new(Shared {
                metrics,
                live,
                bounds,
            }));
        let routes = if let Some(api) = api {
            app = app.merge(api.routes());
            "/metrics, /healthz, /readyz, /api/v1, /console"
        } else {
            "/metrics, /healthz, /readyz"
        };
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(%address, error = %e, "the server stopped");
            }
        });
        println!("server at http://{address} ({routes})");
        Ok(Server { address, task })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the handlers share.
struct Shared {
    metrics: PrometheusHandle,
    live: Live,
    bounds: ReadyBounds,
}

async fn metrics_text(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        shared.metrics.render(),
    )
}

async fn ready(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let readiness = health::readiness(&shared.live.statuses().await, shared.bounds);
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness))
}
