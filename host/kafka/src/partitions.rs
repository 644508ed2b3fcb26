//! A value per partition, looked up by a borrowed topic name: the ingest
//! loop touches its partition's entry once per record, and a map keyed by
//! an owned `(String, i32)` would allocate the topic name every time.

use std::collections::BTreeMap;

use crate::consumer::PartitionId;

/// A value per `(topic, partition)`, for the handful of partitions one
/// consumer holds: a list searched in order, allocating only when a
/// partition is first seen.
#[derive(Debug, Clone)]
pub struct PerPartition<T> {
    entries: Vec<(PartitionId, T)>,
}

impl<T> Default for PerPartition<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<T> PerPartition<T> {
    fn position(&self, topic: &str, partition: i32) -> Option<usize> {
        self.entries
            .iter()
            .position(|((t, p), _)| *p == partition && t == topic)
    }

    /// The value of `topic`/`partition`, if it has one.
    pub fn get(&self, topic: &str, partition: i32) -> Option<&T> {
        self.position(topic, partition).map(|i| &self.entries[i].1)
    }

    /// The value of `topic`/`partition`, made by `make` if it has none.
    pub fn get_or_insert_with(
        &mut self,
        topic: &str,
        partition: i32,
        make: impl FnOnce() -> T,
    ) -> &mut T {
        let index = self.position(topic, partition).unwrap_or_else(|| {
            self.entries.push(((topic.to_owned(), partition), make()));
            self.entries.len() - 1
        });
        &mut self.entries[index].1
    }

    /// Sets the value of `topic`/`partition`.
    pub fn insert(&mut self, topic: &str, partition: i32, value: T) {
        match self.position(topic, partition) {
            Some(i) => self.entries[i].1 = value,
            None => self.entries.push(((topic.to_owned(), partition), value)),
        }
    }

    /// Whether no partition has a value.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops every value.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The values, by partition, leaving this empty.
    pub fn take(&mut self) -> BTreeMap<PartitionId, T> {
        std::mem::take(&mut self.entries).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_found_by_topic_and_partition() {
        let mut m = PerPartition::default();
        m.insert("a", 0, 1);
        m.insert("b", 0, 2);
        m.insert("a", 1, 3);
        *m.get_or_insert_with("a", 0, || 99) += 10;
        assert_eq!(
            (m.get("a", 0), m.get("b", 0), m.get("a", 1)),
            (Some(&11), Some(&2), Some(&3))
        );
        assert_eq!(m.get("b", 1), None);
        let all = m.take();
        assert!(m.is_empty());
        assert_eq!(
            all.into_iter().collect::<Vec<_>>(),
            [
                (("a".into(), 0), 11),
                (("a".into(), 1), 3),
                (("b".into(), 0), 2)
            ]
        );
    }
}
