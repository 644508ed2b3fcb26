//! An S3-compatible server process per test (moto's server mode), for lakes
//! at `s3://` URLs.
//!
//! moto keeps every object in memory, checks no signature and honours
//! `If-None-Match: *` on a PUT as S3 does (412 PreconditionFailed when the
//! key exists): the conditional write delta-rs commits a version with.
//! Anonymous requests are held to the bucket's ACL (moto refuses an
//! anonymous overwrite with 403 instead of checking the precondition), so the
//! harness's own requests carry an `Authorization` header naming the test
//! key, as a signed client's do. moto checks the precondition and stores the
//! object in two steps, not atomically; [`S3Server::keep_versions`] lets a
//! test see whether two writers ever both got their PUT of one key.
//!
//! The `ingot` processes get the credentials from their environment
//! ([`S3Server::child_env`]), never from the pipeline file, which names only
//! the endpoint ([`S3Server::lake_options_toml`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::broker::{Exited, free_port};
use super::{tail, workspace_root};

/// The bucket every server starts with; each lake is a prefix in it.
pub const BUCKET: &str = "lake";
/// The test credentials: moto accepts any.
const ACCESS_KEY: &str = "test";
const SECRET_KEY: &str = "test";
const REGION: &str = "us-east-1";
/// What moto reads the access key from; the signature is not checked.
const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, \
     SignedHeaders=host, Signature=0";

/// How long moto may take to answer its first request (Python imports).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a server is started on a fresh port when it exits at once
/// (another test process took the port between our probe and its bind).
const START_ATTEMPTS: usize = 3;
/// How long one request to the server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The lake prefixes handed out by this process, so each is fresh.
static LAKES: AtomicUsize = AtomicUsize::new(0);

/// A moto S3 server on a free loopback port with bucket [`BUCKET`], killed
/// when dropped.
pub struct S3Server {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

/// A response: its status code and body.
#[derive(Debug)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The body, as text.
    pub body: String,
}

/// One stored version of a key, from [`S3Server::versions`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredVersion {
    /// The key, without the bucket.
    pub key: String,
    /// Whether this version is a delete marker rather than an object.
    pub deleted: bool,
}

impl S3Server {
    /// Starts a server, waits until it answers, and creates [`BUCKET`].
    ///
    /// Panics, with the server's log, when it cannot be found or started.
    pub fn start() -> Self {
        Self::start_as(Flavour::Honest)
    }

    /// [`S3Server::start`], for a server that ignores `If-None-Match` (a
    /// second create-only put of a key succeeds and overwrites it): a store
    /// two writers of one table could both commit the same version to.
    pub fn start_ignoring_conditional_puts() -> Self {
        Self::start_as(Flavour::IgnoresConditionalPuts)
    }

    fn start_as(flavour: Flavour) -> Self {
        let bin = moto_binary();
        for attempt in 1..=START_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("ingot-moto-")
                .tempdir()
                .expect("create a temp dir for the moto log");
            let port = free_port();
            let log = dir.path().join("moto.log");
            let child = spawn_moto(bin, flavour, port, &log);
            let mut server = S3Server {
                child,
                port,
                log,
                _dir: dir,
            };
            match server.wait_ready() {
                Ok(()) => {
                    server.create_bucket();
                    return server;
                }
                Err(Exited(status)) if attempt < START_ATTEMPTS => {
                    eprintln!("moto on port {port} exited ({status}), retrying on another port");
                }
                Err(Exited(status)) => server.fail(&format!("exited ({status})")),
            }
        }
        unreachable!("invariant: the last attempt returns or panics")
    }

    /// The URL clients reach the server at.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A lake root nobody used yet: `s3://<bucket>/<fresh prefix>`.
    pub fn fresh_root(&self) -> String {
        let n = LAKES.fetch_add(1, Ordering::Relaxed);
        format!("s3://{BUCKET}/lake-{}-{n}", std::process::id())
    }

    /// The `[lake.options]` table of a pipeline file on this server: where
    /// it is, and nothing secret.
    pub fn lake_options_toml(&self) -> String {
        format!(
            "[lake.options]\nendpoint = \"{}\"\nregion = \"{REGION}\"\nallow_http = \"true\"\n",
            self.endpoint()
        )
    }

    /// The environment an `ingot` process on this server's lakes needs: the
    /// credentials, as the standard chain reads them.
    pub fn child_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_REGION", REGION),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec()
    }

    /// The store options of an in-process reader (`ingot_delta::register_lake`):
    /// the pipeline file's, plus the credentials.
    pub fn reader_options(&self) -> BTreeMap<String, String> {
        [
            ("endpoint", self.endpoint().as_str()),
            ("region", REGION),
            ("allow_http", "true"),
            ("access_key_id", ACCESS_KEY),
            ("secret_access_key", SECRET_KEY),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into()
    }

    /// Turns on versioning in [`BUCKET`]: an overwrite keeps the version it
    /// replaced, so [`S3Server::versions`] shows a key written twice.
    pub fn keep_versions(&self) {
        let config = r#"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>"#;
        let target = format!("/{BUCKET}?versioning=");
        let got = self.request(
            "PUT",
            &target,
            &[("Content-Type", "application/xml")],
            config,
        );
        self.expect(&got, 200, "turn on versioning");
    }

    /// PUTs `body` at `key` of [`BUCKET`] with `headers` and returns the
    /// response (moto's status, not a panic, when it refuses).
    pub fn put(&self, key: &str, body: &str, headers: &[(&str, &str)]) -> Response {
        let mut all = vec![("Content-Type", "application/octet-stream")];
        all.extend_from_slice(headers);
        self.request(
            "PUT",
            &format!("/{BUCKET}/{}", checked_key(key)),
            &all,
            body,
        )
    }

    /// The key in [`BUCKET`] of `uri` (`s3://<bucket>/<key>`).
    pub fn key_of(uri: &str) -> &str {
        uri.strip_prefix(&format!("s3://{BUCKET}/"))
            .unwrap_or_else(|| panic!("{uri} is not in bucket {BUCKET}"))
    }

    /// GETs `key` of [`BUCKET`].
    pub fn get(&self, key: &str) -> Response {
        self.request("GET", &format!("/{BUCKET}/{}", checked_key(key)), &[], "")
    }

    /// Every stored version (objects and delete markers) of every key under
    /// `prefix`, sorted.
    pub fn versions(&self, prefix: &str) -> Vec<StoredVersion> {
        let target = format!("/{BUCKET}?versions=&prefix={}", checked_key(prefix));
        let got = self.request("GET", &target, &[], "");
        self.expect(&got, 200, &format!("list the versions under {prefix}"));
        assert!(
            got.body.contains("<IsTruncated>false</IsTruncated>"),
            "one page holds every version under {prefix}: {}",
            got.body
        );
        let mut out = Vec::new();
        for (tag, deleted) in [("Version", false), ("DeleteMarker", true)] {
            for element in elements(&got.body, tag) {
                let key = elements(element, "Key")
                    .first()
                    .unwrap_or_else(|| panic!("a <{tag}> without a <Key>: {element}"))
                    .to_string();
                out.push(StoredVersion { key, deleted });
            }
        }
        out.sort();
        out
    }

    /// The server's log so far: one line per request, with its status.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn create_bucket(&self) {
        let got = self.request("PUT", &format!("/{BUCKET}"), &[], "");
        self.expect(&got, 200, &format!("create bucket {BUCKET}"));
    }

    /// Waits until the server answers a ListBuckets.
    fn wait_ready(&mut self) -> Result<(), Exited> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the moto process") {
                return Err(Exited(status.to_string()));
            }
            if http(self.port, "GET", "/", &[], "").is_ok_and(|r| r.status == 200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.fail(&format!("no answer after {START_TIMEOUT:?}"));
            }
            sleep(Duration::from_millis(100));
        }
    }

    fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response {
        http(self.port, method, target, headers, body)
            .unwrap_or_else(|e| self.fail(&format!("{method} {target}: {e}")))
    }

    fn expect(&self, got: &Response, status: u16, what: &str) {
        if got.status != status {
            self.fail(&format!(
                "{what}: status {}, not {status}: {}",
                got.status, got.body
            ));
        }
    }

    /// Panics with `what` and the tail of the server's log.
    fn fail(&self, what: &str) -> ! {
        panic!(
            "moto S3 server on 127.0.0.1:{}: {what}\n--- {} (tail) ---\n{}",
            self.port,
            self.log.display(),
            tail(&self.log, 40)
        )
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `moto_server` command: `INGOT_MOTO`, else what
/// `scripts/install-moto.sh` installs (or finds) prints last.
fn moto_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| super::tools::installed_tool("INGOT_MOTO", "install-moto.sh"))
}

/// Which server [`S3Server::start_as`] runs.
#[derive(Clone, Copy)]
enum Flavour {
    /// moto as it is: conditional puts honoured, as on S3.
    Honest,
    /// moto behind `moto_ignoring_conditional_puts.py`.
    IgnoresConditionalPuts,
}

fn spawn_moto(bin: &Path, flavour: Flavour, port: u16, log: &Path) -> Child {
    let out = File::create(log).expect("create the moto log file");
    let err = out.try_clone().expect("clone the moto log handle");
    let port = port.to_string();
    let mut command = match flavour {
        Flavour::Honest => {
            let mut c = Command::new(bin);
            c.args(["-H", "127.0.0.1", "-p", &port]);
            c
        }
        Flavour::IgnoresConditionalPuts => {
            // The venv's interpreter sits beside its moto_server script.
            let python = bin.with_file_name("python");
            let script =
                workspace_root().join("tests/e2e/harness/moto_ignoring_conditional_puts.py");
            let mut c = Command::new(python);
            c.arg(script).args(["127.0.0.1", &port]);
            c
        }
    };
    command
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()))
}

/// A key or prefix the harness sends unescaped: it must need no escaping.
fn checked_key(key: &str) -> &str {
    assert!(
        key.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b)),
        "key {key:?} would need URL escaping"
    );
    key
}

/// One HTTP/1.1 request on a fresh connection, read to its end.
fn http(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Authorization: {AUTHORIZATION}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let invalid = || std::io::Error::other(format!("not an HTTP response: {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(invalid)?;
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{method} {target}: a chunked response, which this reader does not decode"
    );
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(invalid)?;
    Ok(Response {
        status,
        body: body.to_owned(),
    })
}

/// The contents of each `<tag>…</tag>` element of `xml`, in order.
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let inner = &rest[start + open.len()..];
        let end = inner
            .find(&close)
            .unwrap_or_else(|| panic!("an unclosed <{tag}> in {xml}"));
        out.push(&inner[..end]);
        rest = &inner[end + close.len()..];
    }
    out
}
