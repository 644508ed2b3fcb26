//! Where a table lives: this build stores tables on the local file system
//! only. Relative paths are made absolute against the current directory and
//! `file://` URLs are accepted; any other scheme is refused with a clear error.

use std::path::{Component, Path, PathBuf};

use deltalake::DeltaTableBuilder;

use super::TableError;

/// The absolute local directory of the table named by `uri`.
///
/// # Errors
/// [`TableError::UnsupportedScheme`] for a URL that is not `file://`,
/// [`TableError::InvalidLocation`] for an empty or unparsable location.
pub(crate) fn local_dir(uri: &str) -> Result<PathBuf, TableError> {
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
pub(crate) fn has_delta_log(dir: &Path) -> bool {
    dir.join("_delta_log").is_dir()
}

/// A delta-rs builder for the table in `dir`, creating the directory if it
/// does not exist yet.
///
/// # Errors
/// [`TableError::InvalidLocation`] when the directory cannot be created or
/// its path is not UTF-8.
pub(crate) fn builder(dir: &Path, uri: &str) -> Result<DeltaTableBuilder, TableError> {
    let invalid = |reason: String| TableError::InvalidLocation {
        table: uri.to_string(),
        reason,
    };
    let text = dir
        .to_str()
        .ok_or_else(|| invalid("path is not valid UTF-8".into()))?;
    let url = deltalake::ensure_table_uri(text).map_err(|e| invalid(e.to_string()))?;
    DeltaTableBuilder::from_url(url).map_err(|e| invalid(e.to_string()))
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
    fn other_schemes_are_refused() {
        let err = local_dir("s3://bucket/lake/bronze").expect_err("s3 unsupported");
        assert!(matches!(
            &err,
            TableError::UnsupportedScheme { scheme, .. } if scheme == "s3"
        ));
        assert!(err.to_string().contains("s3://bucket/lake/bronze"));
        assert!(matches!(
            local_dir("  "),
            Err(TableError::InvalidLocation { .. })
        ));
    }
}
