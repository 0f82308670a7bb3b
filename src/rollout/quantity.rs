//! Kubernetes resource quantities (`500m`, `64Gi`, `1e3`, `2`) as exact milli-units, for the
//! arithmetic of scheduling (k8s-openapi keeps a `Quantity` as its string; kube does not parse it).

/// A quantity in thousandths of the unit (cpu: millicores; memory: millibytes), rounded up as
/// Kubernetes' `MilliValue` does.
pub type Millis = i128;

/// Parse a quantity string into milli-units.
///
/// # Errors
/// A phrase naming the text that is not a quantity.
pub fn parse_millis(text: &str) -> Result<Millis, String> {
    let bad = || format!("{text:?} is not a Kubernetes quantity");
    let text = text.trim();
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let number_end = body.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(body.len());
    let (number, suffix) = body.split_at(number_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(bad());
    }
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    // value = digits × 10^scale, held exactly.
    let digits: String = format!("{int_part}{frac_part}");
    let mut mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| bad())? };
    let mut exp10: i32 = -(i32::try_from(frac_part.len()).map_err(|_| bad())?);
    let mut mult2: u32 = 0;
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
        "Ki" => mult2 = 10,
        "Mi" => mult2 = 20,
        "Gi" => mult2 = 30,
        "Ti" => mult2 = 40,
        "Pi" => mult2 = 50,
        "Ei" => mult2 = 60,
        _ => {
            let exponent = suffix.strip_prefix('e').or_else(|| suffix.strip_prefix('E')).ok_or_else(bad)?;
            let exponent: i32 = exponent.parse().map_err(|_| bad())?;
            if exponent.abs() > 30 {
                return Err(bad());
            }
            exp10 += exponent;
        }
    }
    mantissa = mantissa.checked_mul(1i128 << mult2).ok_or_else(bad)?;
    // To milli-units.
    exp10 += 3;
    let value = if exp10 >= 0 {
        mantissa.checked_mul(10i128.checked_pow(exp10.unsigned_abs()).ok_or_else(bad)?).ok_or_else(bad)?
    } else {
        let divisor = 10i128.checked_pow(exp10.unsigned_abs()).ok_or_else(bad)?;
        // Round up (away from zero), as Kubernetes does for values below a milli.
        (mantissa + divisor - 1) / divisor
    };
    Ok(if negative { -value } else { value })
}

/// Show a milli-unit amount of `resource` the way a user would write it (`500m`, `2`, `64Gi`).
pub fn format_millis(resource: &str, millis: Millis) -> String {
    if millis % 1000 != 0 {
        return format!("{millis}m");
    }
    let units = millis / 1000;
    let binary =
        resource == "memory" || resource.starts_with("hugepages-") || resource == "ephemeral-storage";
    if binary && units != 0 {
        for (suffix, shift) in [("Ei", 60), ("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
            let unit = 1i128 << shift;
            if units % unit == 0 {
                return format!("{}{suffix}", units / unit);
            }
        }
    }
    units.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_kubernetes_writes() {
        assert_eq!(parse_millis("500m").unwrap(), 500);
        assert_eq!(parse_millis("2").unwrap(), 2000);
        assert_eq!(parse_millis("1.5").unwrap(), 1500);
        assert_eq!(parse_millis("0.1").unwrap(), 100);
        assert_eq!(parse_millis("64Gi").unwrap(), 64 * (1i128 << 30) * 1000);
        assert_eq!(parse_millis("128Mi").unwrap(), 128 * (1i128 << 20) * 1000);
        assert_eq!(parse_millis("1k").unwrap(), 1_000_000);
        assert_eq!(parse_millis("1M").unwrap(), 1_000_000_000);
        assert_eq!(parse_millis("1e3").unwrap(), 1_000_000);
        assert_eq!(parse_millis("1E3").unwrap(), 1_000_000);
        assert_eq!(parse_millis("1E").unwrap(), 1_000_000_000_000_000_000_000);
        assert_eq!(parse_millis("1.5Gi").unwrap(), 1_610_612_736_000);
        // Below a milli rounds up.
        assert_eq!(parse_millis("1n").unwrap(), 1);
        assert_eq!(parse_millis("1500u").unwrap(), 2);
        assert_eq!(parse_millis("-1").unwrap(), -1000);
        for bad in ["", "m", "1x", "1.2.3", "Gi", "1 Gi", "1e"] {
            assert!(parse_millis(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_like_a_user_writes() {
        assert_eq!(format_millis("cpu", 500), "500m");
        assert_eq!(format_millis("cpu", 2000), "2");
        assert_eq!(format_millis("nvidia.com/gpu", 0), "0");
        assert_eq!(format_millis("memory", parse_millis("64Gi").unwrap()), "64Gi");
        assert_eq!(format_millis("memory", parse_millis("1536Mi").unwrap()), "1536Mi");
        assert_eq!(format_millis("memory", 1000), "1");
    }
}
