use std::sync::Arc;

use ingot_core::arrow::array::{AsArray, Int64Array};
use ingot_core::arrow::datatypes::{DataType, Field, Int64Type};

use super::*;

fn slice(from: i64, rows: i64) -> Slice {
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
    let column = Arc::new(Int64Array::from_iter_values(from..from + rows));
    let whole = RecordBatch::try_new(schema, vec![column]).expect("batch");
    Slice {
        given: whole.clone(),
        whole,
    }
}

fn values(group: &[Slice]) -> Vec<i64> {
    group
        .iter()
        .flat_map(|s| {
            s.whole
                .column(0)
                .as_primitive::<Int64Type>()
                .values()
                .to_vec()
        })
        .collect()
}

#[test]
fn slices_are_shared_out_in_order_and_evenly() {
    let slices = || (0..8).map(|i| slice(i * 10, 10)).collect::<Vec<_>>();
    let groups = share_out(slices(), 2);
    assert_eq!(groups.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4]);
    let joined: Vec<i64> = groups.iter().flat_map(|g| values(g)).collect();
    assert_eq!(joined, (0..80).collect::<Vec<_>>(), "input order kept");
    assert_eq!(share_out(slices(), 3).len(), 3);
    assert_eq!(share_out(slices(), 1).len(), 1);
    let uneven = share_out(vec![slice(0, 30), slice(30, 5), slice(35, 5)], 2);
    assert_eq!(values(&uneven[0]), (0..30).collect::<Vec<_>>());
    assert_eq!(values(&uneven[1]), (30..40).collect::<Vec<_>>());
}
