//! The `txn` (application transaction) versions of a snapshot, kept in memory.
//!
//! delta-rs 1.x answers "which version did application X commit" with a log
//! replay per question. The pipeline asks that question for every Kafka
//! partition on each rebalance and for every stage run, synchronously, so a
//! [`super::Table`] keeps the whole map instead: built once when the table is
//! opened (the newest checkpoint at or below the version, then the JSON
//! commits after it) and advanced commit by commit on refresh and write.
//! Only classic checkpoints (single file or multi-part) are read, which is
//! what delta-rs writes; the newest `txn` of an application id wins.

use std::collections::{BTreeMap, HashMap};

use deltalake::logstore::LogStore;
use deltalake::logstore::object_store::ObjectStoreExt as _;
use deltalake::parquet::arrow::ProjectionMask;
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use deltalake::{DeltaTableError, Path};
use futures::TryStreamExt as _;

use super::arrow::array::{Array, AsArray};
use super::arrow::compute::cast;
use super::arrow::datatypes::{DataType, Int64Type};

/// Application id -> version of its newest `txn` action.
pub(crate) type TxnMap = HashMap<String, i64>;

const LOG_DIR: &str = "_delta_log";

/// All application transactions as of `version`.
///
/// # Errors
/// A log file or checkpoint that cannot be listed, read or parsed.
pub(crate) async fn load(store: &dyn LogStore, version: u64) -> Result<TxnMap, DeltaTableError> {
    let mut map = TxnMap::new();
    let start = match newest_checkpoint(store, version).await? {
        Some((checkpoint, parts)) => {
            for part in parts {
                read_checkpoint(store, &part, &mut map).await?;
            }
            checkpoint + 1
        }
        None => 0,
    };
    apply_commits(store, start, version, &mut map).await?;
    Ok(map)
}

/// Applies the `txn` actions of commits `from..=to` (none when `from > to`).
///
/// # Errors
/// A commit that is missing or cannot be parsed.
pub(crate) async fn apply_commits(
    store: &dyn LogStore,
    from: u64,
    to: u64,
    map: &mut TxnMap,
) -> Result<(), DeltaTableError> {
    for version in from..=to {
        let bytes = store
            .read_commit_entry(version)
            .await?
            .ok_or(DeltaTableError::InvalidVersion(version))?;
        apply_commit(&bytes, map).map_err(|json_err| DeltaTableError::InvalidJsonLog {
            json_err,
            line: String::new(),
            version,
        })?;
    }
    Ok(())
}

/// Applies the `txn` actions of one commit file (newline-delimited JSON).
fn apply_commit(bytes: &[u8], map: &mut TxnMap) -> Result<(), serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Line {
        txn: Option<TxnAction>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct TxnAction {
        app_id: String,
        version: i64,
    }
    for line in bytes.split(|b| *b == b'\n') {
        if !line.windows(5).any(|w| w == b"\"txn\"") {
            continue;
        }
        let parsed: Line = serde_json::from_slice(line)?;
        if let Some(txn) = parsed.txn {
            map.insert(txn.app_id, txn.version);
        }
    }
    Ok(())
}

/// The newest complete classic checkpoint at or below `version`, with its
/// part files in order.
async fn newest_checkpoint(
    store: &dyn LogStore,
    version: u64,
) -> Result<Option<(u64, Vec<Path>)>, DeltaTableError> {
    let objects = store.object_store(None);
    let hinted = last_checkpoint_hint(store)
        .await
        .filter(|hint| *hint <= version);
    if let Some(hint) = hinted {
        let offset = Path::from(format!("{LOG_DIR}/{hint:020}"));
        let names: Vec<Path> = objects
            .list_with_offset(Some(&Path::from(LOG_DIR)), &offset)
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        if let Some(found) = pick_checkpoint(&names, version) {
            return Ok(Some(found));
        }
    }
    let names: Vec<Path> = objects
        .list(Some(&Path::from(LOG_DIR)))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await?;
    Ok(pick_checkpoint(&names, version))
}

/// The version in `_delta_log/_last_checkpoint`, if readable.
pub(crate) async fn last_checkpoint_hint(store: &dyn LogStore) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Hint {
        version: u64,
    }
    let path = Path::from(format!("{LOG_DIR}/_last_checkpoint"));
    let bytes = store
        .object_store(None)
        .get(&path)
        .await
        .ok()?
        .bytes()
        .await
        .ok()?;
    serde_json::from_slice::<Hint>(&bytes)
        .ok()
        .map(|hint| hint.version)
}

/// Chooses the newest checkpoint `<= version` whose parts are all listed.
fn pick_checkpoint(names: &[Path], version: u64) -> Option<(u64, Vec<Path>)> {
    // version -> (declared part count, part number -> path)
    let mut found: BTreeMap<u64, (u32, BTreeMap<u32, Path>)> = BTreeMap::new();
    for path in names {
        let Some((v, part, parts)) = parse_checkpoint_name(path.filename().unwrap_or_default())
        else {
            continue;
        };
        if v <= version {
            let entry = found.entry(v).or_insert_with(|| (parts, BTreeMap::new()));
            if entry.0 == parts {
                entry.1.insert(part, path.clone());
            }
        }
    }
    found.into_iter().rev().find_map(|(v, (parts, files))| {
        (usize::try_from(parts).ok() == Some(files.len()))
            .then(|| (v, files.into_values().collect()))
    })
}

/// `(version, part, parts)` of a classic checkpoint file name:
/// `<v>.checkpoint.parquet` or `<v>.checkpoint.<part>.<parts>.parquet`.
fn parse_checkpoint_name(name: &str) -> Option<(u64, u32, u32)> {
    let rest = name.strip_suffix(".parquet")?;
    let (version, rest) = rest.split_once(".checkpoint")?;
    if version.len() != 20 {
        return None;
    }
    let version = version.parse().ok()?;
    if rest.is_empty() {
        return Some((version, 1, 1));
    }
    let (part, parts) = rest.strip_prefix('.')?.split_once('.')?;
    if part.len() != 10 || parts.len() != 10 {
        return None;
    }
    Some((version, part.parse().ok()?, parts.parse().ok()?))
}

/// Adds the `txn` column of one checkpoint part file to `map`.
async fn read_checkpoint(
    store: &dyn LogStore,
    path: &Path,
    map: &mut TxnMap,
) -> Result<(), DeltaTableError> {
    let bytes = store.object_store(None).get(path).await?.bytes().await?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)?;
    let Ok(txn_index) = builder.schema().index_of("txn") else {
        return Ok(());
    };
    let mask = ProjectionMask::roots(builder.parquet_schema(), [txn_index]);
    for batch in builder.with_projection(mask).build()? {
        let batch = batch?;
        let Some(txns) = batch.column(0).as_struct_opt() else {
            continue;
        };
        let (Some(app_ids), Some(versions)) =
            (txns.column_by_name("appId"), txns.column_by_name("version"))
        else {
            continue;
        };
        let app_ids = cast(app_ids, &DataType::Utf8)?;
        let versions = cast(versions, &DataType::Int64)?;
        let app_ids = app_ids.as_string::<i32>();
        let versions = versions.as_primitive::<Int64Type>();
        for row in 0..txns.len() {
            if txns.is_valid(row) && app_ids.is_valid(row) && versions.is_valid(row) {
                map.insert(app_ids.value(row).to_string(), versions.value(row));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_lines_yield_the_newest_txn() {
        let commit = br#"{"commitInfo":{"timestamp":1,"operation":"WRITE"}}
{"add":{"path":"a.parquet","stats":"{\"txn\":1}"}}
{"txn":{"appId":"p/t/0","version":41,"lastUpdated":5}}
{"txn":{"appId":"p/t/1","version":7}}"#;
        let mut map = TxnMap::from([("p/t/0".to_string(), 3)]);
        apply_commit(commit, &mut map).expect("parse");
        assert_eq!(map.get("p/t/0"), Some(&41));
        assert_eq!(map.get("p/t/1"), Some(&7));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn checkpoint_names_and_choice() {
        assert_eq!(
            parse_checkpoint_name("00000000000000000010.checkpoint.parquet"),
            Some((10, 1, 1))
        );
        assert_eq!(
            parse_checkpoint_name("00000000000000000020.checkpoint.0000000002.0000000003.parquet"),
            Some((20, 2, 3))
        );
        assert_eq!(parse_checkpoint_name("00000000000000000010.json"), None);
        assert_eq!(
            parse_checkpoint_name("00000000000000000010.checkpoint.80a083e8-7026.parquet"),
            None
        );
        let names: Vec<Path> = [
            "_delta_log/00000000000000000010.checkpoint.parquet",
            "_delta_log/00000000000000000020.checkpoint.0000000001.0000000002.parquet",
            "_delta_log/00000000000000000030.checkpoint.parquet",
        ]
        .into_iter()
        .map(Path::from)
        .collect();
        // 30 is past the version, 20 misses a part: 10 it is.
        let (v, parts) = pick_checkpoint(&names, 25).expect("a checkpoint");
        assert_eq!(v, 10);
        assert_eq!(parts.len(), 1);
        assert_eq!(pick_checkpoint(&names, 9), None);
    }
}
