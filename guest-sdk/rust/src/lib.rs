//! Write ingot transforms in Rust.
//!
//! An ingot stage runs a WebAssembly component of the `ingot:transform/stage`
//! world (the WIT file in `guest-sdk/wit/` is the contract). This crate hides
//! that boundary: a transform is a type implementing [`Transform`] over Arrow
//! [`RecordBatch`]es, and [`export!`] generates the component glue (Arrow IPC
//! decoding and encoding, the instance, error mapping). Host services are
//! [`processing_time`] and [`log`] (with the [`info!`] family of macros).
//! [`time`] parses RFC 3339 timestamps and ISO 8601 dates into Arrow's
//! units, since a component carries no date-time crate.
//!
//! The same code runs natively under [`testing::Harness`], which drives the
//! transform through the exact IPC path the component export uses, so
//! `cargo test` exercises the real boundary without a Wasm runtime.
//!
//! A transform depends on this crate only: [`arrow_array`] and
//! [`arrow_schema`] are re-exported. Build it as a `cdylib` for
//! `wasm32-wasip2`; rustc emits the component directly.
//!
//! # A complete transform
//!
//! Keeps inserted rows whose `amount` is positive, rejects the others:
//!
//! ```
//! use ingot_guest::arrow_array::{Array, Int64Array, RecordBatch};
//! use ingot_guest::arrow_schema::{DataType, Field, Schema, SchemaRef};
//! use ingot_guest::{ChangeType, Config, Error, Output, Transform, column};
//! use std::sync::Arc;
//!
//! struct Positive {
//!     schema: SchemaRef,
//! }
//!
//! impl Transform for Positive {
//!     fn init(config: &Config) -> Result<Self, Error> {
//!         let field = config.get("field").unwrap_or("amount");
//!         ingot_guest::info!("keeping rows with a positive `{field}`");
//!         let schema = Schema::new(vec![Field::new(field, DataType::Int64, false)]);
//!         Ok(Self { schema: Arc::new(schema) })
//!     }
//!
//!     fn process(&mut self, input: &RecordBatch) -> Result<Output, Error> {
//!         let name = self.schema.field(0).name();
//!         let amounts = column::<Int64Array>(input, name)?;
//!         let changes = ChangeType::column(input)?;
//!         let mut kept = Vec::new();
//!         let mut rejected = Vec::new();
//!         for (row, change) in changes.into_iter().enumerate() {
//!             match (change, amounts.is_valid(row).then(|| amounts.value(row))) {
//!                 (ChangeType::Insert, Some(amount)) if amount > 0 => kept.push(amount),
//!                 (ChangeType::Insert, _) => rejected.push((row, "amount is not positive")),
//!                 _ => {}
//!             }
//!         }
//!         let batch = RecordBatch::try_new(self.schema.clone(), vec![Arc::new(Int64Array::from(kept))])?;
//!         let mut output = Output::new(batch);
//!         for (row, reason) in rejected {
//!             output.push_reject(row, reason);
//!         }
//!         Ok(output)
//!     }
//! }
//!
//! ingot_guest::export!(Positive);
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use ingot_guest::testing::{Harness, inserts};
//! # let amounts = Arc::new(Int64Array::from(vec![5, -1, 7]));
//! # let rows = RecordBatch::try_from_iter([("amount", amounts as _)])?;
//! # let output = Harness::<Positive>::new([("field", "amount")])?.process(&inserts(&rows))?;
//! # assert_eq!(column::<Int64Array>(&output.batch, "amount")?.values(), &[5, 7]);
//! # assert_eq!(output.rejected, [ingot_guest::Rejected { row: 1, reason: "amount is not positive".into() }]);
//! # Ok(())
//! # }
//! ```

mod cdf;
mod config;
mod error;
mod export;
mod host;
mod ipc;
mod output;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod time;

pub use arrow_array;
pub use arrow_array::RecordBatch;
pub use arrow_schema;
pub use cdf::{
    CDF_COLUMNS, CHANGE_TYPE, COMMIT_TIMESTAMP, COMMIT_VERSION, ChangeType, column, column_bytes,
    column_strings, is_cdf_column,
};
pub use config::Config;
pub use error::Error;
pub use host::{Level, log, processing_time};
pub use output::{Output, Rejected};

/// A stage's transform: built once per instance from the stage's
/// configuration, then called with one batch of input changes at a time.
///
/// The input batch holds the input table's columns plus the Change Data Feed
/// columns ([`CHANGE_TYPE`], [`COMMIT_VERSION`], [`COMMIT_TIMESTAMP`]). The
/// output batch must have the same schema on every call of one instance.
/// Results must depend only on the configuration, the input batch and
/// [`processing_time`]: the host replays batches after a crash.
pub trait Transform: Sized + 'static {
    /// Builds the transform from the stage's `config` table.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when a key is missing or malformed; the host
    /// refuses to deploy the module.
    fn init(config: &Config) -> Result<Self, Error>;

    /// Transforms one batch of input changes into output rows and rejected
    /// input rows.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the batch lacks a column or has a wrong
    /// type, [`Error::Failed`] otherwise; the host retries the whole batch.
    /// A single bad row should be rejected with [`Output::reject`] instead.
    fn process(&mut self, input: &RecordBatch) -> Result<Output, Error>;
}

/// Glue used by [`export!`]; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::bindings::exports::ingot::transform::transform::Guest;
    pub use crate::export::{WitError, WitOutput, bindings, init, process};
}

/// Exports a [`Transform`] as the component's `ingot:transform/transform`
/// implementation.
///
/// Invoke it once, at the top level of the transform crate. It keeps the
/// instance in a single-threaded static: `init` builds it, `process` decodes
/// the Arrow IPC stream into one [`RecordBatch`], calls
/// [`Transform::process`] and encodes the result. `process` before `init`
/// fails with [`Error::Failed`]; a panic becomes a trap the host reports.
#[macro_export]
macro_rules! export {
    ($ty:ty) => {
        const _: () = {
            struct IngotExport;

            ::std::thread_local! {
                static INSTANCE: ::std::cell::RefCell<::std::option::Option<$ty>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }

            impl $crate::__private::Guest for IngotExport {
                fn init(
                    config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::std::result::Result<(), $crate::__private::WitError> {
                    INSTANCE.with_borrow_mut(|slot| $crate::__private::init::<$ty>(slot, config))
                }

                fn process(
                    batch: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<$crate::__private::WitOutput, $crate::__private::WitError>
                {
                    INSTANCE.with_borrow_mut(|slot| $crate::__private::process::<$ty>(slot, batch))
                }
            }

            // Native builds (unit tests) link the crate as a shared library,
            // whose linker rejects the component export names; they test
            // through `testing::Harness` instead.
            #[cfg(target_arch = "wasm32")]
            $crate::__private::bindings::export!(IngotExport with_types_in $crate::__private::bindings);
        };
    };
}
