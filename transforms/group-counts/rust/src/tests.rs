//! The transform through the native harness: signs, sums, null and zero
//! groups, input types, configuration and input errors.

use super::*;
use ChangeType::{Delete, Insert, UpdatePostimage, UpdatePreimage};
use ingot_guest::arrow_array::{
    BooleanArray, Date32Array, DictionaryArray, Float32Array, Int32Array, LargeStringArray,
    ListArray, StringArray,
};
use ingot_guest::column;
use ingot_guest::testing::{Harness, with_cdf};

/// A CDF batch of the named columns, one change type per row.
fn cdf(columns: Vec<(&str, ArrayRef)>, changes: &[ChangeType]) -> RecordBatch {
    with_cdf(
        &RecordBatch::try_from_iter(columns).expect("valid batch"),
        changes,
    )
}

fn run(config: &[(&str, &str)], input: &RecordBatch) -> RecordBatch {
    let mut harness = Harness::<GroupCounts>::new(config.iter().copied()).expect("init succeeds");
    let output = harness.process(input).expect("process succeeds");
    assert!(output.rejected.is_empty());
    output.batch
}

fn strings(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

fn ints(values: &[Option<i64>]) -> ArrayRef {
    Arc::new(Int64Array::from(values.to_vec()))
}

fn string_column(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let array = column::<StringArray>(batch, name).expect("utf8 column");
    array.iter().map(|v| v.map(str::to_owned)).collect()
}

fn int_column(batch: &RecordBatch, name: &str) -> Vec<i64> {
    column::<Int64Array>(batch, name)
        .expect("int64 column")
        .values()
        .to_vec()
}

fn owned(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(str::to_owned)).collect()
}

fn init_error(config: &[(&str, &str)]) -> Error {
    match Harness::<GroupCounts>::new(config.iter().copied()) {
        Ok(_) => panic!("init must fail for {config:?}"),
        Err(error) => error,
    }
}

fn process_error(config: &[(&str, &str)], input: &RecordBatch) -> Error {
    let mut harness = Harness::<GroupCounts>::new(config.iter().copied()).expect("init");
    match harness.process(input) {
        Ok(_) => panic!("process must fail"),
        Err(error) => error,
    }
}

#[test]
fn voters_per_city_and_party_are_signed_by_change_type() {
    let input = cdf(
        vec![
            (
                "city",
                strings(&[
                    Some("London"),
                    Some("Leeds"),
                    Some("London"),
                    Some("London"),
                    Some("Leeds"),
                    Some("York"),
                ]),
            ),
            (
                "party",
                strings(&[
                    Some("green"),
                    Some("green"),
                    Some("red"),
                    Some("green"),
                    Some("green"),
                    Some("blue"),
                ]),
            ),
            ("name", strings(&[Some("a"); 6])),
        ],
        // Ada moves from London to Leeds (update), Grace (red, London) is
        // inserted, a York voter is deleted.
        &[
            Insert,
            Insert,
            Insert,
            UpdatePreimage,
            UpdatePostimage,
            Delete,
        ],
    );
    let config = [("group-by", "city, party"), ("count-column", "voters")];
    let batch = run(&config, &input);
    let names: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["city", "party", "voters"]);
    assert_eq!(
        string_column(&batch, "city"),
        owned(&[Some("Leeds"), Some("London"), Some("York")])
    );
    assert_eq!(
        string_column(&batch, "party"),
        owned(&[Some("green"), Some("red"), Some("blue")])
    );
    // London/green: +1 insert -1 preimage = 0, dropped.
    assert_eq!(int_column(&batch, "voters"), [2, 1, -1]);
}

#[test]
fn sums_are_signed_like_counts_and_nulls_add_zero() {
    let input = cdf(
        vec![
            (
                "g",
                strings(&[Some("a"), Some("a"), Some("b"), Some("a"), Some("b")]),
            ),
            ("n", ints(&[Some(10), Some(5), None, Some(3), Some(7)])),
            (
                "x",
                Arc::new(Float64Array::from(vec![
                    Some(1.5),
                    None,
                    Some(0.25),
                    Some(0.5),
                    Some(2.0),
                ])),
            ),
            (
                "small",
                Arc::new(Int32Array::from(vec![1, 2, 3, 4, 5])) as ArrayRef,
            ),
            (
                "f32",
                Arc::new(Float32Array::from(vec![0.5, 0.5, 0.5, 0.5, 0.5])) as ArrayRef,
            ),
        ],
        &[Insert, Insert, Insert, Delete, UpdatePreimage],
    );
    let batch = run(&[("group-by", "g"), ("sum", "n, x, small, f32")], &input);
    let schema = batch.schema();
    let types: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type().clone()))
        .collect();
    assert_eq!(
        types,
        [
            ("g", DataType::Utf8),
            ("count", DataType::Int64),
            ("n_sum", DataType::Int64),
            ("x_sum", DataType::Float64),
            ("small_sum", DataType::Int64),
            ("f32_sum", DataType::Float64),
        ]
    );
    assert_eq!(string_column(&batch, "g"), owned(&[Some("a"), Some("b")]));
    assert_eq!(int_column(&batch, "count"), [1, 0]);
    assert_eq!(int_column(&batch, "n_sum"), [10 + 5 - 3, -7]);
    let x = column::<Float64Array>(&batch, "x_sum").expect("x_sum");
    assert_eq!(x.values(), &[1.5 - 0.5, 0.25 - 2.0]);
    assert_eq!(int_column(&batch, "small_sum"), [1 + 2 - 4, 3 - 5]);
    let f32_sum = column::<Float64Array>(&batch, "f32_sum").expect("f32_sum");
    assert_eq!(f32_sum.values(), &[0.5, 0.0]);
}

#[test]
fn groups_netting_to_zero_are_dropped_unless_a_sum_moved() {
    let input = cdf(
        vec![
            (
                "g",
                strings(&[
                    Some("gone"),
                    Some("moved"),
                    Some("gone"),
                    Some("moved"),
                    Some("same"),
                ]),
            ),
            ("n", ints(&[Some(4), Some(1), Some(4), Some(2), Some(0)])),
        ],
        &[Insert, UpdatePreimage, Delete, UpdatePostimage, Insert],
    );
    let batch = run(&[("group-by", "g"), ("sum", "n")], &input);
    assert_eq!(
        string_column(&batch, "g"),
        owned(&[Some("moved"), Some("same")])
    );
    assert_eq!(int_column(&batch, "count"), [0, 1]);
    assert_eq!(int_column(&batch, "n_sum"), [1, 0]);

    let only_zero = cdf(
        vec![("g", strings(&[Some("a"), Some("a")]))],
        &[UpdatePreimage, UpdatePostimage],
    );
    assert_eq!(run(&[("group-by", "g")], &only_zero).num_rows(), 0);
}

#[test]
fn null_group_values_form_their_own_groups() {
    let input = cdf(
        vec![
            (
                "city",
                strings(&[None, Some("Leeds"), None, None, Some("")]),
            ),
            (
                "party",
                strings(&[Some("red"), None, None, Some("red"), Some("red")]),
            ),
        ],
        &[Insert; 5],
    );
    let batch = run(&[("group-by", "city,party")], &input);
    assert_eq!(
        string_column(&batch, "city"),
        owned(&[None, Some("Leeds"), None, Some("")])
    );
    assert_eq!(
        string_column(&batch, "party"),
        owned(&[Some("red"), None, None, Some("red")])
    );
    assert_eq!(int_column(&batch, "count"), [2, 1, 1, 1]);
}

#[test]
fn group_columns_keep_their_input_types() {
    let dictionary: DictionaryArray<Int32Type> = vec!["x", "y", "x", "x"].into_iter().collect();
    let input = cdf(
        vec![
            ("region", ints(&[Some(7), Some(7), Some(-1), Some(7)])),
            (
                "label",
                Arc::new(LargeStringArray::from(vec!["a", "a", "a", "b"])) as ArrayRef,
            ),
            ("dict", Arc::new(dictionary) as ArrayRef),
            (
                "flag",
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    Some(true),
                    None,
                    Some(true),
                ])) as ArrayRef,
            ),
            (
                "day",
                Arc::new(Date32Array::from(vec![20_000, 20_000, 20_000, 20_000])) as ArrayRef,
            ),
        ],
        &[Insert, Insert, Insert, Delete],
    );
    let batch = run(&[("group-by", "region, label, dict, flag, day")], &input);
    let schema = batch.schema();
    assert_eq!(
        schema
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect::<Vec<_>>(),
        [
            DataType::Int64,
            DataType::LargeUtf8,
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            DataType::Boolean,
            DataType::Date32,
            DataType::Int64,
        ]
    );
    // Rows 0 and 1 differ only in `dict` (x, y).
    assert_eq!(int_column(&batch, "region"), [7, 7, -1, 7]);
    let label = batch.column(1).as_string::<i64>();
    assert_eq!(
        label.iter().collect::<Vec<_>>(),
        [Some("a"), Some("a"), Some("a"), Some("b")]
    );
    let dict = batch.column(2).as_any_dictionary();
    let dict_values = arrow_select::take::take(
        dict.values().as_ref(),
        &UInt32Array::from_iter_values(dict.normalized_keys().iter().map(|&k| k as u32)),
        None,
    )
    .expect("dictionary values");
    assert_eq!(
        dict_values.as_string::<i32>().iter().collect::<Vec<_>>(),
        [Some("x"), Some("y"), Some("x"), Some("x")]
    );
    let flag = batch.column(3).as_boolean();
    assert_eq!(
        flag.iter().collect::<Vec<_>>(),
        [Some(true), Some(true), None, Some(true)]
    );
    assert_eq!(int_column(&batch, "count"), [1, 1, 1, -1]);
}

#[test]
fn equal_dictionary_values_under_different_keys_are_one_group() {
    let keys = Int32Array::from(vec![0, 1, 2]);
    let values = Arc::new(StringArray::from(vec!["x", "y", "x"])) as ArrayRef;
    let dictionary = DictionaryArray::<Int32Type>::try_new(keys, values).expect("dictionary");
    let input = cdf(vec![("d", Arc::new(dictionary) as ArrayRef)], &[Insert; 3]);
    let batch = run(&[("group-by", "d")], &input);
    assert_eq!(int_column(&batch, "count"), [2, 1]);
}

#[test]
fn an_empty_batch_gives_an_empty_batch_of_the_output_types() {
    let input = cdf(vec![("g", ints(&[])), ("n", ints(&[]))], &[]);
    let batch = run(
        &[("group-by", "g"), ("sum", "n"), ("count-column", "rows")],
        &input,
    );
    assert_eq!(batch.num_rows(), 0);
    let schema = batch.schema();
    assert_eq!(
        schema
            .fields()
            .iter()
            .map(|f| (f.name().as_str(), f.data_type().clone()))
            .collect::<Vec<_>>(),
        [
            ("g", DataType::Int64),
            ("rows", DataType::Int64),
            ("n_sum", DataType::Int64),
        ]
    );
}

#[test]
fn config_errors_name_the_key() {
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[], "missing key `group-by`"),
        (
            &[("group-by", "a"), ("groupby", "b")],
            "unknown key `groupby` (known: group-by, count-column, sum)",
        ),
        (
            &[("group-by", "a,,b")],
            "key `group-by` has an empty column name",
        ),
        (
            &[("group-by", "a, a")],
            "key `group-by` names column `a` twice",
        ),
        (
            &[("group-by", "a"), ("count-column", " ")],
            "key `count-column` is empty",
        ),
        (
            &[("group-by", "a, count")],
            "output column `count` would appear twice (group-by a, count, count `count`, sums of none)",
        ),
        (
            &[("group-by", "n_sum"), ("sum", "n")],
            "output column `n_sum` would appear twice (group-by n_sum, count `count`, sums of n)",
        ),
    ];
    for (config, message) in cases {
        assert_eq!(
            init_error(config),
            Error::InvalidConfig(message.into()),
            "{config:?}"
        );
    }
}

#[test]
fn missing_or_unusable_columns_are_invalid_input() {
    let input = cdf(
        vec![
            ("g", strings(&[Some("a")])),
            ("name", strings(&[Some("b")])),
            (
                "tags",
                Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
                    Some(vec![Some(1)]),
                ])) as ArrayRef,
            ),
        ],
        &[Insert],
    );
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("group-by", "g, city")], "missing column `city`"),
        (
            &[("group-by", "g"), ("sum", "amount")],
            "missing column `amount`",
        ),
        (
            &[("group-by", "g"), ("sum", "name")],
            "column `name` has type Utf8, expected an integer or floating-point type to sum",
        ),
        (
            &[("group-by", "tags")],
            "column `tags` has type List(Int32), which cannot be grouped by",
        ),
    ];
    for (config, message) in cases {
        assert_eq!(
            process_error(config, &input),
            Error::InvalidInput(message.into()),
            "{config:?}"
        );
    }
}

#[test]
fn an_int64_sum_that_overflows_fails_the_batch() {
    let input = cdf(
        vec![
            ("g", strings(&[Some("a"), Some("a")])),
            ("n", ints(&[Some(i64::MAX), Some(1)])),
        ],
        &[Insert, Insert],
    );
    assert_eq!(
        process_error(&[("group-by", "g"), ("sum", "n")], &input),
        Error::Failed(
            "the sum of `n` over one group of the batch, 9223372036854775808, overflows int64"
                .into()
        )
    );
}
