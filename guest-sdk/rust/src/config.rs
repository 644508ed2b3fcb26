//! A stage's configuration: the `config` table of the pipeline file, as
//! string keys and values.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::str::FromStr;

use crate::Error;

/// The stage's key/value configuration, handed to
/// [`Transform::init`](crate::Transform::init).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    entries: BTreeMap<String, String>,
}

impl Config {
    /// The value of `key`, if the pipeline file sets it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// The value of `key`, which the transform cannot do without.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming `key` when it is not set.
    pub fn require(&self, key: &str) -> Result<&str, Error> {
        self.get(key)
            .ok_or_else(|| Error::InvalidConfig(format!("missing key `{key}`")))
    }

    /// The value of the required `key`, parsed as a `T`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming `key` when it is not set or does not
    /// parse.
    pub fn parse<T>(&self, key: &str) -> Result<T, Error>
    where
        T: FromStr,
        T::Err: Display,
    {
        parse_value(key, self.require(key)?)
    }

    /// The value of `key` parsed as a `T`, or `default` when it is not set.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming `key` when it is set but does not
    /// parse.
    pub fn parse_or<T>(&self, key: &str, default: T) -> Result<T, Error>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.get(key)
            .map_or(Ok(default), |value| parse_value(key, value))
    }

    /// Every key and value, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many keys are set.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn parse_value<T>(key: &str, value: &str) -> Result<T, Error>
where
    T: FromStr,
    T::Err: Display,
{
    value
        .parse()
        .map_err(|error| Error::InvalidConfig(format!("key `{key}` = `{value}`: {error}")))
}

/// Builds a configuration from key/value pairs; a repeated key keeps its last
/// value.
impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Config {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let entries = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        [("name", "svc"), ("limit", "42"), ("bad", "forty")]
            .into_iter()
            .collect()
    }

    #[test]
    fn get_and_require() {
        let config = config();
        assert_eq!(config.get("name"), Some("svc"));
        assert_eq!(config.get("nope"), None);
        assert_eq!(config.require("name"), Ok("svc"));
        assert_eq!(
            config.require("nope"),
            Err(Error::InvalidConfig("missing key `nope`".into()))
        );
        assert_eq!(config.len(), 3);
        assert!(!config.is_empty());
    }

    #[test]
    fn parse_names_the_key_and_value() {
        let config = config();
        assert_eq!(config.parse::<u32>("limit"), Ok(42));
        let Err(Error::InvalidConfig(message)) = config.parse::<u32>("bad") else {
            panic!("`bad` must not parse as u32");
        };
        assert!(message.starts_with("key `bad` = `forty`: "), "{message}");
        assert_eq!(
            config.parse::<u32>("nope"),
            Err(Error::InvalidConfig("missing key `nope`".into()))
        );
    }

    #[test]
    fn parse_or_defaults_only_when_absent() {
        let config = config();
        assert_eq!(config.parse_or("nope", 7u32), Ok(7));
        assert_eq!(config.parse_or("limit", 7u32), Ok(42));
        assert!(config.parse_or("bad", 7u32).is_err());
    }

    #[test]
    fn last_value_of_a_repeated_key_wins() {
        let config: Config = [("k", "1"), ("k", "2")].into_iter().collect();
        assert_eq!(config.get("k"), Some("2"));
        assert_eq!(config.iter().collect::<Vec<_>>(), vec![("k", "2")]);
    }
}
