//! The admin API of `ingot serve`, under `/api/v1/tenants/{tenant}/`:
//! what the administrative commands do, for a client holding a tenant's
//! token but neither the host file nor write access to the lake.
//!
//! Every request carries `Authorization: Bearer <token>`; the token is
//! checked against the tenant's `token-sha256` of the host file
//! ([`crate::tenancy::authorize`]) and the request acts only on that
//! tenant's pipelines. No token is `401`, a token that is not the tenant's
//! (or a tenant the host does not have) `403`; each refusal is logged and
//! counted (`ingot_admin_requests_total{outcome="refused"}`), never with
//! the token. The answers are JSON: the same values the commands print
//! (`ingot --server URL ...` prints them as it would locally).
//!
//! The web console (`/console`, [`console`]) is a page of this API's
//! client: it holds no state of its own.
//!
//! | method and path (under `/api/v1/tenants/{tenant}`) | does |
//! |---|---|
//! | `GET /pipelines` | every pipeline of the tenant with each host's status |
//! | `POST /sql` | `{"sql": query}`: a read-only query over the tenant's tables, as `pipeline.table` |
//! | `GET /pipelines/{p}/status` | each host's status of pipeline `p` |
//! | `GET /pipelines/{p}/deployments[?stage=s]` | its deployments, oldest first |
//! | `POST /pipelines/{p}/stages/{s}/deploy[?note=..&config=k=v]` | the body (module bytes, at most `[server] max-module-mib`) validated and deployed |
//! | `POST /pipelines/{p}/stages/{s}/rollback` | `{"to": digest prefix}` or `{}` (the previous module) |
//! | `POST /pipelines/{p}/stages/{s}/reprocess` | the quarantine since the last reprocess through the current module |
//! | `GET /pipelines/{p}/tables/{t}/history[?limit=n]` | the table's versions |
//! | `POST /pipelines/{p}/tables/{t}/{optimize,vacuum,restore,checkpoint}` | the table operations, with the body of [`tables`] |

mod error;
pub mod pipelines;
pub mod tables;

use std::{path::PathBuf, sync::Arc};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderMap, header},
    response::{Html, IntoResponse, Redirect},
    routing::{get, post},
};
use metrics::counter;

use ingot_pipeline::config::PipelineConfig;
use ingot_sandbox::Runtime;

use crate::{
    Result,
    tenancy::{self, Action, HostConfig, TenantConfig, TenantError},
};
pub use error::ApiError;

/// Admin requests answered, per tenant (`unknown` for a tenant the host
/// does not have), action and outcome (`ok`, `refused`, `failed`).
pub const ADMIN_REQUESTS: &str = "ingot_admin_requests_total";

/// What the API's handlers share.
pub struct Api {
    host: HostConfig,
    /// Every pipeline the host runs, admitted (the tenant's checks and
    /// limits applied).
    pipelines: Vec<PipelineConfig>,
    /// Validates deployed modules (its own, beside the serving one).
    runtime: Arc<Runtime>,
    /// Where uploaded modules wait for their validation.
    uploads: tempfile::TempDir,
}

impl Api {
    /// The API of `host`'s tenants; `cache_dir` as `serve`'s.
    ///
    /// # Errors
    ///
    /// When the validation runtime or the upload folder cannot be made.
    pub fn new(host: &HostConfig, cache_dir: Option<PathBuf>) -> Result<Self> {
        let pipelines = host
            .pipelines()
            .into_iter()
            .filter_map(|p| p.config.ok())
            .collect();
        let uploads = tempfile::Builder::new()
            .prefix("ingot-uploads-")
            .tempdir()
            .map_err(|source| crate::Error::Io {
                path: std::env::temp_dir(),
                source,
            })?;
        Ok(Self {
            host: host.clone(),
            pipelines,
            runtime: Arc::new(Runtime::new(cache_dir)?),
            uploads,
        })
    }

    /// The largest module upload, in bytes.
    fn max_module_bytes(&self) -> usize {
        usize::try_from(self.host.server.max_module_mib)
            .unwrap_or(usize::MAX)
            .saturating_mul(1 << 20)
    }

    /// The routes, for the server to merge.
    pub fn routes(self: Arc<Self>) -> Router {
        let tenant = "/api/v1/tenants/{tenant}";
        let pipeline = "/api/v1/tenants/{tenant}/pipelines/{pipeline}";
        Router::new()
            .route("/", get(|| async { Redirect::to("/console") }))
            .route("/console", get(console))
            .route(&format!("{tenant}/pipelines"), get(pipelines::list))
            .route(&format!("{tenant}/sql"), post(tables::sql))
            .route(&format!("{pipeline}/status"), get(pipelines::status))
            .route(
                &format!("{pipeline}/deployments"),
                get(pipelines::deployments),
            )
            // The deploy reads its body itself, after the token check,
            // up to `max-module-mib`.
            .route(
                &format!("{pipeline}/stages/{{stage}}/deploy"),
                post(pipelines::deploy).layer(DefaultBodyLimit::disable()),
            )
            .route(
                &format!("{pipeline}/stages/{{stage}}/rollback"),
                post(pipelines::rollback),
            )
            .route(
                &format!("{pipeline}/stages/{{stage}}/reprocess"),
                post(pipelines::reprocess),
            )
            .route(
                &format!("{pipeline}/tables/{{table}}/history"),
                get(tables::history),
            )
            .route(
                &format!("{pipeline}/tables/{{table}}/{{operation}}"),
                post(tables::operate),
            )
            .with_state(self)
    }

    /// The tenant named `name`, once the request's bearer token is checked
    /// to be its for `action` on `target`.
    fn authorize(
        &self,
        headers: &HeaderMap,
        name: &str,
        action: Action,
        target: &str,
    ) -> Result<&TenantConfig, ApiError> {
        let token = bearer(headers);
        let Some(tenant) = self.host.tenant(name) else {
            // Refused like a wrong token: the answer does not say which
            // tenants exist.
            tracing::warn!(tenant = %name, %action, %target, "admin request refused: no such tenant");
            count("unknown", action, "refused");
            return Err(ApiError::from(crate::Error::from(TenantError::Refused {
                tenant: name.to_owned(),
                action,
                target: target.to_owned(),
            })));
        };
        match tenancy::authorize(tenant, token, action, target) {
            Ok(()) => Ok(tenant),
            Err(e) => {
                count(&tenant.name, action, "refused");
                Err(ApiError::from(crate::Error::from(e)))
            }
        }
    }

    /// Pipeline `name` of tenant `tenant`, once the token is checked.
    fn pipeline(
        &self,
        headers: &HeaderMap,
        tenant: &str,
        name: &str,
        action: Action,
    ) -> Result<&PipelineConfig, ApiError> {
        let target = format!("pipeline {tenant}/{name}");
        let owner = self.authorize(headers, tenant, action, &target)?;
        self.pipelines_of(owner)
            .find(|p| p.name == name)
            .ok_or_else(|| ApiError::not_found(format!("tenant {tenant} has no pipeline `{name}`")))
    }

    /// The pipelines of tenant `tenant` (checked already).
    fn pipelines_of<'a>(
        &'a self,
        tenant: &'a TenantConfig,
    ) -> impl Iterator<Item = &'a PipelineConfig> + 'a {
        self.pipelines
            .iter()
            .filter(move |p| p.tenant == tenant.name)
    }
}

/// The web console: one page, embedded in the binary, that reads
/// everything it shows from this API with the token typed into it.
async fn console() -> impl IntoResponse {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        Html(include_str!("../console/index.html")),
    )
}

/// The token of an `Authorization: Bearer <token>` header, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Counts one request of `action` by `tenant` (`unknown`: a tenant the
/// host does not have) with `outcome`.
fn count(tenant: &str, action: Action, outcome: &'static str) {
    counter!(
        ADMIN_REQUESTS,
        "tenant" => tenant.to_owned(),
        "action" => action.to_string(),
        "outcome" => outcome
    )
    .increment(1);
}

/// Counts the outcome of an authorised request of `action` by `tenant`.
fn counted<T>(tenant: &str, action: Action, result: Result<T>) -> Result<T, ApiError> {
    count(tenant, action, if result.is_ok() { "ok" } else { "failed" });
    result.map_err(ApiError::from)
}
