//! Many tenants on one host (`ingot serve host.toml`): the host file that
//! lists them ([`host_file`]), the check that keeps each tenant's pipelines
//! inside its lake namespace and under its limits, the token check of
//! administrative actions ([`auth`]), and the serving loop that runs every
//! tenant's pipelines side by side with a per-tenant gate on module calls
//! ([`serve`]).
//!
//! What a tenant's module can reach is decided by the runtime (its input
//! batch, its config, the host's log import); what its pipelines can name is
//! decided here.

pub mod auth;
pub mod host_file;
pub mod serve;

use std::path::PathBuf;

use ingot_core::ErrorClass;

pub use auth::{Action, authorize, authorize_pipeline, token_sha256};
pub use host_file::{HostConfig, HostedPipeline, RuntimeConfig, TenantConfig, TenantLimits};

/// A refused administrative request.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// No token came with the request.
    #[error("{action} on tenant `{tenant}` needs its admin token (--token or INGOT_TOKEN)")]
    NoToken {
        /// The tenant acted on.
        tenant: String,
        /// The action.
        action: Action,
    },
    /// The token is not the tenant's.
    #[error("{action} on {target} refused: the token is not tenant `{tenant}`'s")]
    Refused {
        /// The tenant acted on.
        tenant: String,
        /// The action.
        action: Action,
        /// What the action was on.
        target: String,
    },
    /// The pipeline file is not one a tenant of the host lists.
    #[error("{} is not a pipeline of any tenant in {}", pipeline.display(), host.display())]
    NotHosted {
        /// The pipeline file.
        pipeline: PathBuf,
        /// The host file.
        host: PathBuf,
    },
    /// No tenant of the host has this name.
    #[error("{} has no tenant `{tenant}`", host.display())]
    UnknownTenant {
        /// The name asked for.
        tenant: String,
        /// The host file.
        host: PathBuf,
    },
}

impl TenantError {
    /// Refusals are the requester's to fix.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::User
    }
}
