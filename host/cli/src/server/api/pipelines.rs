//! The pipeline routes of the admin API: status, deployments, deploy,
//! rollback, reprocess.

use std::{future::Future, sync::Arc};

use axum::{
    Json,
    extract::{Path, Query, Request, State},
    http::HeaderMap,
};
use serde::{Deserialize, Serialize};

use ingot_pipeline::{
    config::PipelineConfig,
    deployments::Deployment,
    stage::{Reprocessed, StageRunner},
    status::{self, PipelineStatus},
};
use ingot_registry::{self as registry, Deployed, Registry};

use super::{Api, ApiError, counted};
use crate::{Error, Result, tenancy::Action};

/// One pipeline of a tenant, with every host's status of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineEntry {
    /// The pipeline's name.
    pub pipeline: String,
    /// Each host's status, newest first.
    pub hosts: Vec<PipelineStatus>,
}

/// `GET /pipelines`.
pub(super) async fn list(
    State(api): State<Arc<Api>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Vec<PipelineEntry>>, ApiError> {
    let owner = api.authorize(
        &headers,
        &tenant,
        Action::Status,
        &format!("tenant {tenant}"),
    )?;
    let mut out = Vec::new();
    for config in api.pipelines_of(owner) {
        let hosts = counted(&config.tenant, Action::Status, read_status(config).await)?;
        out.push(PipelineEntry {
            pipeline: config.name.clone(),
            hosts,
        });
    }
    Ok(Json(out))
}

async fn read_status(config: &PipelineConfig) -> Result<Vec<PipelineStatus>> {
    Ok(status::read(config)
        .await
        .map_err(ingot_pipeline::Error::from)?)
}

/// `GET /pipelines/{p}/status`.
pub(super) async fn status(
    State(api): State<Arc<Api>>,
    Path((tenant, pipeline)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Vec<PipelineStatus>>, ApiError> {
    let config = api.pipeline(&headers, &tenant, &pipeline, Action::Status)?;
    counted(&config.tenant, Action::Status, read_status(config).await).map(Json)
}

/// The query of `GET /deployments`.
#[derive(Debug, Deserialize)]
pub(super) struct DeploymentsQuery {
    stage: Option<String>,
}

/// `GET /pipelines/{p}/deployments`.
pub(super) async fn deployments(
    State(api): State<Arc<Api>>,
    Path((tenant, pipeline)): Path<(String, String)>,
    Query(query): Query<DeploymentsQuery>,
    headers: HeaderMap,
) -> Result<Json<Vec<Deployment>>, ApiError> {
    let config = api.pipeline(&headers, &tenant, &pipeline, Action::Deployments)?;
    let history = async {
        let stage = query.stage.as_deref();
        if let Some(stage) = stage {
            registry::deploy::stage_index(config, stage)?;
        }
        let mut registry = Registry::for_pipeline(config)?;
        Ok(registry.history(&config.name, stage).await?)
    };
    counted(&config.tenant, Action::Deployments, history.await).map(Json)
}

/// `POST /pipelines/{p}/stages/{s}/deploy`: the body is the module; the
/// query's `note` is recorded, each `config=key=value` overrides a stage
/// configuration entry.
pub(super) async fn deploy(
    State(api): State<Arc<Api>>,
    Path((tenant, pipeline, stage)): Path<(String, String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    request: Request,
) -> Result<Json<Deployed>, ApiError> {
    // The token before the body: an upload without the tenant's token is
    // never read.
    let config = api.pipeline(&headers, &tenant, &pipeline, Action::Deploy)?;
    let (note, overrides) = deploy_query(query)?;
    let max = api.max_module_bytes();
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if let Some(n) = declared.filter(|n| *n > max) {
        return Err(ApiError::too_large(format!(
            "the module is {n} bytes, past max-module-mib ({max} bytes)"
        )));
    }
    let module = axum::body::to_bytes(request.into_body(), max)
        .await
        .map_err(|e| ApiError::too_large(format!("the module: {e}")))?;
    let upload = tempfile::Builder::new()
        .suffix(".wasm")
        .tempfile_in(api.uploads.path())
        .and_then(|mut file| {
            std::io::Write::write_all(&mut file, &module)?;
            Ok(file)
        })
        .map_err(|source| Error::Io {
            path: api.uploads.path().to_owned(),
            source,
        })?;
    let (config_owned, runtime, path) = (
        config.clone(),
        Arc::clone(&api.runtime),
        upload.path().to_owned(),
    );
    // Validation (a dry run of the module) happens before the module is
    // stored: a refused module leaves nothing behind.
    let deployed = off_thread(move || async move {
        registry::deploy(&config_owned, &stage, &path, &overrides, note, &runtime)
            .await
            .map_err(Error::from)
    })
    .await;
    drop(upload);
    counted(&config.tenant, Action::Deploy, deployed).map(Json)
}

/// A deploy's note and stage configuration overrides.
type DeployQuery = (Option<String>, Vec<(String, String)>);

/// The `note` and the `config=key=value` overrides of a deploy's query.
fn deploy_query(query: Vec<(String, String)>) -> Result<DeployQuery, ApiError> {
    let mut note = None;
    let mut overrides = Vec::new();
    for (key, value) in query {
        match key.as_str() {
            "note" => note = Some(value),
            "config" => {
                let (k, v) = value.split_once('=').ok_or_else(|| {
                    ApiError::bad_request(format!("config={value}: expected config=KEY=VALUE"))
                })?;
                overrides.push((k.to_owned(), v.to_owned()));
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{other}` (deploy takes note and config)"
                )));
            }
        }
    }
    Ok((note, overrides))
}

/// The body of a rollback.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The module to go back to (a digest prefix); none: the previous one.
    #[serde(default)]
    pub to: Option<String>,
}

/// `POST /pipelines/{p}/stages/{s}/rollback`.
pub(super) async fn rollback(
    State(api): State<Arc<Api>>,
    Path((tenant, pipeline, stage)): Path<(String, String, String)>,
    headers: HeaderMap,
    Json(request): Json<RollbackRequest>,
) -> Result<Json<Deployed>, ApiError> {
    let config = api.pipeline(&headers, &tenant, &pipeline, Action::Rollback)?;
    let (config_owned, runtime) = (config.clone(), Arc::clone(&api.runtime));
    let deployed = off_thread(move || async move {
        registry::rollback(&config_owned, &stage, request.to.as_deref(), &runtime)
            .await
            .map_err(Error::from)
    })
    .await;
    counted(&config.tenant, Action::Rollback, deployed).map(Json)
}

/// `POST /pipelines/{p}/stages/{s}/reprocess`.
pub(super) async fn reprocess(
    State(api): State<Arc<Api>>,
    Path((tenant, pipeline, stage)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Json<Reprocessed>, ApiError> {
    let config = api.pipeline(&headers, &tenant, &pipeline, Action::Reprocess)?;
    let (config_owned, runtime) = (config.clone(), Arc::clone(&api.runtime));
    let done = off_thread(move || async move {
        let index = registry::deploy::stage_index(&config_owned, &stage)?;
        let mut runner = StageRunner::new(&config_owned, index, runtime)?;
        Ok(runner.reprocess().await?)
    })
    .await;
    counted(&config.tenant, Action::Reprocess, done).map(Json)
}

/// Runs the future `work` makes on a blocking thread of its own: module
/// instances are not `Sync`, so a future holding one across an await
/// cannot be a handler's.
pub(super) async fn off_thread<T, F>(work: impl FnOnce() -> F + Send + 'static) -> Result<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T>>,
{
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || handle.block_on(work()))
        .await
        .map_err(|e| Error::Internal(format!("admin request worker: {e}")))?
}
