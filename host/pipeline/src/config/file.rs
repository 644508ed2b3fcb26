//! The plumbing of a TOML configuration file, shared by the pipeline file
//! and the host file: reading it, parsing it with errors that name the file,
//! the line and, for a stage's keys, the key's path (`stages[1].keys`).

use std::path::{Path, PathBuf};

use ingot_core::ErrorClass;

/// An error in the pipeline file or the command line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read pipeline file {}: {source}", path.display())]
    Read {
        /// The pipeline file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the expected shape.
    #[error("invalid pipeline file {}: {message}", path.display())]
    Parse {
        /// The pipeline file.
        path: PathBuf,
        /// The parser's message, with line, column and key.
        message: String,
    },
    /// A field has a value the pipeline cannot run with.
    #[error("invalid pipeline file {}: `{field}` {message}", path.display())]
    Invalid {
        /// The pipeline file.
        path: PathBuf,
        /// The field at fault, as a dotted path (`stages[1].keys`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] of file `path`.
    pub fn invalid(path: &Path, field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            path: path.to_owned(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// Configuration errors are always the user's to fix.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::User
    }
}

/// The text of configuration file `path`.
pub fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Parses TOML read from `path` into `T`; the error names the file, and the
/// parser's line, column and key, on one line.
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string().trim_end().replace('\n', " "),
    })
}

/// A parse error of pipeline file `path`: a stage's missing or unknown key
/// is named by its path (`stages[1].keys`) and line; anything else keeps
/// the parser's message, with line, column and key (the parser knows the
/// line of a key, but not the index of the stage it is in).
pub(super) fn parse_error(text: &str, path: &Path, e: &toml::de::Error) -> ConfigError {
    let message = e.message().trim_end();
    let key = [
        ("missing field `", "is missing"),
        ("unknown field `", "is not a key of this stage"),
    ]
    .iter()
    .find_map(|(prefix, verb)| Some((message.strip_prefix(prefix)?.split_once('`')?, *verb)))
    // Only the stage's own keys, which [`write_mode`] names with the mode
    // (not those of a sub-table such as `[stages.limits]`).
    .filter(|((_, rest), _)| rest.contains("mode `"));
    let stage = e.span().and_then(|span| {
        let line = text.get(..span.start)?.matches('\n').count() + 1;
        Some((stage_index_at(text, span.start)?, line))
    });
    match (key, stage) {
        (Some(((key, rest), verb)), Some((index, line))) => ConfigError::invalid(
            path,
            format!("stages[{index}].{key}"),
            format!("{verb}{rest}, in the stage at line {line}"),
        ),
        _ => ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().replace('\n', " "),
        },
    }
}

/// The index of the `[[stages]]` table that byte `offset` of `text` is in
/// (its header, its keys or one of its sub-tables), if any.
fn stage_index_at(text: &str, offset: usize) -> Option<usize> {
    let mut stages = 0;
    let mut inside = false;
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        if start > offset {
            break;
        }
        start += line.len();
        let header = line.split('#').next().unwrap_or_default().trim();
        if let Some(name) = header.strip_prefix("[[").and_then(|h| h.strip_suffix("]]")) {
            inside = name.trim() == "stages";
            stages += usize::from(inside);
        } else if let Some(name) = header.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            inside = name.trim().starts_with("stages.");
        }
    }
    (inside && stages > 0).then(|| stages - 1)
}

/// The folder relative paths in file `path` are resolved against.
pub fn base_dir(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

/// Names become path segments and txn app ids: keep them plain.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` must be 1-64 characters of a-z, A-Z, 0-9, `-` and `_`"
        ))
    }
}
