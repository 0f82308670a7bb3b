//! Kubernetes `resource.Quantity` parsing (`100m`, `1.5`, `2Gi`, `500M`, `1e3`) into exact integers.
//! One parser for the plugin (GPU planning) and the playground (its scheduler); neither owns it.

use std::fmt;

/// A parsed quantity, kept exactly in nano-units (10⁻⁹), which covers every suffix from `n` to `Ei`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Quantity {
    nanos: i128,
}

/// A string that is not a Kubernetes quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
pub struct QuantityError;

const NANO: i128 = 1_000_000_000;

impl Quantity {
    /// Zero.
    pub const ZERO: Quantity = Quantity { nanos: 0 };

    /// A whole number of units (`Quantity::from_units(4)` is `4`).
    pub fn from_units(units: i64) -> Self {
        Quantity { nanos: i128::from(units) * NANO }
    }

    /// Thousandths of a unit (`Quantity::from_millis(250)` is `250m`).
    pub fn from_millis(millis: i64) -> Self {
        Quantity { nanos: i128::from(millis) * 1_000_000 }
    }

    /// Parse `resource.Quantity` text: a signed decimal number followed by a binary-SI suffix
    /// (`Ki`…`Ei`), a decimal-SI suffix (`n`, `u`, `m`, ``, `k`, `M`, `G`, `T`, `P`, `E`) or a
    /// decimal exponent (`e3`, `E-2`).
    ///
    /// # Errors
    /// [`QuantityError`] when the text is not a quantity, with the API server's message.
    pub fn parse(text: &str) -> Result<Self, QuantityError> {
        let text = text.trim();
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(QuantityError);
        }
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        // Value as (digits, decimal exponent): 1.25 → (125, -2).
        let digits_text = format!("{whole}{fraction}");
        let digits_text = digits_text.trim_start_matches('0');
        if digits_text.len() > 36 {
            return Err(QuantityError);
        }
        let digits: i128 =
            if digits_text.is_empty() { 0 } else { digits_text.parse().map_err(|_| QuantityError)? };
        let mut exp10: i32 = -(fraction.len() as i32);
        let mut multiplier: i128 = 1;
        match suffix {
            "" => {}
            "n" => exp10 -= 9,
            "u" => exp10 -= 6,
            "m" => exp10 -= 3,
            "k" => exp10 += 3,
            "M" => exp10 += 6,
            "G" => exp10 += 9,
            "T" => exp10 += 12,
            "P" => exp10 += 15,
            "E" => exp10 += 18,
            "Ki" => multiplier = 1 << 10,
            "Mi" => multiplier = 1 << 20,
            "Gi" => multiplier = 1 << 30,
            "Ti" => multiplier = 1 << 40,
            "Pi" => multiplier = 1 << 50,
            "Ei" => multiplier = 1 << 60,
            s if s.starts_with(['e', 'E']) => {
                let exponent: i32 = s[1..].parse().map_err(|_| QuantityError)?;
                if !(-40..=40).contains(&exponent) {
                    return Err(QuantityError);
                }
                exp10 += exponent;
            }
            _ => return Err(QuantityError),
        }
        // nanos = digits × multiplier × 10^(exp10 + 9), rounded up (away from zero) as the API server does.
        let scale = exp10 + 9;
        let base = digits.checked_mul(multiplier).ok_or(QuantityError)?;
        let nanos = if scale >= 0 {
            base.checked_mul(10i128.checked_pow(scale as u32).ok_or(QuantityError)?).ok_or(QuantityError)?
        } else {
            let divisor = 10i128.checked_pow((-scale) as u32).ok_or(QuantityError)?;
            (base + divisor - 1) / divisor
        };
        Ok(Quantity { nanos: if negative { -nanos } else { nanos } })
    }

    /// Thousandths of a unit, rounded up (the scheduler counts CPU this way).
    pub fn milli_value(self) -> i64 {
        let millis = ceil_div(self.nanos, 1_000_000);
        millis.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// Thousandths of a unit, rounded up, without clamping (exabytes of memory fit).
    pub fn milli_value_exact(self) -> i128 {
        ceil_div(self.nanos, 1_000_000)
    }

    /// Whole units, rounded up (memory, pods and extended resources are counted this way).
    pub fn value(self) -> i64 {
        let units = ceil_div(self.nanos, NANO);
        units.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// Whether this is zero.
    pub fn is_zero(self) -> bool {
        self.nanos == 0
    }
}

fn ceil_div(value: i128, divisor: i128) -> i128 {
    let quotient = value / divisor;
    if value % divisor > 0 {
        quotient + 1
    } else {
        quotient
    }
}

impl std::ops::Add for Quantity {
    type Output = Quantity;
    fn add(self, other: Quantity) -> Quantity {
        Quantity { nanos: self.nanos + other.nanos }
    }
}

impl std::ops::AddAssign for Quantity {
    fn add_assign(&mut self, other: Quantity) {
        self.nanos += other.nanos;
    }
}

impl std::ops::Sub for Quantity {
    type Output = Quantity;
    fn sub(self, other: Quantity) -> Quantity {
        Quantity { nanos: self.nanos - other.nanos }
    }
}

impl fmt::Display for Quantity {
    /// Canonical-ish text: whole units when exact, else milli-units, else nano-units.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos % NANO == 0 {
            write!(f, "{}", self.nanos / NANO)
        } else if self.nanos % 1_000_000 == 0 {
            write!(f, "{}m", self.nanos / 1_000_000)
        } else {
            write!(f, "{}n", self.nanos)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap_or_else(|_| panic!("{text} should parse"))
    }

    #[test]
    fn cpu_forms() {
        assert_eq!(q("100m").milli_value(), 100);
        assert_eq!(q("1").milli_value(), 1000);
        assert_eq!(q("1.5").milli_value(), 1500);
        assert_eq!(q("0.1").milli_value(), 100);
        assert_eq!(q("2500u").milli_value(), 3, "rounds up");
        assert_eq!(q("16").milli_value(), 16_000);
        assert_eq!(q("+2").value(), 2);
    }

    #[test]
    fn memory_forms() {
        assert_eq!(q("64Gi").value(), 64 * (1 << 30));
        assert_eq!(q("512Mi").value(), 512 * (1 << 20));
        assert_eq!(q("1Ki").value(), 1024);
        assert_eq!(q("1k").value(), 1000);
        assert_eq!(q("500M").value(), 500_000_000);
        assert_eq!(q("1.5Gi").value(), 3 * (1 << 29));
        assert_eq!(q("2G").value(), 2_000_000_000);
        assert_eq!(q("1e3").value(), 1000);
        assert_eq!(q("1E-3").milli_value(), 1);
        assert_eq!(q("12e6").value(), 12_000_000);
        assert_eq!(q("0.5").value(), 1, "whole units round up");
    }

    #[test]
    fn arithmetic_and_display() {
        assert_eq!(q("1") + q("500m"), q("1.5"));
        assert_eq!(q("4") - q("2"), Quantity::from_units(2));
        assert_eq!(Quantity::from_millis(250).to_string(), "250m");
        assert_eq!(q("3").to_string(), "3");
        assert!(q("0").is_zero());
        assert!(q("-1") < Quantity::ZERO);
    }

    #[test]
    fn rejects_what_the_api_server_rejects() {
        for bad in ["", "abc", "1.2.3", "1Gb", "1ki", "Gi", ".", "1 Gi", "1e", "--1"] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
