//! `hostile`: a test fixture, not an example. A transform that misbehaves on
//! purpose so the host's sandbox, limits and error handling can be tested.
//!
//! `init` reads the config key `behaviour`; every `process` call then does:
//!
//! | `behaviour`   | what `process` does                                        |
//! |---------------|------------------------------------------------------------|
//! | `ok`          | returns the input's non-CDF columns                        |
//! | `panic`       | panics (the host sees a trap)                              |
//! | `loop`        | spins forever (the host's CPU deadline must stop it)       |
//! | `alloc`       | allocates and touches memory without bound                 |
//! | `stack`       | recurses without bound                                     |
//! | `huge-output` | returns `bytes` bytes of output (default 64 MiB)           |
//! | `fail`        | returns `Error::Failed`                                    |
//! | `bad-schema`  | returns a batch whose schema differs on every call         |
//! | `poison`      | panics if a row's `value` holds `needle`, else echoes      |
//! | `escape`      | tries files, sockets, name lookup and clocks; returns one  |
//! |               | row per attempt: `probe`, `outcome` (the error, or what it |
//! |               | read)                                                      |
//! | `flood`       | logs lines of `line-bytes` bytes (default 1,000) through   |
//! |               | the host `log` import, stdout and stderr, in a loop until  |
//! |               | the host's CPU deadline stops it                           |
//! | `init-error`  | (`init` itself returns `Error::InvalidConfig`)             |

use std::hint::black_box;
use std::sync::Arc;

use ingot_guest::arrow_array::builder::BinaryBuilder;
use ingot_guest::arrow_array::{ArrayRef, BinaryArray, Int64Array, RecordBatch};
use ingot_guest::{Config, Error, Output, Transform, is_cdf_column};

/// Default size of the `huge-output` batch's payload: 64 MiB.
const DEFAULT_HUGE_BYTES: usize = 64 << 20;

/// Default length of a `flood` line: 1,000 bytes.
const DEFAULT_FLOOD_LINE: usize = 1_000;

/// The misbehaving transform.
pub struct Hostile {
    behaviour: Behaviour,
    calls: u64,
    /// `poison`: the bytes that make a row fatal.
    needle: Vec<u8>,
}

/// What `process` does, from the `behaviour` config key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Ok,
    Panic,
    Loop,
    Alloc,
    Stack,
    HugeOutput { bytes: usize },
    Fail,
    BadSchema,
    Poison,
    Escape,
    Flood { line_bytes: usize },
}

impl Transform for Hostile {
    fn init(config: &Config) -> Result<Self, Error> {
        let behaviour = match config.require("behaviour")? {
            "ok" => Behaviour::Ok,
            "panic" => Behaviour::Panic,
            "loop" => Behaviour::Loop,
            "alloc" => Behaviour::Alloc,
            "stack" => Behaviour::Stack,
            "huge-output" => Behaviour::HugeOutput {
                bytes: config.parse_or("bytes", DEFAULT_HUGE_BYTES)?,
            },
            "fail" => Behaviour::Fail,
            "bad-schema" => Behaviour::BadSchema,
            "poison" => Behaviour::Poison,
            "escape" => Behaviour::Escape,
            "flood" => Behaviour::Flood {
                line_bytes: config.parse_or("line-bytes", DEFAULT_FLOOD_LINE)?,
            },
            "init-error" => {
                return Err(Error::InvalidConfig(
                    "hostile module refused its config on purpose".into(),
                ));
            }
            other => return Err(Error::InvalidConfig(format!("unknown behaviour `{other}`"))),
        };
        ingot_guest::info!("hostile module will {behaviour:?}");
        let needle = config.get("needle").unwrap_or_default().as_bytes().to_vec();
        if behaviour == Behaviour::Poison && needle.is_empty() {
            return Err(Error::InvalidConfig("poison needs a `needle`".into()));
        }
        Ok(Self {
            behaviour,
            calls: 0,
            needle,
        })
    }

    fn process(&mut self, input: &RecordBatch) -> Result<Output, Error> {
        self.calls += 1;
        let batch = match self.behaviour {
            Behaviour::Ok => echo(input)?,
            Behaviour::Panic => panic!("hostile module panicked on purpose"),
            Behaviour::Loop => spin(),
            Behaviour::Alloc => hoard_memory(),
            Behaviour::Stack => {
                let depth = recurse(0);
                return Err(Error::Failed(format!("recursion ended at depth {depth}")));
            }
            Behaviour::HugeOutput { bytes } => payload(bytes)?,
            Behaviour::Fail => {
                return Err(Error::Failed("hostile module failed on purpose".into()));
            }
            Behaviour::Poison => {
                if holds(input, &self.needle) {
                    panic!("hostile module hit a poison row");
                }
                echo(input)?
            }
            Behaviour::Escape => escape()?,
            Behaviour::Flood { line_bytes } => flood(line_bytes),
            Behaviour::BadSchema => {
                let column = Arc::new(Int64Array::from(vec![self.calls as i64])) as ArrayRef;
                RecordBatch::try_from_iter([(format!("call_{}", self.calls), column)])?
            }
        };
        Ok(Output::new(batch))
    }
}

/// Tries every way out of the sandbox std offers and reports each outcome:
/// the error, or what succeeded.
fn escape() -> Result<RecordBatch, Error> {
    use std::io::Write as _;
    use std::net::{TcpStream, ToSocketAddrs as _, UdpSocket};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    fn outcome<T: std::fmt::Debug>(result: std::io::Result<T>) -> String {
        match result {
            Ok(value) => format!("ok: {value:?}"),
            Err(e) => format!("error: {e}"),
        }
    }
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    let slept = started.elapsed();
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(-1, |d| d.as_micros() as i64);
    let probes = [
        (
            "read-dir /",
            outcome(std::fs::read_dir("/").map(|d| d.count())),
        ),
        (
            "read /etc/passwd",
            outcome(std::fs::read("/etc/passwd").map(|b| b.len())),
        ),
        (
            "create file",
            outcome(std::fs::File::create("escape.txt").and_then(|mut f| f.write_all(b"x"))),
        ),
        (
            "tcp connect",
            outcome(TcpStream::connect("127.0.0.1:9").map(|_| ())),
        ),
        (
            "udp bind",
            outcome(UdpSocket::bind("127.0.0.1:0").map(|_| ())),
        ),
        (
            "name lookup",
            outcome("localhost:80".to_socket_addrs().map(|a| a.count())),
        ),
        ("wall clock", format!("micros: {wall}")),
        (
            "sleep 10 s",
            format!("monotonic elapsed: {}s", slept.as_secs()),
        ),
    ];
    let probe = ingot_guest::arrow_array::StringArray::from_iter_values(probes.iter().map(|p| p.0));
    let outcome =
        ingot_guest::arrow_array::StringArray::from_iter_values(probes.iter().map(|p| &p.1));
    Ok(RecordBatch::try_from_iter([
        ("probe", Arc::new(probe) as ArrayRef),
        ("outcome", Arc::new(outcome) as ArrayRef),
    ])?)
}

/// The input without its CDF columns.
fn echo(input: &RecordBatch) -> Result<RecordBatch, Error> {
    let schema = input.schema();
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| !is_cdf_column(schema.field(i).name()))
        .collect();
    Ok(input.project(&keep)?)
}

/// Whether a row's `value` (binary) column holds `needle`.
fn holds(input: &RecordBatch, needle: &[u8]) -> bool {
    input
        .column_by_name("value")
        .and_then(|c| c.as_any().downcast_ref::<BinaryArray>())
        .is_some_and(|values| {
            values
                .iter()
                .flatten()
                .any(|v| v.windows(needle.len()).any(|w| w == needle))
        })
}

/// Logs `line_bytes`-byte lines through every channel a guest has, forever:
/// the host must bound what reaches its log.
fn flood(line_bytes: usize) -> ! {
    use std::io::Write as _;
    let line = "x".repeat(line_bytes);
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
        ingot_guest::info!("flood {n} {line}");
        let _ = writeln!(std::io::stdout(), "flood {n} {line}");
        let _ = writeln!(std::io::stderr(), "flood {n} {line}");
    }
}

/// Never returns, and the optimiser cannot prove the loop has no effect.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Allocates 1 MiB chunks forever, writing to every page so none stays
/// untouched (or optimised away).
fn hoard_memory() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        for page in chunk.chunks_mut(4096) {
            page[0] = 1;
        }
        hoard.push(black_box(chunk));
    }
}

/// Recurses until the stack runs out: each frame keeps a buffer alive
/// across the call, so the recursion cannot become a loop.
fn recurse(depth: u64) -> u64 {
    let mut frame = [depth; 64];
    black_box(&mut frame);
    let below = if black_box(true) {
        recurse(depth + 1)
    } else {
        0
    };
    black_box(&mut frame);
    below.wrapping_add(frame[(depth % 64) as usize])
}

/// One `payload` binary column holding `bytes` bytes in rows of 1 MiB.
fn payload(bytes: usize) -> Result<RecordBatch, Error> {
    const ROW: usize = 1 << 20;
    let chunk = vec![b'x'; ROW.min(bytes)];
    let mut builder = BinaryBuilder::with_capacity(bytes.div_ceil(ROW), bytes);
    let mut left = bytes;
    while left > 0 {
        let n = left.min(ROW);
        builder.append_value(&chunk[..n]);
        left -= n;
    }
    let column = Arc::new(builder.finish()) as ArrayRef;
    Ok(RecordBatch::try_from_iter([("payload", column)])?)
}

ingot_guest::export!(Hostile);

#[cfg(test)]
mod tests {
    use super::*;
    use ingot_guest::column;
    use ingot_guest::testing::{Harness, inserts};

    fn hostile(config: &[(&str, &str)]) -> Result<Harness<Hostile>, Error> {
        Harness::new(config.iter().copied())
    }

    fn input() -> RecordBatch {
        let ids = Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef;
        inserts(&RecordBatch::try_from_iter([("id", ids)]).expect("valid batch"))
    }

    #[test]
    fn ok_echoes_the_non_cdf_columns() {
        let mut harness = hostile(&[("behaviour", "ok")]).expect("init");
        let output = harness.process(&input()).expect("process");
        assert_eq!(output.batch.schema().fields().len(), 1);
        assert_eq!(
            column::<Int64Array>(&output.batch, "id")
                .expect("id")
                .values(),
            &[1, 2, 3]
        );
    }

    #[test]
    fn fail_returns_failed() {
        let mut harness = hostile(&[("behaviour", "fail")]).expect("init");
        assert_eq!(
            harness.process(&input()).map(|_| ()),
            Err(Error::Failed("hostile module failed on purpose".into()))
        );
    }

    #[test]
    #[should_panic(expected = "hostile module panicked on purpose")]
    fn panic_panics() {
        let mut harness = hostile(&[("behaviour", "panic")]).expect("init");
        let _ = harness.process(&input());
    }

    #[test]
    fn poison_panics_only_on_a_batch_holding_the_needle() {
        let batch = |values: Vec<&[u8]>| {
            let values = Arc::new(BinaryArray::from(values)) as ArrayRef;
            inserts(&RecordBatch::try_from_iter([("value", values)]).expect("valid batch"))
        };
        let mut harness = hostile(&[("behaviour", "poison"), ("needle", "POISON")]).expect("init");
        let clean = harness
            .process(&batch(vec![b"a", b"b"]))
            .expect("no poison");
        assert_eq!(clean.batch.num_rows(), 2);
        let fatal = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            harness.process(&batch(vec![b"a", b"xPOISONx"]))
        }));
        assert!(fatal.is_err(), "a poison row panics");
        assert!(
            hostile(&[("behaviour", "poison")]).is_err(),
            "needle required"
        );
    }

    #[test]
    fn bad_schema_changes_on_every_call() {
        let mut harness = hostile(&[("behaviour", "bad-schema")]).expect("init");
        let first = harness
            .process(&input())
            .expect("first call")
            .batch
            .schema();
        let second = harness
            .process(&input())
            .expect("second call")
            .batch
            .schema();
        assert_eq!(first.field(0).name(), "call_1");
        assert_eq!(second.field(0).name(), "call_2");
    }

    #[test]
    fn huge_output_returns_the_configured_size() {
        let mut harness =
            hostile(&[("behaviour", "huge-output"), ("bytes", "2500000")]).expect("init");
        let output = harness.process(&input()).expect("process");
        let payload = column::<BinaryArray>(&output.batch, "payload").expect("payload");
        let sizes: Vec<usize> = payload.iter().map(|v| v.map_or(0, <[u8]>::len)).collect();
        assert_eq!(sizes, [1 << 20, 1 << 20, 2_500_000 - (2 << 20)]);
        let default = hostile(&[("behaviour", "huge-output")]).expect("init");
        assert_eq!(
            default.logs()[0].1,
            format!("hostile module will HugeOutput {{ bytes: {DEFAULT_HUGE_BYTES} }}")
        );
    }

    #[test]
    fn bad_configs_are_invalid_config() {
        let cases: [(&[(&str, &str)], &str); 4] = [
            (
                &[("behaviour", "init-error")],
                "hostile module refused its config on purpose",
            ),
            (&[("behaviour", "sulk")], "unknown behaviour `sulk`"),
            (&[], "missing key `behaviour`"),
            (
                &[("behaviour", "huge-output"), ("bytes", "lots")],
                "key `bytes` = `lots`: invalid digit found in string",
            ),
        ];
        for (config, message) in cases {
            assert_eq!(
                hostile(config).map(|_| ()),
                Err(Error::InvalidConfig(message.into())),
                "{config:?}"
            );
        }
    }
}
