//! The HTTP side of an `ingot` process: where its server listens, a
//! blocking GET (ureq), and `/metrics` parsed (prometheus-parse).

use std::time::Duration;

use prometheus_parse::{Scrape, Value};

use super::IngotProcess;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// `GET http://address/path`: the status and the body.
pub fn get(address: &str, path: &str) -> (u16, String) {
    let response = agent()
        .get(format!("http://{address}{path}"))
        .call()
        .unwrap_or_else(|e| panic!("GET {path} of {address}: {e}"));
    answer(response, path)
}

/// A request body: its content type and its bytes.
pub type Body<'a> = Option<(&'a str, &'a [u8])>;

/// A request of the admin API: `GET` when `body` is `None`, else `POST`
/// of the body with its content type; with `token` as the bearer token.
pub fn api(address: &str, path: &str, token: Option<&str>, body: Body<'_>) -> (u16, String) {
    let url = format!("http://{address}{path}");
    let auth = token.map(|t| format!("Bearer {t}"));
    let sent = match body {
        None => {
            let mut request = agent().get(&url);
            if let Some(auth) = &auth {
                request = request.header("Authorization", auth);
            }
            request.call()
        }
        Some((content_type, bytes)) => {
            let mut request = agent().post(&url).header("Content-Type", content_type);
            if let Some(auth) = &auth {
                request = request.header("Authorization", auth);
            }
            request.send(bytes)
        }
    };
    answer(
        sent.unwrap_or_else(|e| panic!("{path} of {address}: {e}")),
        path,
    )
}

fn answer(mut response: ureq::http::Response<ureq::Body>, path: &str) -> (u16, String) {
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|e| panic!("body of {path}: {e}"));
    (status, body)
}

/// The address the process printed it serves on.
pub fn server_address(host: &mut IngotProcess) -> String {
    host.wait_for_log("server at http://", Duration::from_secs(60));
    let log = host.log();
    let line = log
        .lines()
        .find_map(|l| l.split_once("server at http://").map(|(_, rest)| rest))
        .expect("the server line");
    line.split_whitespace()
        .next()
        .expect("an address")
        .to_owned()
}

/// One scrape of `/metrics`, parsed.
pub struct Metrics(Scrape);

impl Metrics {
    pub fn scrape(address: &str) -> Self {
        let (status, body) = get(address, "/metrics");
        assert_eq!(status, 200, "{body}");
        let lines = body.lines().map(|l| Ok(l.to_owned()));
        Metrics(Scrape::parse(lines).expect("the Prometheus text format"))
    }

    /// The samples of `name` whose labels include `labels`, by value.
    pub fn values(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
                Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
                Value::Summary(_) => f64::NAN,
            })
            .collect()
    }

    /// The sum of [`Metrics::values`].
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.values(name, labels).iter().sum::<f64>() as u64
    }
}

/// Polls `/readyz` until it answers 200 (the body) or `timeout` passes
/// (panics with the last answer). Lag is known within librdkafka's
/// statistics interval (5 s) of an assignment.
pub fn wait_ready(address: &str, timeout: Duration) -> String {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let (status, body) = get(address, "/readyz");
        if status == 200 {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not ready in {timeout:?}: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The status of a `POST` declaring a body of `length` bytes of which it
/// sends none: what a server that refuses a body past its bound answers
/// without reading it (an HTTP client sending the whole body would meet
/// the closed connection instead).
pub fn post_declaring(address: &str, path: &str, token: &str, length: usize) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect to the server");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/wasm\r\nContent-Length: {length}\r\n\r\n"
    )
    .expect("send the request head");
    let mut status = String::new();
    BufReader::new(stream)
        .read_line(&mut status)
        .expect("read the status line");
    status
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {status:?}"))
}
