//! Exact decimals for `decimal(p,s)` columns, as Decimal128's unscaled
//! integers, from the three ways Debezium sends them:
//!
//! - `decimal.handling.mode=string`: `"-12.50"`, read by [`parse`];
//! - `decimal.handling.mode=double`: a JSON number, whose text [`parse`]
//!   reads exactly, without going through a float;
//! - `precise` (the default): base64 of the big-endian two's-complement
//!   unscaled value, whose scale only the envelope's schema carries
//!   (`org.apache.kafka.connect.data.Decimal`), read by [`from_base64`];
//!   PostgreSQL's unconstrained `numeric` sends `{"scale":2,"value":"..."}`
//!   (`io.debezium.data.VariableScaleDecimal`), which carries its own.
//!
//! A value is accepted only when it fits the column exactly: no fractional
//! digits beyond the scale other than zeros, at most `precision` digits.

/// The decimal text `text` (`-12.50`, `1.5E+3`) as an unscaled integer at
/// `scale`.
///
/// # Errors
///
/// Why the text is not a decimal or does not fit `decimal(precision, scale)`.
pub fn parse(text: &str, precision: u8, scale: i8) -> Result<i128, String> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            at += 1;
            true
        }
        Some(b'+') => {
            at += 1;
            false
        }
        _ => false,
    };
    let mut digits: Vec<u8> = Vec::new();
    let mut fraction_digits: i64 = 0;
    let mut seen_point = false;
    while let Some(&c) = bytes.get(at) {
        match c {
            b'0'..=b'9' => {
                digits.push(c - b'0');
                fraction_digits += i64::from(seen_point);
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        at += 1;
    }
    if digits.is_empty() {
        return Err("not a decimal number".into());
    }
    let mut exponent: i64 = 0;
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        exponent = text[at + 1..]
            .parse::<i32>()
            .map_err(|_| "not a decimal number".to_owned())?
            .into();
        at = bytes.len();
    }
    if at != bytes.len() {
        return Err("not a decimal number".into());
    }
    // Trailing zeros carry no value: drop them so that `1.000…0` fits.
    let mut value_scale = fraction_digits - exponent;
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
        value_scale -= 1;
    }
    let mut unscaled: i128 = 0;
    for digit in digits.iter().skip_while(|d| **d == 0) {
        unscaled = unscaled
            .checked_mul(10)
            .and_then(|u| u.checked_add(i128::from(*digit)))
            .ok_or("more than 38 significant digits")?;
    }
    if negative {
        unscaled = -unscaled;
    }
    rescale(unscaled, value_scale, precision, scale)
}

/// The base64 big-endian two's-complement integer `base64`, unscaled at
/// `value_scale`, as an unscaled integer at `scale`.
///
/// # Errors
///
/// Why the text is not base64 of at most 16 bytes, or the value does not
/// fit `decimal(precision, scale)`.
pub fn from_base64(
    base64: &str,
    value_scale: i64,
    precision: u8,
    scale: i8,
) -> Result<i128, String> {
    let bytes = decode_base64(base64).ok_or("not base64")?;
    if bytes.len() > 16 {
        return Err("more than 38 significant digits".into());
    }
    let fill = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        0xff
    } else {
        0
    };
    let mut be = [fill; 16];
    be[16 - bytes.len()..].copy_from_slice(&bytes);
    rescale(i128::from_be_bytes(be), value_scale, precision, scale)
}

/// `unscaled` × 10^-`from` as an unscaled integer at `to`, exactly.
fn rescale(unscaled: i128, from: i64, precision: u8, to: i8) -> Result<i128, String> {
    let too_long = || {
        format!(
            "more than {} digits before the point",
            i64::from(precision) - i64::from(to)
        )
    };
    let shift = i64::from(to) - from;
    let value = if shift >= 0 {
        u32::try_from(shift)
            .ok()
            .and_then(|shift| 10_i128.checked_pow(shift))
            .and_then(|factor| unscaled.checked_mul(factor))
            .ok_or_else(too_long)?
    } else {
        let factor = u32::try_from(-shift)
            .ok()
            .and_then(|shift| 10_i128.checked_pow(shift));
        match factor {
            Some(factor) if unscaled % factor == 0 => unscaled / factor,
            _ if unscaled == 0 => 0,
            _ => return Err(format!("more than {to} digits after the point")),
        }
    };
    let limit = 10_i128.pow(u32::from(precision));
    if value.unsigned_abs() >= limit.unsigned_abs() {
        return Err(too_long());
    }
    Ok(value)
}

/// Standard base64 with optional padding, as Kafka Connect's JSON
/// converter writes bytes.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0_u32, 0);
    for c in text.bytes() {
        let sextet = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // A single leftover sextet cannot end a byte sequence.
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_parses_exactly_at_the_column_scale() {
        let cases = [
            ("12.5", 1250),
            ("-12.50", -1250),
            ("+0.01", 1),
            ("7", 700),
            ("1.5E+3", 150_000),
            ("25e-2", 25),
            ("0.100000000000000000000000000000000000000000", 10),
            ("0", 0),
            ("-0.00", 0),
            ("99999999.99", 9_999_999_999),
        ];
        for (text, unscaled) in cases {
            assert_eq!(parse(text, 10, 2), Ok(unscaled), "{text}");
        }
    }

    #[test]
    fn text_that_does_not_fit_is_refused() {
        let cases = [
            ("1.005", "more than 2 digits after the point"),
            ("100000000", "more than 8 digits before the point"),
            ("1e40", "more than 8 digits before the point"),
            ("12,5", "not a decimal number"),
            ("", "not a decimal number"),
            ("-", "not a decimal number"),
            ("1.2.3", "not a decimal number"),
            ("1e", "not a decimal number"),
            ("NaN", "not a decimal number"),
            ("AdQ=", "not a decimal number"),
        ];
        for (text, reason) in cases {
            assert_eq!(parse(text, 10, 2), Err(reason.to_owned()), "{text}");
        }
    }

    #[test]
    fn base64_is_big_endian_twos_complement() {
        // 0x01D4 = 468, 0xFE2C = -468, at scale 2: 4.68 and -4.68.
        assert_eq!(from_base64("AdQ=", 2, 10, 2), Ok(468));
        assert_eq!(from_base64("/iw=", 2, 10, 2), Ok(-468));
        assert_eq!(from_base64("AdQ", 2, 10, 3), Ok(4680));
        assert_eq!(from_base64("", 0, 10, 2), Ok(0));
        assert_eq!(
            from_base64("AdQ=", 2, 10, 1),
            Err("more than 1 digits after the point".into())
        );
        assert_eq!(from_base64("A", 2, 10, 2), Err("not base64".into()));
        assert_eq!(from_base64("Ad*=", 2, 10, 2), Err("not base64".into()));
    }
}
