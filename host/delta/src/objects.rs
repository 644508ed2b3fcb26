//! Plain objects of a lake beside its tables (the registry's modules, the
//! status documents): read, written whole, listed, in a local folder or on
//! an object store with the options of its lake ([`crate::register_lake`]).
//!
//! A write replaces the object atomically: a reader sees the old bytes or
//! the new ones (a rename on a local folder, a single PUT on a store).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use deltalake::logstore::object_store::{ObjectStoreExt as _, PutMode};
use deltalake::logstore::{ObjectStoreRef, store_for};
use deltalake::{ObjectStoreError, Path};
use url::Url;

use super::TableError;
use super::location::{self, Location};

/// The store of each folder URL opened so far (a store holds an HTTP
/// client: one per folder, not per call).
static STORES: LazyLock<Mutex<HashMap<String, ObjectStoreRef>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The bytes of the object at `uri`; `None` if there is none.
///
/// # Errors
/// [`TableError::Object`] when the store fails (not for a missing object).
pub async fn read(uri: &str) -> Result<Option<Vec<u8>>, TableError> {
    let (store, name) = open(uri)?;
    let result = match store.get(&name).await {
        Ok(got) => got.bytes().await,
        Err(e) => Err(e),
    };
    match result {
        Ok(bytes) => Ok(Some(bytes.to_vec())),
        Err(ObjectStoreError::NotFound { .. }) => Ok(None),
        Err(source) => Err(object_error(uri, source)),
    }
}

/// Writes `bytes` as the object at `uri`, replacing any.
///
/// # Errors
/// [`TableError::Object`] when the store fails.
pub async fn write(uri: &str, bytes: Vec<u8>) -> Result<(), TableError> {
    let (store, name) = open(uri)?;
    store
        .put(&name, bytes.into())
        .await
        .map(|_| ())
        .map_err(|source| object_error(uri, source))
}

/// Writes `bytes` as the object at `uri` only if there is none yet (a
/// create-only put: `If-None-Match: *` on S3, a no-replace link on a local
/// folder). `false` when the object already existed: another writer got
/// there first.
///
/// # Errors
/// [`TableError::Object`] when the store fails.
pub async fn create(uri: &str, bytes: Vec<u8>) -> Result<bool, TableError> {
    let (store, name) = open(uri)?;
    match store
        .put_opts(&name, bytes.into(), PutMode::Create.into())
        .await
    {
        Ok(_) => Ok(true),
        Err(ObjectStoreError::AlreadyExists { .. } | ObjectStoreError::Precondition { .. }) => {
            Ok(false)
        }
        Err(source) => Err(object_error(uri, source)),
    }
}

/// Whether an object exists at `uri` (one HEAD request).
///
/// # Errors
/// [`TableError::Object`] when the store fails.
pub async fn exists(uri: &str) -> Result<bool, TableError> {
    let (store, name) = open(uri)?;
    match store.head(&name).await {
        Ok(_) => Ok(true),
        Err(ObjectStoreError::NotFound { .. }) => Ok(false),
        Err(source) => Err(object_error(uri, source)),
    }
}

/// Deletes the object at `uri`; a missing one is not an error.
///
/// # Errors
/// [`TableError::Object`] when the store fails.
pub async fn delete(uri: &str) -> Result<(), TableError> {
    let (store, name) = open(uri)?;
    match store.delete(&name).await {
        Ok(()) | Err(ObjectStoreError::NotFound { .. }) => Ok(()),
        Err(source) => Err(object_error(uri, source)),
    }
}

/// The names of the objects directly in the folder `dir` (none if it does
/// not exist), sorted.
///
/// # Errors
/// [`TableError::Object`] when the store fails.
pub async fn list(dir: &str) -> Result<Vec<String>, TableError> {
    let store = folder_store(dir)?;
    let listed = match store.list_with_delimiter(None).await {
        Ok(listed) => listed,
        Err(ObjectStoreError::NotFound { .. }) => return Ok(Vec::new()),
        Err(source) => return Err(object_error(dir, source)),
    };
    let mut names: Vec<String> = listed
        .objects
        .into_iter()
        .filter_map(|meta| meta.location.filename().map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

/// The option that declares a store unsafe for concurrent writers (it
/// ignores `If-None-Match`): delta-rs's own name for it. With it set, the
/// probe is skipped and only one writer per table may run.
pub const ALLOW_UNSAFE_RENAME: &str = "aws_s3_allow_unsafe_rename";

/// Checks that the object store of lake `root` refuses a second
/// create-only put of one key (`If-None-Match: *`), which Delta commits on
/// object storage rely on: two writers racing for one table version must
/// not both win. Local folders and roots already checked by this process
/// pass at once; a root whose options set [`ALLOW_UNSAFE_RENAME`] is not
/// checked.
///
/// # Errors
/// [`TableError::UnsafeStore`] when the store accepted both puts;
/// [`TableError::LakeRefused`] when it refused the first (no bucket, access
/// denied); [`TableError::Object`] when it could not be reached.
pub async fn check_conditional_put(root: &str) -> Result<(), TableError> {
    static CHECKED: LazyLock<Mutex<Vec<String>>> = LazyLock::new(|| Mutex::new(Vec::new()));
    let Location::Remote(url) = location::locate(root)? else {
        return Ok(());
    };
    let unsafe_declared = location::options_for(&url)
        .get(ALLOW_UNSAFE_RENAME)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let seen = |checked: &Vec<String>| checked.iter().any(|r| r == root);
    if unsafe_declared
        || seen(
            &CHECKED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    {
        return Ok(());
    }
    let store = folder_store(&format!("{}/_ingot", root.trim_end_matches('/')))?;
    let key = Path::from(format!(
        "conditional-put-probe-{}-{}",
        std::process::id(),
        ingot_core::clock::now_micros()
    ));
    let create = || store.put_opts(&key, b"probe".to_vec().into(), PutMode::Create.into());
    create().await.map_err(|source| match source {
        // What retrying will not change: a person must fix the lake's
        // settings (the store client already retried what is transient).
        ObjectStoreError::NotFound { .. }
        | ObjectStoreError::PermissionDenied { .. }
        | ObjectStoreError::Unauthenticated { .. } => TableError::LakeRefused {
            root: root.to_owned(),
            source: Box::new(source),
        },
        source => object_error(root, source),
    })?;
    let second = create().await;
    let _ = store.delete(&key).await;
    match second {
        Err(ObjectStoreError::AlreadyExists { .. } | ObjectStoreError::Precondition { .. }) => {
            CHECKED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(root.to_owned());
            Ok(())
        }
        Ok(_) => Err(TableError::UnsafeStore {
            root: root.to_owned(),
        }),
        Err(source) => Err(object_error(root, source)),
    }
}

/// The store of the folder holding `uri`, and the object's name in it.
fn open(uri: &str) -> Result<(ObjectStoreRef, Path), TableError> {
    let trimmed = uri.trim_end_matches('/');
    let Some((dir, name)) = trimmed.rsplit_once('/') else {
        return Err(TableError::InvalidLocation {
            table: uri.to_owned(),
            reason: "an object needs a folder and a name".into(),
        });
    };
    Ok((folder_store(dir)?, Path::from(name)))
}

/// The store rooted at folder `dir`.
fn folder_store(dir: &str) -> Result<ObjectStoreRef, TableError> {
    let url = match location::locate(dir)? {
        Location::Remote(url) => url,
        Location::Local(path) => {
            Url::from_directory_path(&path).map_err(|()| TableError::InvalidLocation {
                table: dir.to_owned(),
                reason: "not an absolute path".into(),
            })?
        }
    };
    let mut stores = STORES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(store) = stores.get(url.as_str()) {
        return Ok(Arc::clone(store));
    }
    let store =
        store_for(&url, location::options_for(&url)).map_err(|e| TableError::InvalidLocation {
            table: dir.to_owned(),
            reason: e.to_string(),
        })?;
    stores.insert(url.as_str().to_owned(), Arc::clone(&store));
    Ok(store)
}

fn object_error(uri: &str, source: ObjectStoreError) -> TableError {
    TableError::Object {
        uri: uri.to_owned(),
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn objects_are_written_whole_read_back_and_listed_in_a_local_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = dir.path().join("status/logs");
        let folder = folder.to_str().expect("utf-8");
        assert_eq!(list(folder).await.expect("list"), Vec::<String>::new());
        let a = format!("{folder}/a.json");
        assert_eq!(read(&a).await.expect("read"), None);
        write(&a, b"one".to_vec()).await.expect("write");
        write(&a, b"two".to_vec()).await.expect("replace");
        write(&format!("{folder}/b.json"), b"b".to_vec())
            .await
            .expect("write");
        assert_eq!(read(&a).await.expect("read"), Some(b"two".to_vec()));
        assert_eq!(list(folder).await.expect("list"), ["a.json", "b.json"]);
        let c = format!("{folder}/c.json");
        assert!(!exists(&c).await.expect("head"));
        assert!(create(&c, b"first".to_vec()).await.expect("create"));
        assert!(
            !create(&c, b"second".to_vec()).await.expect("create"),
            "created once"
        );
        assert_eq!(read(&c).await.expect("read"), Some(b"first".to_vec()));
        assert!(exists(&c).await.expect("head"));
        delete(&c).await.expect("delete");
        delete(&c).await.expect("deleting twice is fine");
        assert!(!exists(&c).await.expect("head"));
    }
}
