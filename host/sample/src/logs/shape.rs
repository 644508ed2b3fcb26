//! What every log stream writes, written once: the six fields of a line,
//! their JSON in either [`Style`], how a line is drawn from random numbers,
//! padded to a size, or broken.
//!
//! The JSON is written by hand rather than by serde: the styles must match
//! Python's `json.dumps` byte for byte (the e2e tests and the peer baseline
//! compare against it), and every string the generators write is plain text
//! that needs no escaping.

use std::fmt;

use super::{Dice, LEVELS};

/// Printable filler a padded line's `msg` is lengthened with: JSON-safe (no
/// quote, no backslash), and shaped like what a real access log carries.
pub const FILLER: &str = " | GET /api/v2/orders/7f3a9c?expand=items,customer&page=2 \
    status=200 bytes=5123 ua=Mozilla/5.0 (X11; Linux x86_64) trace=4bf92f3577b34da6a3ce929d0e0e4736 \
    span=00f067aa0ba902b7 region=eu-west-1 pod=checkout-7d9f8c6b5-x2x9q";

/// The level no logger emits, which an [`Malformation::UnknownLevel`] line
/// carries.
pub const UNKNOWN_LEVEL: &str = "LOUD";

/// How many services (`svc-0` ..) and hosts (`host-0` ..) lines come from.
const SERVICES: u32 = 20;
const HOSTS: u32 = 200;
/// Latencies are 1 .. `MAX_LATENCY_MS` - 1.
const MAX_LATENCY_MS: u32 = 2000;

/// How a line's JSON is spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// No spaces: `{"ts":"…","level":"INFO",…}`, as most JSON loggers (and
    /// `ingot produce`) write.
    Compact,
    /// Python's `json.dumps` defaults: `{"ts": "…", "level": "INFO", …}`,
    /// as the peer baseline writes (and the e2e tests send).
    Python,
}

impl Style {
    /// (between items, between a key and its value).
    fn separators(self) -> (&'static str, &'static str) {
        match self {
            Self::Compact => (",", ":"),
            Self::Python => (", ", ": "),
        }
    }
}

/// A JSON value the generators write: a string (never needing escapes) or
/// an integer.
enum Json<'a> {
    Str(&'a str),
    Int(i64),
}

impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => write!(f, "\"{s}\""),
            Self::Int(n) => write!(f, "{n}"),
        }
    }
}

/// A JSON object of `fields`, in order.
fn object(style: Style, fields: &[(&str, Json<'_>)]) -> String {
    let (item, key) = style.separators();
    let fields: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("\"{name}\"{key}{value}"))
        .collect();
    format!("{{{}}}", fields.join(item))
}

/// A JSON array of `items`.
fn array(style: Style, items: &[Json<'_>]) -> String {
    let items: Vec<String> = items.iter().map(ToString::to_string).collect();
    format!("[{}]", items.join(style.separators().0))
}

/// Line `i`'s timestamp on 2026-11-21, at `hour`: `i` counts milliseconds
/// (`2026-11-21T10:00:01.234Z` for hour 10 and line 1234).
pub fn timestamp(hour: u64, i: u64) -> String {
    format!(
        "2026-11-21T{hour:02}:{:02}:{:02}.{:03}Z",
        i / 60_000 % 60,
        i / 1_000 % 60,
        i % 1_000
    )
}

/// The fields of a well-formed line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// RFC 3339 timestamp with milliseconds, UTC (`2026-11-21T10:00:01.234Z`).
    pub ts: String,
    /// One of [`super::ALL_LEVELS`].
    pub level: &'static str,
    /// `svc-0` .. `svc-19`.
    pub service: String,
    /// `host-0` .. `host-199`.
    pub host: String,
    /// 1 .. 1999.
    pub latency_ms: i64,
    /// `request <i> handled`, lengthened with [`FILLER`] when padded.
    pub msg: String,
}

impl LogRecord {
    /// Line `i`'s record at `ts`: its level, service, host and latency drawn
    /// from `dice`, in that order.
    pub(super) fn draw(i: u64, ts: String, dice: &mut impl Dice) -> Self {
        let level = LEVELS[dice.below(LEVELS.len() as u32) as usize];
        let service = dice.below(SERVICES);
        let host = dice.below(HOSTS);
        let latency_ms = 1 + i64::from(dice.below(MAX_LATENCY_MS - 1));
        Self {
            ts,
            level,
            service: format!("svc-{service}"),
            host: format!("host-{host}"),
            latency_ms,
            msg: format!("request {i} handled"),
        }
    }

    /// The line as `style` writes it.
    pub fn render(&self, style: Style) -> String {
        self.render_with(style, Some(self.level), &self.ts)
    }

    /// The line with `level` (none: no `level` field) and `ts` in place of
    /// its own.
    fn render_with(&self, style: Style, level: Option<&str>, ts: &str) -> String {
        let mut fields = vec![("ts", Json::Str(ts))];
        fields.extend(level.map(|level| ("level", Json::Str(level))));
        fields.extend([
            ("service", Json::Str(&self.service)),
            ("host", Json::Str(&self.host)),
            ("latency_ms", Json::Int(self.latency_ms)),
            ("msg", Json::Str(&self.msg)),
        ]);
        object(style, &fields)
    }

    /// Lengthens `msg` with [`FILLER`] so the line, as `style` writes it, is
    /// `bytes` long; unchanged if it already is that long or longer.
    pub fn pad(&mut self, style: Style, bytes: usize) {
        let len = self.render(style).len();
        if len < bytes {
            self.msg.extend(FILLER.chars().cycle().take(bytes - len));
        }
    }
}

/// How a malformed line is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Malformation {
    /// The value is not JSON at all.
    NotJson,
    /// The value is JSON, but an array instead of an object.
    JsonArray,
    /// The object has no `level`.
    MissingLevel,
    /// `level` is [`UNKNOWN_LEVEL`], which no logger emits.
    UnknownLevel,
    /// `ts` is not an RFC 3339 timestamp.
    BadTimestamp,
    /// The Kafka record has a null value.
    NullValue,
}

impl Malformation {
    /// Every kind, in the order the cycling stream goes through them.
    pub const ALL: [Malformation; 6] = [
        Malformation::NotJson,
        Malformation::JsonArray,
        Malformation::MissingLevel,
        Malformation::UnknownLevel,
        Malformation::BadTimestamp,
        Malformation::NullValue,
    ];

    /// `record`'s line broken this way, as `style` writes it: the same
    /// fields, but plain text, an array, no level, the unknown level or a
    /// `dd/mm/yyyy` timestamp; `None` for a null value.
    pub fn break_line(self, record: &LogRecord, style: Style) -> Option<String> {
        let r = record;
        match self {
            Self::NotJson => Some(format!("{} {} {}: {}", r.ts, r.level, r.service, r.msg)),
            Self::JsonArray => Some(array(
                style,
                &[
                    Json::Str(&r.ts),
                    Json::Str(r.level),
                    Json::Int(r.latency_ms),
                ],
            )),
            Self::MissingLevel => Some(r.render_with(style, None, &r.ts)),
            Self::UnknownLevel => Some(r.render_with(style, Some(UNKNOWN_LEVEL), &r.ts)),
            Self::BadTimestamp => {
                let time = r.ts.get(11..23).unwrap_or(&r.ts);
                let ts = format!("21/11/2026 {time}");
                Some(r.render_with(style, Some(r.level), &ts))
            }
            Self::NullValue => None,
        }
    }

    /// A short compact stand-in for line `i` broken this way, carrying only
    /// some of the fields (`{"ts":"yesterday","level":"INFO","msg":"7"}`);
    /// `None` for a null value. What [`super::LogSample`] writes.
    pub fn stand_in(self, i: u64) -> Option<String> {
        const TS: Json<'static> = Json::Str("2026-11-21T10:00:00Z");
        let n = i.to_string();
        let style = Style::Compact;
        match self {
            Self::NotJson => Some(format!("request {i} handled (plain text, not JSON)")),
            Self::JsonArray => Some(array(style, &[TS, Json::Str("INFO"), Json::Str(&n)])),
            Self::MissingLevel => {
                let msg = format!("no level {i}");
                Some(object(style, &[("ts", TS), ("msg", Json::Str(&msg))]))
            }
            Self::UnknownLevel => Some(object(
                style,
                &[
                    ("ts", TS),
                    ("level", Json::Str(UNKNOWN_LEVEL)),
                    ("msg", Json::Str(&n)),
                ],
            )),
            Self::BadTimestamp => Some(object(
                style,
                &[
                    ("ts", Json::Str("yesterday")),
                    ("level", Json::Str("INFO")),
                    ("msg", Json::Str(&n)),
                ],
            )),
            Self::NullValue => None,
        }
    }
}
