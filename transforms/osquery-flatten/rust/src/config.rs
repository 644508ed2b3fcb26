//! The stage configuration: which columns of which query become typed output
//! columns. Parsed once at `init` into a [`Plan`] of vectors indexed by
//! output position, so processing a row never looks a name up in a schema.
//!
//! Each key is `query.<query name>`; its value lists that query's columns as
//! `column:type` or `column:type:alias`, comma-separated, whitespace allowed:
//!
//! ```text
//! "query.pack_host_processes" = "name:string, pid:int64, start_time:timestamp:started_at"
//! ```

use std::collections::BTreeMap;

use ingot_guest::arrow_schema::{DataType, TimeUnit};
use ingot_guest::{Config, Error};

/// The prefix of every configuration key.
const QUERY_PREFIX: &str = "query.";

/// The output columns every row has; a typed column may not reuse their
/// names.
pub(crate) const COMMON_FIELDS: [&str; 13] = [
    "host",
    "query",
    "action",
    "time",
    "epoch",
    "counter",
    "row_id",
    "snapshot_rows",
    "decorations",
    "columns",
    "topic",
    "partition",
    "offset",
];

/// The type of a configured output column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnType {
    /// Utf8; a number is kept as its JSON text.
    String,
    /// Int64 from a JSON integer or an integer string.
    Int64,
    /// Float64 from a JSON number or a numeric string.
    Float64,
    /// Boolean from `true`/`false`, `"true"`/`"false"`, `"1"`/`"0"`, 1/0.
    Bool,
    /// Timestamp (µs, UTC) from unix seconds, as a number or a string.
    Timestamp,
}

impl ColumnType {
    const ALL: [ColumnType; 5] = [
        ColumnType::String,
        ColumnType::Int64,
        ColumnType::Float64,
        ColumnType::Bool,
        ColumnType::Timestamp,
    ];

    /// The configuration spelling.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Int64 => "int64",
            ColumnType::Float64 => "float64",
            ColumnType::Bool => "bool",
            ColumnType::Timestamp => "timestamp",
        }
    }

    /// "a bool", "an int64": for reject reasons.
    pub(crate) fn with_article(self) -> &'static str {
        match self {
            ColumnType::String => "a string",
            ColumnType::Int64 => "an int64",
            ColumnType::Float64 => "a float64",
            ColumnType::Bool => "a bool",
            ColumnType::Timestamp => "a timestamp (unix seconds)",
        }
    }

    /// The Arrow type of the output column.
    pub(crate) fn data_type(self) -> DataType {
        match self {
            ColumnType::String => DataType::Utf8,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        }
    }

    fn parse(name: &str) -> Option<ColumnType> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// One typed output column, in output order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypedColumn {
    /// The output column's name (the alias, or the source column's name).
    pub(crate) name: String,
    pub(crate) ty: ColumnType,
    /// The first query configuring it, for error messages.
    query: String,
}

/// One configured column of one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryColumn {
    /// The name in the osquery result row.
    pub(crate) source: String,
    pub(crate) ty: ColumnType,
}

/// What to do with the rows of one configured query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryPlan {
    /// The configured columns, in the order written.
    pub(crate) columns: Vec<QueryColumn>,
    /// For each typed output column, the index in `columns` that fills it,
    /// or `None` (the column is null for this query).
    pub(crate) by_output: Vec<Option<usize>>,
    /// The source names of `columns`, sorted: these stay out of the
    /// `columns` map.
    sources: Vec<String>,
}

impl QueryPlan {
    /// Whether `source` is a typed column of this query (and so not part of
    /// the row's `columns` map).
    pub(crate) fn is_typed(&self, source: &str) -> bool {
        self.sources
            .binary_search_by(|s| s.as_str().cmp(source))
            .is_ok()
    }
}

/// The whole configuration, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The typed output columns, between `decorations` and `columns`.
    pub(crate) typed: Vec<TypedColumn>,
    queries: BTreeMap<String, QueryPlan>,
}

impl Plan {
    /// Resolves the stage configuration.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the key: an unknown key, a bad entry,
    /// an unknown type, a column named like a common field, a column written
    /// twice by one query, or two queries giving one column two types.
    pub(crate) fn from_config(config: &Config) -> Result<Plan, Error> {
        let mut plan = Plan::default();
        // `Config` iterates in key order, so queries come sorted by name.
        for (key, value) in config.iter() {
            let query = key
                .strip_prefix(QUERY_PREFIX)
                .ok_or_else(|| unknown_key(key))?;
            if query.is_empty() {
                return Err(invalid(key, "names no query"));
            }
            let query_plan = plan.add_query(key, query, value)?;
            plan.queries.insert(query.to_owned(), query_plan);
        }
        for query in plan.queries.values_mut() {
            query.by_output.resize(plan.typed.len(), None);
        }
        Ok(plan)
    }

    /// The plan of `query`, `None` when it is not configured.
    pub(crate) fn query(&self, query: &str) -> Option<&QueryPlan> {
        self.queries.get(query)
    }

    fn add_query(&mut self, key: &str, query: &str, value: &str) -> Result<QueryPlan, Error> {
        let mut plan = QueryPlan {
            columns: Vec::new(),
            by_output: Vec::new(),
            sources: Vec::new(),
        };
        let mut outputs: Vec<&str> = Vec::new();
        for entry in value.split(',').map(str::trim) {
            let (source, ty, output) = parse_entry(key, entry)?;
            if outputs.contains(&output) {
                return Err(invalid(
                    key,
                    format!("writes column `{output}` twice; give one an alias"),
                ));
            }
            outputs.push(output);
            if COMMON_FIELDS.contains(&output) {
                return Err(invalid(
                    key,
                    format!(
                        "column `{output}` collides with the common field `{output}`; \
                         give it an alias (`{source}:{}:{query}_{output}`)",
                        ty.name()
                    ),
                ));
            }
            let position = self.typed_position(key, query, output, ty)?;
            if plan.by_output.len() <= position {
                plan.by_output.resize(position + 1, None);
            }
            plan.by_output[position] = Some(plan.columns.len());
            plan.columns.push(QueryColumn {
                source: source.to_owned(),
                ty,
            });
        }
        plan.sources = plan.columns.iter().map(|c| c.source.clone()).collect();
        plan.sources.sort();
        plan.sources.dedup();
        Ok(plan)
    }

    /// The position of output column `name`, added if new.
    fn typed_position(
        &mut self,
        key: &str,
        query: &str,
        name: &str,
        ty: ColumnType,
    ) -> Result<usize, Error> {
        match self.typed.iter().position(|c| c.name == name) {
            Some(position) => {
                let existing = &self.typed[position];
                if existing.ty == ty {
                    Ok(position)
                } else {
                    Err(invalid(
                        key,
                        format!(
                            "column `{name}` is {} here but {} in `{QUERY_PREFIX}{}`; \
                             queries {} and {query} must agree, or one must use an alias",
                            ty.name(),
                            existing.ty.name(),
                            existing.query,
                            existing.query,
                        ),
                    ))
                }
            }
            None => {
                self.typed.push(TypedColumn {
                    name: name.to_owned(),
                    ty,
                    query: query.to_owned(),
                });
                Ok(self.typed.len() - 1)
            }
        }
    }
}

/// `column:type` or `column:type:alias` as (source, type, output name).
fn parse_entry<'a>(key: &str, entry: &'a str) -> Result<(&'a str, ColumnType, &'a str), Error> {
    let parts: Vec<&str> = entry.split(':').map(str::trim).collect();
    let (source, ty, alias) = match parts[..] {
        [source, ty] => (source, ty, source),
        [source, ty, alias] => (source, ty, alias),
        _ => return Err(bad_entry(key, entry)),
    };
    if source.is_empty() || ty.is_empty() || alias.is_empty() {
        return Err(bad_entry(key, entry));
    }
    let ty = ColumnType::parse(ty).ok_or_else(|| {
        let known: Vec<&str> = ColumnType::ALL.iter().map(|t| t.name()).collect();
        invalid(
            key,
            format!(
                "column `{source}` has unknown type `{ty}` (expected one of {})",
                known.join(", ")
            ),
        )
    })?;
    Ok((source, ty, alias))
}

fn invalid(key: &str, message: impl std::fmt::Display) -> Error {
    Error::InvalidConfig(format!("key `{key}`: {message}"))
}

fn bad_entry(key: &str, entry: &str) -> Error {
    invalid(
        key,
        format!("entry `{entry}` is not `column:type` or `column:type:alias`"),
    )
}

fn unknown_key(key: &str) -> Error {
    let hint = if key == "query" {
        // An unquoted `query.name = "..."` in TOML is a nested table, which
        // the host hands over as one key `query`.
        "; quote dotted keys in the pipeline file (`\"query.<name>\" = \"...\"`)"
    } else {
        ""
    };
    Error::InvalidConfig(format!(
        "unknown key `{key}` (keys are `{QUERY_PREFIX}<query name>`){hint}"
    ))
}
