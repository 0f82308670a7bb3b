//! Kubernetes resource quantities (`500m`, `64Gi`, `1e3`, `2`) as exact milli-units, for the
//! arithmetic of scheduling (k8s-openapi keeps a `Quantity` as its string; kube does not parse it).

/// A quantity in thousandths of the unit (cpu: millicores; memory: millibytes), rounded up as
/// Kubernetes' `MilliValue` does.
pub type Millis = i128;

/// A text that is not a Kubernetes quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a Kubernetes quantity")]
pub struct NotAQuantity {
    pub text: String,
    #[source]
    pub source: crate::quantity::QuantityError,
}

/// Parse a quantity string into milli-units.
///
/// # Errors
/// [`NotAQuantity`], naming the text.
pub fn parse_millis(text: &str) -> Result<Millis, NotAQuantity> {
    crate::quantity::Quantity::parse(text)
        .map(crate::quantity::Quantity::milli_value_exact)
        .map_err(|source| NotAQuantity { text: text.to_string(), source })
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
        let err = parse_millis("1.2.3").unwrap_err();
        assert_eq!(err.text, "1.2.3");
        assert_eq!(err.to_string(), "\"1.2.3\" is not a Kubernetes quantity");
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
