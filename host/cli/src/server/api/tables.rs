//! The table routes of the admin API: `GET .../tables/{t}/history` and
//! `POST .../tables/{t}/{operation}` with the operation's JSON body
//! ([`OptimizeRequest`], [`VacuumRequest`], [`RestoreRequest`]; none for
//! `checkpoint`).

use std::{sync::Arc, time::Duration};

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::HeaderMap,
};
use serde::{Deserialize, de::DeserializeOwned};

use ingot_delta::HistoryEntry;

use super::{Api, ApiError, counted, pipelines::off_thread};
use ingot_pipeline::config::PipelineConfig;

use crate::{
    admin::{
        self,
        sql::{SqlAnswer, SqlRequest},
        tables::{self, OptimizeRequest, RestoreRequest, VacuumRequest},
    },
    tenancy::Action,
};

/// The query of `GET /history`.
#[derive(Debug, Deserialize)]
pub(super) struct HistoryQuery {
    limit: Option<u64>,
}

/// `GET /pipelines/{p}/tables/{t}/history`.
pub(super) async fn history(
    State(api): State<Arc<Api>>,
    Path((tenant, pipeline, table)): Path<(String, String, String)>,
    Query(query): Query<HistoryQuery>,
    headers: HeaderMap,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    let config = api.pipeline(&headers, &tenant, &pipeline, Action::Maintain)?;
    let entries = tables::history(config, &table, query.limit).await;
    counted(&config.tenant, Action::Maintain, entries).map(Json)
}

/// `POST /pipelines/{p}/tables/{t}/{operation}`.
pub(super) async fn operate(
    State(api): State<Arc<Api>>,
    Path((tenant, pipeline, table, operation)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let config = api.pipeline(&headers, &tenant, &pipeline, Action::Maintain)?;
    let owned = config.clone();
    let done = match operation.as_str() {
        "optimize" => {
            let request: OptimizeRequest = parse(&body)?;
            off_thread(
                move || async move { json(tables::optimize(&owned, &table, &request).await) },
            )
            .await
        }
        "vacuum" => {
            let request: VacuumRequest = parse(&body)?;
            off_thread(move || async move { json(tables::vacuum(&owned, &table, &request).await) })
                .await
        }
        "restore" => {
            let request: RestoreRequest = parse(&body)?;
            off_thread(move || async move { json(tables::restore(&owned, &table, &request).await) })
                .await
        }
        "checkpoint" => json(tables::checkpoint(&owned, &table).await),
        other => {
            return Err(ApiError::not_found(format!(
                "no table operation `{other}` (optimize, vacuum, restore, checkpoint)"
            )));
        }
    };
    counted(&config.tenant, Action::Maintain, done).map(Json)
}

/// `POST /sql`: a read-only query over every table of the tenant's
/// pipelines, within `[server] sql-max-rows` and `sql-timeout-secs`.
pub(super) async fn sql(
    State(api): State<Arc<Api>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SqlAnswer>, ApiError> {
    let owner = api.authorize(
        &headers,
        &tenant,
        Action::Query,
        &format!("tenant {tenant}"),
    )?;
    let request: SqlRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the request body: {e}")))?;
    let pipelines: Vec<PipelineConfig> = api.pipelines_of(owner).cloned().collect();
    let server = &api.host.server;
    let (max_rows, timeout) = (
        server.sql_max_rows,
        Duration::from_secs(server.sql_timeout_secs),
    );
    let answer = off_thread(move || async move {
        let refs: Vec<&PipelineConfig> = pipelines.iter().collect();
        admin::sql::query(&refs, &request, max_rows, timeout).await
    })
    .await;
    counted(&owner.name, Action::Query, answer).map(Json)
}

/// A request body: empty for the defaults, else the operation's JSON.
fn parse<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body: {e}")))
}

fn json<T: serde::Serialize>(result: crate::Result<T>) -> crate::Result<serde_json::Value> {
    let value = result?;
    serde_json::to_value(value)
        .map_err(|e| crate::Error::Internal(format!("an answer as JSON: {e}")))
}
