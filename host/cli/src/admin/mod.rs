//! What the administrative actions do once authorised, as values: the
//! commands print them ([`crate::command`]), the admin API sends them as
//! JSON ([`crate::server::api`]), and `--server URL` reads them back.

pub mod sql;
pub mod tables;
