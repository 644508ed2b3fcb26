//! `--server URL`: the administrative commands through a running `ingot
//! serve`'s admin API (docs/operations.md, the admin API), with the
//! tenant's token and nothing else: no host file, no access to the lake.
//! The answers are the values the local commands compute, printed alike.

use std::path::Path;

use reqwest::{Client, Method, header};
use serde::de::DeserializeOwned;

use ingot_pipeline::config::PipelineConfig;

use crate::{Error, Result};

/// A client of one server's admin API, for one tenant's pipeline.
pub(super) struct Remote {
    client: Client,
    base: String,
    token: Option<String>,
    /// The tenant and pipeline the command acts on.
    pub tenant: String,
    /// The pipeline's name.
    pub pipeline: String,
}

impl Remote {
    /// A client of `server` for `pipeline`: a pipeline file (its tenant and
    /// name are read from it) or `TENANT/PIPELINE`.
    pub fn for_pipeline(server: &str, token: Option<&str>, pipeline: &Path) -> Result<Self> {
        let (tenant, name) = if pipeline.is_file() {
            let config = PipelineConfig::load(pipeline)?;
            (config.tenant, config.name)
        } else {
            let text = pipeline.to_string_lossy();
            let (tenant, name) = text.split_once('/').ok_or_else(|| {
                Error::Request(format!(
                    "--pipeline {text}: with --server, a pipeline file or TENANT/PIPELINE"
                ))
            })?;
            (tenant.to_owned(), name.to_owned())
        };
        Ok(Self::new(server, token, tenant, name))
    }

    /// A client of `server` for tenant `tenant` (pipeline `pipeline`).
    pub fn new(server: &str, token: Option<&str>, tenant: String, pipeline: String) -> Self {
        Self {
            client: Client::new(),
            base: server.trim_end_matches('/').to_owned(),
            token: token.map(str::to_owned),
            tenant,
            pipeline,
        }
    }

    /// The URL of `rest` under the tenant (`rest` starting with `/`).
    fn tenant_url(&self, rest: &str) -> String {
        format!("{}/api/v1/tenants/{}{rest}", self.base, self.tenant)
    }

    /// The URL of `rest` under the pipeline.
    pub fn pipeline_url(&self, rest: &str) -> String {
        self.tenant_url(&format!("/pipelines/{}{rest}", self.pipeline))
    }

    /// `GET` of `rest` under the tenant.
    pub async fn get_tenant<T: DeserializeOwned>(&self, rest: &str) -> Result<T> {
        self.send(Method::GET, &self.tenant_url(rest), None, &[])
            .await
    }

    /// `GET` of `rest` under the pipeline, with `query`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        rest: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        self.send(Method::GET, &self.pipeline_url(rest), None, query)
            .await
    }

    /// `POST` of `body` (JSON) to `rest` under the pipeline.
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        rest: &str,
        body: &impl serde::Serialize,
    ) -> Result<T> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::Internal(format!("a request as JSON: {e}")))?;
        let body = Some((bytes, "application/json"));
        self.send(Method::POST, &self.pipeline_url(rest), body, &[])
            .await
    }

    /// `POST` of `bytes` (a module) to `rest` under the pipeline.
    pub async fn post_module<T: DeserializeOwned>(
        &self,
        rest: &str,
        bytes: Vec<u8>,
        query: &[(&str, String)],
    ) -> Result<T> {
        let body = Some((bytes, "application/wasm"));
        self.send(Method::POST, &self.pipeline_url(rest), body, query)
            .await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        body: Option<(Vec<u8>, &'static str)>,
        query: &[(&str, String)],
    ) -> Result<T> {
        let mut request = self.client.request(method, url).query(query);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some((bytes, content_type)) = body {
            request = request
                .header(header::CONTENT_TYPE, content_type)
                .body(bytes);
        }
        let unreachable = |e: reqwest::Error| Error::Remote {
            url: url.to_owned(),
            status: None,
            message: e.to_string(),
            class: ingot_core::ErrorClass::External,
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            return Err(refusal(url, status.as_u16(), &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::Internal(format!(
                "the answer of {url} is not what this ingot expects: {e}"
            ))
        })
    }
}

/// The error of a failed request: the server's message and class, or the
/// status alone when the answer is not the API's JSON.
fn refusal(url: &str, status: u16, body: &[u8]) -> Error {
    #[derive(serde::Deserialize)]
    struct Body {
        error: String,
        class: String,
    }
    let (message, class) = match serde_json::from_slice::<Body>(body) {
        Ok(b) => (b.error, b.class),
        Err(_) => (
            String::from_utf8_lossy(body).trim().to_owned(),
            if status < 500 { "user" } else { "external" }.to_owned(),
        ),
    };
    Error::Remote {
        url: url.to_owned(),
        status: Some(status),
        message,
        class: match class.as_str() {
            "user" => ingot_core::ErrorClass::User,
            "internal" => ingot_core::ErrorClass::Internal,
            _ => ingot_core::ErrorClass::External,
        },
    }
}
