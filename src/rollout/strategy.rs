//! The RollingUpdate strategy: `maxSurge` / `maxUnavailable` values, checked and resolved to pod
//! counts exactly as the Kubernetes deployment controller does.

use std::fmt;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Kubernetes' default for both `maxSurge` and `maxUnavailable`.
pub const DEFAULT_PERCENT: i32 = 25;

/// A `maxSurge`/`maxUnavailable` value, or a pair of them, that Kubernetes refuses. `text` is
/// the value as written (trimmed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategyError {
    #[error("{text:?} is not a whole number of percent")]
    PercentNotANumber { text: String },
    #[error("{text:?} is outside 0%..100%")]
    PercentRange { text: String },
    #[error("{text:?} is neither a pod count (e.g. 1) nor a percent (e.g. 25%)")]
    NotACount { text: String },
    #[error("{text:?} is negative")]
    Negative { text: String },
    #[error(
        "maxSurge {max_surge} and maxUnavailable {max_unavailable} cannot both be zero: the rollout could never replace a pod"
    )]
    BothZero { max_surge: IntOrPercent, max_unavailable: IntOrPercent },
}

/// An absolute pod count or a percent of the desired replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntOrPercent {
    Int(i32),
    Percent(i32),
}

impl IntOrPercent {
    /// Parse a flag value: `N` or `P%` (0–100).
    ///
    /// # Errors
    /// A [`StrategyError`] naming the value.
    pub fn parse(text: &str) -> Result<Self, StrategyError> {
        let text = text.trim();
        let owned = || text.to_string();
        if let Some(number) = text.strip_suffix('%') {
            let percent: i32 =
                number.parse().map_err(|_| StrategyError::PercentNotANumber { text: owned() })?;
            if !(0..=100).contains(&percent) {
                return Err(StrategyError::PercentRange { text: owned() });
            }
            return Ok(Self::Percent(percent));
        }
        let count: i32 = text.parse().map_err(|_| StrategyError::NotACount { text: owned() })?;
        if count < 0 {
            return Err(StrategyError::Negative { text: owned() });
        }
        Ok(Self::Int(count))
    }

    /// Read the value of a Deployment field (`1`, `"25%"`, or `"1"` which Kubernetes accepts too).
    ///
    /// # Errors
    /// The field holds something Kubernetes itself would refuse.
    pub fn from_int_or_string(value: &IntOrString) -> Result<Self, StrategyError> {
        match value {
            IntOrString::Int(n) => Ok(Self::Int(*n)),
            IntOrString::String(s) => Self::parse(s),
        }
    }

    pub fn to_int_or_string(self) -> IntOrString {
        match self {
            Self::Int(n) => IntOrString::Int(n),
            Self::Percent(p) => IntOrString::String(format!("{p}%")),
        }
    }

    /// As JSON for a patch: a number or a `"P%"` string.
    pub fn to_json(self) -> serde_json::Value {
        match self {
            Self::Int(n) => serde_json::json!(n),
            Self::Percent(p) => serde_json::json!(format!("{p}%")),
        }
    }

    fn is_zero(self) -> bool {
        matches!(self, Self::Int(0) | Self::Percent(0))
    }

    /// The pod count for `replicas`, rounding percents up or down (Kubernetes'
    /// `GetScaledValueFromIntOrPercent`).
    pub fn scaled(self, replicas: i32, round_up: bool) -> i32 {
        match self {
            Self::Int(n) => n,
            Self::Percent(p) => {
                let product = i64::from(p) * i64::from(replicas.max(0));
                let value = if round_up { (product + 99) / 100 } else { product / 100 };
                i32::try_from(value).unwrap_or(i32::MAX)
            }
        }
    }
}

impl fmt::Display for IntOrPercent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(n) => write!(f, "{n}"),
            Self::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// The two RollingUpdate parameters as written in a Deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollingUpdate {
    pub max_surge: IntOrPercent,
    pub max_unavailable: IntOrPercent,
}

impl Default for RollingUpdate {
    fn default() -> Self {
        Self {
            max_surge: IntOrPercent::Percent(DEFAULT_PERCENT),
            max_unavailable: IntOrPercent::Percent(DEFAULT_PERCENT),
        }
    }
}

impl RollingUpdate {
    /// The strategy of a Deployment: `None` for `Recreate`; Kubernetes' defaults fill missing fields.
    ///
    /// # Errors
    /// A field Kubernetes would refuse.
    pub fn of_deployment(
        strategy: Option<&k8s_openapi::api::apps::v1::DeploymentStrategy>,
    ) -> Result<Option<Self>, StrategyError> {
        let Some(strategy) = strategy else { return Ok(Some(Self::default())) };
        if strategy.type_.as_deref() == Some("Recreate") {
            return Ok(None);
        }
        let mut result = Self::default();
        if let Some(rolling) = &strategy.rolling_update {
            if let Some(surge) = &rolling.max_surge {
                result.max_surge = IntOrPercent::from_int_or_string(surge)?;
            }
            if let Some(unavailable) = &rolling.max_unavailable {
                result.max_unavailable = IntOrPercent::from_int_or_string(unavailable)?;
            }
        }
        Ok(Some(result))
    }

    /// Override with the flags given. Refuses both zero, as the API server's validation does.
    ///
    /// # Errors
    /// [`StrategyError::BothZero`]: `maxSurge` and `maxUnavailable` both zero.
    pub fn with(
        self,
        max_surge: Option<IntOrPercent>,
        max_unavailable: Option<IntOrPercent>,
    ) -> Result<Self, StrategyError> {
        let result = Self {
            max_surge: max_surge.unwrap_or(self.max_surge),
            max_unavailable: max_unavailable.unwrap_or(self.max_unavailable),
        };
        if result.max_surge.is_zero() && result.max_unavailable.is_zero() {
            return Err(StrategyError::BothZero {
                max_surge: result.max_surge,
                max_unavailable: result.max_unavailable,
            });
        }
        Ok(result)
    }

    /// Pod counts for `replicas` desired, as the deployment controller's `ResolveFenceposts`:
    /// surge rounds up, unavailable rounds down, and if both come to zero unavailable becomes 1.
    pub fn resolve(self, replicas: i32) -> ResolvedRollingUpdate {
        let max_surge = self.max_surge.scaled(replicas, true);
        let mut max_unavailable = self.max_unavailable.scaled(replicas, false);
        if max_surge == 0 && max_unavailable == 0 {
            max_unavailable = 1;
        }
        ResolvedRollingUpdate { max_surge, max_unavailable }
    }
}

impl fmt::Display for RollingUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RollingUpdate maxSurge {} maxUnavailable {}", self.max_surge, self.max_unavailable)
    }
}

/// `maxSurge` / `maxUnavailable` as pod counts for a given number of replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedRollingUpdate {
    pub max_surge: i32,
    pub max_unavailable: i32,
}

/// The strategy that needs no spare capacity: one replica down at a time, none added.
pub const NO_SURGE: RollingUpdate =
    RollingUpdate { max_surge: IntOrPercent::Int(0), max_unavailable: IntOrPercent::Int(1) };

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentStrategy, RollingUpdateDeployment};

    #[test]
    fn flag_values() {
        assert_eq!(IntOrPercent::parse("1").unwrap(), IntOrPercent::Int(1));
        assert_eq!(IntOrPercent::parse("0").unwrap(), IntOrPercent::Int(0));
        assert_eq!(IntOrPercent::parse("25%").unwrap(), IntOrPercent::Percent(25));
        assert_eq!(IntOrPercent::parse("100%").unwrap(), IntOrPercent::Percent(100));
        use StrategyError as E;
        let text = |s: &str| s.to_string();
        for (bad, expected) in [
            ("-1", E::Negative { text: text("-1") }),
            ("101%", E::PercentRange { text: text("101%") }),
            ("-5%", E::PercentRange { text: text("-5%") }),
            ("1.5", E::NotACount { text: text("1.5") }),
            ("abc", E::NotACount { text: text("abc") }),
            ("%", E::PercentNotANumber { text: text("%") }),
            ("10 %", E::PercentNotANumber { text: text("10 %") }),
            (" 1.5 ", E::NotACount { text: text("1.5") }),
            ("", E::NotACount { text: text("") }),
        ] {
            assert_eq!(IntOrPercent::parse(bad), Err(expected), "{bad}");
        }
        assert_eq!(
            IntOrPercent::parse("1.5").unwrap_err().to_string(),
            "\"1.5\" is neither a pod count (e.g. 1) nor a percent (e.g. 25%)"
        );
        assert_eq!(IntOrPercent::parse("101%").unwrap_err().to_string(), "\"101%\" is outside 0%..100%");
    }

    #[test]
    fn resolution_rounds_as_kubernetes_does() {
        let r = RollingUpdate::default();
        // 25% of 10: surge ceil(2.5) = 3, unavailable floor(2.5) = 2.
        assert_eq!(r.resolve(10), ResolvedRollingUpdate { max_surge: 3, max_unavailable: 2 });
        // 25% of 1: surge 1, unavailable 0.
        assert_eq!(r.resolve(1), ResolvedRollingUpdate { max_surge: 1, max_unavailable: 0 });
        // 10% of 3 unavailable and 0 surge both resolve to zero: unavailable becomes 1.
        let r = RollingUpdate { max_surge: IntOrPercent::Int(0), max_unavailable: IntOrPercent::Percent(10) };
        assert_eq!(r.resolve(3), ResolvedRollingUpdate { max_surge: 0, max_unavailable: 1 });
        let r = RollingUpdate { max_surge: IntOrPercent::Percent(50), max_unavailable: IntOrPercent::Int(0) };
        assert_eq!(r.resolve(3), ResolvedRollingUpdate { max_surge: 2, max_unavailable: 0 });
        assert_eq!(r.resolve(0), ResolvedRollingUpdate { max_surge: 0, max_unavailable: 1 });
    }

    #[test]
    fn both_zero_is_refused() {
        let base = RollingUpdate::default();
        let err = base.with(Some(IntOrPercent::Int(0)), Some(IntOrPercent::Percent(0))).unwrap_err();
        assert_eq!(
            err,
            StrategyError::BothZero {
                max_surge: IntOrPercent::Int(0),
                max_unavailable: IntOrPercent::Percent(0)
            }
        );
        assert_eq!(
            err.to_string(),
            "maxSurge 0 and maxUnavailable 0% cannot both be zero: the rollout could never replace a pod"
        );
        let base = base.with(Some(IntOrPercent::Int(0)), None).unwrap();
        assert!(matches!(base.with(None, Some(IntOrPercent::Int(0))), Err(StrategyError::BothZero { .. })));
        assert_eq!(base.with(None, Some(IntOrPercent::Int(1))).unwrap(), NO_SURGE);
    }

    #[test]
    fn read_from_a_deployment() {
        assert_eq!(RollingUpdate::of_deployment(None).unwrap(), Some(RollingUpdate::default()));
        let recreate = DeploymentStrategy { type_: Some("Recreate".into()), rolling_update: None };
        assert_eq!(RollingUpdate::of_deployment(Some(&recreate)).unwrap(), None);
        let rolling = DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(IntOrString::Int(1)),
                max_unavailable: Some(IntOrString::String("0%".into())),
            }),
        };
        assert_eq!(
            RollingUpdate::of_deployment(Some(&rolling)).unwrap(),
            Some(RollingUpdate {
                max_surge: IntOrPercent::Int(1),
                max_unavailable: IntOrPercent::Percent(0)
            })
        );
    }
}
