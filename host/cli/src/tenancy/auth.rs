//! Authorisation of administrative actions: a tenant's token acts on that
//! tenant's pipelines and nothing else.
//!
//! The host file holds each tenant's `token-sha256`; a request's token is
//! hashed and compared in constant time. A refusal is logged with the
//! tenant, the action and the target, never the token.

use sha2::{Digest, Sha256};

use super::{HostConfig, TenantConfig, TenantError};

/// An administrative action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Deploy a module to a stage.
    Deploy,
    /// Roll a stage back to an earlier module.
    Rollback,
    /// Read the deployments of a pipeline.
    Deployments,
    /// Read the status of a tenant's stages.
    Status,
    /// Send a stage's quarantined rows through its module again.
    Reprocess,
    /// Read a table's history, compact, vacuum, restore or checkpoint it.
    Maintain,
    /// Run a read-only query over the tenant's tables.
    Query,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Deploy => "deploy",
            Action::Rollback => "rollback",
            Action::Deployments => "deployments",
            Action::Status => "status",
            Action::Reprocess => "reprocess",
            Action::Maintain => "maintain",
            Action::Query => "query",
        })
    }
}

/// Checks that `token` is `tenant`'s; `target` names what the action is
/// on, for the log.
///
/// # Errors
///
/// [`TenantError::NoToken`] without a token, [`TenantError::Refused`] for
/// a token that is not the tenant's.
pub fn authorize(
    tenant: &TenantConfig,
    token: Option<&str>,
    action: Action,
    target: &str,
) -> Result<(), TenantError> {
    let refused = |error: TenantError| {
        tracing::warn!(tenant = %tenant.name, %action, %target, reason = %error, "admin request refused");
        Err(error)
    };
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return refused(TenantError::NoToken {
            tenant: tenant.name.clone(),
            action,
        });
    };
    let expected = hex::decode(&tenant.token_sha256).unwrap_or_default();
    if !constant_time_eq(&Sha256::digest(token.as_bytes()), &expected) {
        return refused(TenantError::Refused {
            tenant: tenant.name.clone(),
            action,
            target: target.to_owned(),
        });
    }
    tracing::info!(tenant = %tenant.name, %action, %target, "admin request authorised");
    Ok(())
}

/// The tenant owning pipeline file `pipeline`, once `token` is checked to be its.
///
/// # Errors
///
/// [`TenantError::NotHosted`] if no tenant of `host` lists the file, else
/// as [`authorize`].
pub fn authorize_pipeline<'h>(
    host: &'h HostConfig,
    pipeline: &std::path::Path,
    token: Option<&str>,
    action: Action,
) -> Result<&'h TenantConfig, TenantError> {
    let Some(tenant) = host.owner_of(pipeline) else {
        tracing::warn!(pipeline = %pipeline.display(), %action, "admin request refused: the pipeline is not hosted");
        return Err(TenantError::NotHosted {
            pipeline: pipeline.to_owned(),
            host: host.path.clone(),
        });
    };
    authorize(tenant, token, action, &pipeline.display().to_string())?;
    Ok(tenant)
}

/// Equality that takes the same time wherever the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The hex sha256 of a token: what the host file's `token-sha256` holds.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::TenantLimits;

    fn tenant(name: &str, token: &str) -> TenantConfig {
        TenantConfig {
            name: name.into(),
            pipelines: Vec::new(),
            token_sha256: token_sha256(token),
            limits: TenantLimits::default(),
        }
    }

    #[test]
    fn only_the_tenants_own_token_is_accepted() {
        let a = tenant("a", "token-of-a");
        let b = tenant("b", "token-of-b");
        assert!(authorize(&a, Some("token-of-a"), Action::Deploy, "a/logs").is_ok());
        let err = authorize(&b, Some("token-of-a"), Action::Status, "b/logs")
            .expect_err("a's token on b");
        assert!(matches!(err, TenantError::Refused { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("`b`") && text.contains("status"), "{text}");
        assert!(
            !text.contains("token-of-a"),
            "the token is never echoed: {text}"
        );
        for missing in [None, Some("")] {
            let err = authorize(&a, missing, Action::Rollback, "a/logs").expect_err("no token");
            assert!(matches!(err, TenantError::NoToken { .. }), "{err}");
        }
    }

    #[test]
    fn token_hash_is_sha256_hex() {
        // printf %s test | sha256sum
        assert_eq!(
            token_sha256("test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
