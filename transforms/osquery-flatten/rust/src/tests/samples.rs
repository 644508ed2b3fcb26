//! Every line of the real-format samples (`tests/fixtures`, copied from the
//! shared samples), with and without configuration.

use super::*;

const EVENTS: &str = include_str!("../../tests/fixtures/osquery-event.jsonl");
const BATCH: &str = include_str!("../../tests/fixtures/osquery-batch.jsonl");
const SNAPSHOT: &str = include_str!("../../tests/fixtures/osquery-snapshot.jsonl");

const PROCESSES: (&str, &str) = (
    "query.pack_host_processes",
    "name:string, path:string, pid:int64, uid:int64, resident_size:int64",
);
const PORTS: (&str, &str) = (
    "query.pack_listening_ports",
    " pid : int64 ,port:int64, protocol:int64:ip_protocol, address:string ",
);

const NGINX: [(&str, &str); 5] = [
    ("name", "nginx"),
    ("path", "/usr/sbin/nginx"),
    ("pid", "1042"),
    ("uid", "0"),
    ("resident_size", "10485760"),
];
const SSHD: [(&str, &str); 5] = [
    ("name", "sshd"),
    ("path", "/usr/sbin/sshd"),
    ("pid", "812"),
    ("uid", "0"),
    ("resident_size", "5242880"),
];
const PORT: [(&str, &str); 4] = [
    ("pid", "5432"),
    ("port", "5432"),
    ("protocol", "6"),
    ("address", "0.0.0.0"),
];
const CRON: [(&str, &str); 5] = [
    ("name", "cron"),
    ("path", "/usr/sbin/cron"),
    ("pid", "301"),
    ("uid", "0"),
    ("resident_size", "1048576"),
];

#[test]
fn event_sample_without_config_keeps_every_column_in_the_map() {
    let batch = accept(&[], &lines(EVENTS));
    assert_eq!(batch.num_rows(), 5);
    assert_eq!(
        texts(&batch, "host"),
        [
            "web-01.prod",
            "web-01.prod",
            "web-01.prod",
            "db-02.prod",
            "legacy-03"
        ]
    );
    assert_eq!(
        texts(&batch, "query"),
        [
            "pack_host_processes",
            "pack_host_processes",
            "pack_host_processes",
            "pack_listening_ports",
            "pack_host_processes"
        ]
    );
    assert_eq!(
        texts(&batch, "action"),
        ["added", "added", "removed", "added", "added"]
    );
    assert_eq!(
        micros(&batch, "time"),
        [
            at(1_795_428_000),
            at(1_795_428_000),
            at(1_795_428_300),
            at(1_795_428_300),
            at(1_412_123_850)
        ]
    );
    assert_eq!(ints(&batch, "epoch"), [Some(0); 5]);
    assert_eq!(
        ints(&batch, "counter"),
        [Some(0), Some(0), Some(1), Some(3), Some(2)]
    );
    assert_eq!(
        ints(&batch, "row_id"),
        [
            Some(row_id(&NGINX, 0)),
            Some(row_id(&SSHD, 0)),
            Some(row_id(&SSHD, 0)),
            Some(row_id(&PORT, 0)),
            Some(row_id(&CRON, 0)),
        ]
    );
    assert_eq!(ints(&batch, "snapshot_rows"), [None; 5]);
    let decorations = entries(&[
        ("host_uuid", "4740D59F-699E-5B29-960B-979AAF9BBEEB"),
        ("username", "ops"),
    ]);
    assert_eq!(
        maps(&batch, "decorations"),
        [
            decorations.clone(),
            decorations.clone(),
            decorations,
            None,
            None
        ]
    );
    // `numerics` true: the numbers are kept as their JSON text.
    assert_eq!(
        maps(&batch, "columns"),
        [
            entries(&NGINX),
            entries(&SSHD),
            entries(&SSHD),
            entries(&PORT),
            entries(&CRON)
        ]
    );
    assert_eq!(texts(&batch, "topic"), ["osquery"; 5]);
    assert_eq!(
        column::<Int32Array>(&batch, "partition")
            .expect("partition")
            .values(),
        &[3; 5]
    );
    assert_eq!(
        ints(&batch, "offset"),
        [Some(100), Some(101), Some(102), Some(103), Some(104)]
    );
}

#[test]
fn event_sample_with_config_gets_typed_columns() {
    let batch = accept(&[PROCESSES, PORTS], &lines(EVENTS));
    let names: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "host",
            "query",
            "action",
            "time",
            "epoch",
            "counter",
            "row_id",
            "snapshot_rows",
            "decorations",
            // pack_host_processes (sorted first), as written
            "name",
            "path",
            "pid",
            "uid",
            "resident_size",
            // pack_listening_ports: `pid` is shared, the rest are new
            "port",
            "ip_protocol",
            "address",
            "columns",
            "topic",
            "partition",
            "offset",
        ]
    );
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        strings(&batch, "name"),
        [s("nginx"), s("sshd"), s("sshd"), None, s("cron")]
    );
    assert_eq!(
        ints(&batch, "pid"),
        [Some(1042), Some(812), Some(812), Some(5432), Some(301)]
    );
    assert_eq!(
        ints(&batch, "resident_size"),
        [
            Some(10_485_760),
            Some(5_242_880),
            Some(5_242_880),
            None,
            Some(1_048_576)
        ]
    );
    assert_eq!(ints(&batch, "port"), [None, None, None, Some(5432), None]);
    assert_eq!(
        ints(&batch, "ip_protocol"),
        [None, None, None, Some(6), None]
    );
    assert_eq!(
        strings(&batch, "address"),
        [None, None, None, s("0.0.0.0"), None]
    );
    // Every column is configured: nothing is left for the map.
    assert_eq!(maps(&batch, "columns"), [None, None, None, None, None]);
    // Configuration does not change the row ids.
    assert_eq!(
        ints(&batch, "row_id"),
        ints(&accept(&[], &lines(EVENTS)), "row_id")
    );
}

#[test]
fn batch_sample_gives_removed_rows_first() {
    let batch = accept(&[PROCESSES], &lines(BATCH));
    assert_eq!(texts(&batch, "action"), ["removed", "added", "added"]);
    assert_eq!(texts(&batch, "host"), ["web-01.prod"; 3]);
    assert_eq!(micros(&batch, "time"), [at(1_795_428_600); 3]);
    assert_eq!(ints(&batch, "counter"), [Some(2); 3]);
    assert_eq!(ints(&batch, "pid"), [Some(1042), Some(2210), Some(2301)]);
    assert_eq!(ints(&batch, "uid"), [Some(0), Some(0), Some(1000)]);
    assert_eq!(ints(&batch, "snapshot_rows"), [None; 3]);
    assert_eq!(maps(&batch, "decorations"), [None, None, None]);
    let node = [
        ("name", "node"),
        ("path", "/usr/bin/node"),
        ("pid", "2301"),
        ("uid", "1000"),
        ("resident_size", "73400320"),
    ];
    let new_nginx = [
        ("name", "nginx"),
        ("path", "/usr/sbin/nginx"),
        ("pid", "2210"),
        ("uid", "0"),
        ("resident_size", "11534336"),
    ];
    assert_eq!(
        ints(&batch, "row_id"),
        [
            Some(row_id(&NGINX, 0)),
            Some(row_id(&new_nginx, 0)),
            Some(row_id(&node, 0))
        ]
    );
    assert_eq!(ints(&batch, "offset"), [Some(100); 3]);
}

#[test]
fn snapshot_sample_gives_every_row_with_the_snapshot_length() {
    let batch = accept(&[], &lines(SNAPSHOT));
    assert_eq!(texts(&batch, "action"), ["snapshot", "snapshot"]);
    assert_eq!(texts(&batch, "query"), ["pack_users", "pack_users"]);
    assert_eq!(micros(&batch, "time"), [at(1_795_428_900); 2]);
    assert_eq!(ints(&batch, "snapshot_rows"), [Some(2), Some(2)]);
    let root = [
        ("name", "root"),
        ("uid", "0"),
        ("gid", "0"),
        ("shell", "/bin/bash"),
    ];
    let ops = [
        ("name", "ops"),
        ("uid", "1000"),
        ("gid", "1000"),
        ("shell", "/bin/zsh"),
    ];
    assert_eq!(maps(&batch, "columns"), [entries(&root), entries(&ops)]);
    assert_eq!(
        ints(&batch, "row_id"),
        [Some(row_id(&root, 0)), Some(row_id(&ops, 0))]
    );
}

#[test]
fn all_samples_in_one_batch_keep_input_order_and_lineage() {
    let all: Vec<&str> = [EVENTS, BATCH, SNAPSHOT]
        .into_iter()
        .flat_map(lines)
        .collect();
    assert_eq!(all.len(), 7);
    let batch = accept(&[PROCESSES, PORTS], &all);
    assert_eq!(batch.num_rows(), 5 + 3 + 2);
    assert_eq!(
        ints(&batch, "offset"),
        [100, 101, 102, 103, 104, 105, 105, 105, 106, 106].map(Some)
    );
}
