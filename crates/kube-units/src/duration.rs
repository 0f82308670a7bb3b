//! Durations as kubectl reads them (Go's `time.ParseDuration`: `30s`, `5m`, `1h30m`, `1.5h`,
//! `500ms`, and `0`). One parser for every flag that takes a duration, used by `cli.rs` so that a
//! command only ever sees a checked `Duration`.
//!
//! Go's format rather than humantime's: kubectl users type `--timeout 5m`, and a parser that
//! also takes `2 months` answers a typo with a list of units no Kubernetes tool accepts.

use std::time::Duration;

/// The hint every message ends with: what a good duration looks like.
const HINT: &str = "use a number and a unit such as 30s, 5m, 1h";

/// Text that is not a duration; the message names the text and says what would be one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("invalid duration {0:?}: {HINT}")]
    Malformed(String),
    #[error("invalid duration {0:?}: a duration cannot be negative; {HINT}")]
    Negative(String),
    #[error("invalid duration {text:?}: unknown unit {unit:?}; the units are ns, us, ms, s, m and h")]
    UnknownUnit { text: String, unit: String },
    #[error("invalid duration {text:?}: {number} has no unit; {HINT}")]
    MissingUnit { text: String, number: String },
    #[error("invalid duration {0:?}: too long")]
    TooLong(String),
}

/// Parse `text` as Go's `time.ParseDuration` does, refusing negative durations (no flag of ours
/// means anything by one).
///
/// # Errors
/// [`DurationError`] naming the text and what is wrong with it.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    let malformed = || DurationError::Malformed(text.to_string());
    let rest = match trimmed.strip_prefix('-') {
        Some(rest) if !rest.is_empty() && rest.trim_start_matches(['0', '.']).is_empty() => rest,
        Some(_) => return Err(DurationError::Negative(text.to_string())),
        None => trimmed.strip_prefix('+').unwrap_or(trimmed),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(malformed());
    }
    let mut total_nanos: u128 = 0;
    let mut rest = rest;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(malformed());
        }
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => {
                return Err(DurationError::MissingUnit { text: text.to_string(), number: number.to_string() })
            }
            _ if unit.chars().all(char::is_alphabetic) => {
                return Err(DurationError::UnknownUnit { text: text.to_string(), unit: unit.to_string() })
            }
            _ => return Err(malformed()),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| DurationError::TooLong(text.to_string()))?
        };
        // The fraction exactly, in units of 10^-digits, truncated to nanoseconds as Go does.
        let digits = fraction.len().min(30) as u32;
        let fraction_value: u128 =
            if digits == 0 { 0 } else { fraction[..digits as usize].parse().map_err(|_| malformed())? };
        let part = whole
            .checked_mul(unit_nanos)
            .and_then(|w| w.checked_add(fraction_value * unit_nanos / 10u128.pow(digits)))
            .ok_or_else(|| DurationError::TooLong(text.to_string()))?;
        total_nanos =
            total_nanos.checked_add(part).ok_or_else(|| DurationError::TooLong(text.to_string()))?;
    }
    // Go's durations are int64 nanoseconds (about 290 years).
    if total_nanos > i64::MAX as u128 {
        return Err(DurationError::TooLong(text.to_string()));
    }
    Ok(Duration::from_nanos(total_nanos as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        let s = Duration::from_secs;
        assert_eq!(parse("30s"), Ok(s(30)));
        assert_eq!(parse("5m"), Ok(s(300)));
        assert_eq!(parse("1h30m"), Ok(s(5400)));
        assert_eq!(parse("1.5h"), Ok(s(5400)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2us"), Ok(Duration::from_micros(2)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("-0"), Ok(Duration::ZERO));
        assert_eq!(parse("+10s"), Ok(s(10)));
        assert_eq!(parse(" 10s "), Ok(s(10)));
        assert_eq!(parse(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1m0.25s"), Ok(Duration::from_millis(60_250)));
    }

    #[test]
    fn bad_durations_say_what_a_good_one_looks_like() {
        assert_eq!(
            parse("forever").unwrap_err().to_string(),
            r#"invalid duration "forever": use a number and a unit such as 30s, 5m, 1h"#
        );
        assert_eq!(
            parse("-1s").unwrap_err().to_string(),
            r#"invalid duration "-1s": a duration cannot be negative; use a number and a unit such as 30s, 5m, 1h"#
        );
        assert_eq!(
            parse("5x").unwrap_err().to_string(),
            r#"invalid duration "5x": unknown unit "x"; the units are ns, us, ms, s, m and h"#
        );
        assert_eq!(
            parse("30").unwrap_err().to_string(),
            r#"invalid duration "30": 30 has no unit; use a number and a unit such as 30s, 5m, 1h"#
        );
        // humantime's units are not Go's: months, days and spelled-out words are refused.
        for bad in ["1d", "2 minutes", "1M", "", "s", "1..5s", "1s-2s", "99999999999999h"] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
