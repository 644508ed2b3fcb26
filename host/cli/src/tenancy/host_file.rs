//! The host file: the tenants one `ingot serve` process runs, each with its
//! pipelines, its limits and the hash of its admin token.
//!
//! ```toml
//! [lake]
//! root = "./lake"                 # every tenant's tables live under <root>/<tenant>/
//!
//! [runtime]
//! max-instances = 1000            # stage instances the pooling allocator holds
//!
//! [server]                        # /metrics, /healthz, /readyz (docs/operations.md)
//! listen = "127.0.0.1:9410"
//!
//! [[tenants]]
//! name = "acme"
//! pipelines = ["acme/logs.toml"]  # relative to this file
//! token-sha256 = "9f86d0…"        # sha256 of the admin token, hex; never the token
//! limits = { memory-mib = 256, call-timeout-ms = 2000, max-output-mib = 64, concurrent-stages = 1 }
//! ```
//!
//! A pipeline a tenant lists must say `tenant = "<that tenant>"` and use the
//! host's lake: its tables then resolve under `<root>/<tenant>/`, which
//! [`HostConfig::pipelines`] checks for every table the pipeline can write
//! or read. A tenant's limits cap its stages' limits (a stage may ask for less).

use std::{
    collections::BTreeSet,
    path::{Component, Path, PathBuf},
};

use serde::Deserialize;

use crate::server::ServerConfig;

use ingot_pipeline::config::{
    ConfigError, LakeConfig, PipelineConfig, base_dir, check_name, parse_toml, read_file,
};

/// A whole host file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HostConfig {
    /// The lake every tenant's tables live in, under `<root>/<tenant>/`.
    pub lake: LakeConfig,
    /// The Wasm runtime of the host.
    #[serde(default)]
    pub runtime: RuntimeConfig,
    /// The tenants.
    pub tenants: Vec<TenantConfig>,
    /// The HTTP server (metrics, health probes).
    #[serde(default)]
    pub server: ServerConfig,
    /// The file this configuration was read from.
    #[serde(skip)]
    pub path: PathBuf,
}

/// The Wasm runtime shared by every tenant of a host.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Stage instances that can exist at once (slots of the pooling allocator).
    pub max_instances: u32,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            max_instances: 1_000,
        }
    }
}

/// One tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TenantConfig {
    /// The tenant's name: its lake namespace and the `tenant` of its pipelines.
    pub name: String,
    /// Its pipeline files (relative to the host file).
    pub pipelines: Vec<PathBuf>,
    /// The sha256 (hex) of the token that authorises its admin actions.
    pub token_sha256: String,
    /// Caps on every stage of the tenant.
    #[serde(default)]
    pub limits: TenantLimits,
}

/// Caps on a tenant's stages.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct TenantLimits {
    /// Linear memory per instance, in MiB, at most.
    pub memory_mib: u64,
    /// CPU time per call, in milliseconds, at most.
    pub call_timeout_ms: u64,
    /// Output bytes per call, in MiB, at most.
    pub max_output_mib: u64,
    /// The tenant's module calls running at once, across all its stages.
    pub concurrent_stages: usize,
}

impl Default for TenantLimits {
    fn default() -> Self {
        Self {
            memory_mib: 512,
            call_timeout_ms: 10_000,
            max_output_mib: 256,
            concurrent_stages: 1,
        }
    }
}

/// A pipeline file a tenant lists, loaded and checked against the host file.
#[derive(Debug)]
pub struct HostedPipeline {
    /// The index of its tenant in [`HostConfig::tenants`].
    pub tenant: usize,
    /// The pipeline file.
    pub path: PathBuf,
    /// The pipeline, with stage limits capped by the tenant's, or why it
    /// was refused.
    pub config: Result<PipelineConfig, ConfigError>,
}

impl HostConfig {
    /// Reads, parses and validates a host file (not yet its pipelines: see
    /// [`HostConfig::pipelines`]).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the file and the field at fault.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut config: HostConfig = parse_toml(&read_file(path)?, path)?;
        config.path = path.to_owned();
        let base = base_dir(path);
        for tenant in &mut config.tenants {
            for p in &mut tenant.pipelines {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        config.lake.resolve(base);
        config.validate()?;
        Ok(config)
    }

    fn invalid(&self, field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::invalid(&self.path, field, message)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.tenants.is_empty() {
            return Err(self.invalid("tenants", "must list at least one tenant"));
        }
        let max = ingot_sandbox::MAX_POOLED_INSTANCES;
        if !(1..=max).contains(&self.runtime.max_instances) {
            return Err(self.invalid(
                "runtime.max-instances",
                format!("must be between 1 and {max}"),
            ));
        }
        let mut names = BTreeSet::new();
        for (i, t) in self.tenants.iter().enumerate() {
            let field = |f: &str| format!("tenants[{i}].{f}");
            check_name(&t.name).map_err(|m| self.invalid(field("name"), m))?;
            if !names.insert(t.name.as_str()) {
                return Err(self.invalid(
                    field("name"),
                    format!("tenant `{}` is listed twice", t.name),
                ));
            }
            let hash = &t.token_sha256;
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(self.invalid(
                    field("token-sha256"),
                    "must be the 64 hex digits of the token's sha256 (`printf %s \"$TOKEN\" | sha256sum`)",
                ));
            }
            let l = &t.limits;
            if l.memory_mib == 0
                || l.call_timeout_ms == 0
                || l.max_output_mib == 0
                || l.concurrent_stages == 0
            {
                return Err(self.invalid(field("limits"), "every limit must be positive"));
            }
        }
        Ok(())
    }

    /// The tenant named `name`.
    pub fn tenant(&self, name: &str) -> Option<&TenantConfig> {
        self.tenants.iter().find(|t| t.name == name)
    }

    /// The tenant that lists the pipeline file `path`, if any.
    pub fn owner_of(&self, path: &Path) -> Option<&TenantConfig> {
        let wanted = normalize(path);
        self.tenants
            .iter()
            .find(|t| t.pipelines.iter().any(|p| normalize(p) == wanted))
    }

    /// Loads every tenant's pipelines and checks each against its tenant:
    /// the pipeline's `tenant` is the tenant's name, its lake is the host's,
    /// every table it can touch resolves under `<lake>/<tenant>/`, and no
    /// two pipelines of a tenant share a name. Stage limits are capped by
    /// the tenant's.
    ///
    /// A pipeline that fails holds its error, so one tenant's broken file
    /// does not keep the others from running.
    pub fn pipelines(&self) -> Vec<HostedPipeline> {
        let mut out = Vec::new();
        for (index, tenant) in self.tenants.iter().enumerate() {
            let mut seen = BTreeSet::new();
            for path in &tenant.pipelines {
                let loaded = PipelineConfig::load(path)
                    .and_then(|config| self.admit(tenant, config))
                    .and_then(|config| {
                        if seen.insert(config.name.clone()) {
                            Ok(config)
                        } else {
                            Err(self.invalid(
                                format!("tenants[{index}].pipelines"),
                                format!(
                                    "tenant `{}` lists two pipelines named `{}`",
                                    tenant.name, config.name
                                ),
                            ))
                        }
                    });
                out.push(HostedPipeline {
                    tenant: index,
                    path: path.clone(),
                    config: loaded,
                });
            }
        }
        out
    }

    /// Checks one pipeline of `tenant` and caps its limits.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the pipeline file and the field that
    /// would leave the tenant's namespace.
    pub fn admit(
        &self,
        tenant: &TenantConfig,
        mut config: PipelineConfig,
    ) -> Result<PipelineConfig, ConfigError> {
        let refuse =
            |field: &str, message: String| ConfigError::invalid(&config.path, field, message);
        if config.tenant != tenant.name {
            return Err(refuse(
                "tenant",
                format!(
                    "is `{}`, but {} lists this pipeline under tenant `{}`: a tenant's pipelines can only use its own namespace",
                    config.tenant,
                    self.path.display(),
                    tenant.name
                ),
            ));
        }
        let host_root = normalize_root(&self.lake.root);
        if normalize_root(&config.lake.root) != host_root {
            return Err(refuse(
                "lake.root",
                format!(
                    "is {}, but the host's lake is {host_root}: tenant `{}`'s tables live under {host_root}/{}/",
                    config.lake.root, tenant.name, tenant.name
                ),
            ));
        }
        if let Some(key) = config.kafka.properties.keys().find(|k| reaches_the_host(k)) {
            return Err(refuse(
                "kafka.properties",
                format!(
                    "`{key}` would make the host read a file, load a library or run a command on a tenant's behalf: a hosted pipeline cannot set it"
                ),
            ));
        }
        let prefix = format!("{host_root}/{}/", tenant.name);
        for table in table_names(&config) {
            let uri = normalize_root(&config.table_uri(&table));
            if !uri.starts_with(&prefix) {
                return Err(refuse(
                    "stages",
                    format!(
                        "table `{table}` resolves to {uri}, outside tenant `{}`'s namespace {prefix}",
                        tenant.name
                    ),
                ));
            }
        }
        let cap = &tenant.limits;
        for stage in &mut config.stages {
            let l = &mut stage.limits;
            let before = (l.memory_mib, l.call_timeout_ms, l.max_output_mib);
            l.memory_mib = l.memory_mib.min(cap.memory_mib);
            l.call_timeout_ms = l.call_timeout_ms.min(cap.call_timeout_ms);
            l.max_output_mib = l.max_output_mib.min(cap.max_output_mib);
            if before != (l.memory_mib, l.call_timeout_ms, l.max_output_mib) {
                tracing::info!(
                    tenant = %tenant.name, pipeline = %config.name, stage = %stage.name,
                    memory_mib = l.memory_mib, call_timeout_ms = l.call_timeout_ms,
                    max_output_mib = l.max_output_mib,
                    "stage limits capped by the tenant's"
                );
            }
        }
        Ok(config)
    }
}

/// Whether librdkafka property `key` names a file, a library or a command
/// on the host (`ssl.key.location`, `plugin.library.paths`,
/// `sasl.kerberos.kinit.cmd`, `sasl.kerberos.keytab`, ...): things a tenant
/// must not point the host at, since the Kafka client runs outside the
/// sandbox.
fn reaches_the_host(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "location", "path", "cmd", "keytab", "library", "engine", "file",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// Every table a pipeline reads or writes.
fn table_names(config: &PipelineConfig) -> Vec<String> {
    let mut names = vec![ingot_core::BRONZE.to_owned()];
    for (i, stage) in config.stages.iter().enumerate() {
        names.push(config.stage_input(i).to_owned());
        names.push(stage.name.clone());
        names.extend(ingot_core::Layout::side_tables(&stage.name));
    }
    names
}

/// A lake root or table URI in one spelling: `file://` dropped, `.` and
/// `..` resolved lexically, no trailing `/`. Other schemes are compared as
/// written.
fn normalize_root(root: &str) -> String {
    let local = root.strip_prefix("file://").unwrap_or(root);
    if local.contains("://") {
        return local.trim_end_matches('/').to_owned();
    }
    normalize(Path::new(local))
        .to_string_lossy()
        .trim_end_matches('/')
        .to_owned()
}

/// `path` made absolute with `.` and `..` resolved lexically (symlinks are
/// not followed: the lake is named by its path).
fn normalize(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN_HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn write_pipeline(dir: &Path, file: &str, tenant: &str, root: &str) -> PathBuf {
        std::fs::write(dir.join("m.wasm"), b"not checked here").expect("module");
        let path = dir.join(file);
        let text = format!(
            "name = \"logs\"\ntenant = \"{tenant}\"\n[kafka]\nbrokers = \"embedded\"\ntopics = [\"logs\"]\n[lake]\nroot = \"{root}\"\n[[stages]]\nname = \"silver\"\nmodule = \"m.wasm\"\nlimits = {{ memory-mib = 1024, call-timeout-ms = 100 }}\n"
        );
        std::fs::write(&path, text).expect("pipeline");
        path
    }

    fn host(dir: &Path, tenants: &str) -> Result<HostConfig, ConfigError> {
        let path = dir.join("host.toml");
        std::fs::write(&path, format!("[lake]\nroot = \"lake\"\n{tenants}")).expect("host");
        HostConfig::load(&path)
    }

    fn tenant(name: &str, pipelines: &str) -> String {
        format!(
            "[[tenants]]\nname = \"{name}\"\npipelines = [{pipelines}]\ntoken-sha256 = \"{TOKEN_HASH}\"\nlimits = {{ memory-mib = 128, concurrent-stages = 2 }}\n"
        )
    }

    #[test]
    fn a_tenants_pipeline_is_admitted_with_its_limits_capped() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_pipeline(dir.path(), "a.toml", "a", "lake");
        let h = host(dir.path(), &tenant("a", "\"a.toml\"")).expect("valid");
        let pipelines = h.pipelines();
        assert_eq!(pipelines[0].tenant, 0);
        let p = pipelines[0].config.as_ref().expect("admitted");
        let limits = &p.stages[0].limits;
        assert_eq!(limits.memory_mib, 128, "capped by the tenant");
        assert_eq!(limits.call_timeout_ms, 100, "a stage may ask for less");
        assert_eq!(
            h.owner_of(&dir.path().join("./a.toml"))
                .map(|t| &t.name[..]),
            Some("a")
        );
        assert!(h.owner_of(&dir.path().join("b.toml")).is_none());
    }

    #[test]
    fn a_pipeline_pointing_into_another_tenants_namespace_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_pipeline(dir.path(), "claims-b.toml", "b", "lake");
        write_pipeline(dir.path(), "b-root.toml", "a", "lake/b");
        write_pipeline(dir.path(), "dotted.toml", "a", "lake/b/..");
        let h = host(
            dir.path(),
            &(tenant("a", "\"claims-b.toml\", \"b-root.toml\", \"dotted.toml\"")
                + &tenant("b", "")),
        )
        .expect("valid");
        let results = h.pipelines();
        let err = results[0]
            .config
            .as_ref()
            .expect_err("tenant b claimed")
            .to_string();
        assert!(
            err.contains("claims-b.toml") && err.contains("`tenant`") && err.contains("`a`"),
            "{err}"
        );
        let err = results[1]
            .config
            .as_ref()
            .expect_err("b's root")
            .to_string();
        assert!(
            err.contains("`lake.root`") && err.contains("lake/b"),
            "{err}"
        );
        assert!(
            results[2].config.is_ok(),
            "the same lake, spelled differently"
        );
    }

    #[test]
    fn kafka_properties_that_reach_the_host_are_refused_for_a_tenant() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_pipeline(dir.path(), "a.toml", "a", "lake");
        let text = std::fs::read_to_string(&path).expect("read");
        for (key, refused) in [
            ("plugin.library.paths", true),
            ("ssl.key.location", true),
            ("sasl.kerberos.kinit.cmd", true),
            ("sasl.kerberos.keytab", true),
            ("fetch.max.bytes", false),
            ("security.protocol", false),
        ] {
            let with = text.replace(
                "[lake]",
                &format!("[kafka.properties]\n\"{key}\" = \"x\"\n[lake]"),
            );
            std::fs::write(&path, with).expect("write");
            let h = host(dir.path(), &tenant("a", "\"a.toml\"")).expect("valid");
            let result = &h.pipelines()[0].config;
            assert_eq!(result.is_err(), refused, "{key}: {result:?}");
            if let Err(e) = result {
                assert!(
                    e.to_string().contains(key) && e.to_string().contains("`kafka.properties`"),
                    "{e}"
                );
            }
        }
    }

    #[test]
    fn host_file_errors_name_the_field() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = |t: &str| host(dir.path(), t).expect_err("refused").to_string();
        assert!(err("tenants = []").contains("`tenants`"));
        assert!(err(&(tenant("a", "") + &tenant("a", ""))).contains("`tenants[1].name`"));
        assert!(
            err(&tenant("a", "").replace(TOKEN_HASH, "secret"))
                .contains("`tenants[0].token-sha256`")
        );
        assert!(err(&tenant("a/b", "")).contains("`tenants[0].name`"));
        let unknown = err(&tenant("a", "").replace("name =", "nmae ="));
        assert!(unknown.contains("nmae"), "{unknown}");
    }
}
