//! The consumer against librdkafka's mock cluster: a partition whose offsets
//! no longer follow on from bronze's is found when it is positioned and while
//! it is read, and handled as `on-data-loss` says.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rdkafka::{
    Message,
    mocking::MockCluster,
    types::{RDKafkaApiKey, RDKafkaRespErr},
};

use crate::{
    DataLoss, OnDataLoss, SourceError, StartFrom,
    consumer::{KafkaSource, PartitionId, Polled, Progress, SourceSettings},
    offsets::OffsetCheck,
    producer,
};

const TOPIC: &str = "t";

/// Bronze as a map, recording the resets asked of it.
#[derive(Default)]
struct FakeBronze {
    last: Mutex<HashMap<PartitionId, i64>>,
    resets: Mutex<Vec<DataLoss>>,
}

impl FakeBronze {
    fn holding(last: i64) -> Arc<Self> {
        let bronze = FakeBronze::default();
        bronze.set(last);
        Arc::new(bronze)
    }

    fn set(&self, last: i64) {
        self.last
            .lock()
            .expect("lock")
            .insert((TOPIC.into(), 0), last);
    }

    fn resets(&self) -> Vec<DataLoss> {
        self.resets.lock().expect("lock").clone()
    }
}

impl Progress for FakeBronze {
    fn last_offsets(&self, _: &[PartitionId]) -> Result<HashMap<PartitionId, i64>, String> {
        Ok(self.last.lock().expect("lock").clone())
    }

    fn reset(&self, loss: &DataLoss) -> Result<Option<i64>, String> {
        self.resets.lock().expect("lock").push(loss.clone());
        self.set(loss.restart_at() - 1);
        Ok(Some(loss.restart_at() - 1))
    }
}

fn cluster() -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic(TOPIC, 1, 1).expect("topic");
    cluster
}

/// Produces `n` records of `bytes` bytes each to the topic's one partition.
fn produce(cluster: &MockCluster<'_, impl rdkafka::ClientContext>, n: usize, bytes: usize) {
    let records = (0..n).map(|i| (i.to_string().into_bytes(), Some(vec![b'x'; bytes])));
    producer::produce(&cluster.bootstrap_servers(), TOPIC, records, None).expect("produce");
}

fn connect(
    cluster: &MockCluster<'_, impl rdkafka::ClientContext>,
    bronze: &Arc<FakeBronze>,
    on_data_loss: OnDataLoss,
) -> Result<KafkaSource, SourceError> {
    KafkaSource::connect(SourceSettings {
        brokers: cluster.bootstrap_servers(),
        group_id: "g".into(),
        topics: vec![TOPIC.into()],
        start_from: StartFrom::Earliest,
        on_data_loss,
        properties: Default::default(),
        progress: Arc::clone(bronze) as Arc<dyn Progress>,
        use_group: false,
    })
}

/// What polling returns until `n` records arrived: their offsets, and how
/// many times the position was out of range (each followed by a reposition).
fn read(source: &mut KafkaSource, n: usize) -> Result<(Vec<i64>, usize), SourceError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut offsets, mut out_of_range) = (Vec::new(), 0);
    while offsets.len() < n {
        assert!(Instant::now() < deadline, "read {offsets:?} of {n}");
        match source.poll(Duration::from_millis(100))? {
            Polled::Record(m) => offsets.push(m.offset()),
            Polled::OutOfRange => {
                out_of_range += 1;
                source.reposition()?;
            }
            Polled::Idle => {}
        }
    }
    Ok((offsets, out_of_range))
}

fn losses(error: SourceError) -> Vec<DataLoss> {
    match error {
        SourceError::DataLoss { losses } => losses,
        other => panic!("expected data loss, got {other}"),
    }
}

#[test]
fn a_partition_behind_bronze_stops_the_ingest_naming_its_offsets() {
    let cluster = cluster();
    produce(&cluster, 10, 10);
    let bronze = FakeBronze::holding(99);
    let Err(error) = connect(&cluster, &bronze, OnDataLoss::Fail) else {
        panic!("a partition that went backwards was positioned");
    };
    assert_eq!(error.class(), ingot_core::ErrorClass::User);
    let text = error.to_string();
    assert!(
        text.contains("t/0 went backwards") && text.contains("on-data-loss"),
        "{text}"
    );
    let expected = DataLoss::find(TOPIC, 0, Some(99), 0, 10).expect("backwards");
    assert_eq!(losses(error), vec![expected]);
    assert!(bronze.resets().is_empty());
}

#[test]
fn reset_starts_the_partition_over_at_the_earliest_offset() {
    let cluster = cluster();
    produce(&cluster, 10, 10);
    let bronze = FakeBronze::holding(99);
    let mut source = connect(&cluster, &bronze, OnDataLoss::Reset).expect("reset, then positioned");
    let resets = bronze.resets();
    assert_eq!(resets.len(), 1);
    assert_eq!(
        (resets[0].kind, resets[0].bronze_last),
        (OffsetCheck::Backwards, 99)
    );
    let (offsets, _) = read(&mut source, 10).expect("read");
    assert_eq!(offsets, (0..10).collect::<Vec<_>>());
}

#[test]
fn records_deleted_before_ingest_read_them_are_a_gap() {
    let cluster = cluster();
    // The mock partition keeps 5 MiB: 60 records of 100 KiB push its log
    // start past offset 1, as retention would.
    produce(&cluster, 60, 100 << 10);
    let bronze = FakeBronze::holding(0);
    let Err(error) = connect(&cluster, &bronze, OnDataLoss::Fail) else {
        panic!("a partition with a gap was positioned");
    };
    let found = losses(error);
    assert_eq!(found.len(), 1);
    let gap = &found[0];
    assert_eq!(
        (gap.kind, gap.bronze_last, gap.high),
        (OffsetCheck::Gap, 0, 60)
    );
    assert!(gap.low > 1, "{gap}");
}

#[test]
fn a_position_the_broker_rejects_while_reading_is_checked_again_from_bronze() {
    let cluster = cluster();
    produce(&cluster, 10, 10);
    let bronze = FakeBronze::holding(4);
    cluster.request_errors(
        RDKafkaApiKey::Fetch,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE],
    );
    let mut source = connect(&cluster, &bronze, OnDataLoss::Fail).expect("positioned at 5");
    // The broker still has offset 5: repositioning from bronze finds nothing
    // lost and reads on, each record once.
    let (offsets, out_of_range) = read(&mut source, 5).expect("read");
    assert_eq!(out_of_range, 1, "the fetch error reached the caller");
    assert_eq!(offsets, (5..10).collect::<Vec<_>>());
}

#[test]
fn records_deleted_while_reading_are_found_when_the_broker_rejects_the_position() {
    let cluster = cluster();
    produce(&cluster, 10, 10);
    let bronze = FakeBronze::holding(4);
    cluster.request_errors(
        RDKafkaApiKey::Fetch,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE],
    );
    let mut source = connect(&cluster, &bronze, OnDataLoss::Reset).expect("positioned at 5");
    produce(&cluster, 60, 100 << 10);
    let (offsets, out_of_range) = read(&mut source, 3).expect("read");
    assert_eq!(out_of_range, 1);
    let resets = bronze.resets();
    assert_eq!(resets.len(), 1, "{resets:?}");
    assert_eq!(
        (resets[0].kind, resets[0].bronze_last),
        (OffsetCheck::Gap, 4)
    );
    let low = resets[0].low;
    assert_eq!(
        offsets,
        vec![low, low + 1, low + 2],
        "read on from the log start"
    );
}
