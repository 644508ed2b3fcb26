//! Where a table lives: a local folder (a path, made absolute against the
//! current directory, or a `file://` URL), or an object store named by its
//! URL (`s3://`, `s3a://`, `gs://`, `abfss://`, `abfs://`, `az://`,
//! `adl://`, `azure://`), opened with the options of the lake root it is
//! under ([`crate::register_lake`]). Any other scheme is refused with a
//! clear error.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{LazyLock, RwLock};

use deltalake::DeltaTableBuilder;
use url::Url;

use super::TableError;

/// The object-store schemes this build opens (delta-rs's S3, GCS and Azure
/// stores).
pub const OBJECT_STORE_SCHEMES: &[&str] =
    &["s3", "s3a", "gs", "abfss", "abfs", "az", "adl", "azure"];

/// A table's (or an object's) place.
#[derive(Debug, Clone)]
pub(crate) enum Location {
    /// An absolute local directory.
    Local(PathBuf),
    /// An object-store URL.
    Remote(Url),
}

/// A lake root on an object store and its store options.
type Registered = (String, HashMap<String, String>);

/// The lake roots on object stores and their options, longest first.
static LAKES: LazyLock<RwLock<Vec<Registered>>> = LazyLock::new(|| RwLock::new(Vec::new()));

/// Records the store options of the lake at `root`: every table and object
/// under it is opened with them (a local root needs none). Registering a
/// root again replaces its options.
///
/// # Errors
/// [`TableError::UnsupportedScheme`] or [`TableError::InvalidLocation`] for
/// a root this build cannot open.
pub fn register_lake<'a>(
    root: &str,
    options: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<(), TableError> {
    let Location::Remote(url) = locate(root)? else {
        return Ok(());
    };
    let prefix = url.as_str().trim_end_matches('/').to_owned();
    let options: HashMap<String, String> = options
        .into_iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut lakes = LAKES
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    lakes.retain(|(root, _)| *root != prefix);
    lakes.push((prefix, options));
    lakes.sort_by_key(|(root, _)| std::cmp::Reverse(root.len()));
    Ok(())
}

/// The options of the lake `url` is under (none when it is under no
/// registered root: the store then reads its environment alone).
pub(crate) fn options_for(url: &Url) -> HashMap<String, String> {
    let lakes = LAKES
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let text = url.as_str();
    lakes
        .iter()
        .find(|(root, _)| {
            text.strip_prefix(root.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
        .map(|(_, options)| options.clone())
        .unwrap_or_default()
}

/// Where `uri` is.
///
/// # Errors
/// [`TableError::UnsupportedScheme`] for a scheme this build has no store
/// for, [`TableError::InvalidLocation`] for an empty or unparsable location.
pub(crate) fn locate(uri: &str) -> Result<Location, TableError> {
    let trimmed = uri.trim();
    let scheme = trimmed
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase());
    match scheme {
        Some(scheme) if OBJECT_STORE_SCHEMES.contains(&scheme.as_str()) => {
            let url = Url::parse(trimmed).map_err(|e| TableError::InvalidLocation {
                table: uri.to_string(),
                reason: e.to_string(),
            })?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(TableError::InvalidLocation {
                    table: uri.to_string(),
                    reason: "an object-store url needs a bucket or container".into(),
                });
            }
            Ok(Location::Remote(url))
        }
        _ => local_dir(uri).map(Location::Local),
    }
}

impl Location {
    /// Whether a table may be here: a local directory without a Delta log
    /// holds none; on an object store only loading tells.
    pub(crate) fn may_hold_table(&self) -> bool {
        match self {
            Location::Local(dir) => has_delta_log(dir),
            Location::Remote(_) => true,
        }
    }

    /// A delta-rs builder for the table here (a local directory is created
    /// if it does not exist yet; a remote one gets its lake's options).
    ///
    /// # Errors
    /// [`TableError::InvalidLocation`] when the local directory cannot be
    /// created or its path is not UTF-8.
    pub(crate) fn builder(&self, uri: &str) -> Result<DeltaTableBuilder, TableError> {
        let invalid = |reason: String| TableError::InvalidLocation {
            table: uri.to_string(),
            reason,
        };
        match self {
            Location::Local(dir) => {
                let text = dir
                    .to_str()
                    .ok_or_else(|| invalid("path is not valid UTF-8".into()))?;
                let url = deltalake::ensure_table_uri(text).map_err(|e| invalid(e.to_string()))?;
                DeltaTableBuilder::from_url(url).map_err(|e| invalid(e.to_string()))
            }
            Location::Remote(url) => Ok(DeltaTableBuilder::from_url(url.clone())
                .map_err(|e| invalid(e.to_string()))?
                .with_storage_options(options_for(url))),
        }
    }
}

/// The absolute local directory of the table named by `uri`.
///
/// # Errors
/// [`TableError::UnsupportedScheme`] for a URL that is not `file://` (nor
/// an object store's), [`TableError::InvalidLocation`] for an empty or
/// unparsable location.
fn local_dir(uri: &str) -> Result<PathBuf, TableError> {
    let invalid = |reason: String| TableError::InvalidLocation {
        table: uri.to_string(),
        reason,
    };
    let trimmed = uri.trim();
    if trimmed.is_empty() {
        return Err(invalid("empty location".into()));
    }
    if let Some((scheme, _)) = trimmed.split_once("://") {
        if !scheme.eq_ignore_ascii_case("file") {
            return Err(TableError::UnsupportedScheme {
                table: uri.to_string(),
                scheme: scheme.to_ascii_lowercase(),
            });
        }
        let rest = &trimmed[scheme.len() + 3..];
        let rest = rest.strip_prefix("localhost").unwrap_or(rest);
        if !rest.starts_with('/') {
            return Err(invalid(
                "a file url needs an absolute path (file:///...)".into(),
            ));
        }
        let decoded = percent_decode(rest).ok_or_else(|| invalid("bad percent-encoding".into()))?;
        return Ok(normalize(Path::new(&decoded)));
    }
    let path = Path::new(trimmed);
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| invalid(format!("cannot resolve a relative path: {e}")))?
            .join(path)
    };
    Ok(normalize(&absolute))
}

/// Whether `dir` holds a Delta log (a table may exist there).
fn has_delta_log(dir: &Path) -> bool {
    dir.join("_delta_log").is_dir()
}

/// Decodes `%XX` escapes of a URL path; `None` if malformed or not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Removes `.` and resolves `..` lexically (the directory may not exist yet).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_become_absolute() {
        let dir = local_dir("lake/./bronze/../silver").expect("relative path");
        assert!(dir.is_absolute());
        assert!(dir.ends_with("lake/silver"), "{}", dir.display());
    }

    #[test]
    fn file_urls_are_local_paths() {
        let dir = local_dir("file:///tmp/lake/gold/").expect("file url");
        assert_eq!(dir, PathBuf::from("/tmp/lake/gold"));
        let dir = local_dir("file://localhost/tmp/my%20lake/x").expect("file url");
        assert_eq!(dir, PathBuf::from("/tmp/my lake/x"));
        assert!(local_dir("file://relative/x").is_err());
        assert!(local_dir("file:///bad%zz").is_err());
    }

    #[test]
    fn object_store_urls_are_remote_and_other_schemes_are_refused() {
        assert!(matches!(
            locate("s3://bucket/lake/bronze"),
            Ok(Location::Remote(url)) if url.as_str() == "s3://bucket/lake/bronze"
        ));
        assert!(matches!(locate("gs://b/x"), Ok(Location::Remote(_))));
        assert!(matches!(locate("/tmp/x"), Ok(Location::Local(_))));
        assert!(matches!(
            locate("s3:///no-bucket"),
            Err(TableError::InvalidLocation { .. })
        ));
        let err = locate("hdfs://cluster/lake/bronze").expect_err("hdfs unsupported");
        assert!(matches!(
            &err,
            TableError::UnsupportedScheme { scheme, .. } if scheme == "hdfs"
        ));
        assert!(err.to_string().contains("hdfs://cluster/lake/bronze"));
        assert!(matches!(
            local_dir("  "),
            Err(TableError::InvalidLocation { .. })
        ));
    }

    #[test]
    fn a_url_takes_the_options_of_the_longest_lake_root_it_is_under() {
        let one = |k: &str, v: &str| [(k.to_owned(), v.to_owned())];
        let opt = one("region", "outer");
        register_lake("s3://options-test/lake", opt.iter().map(|(k, v)| (k, v))).expect("outer");
        let opt = one("region", "inner");
        register_lake(
            "s3://options-test/lake/t1/",
            opt.iter().map(|(k, v)| (k, v)),
        )
        .expect("inner");
        let region = |uri: &str| {
            options_for(&Url::parse(uri).expect("url"))
                .get("region")
                .cloned()
        };
        assert_eq!(
            region("s3://options-test/lake/t1/p/bronze").as_deref(),
            Some("inner")
        );
        assert_eq!(
            region("s3://options-test/lake/t2/bronze").as_deref(),
            Some("outer")
        );
        assert_eq!(
            region("s3://options-test/lake-other/x"),
            None,
            "a prefix of a name is not a root"
        );
        assert_eq!(region("s3://another/lake/x"), None);
    }
}
