//! The RollingUpdate strategy: `maxSurge` / `maxUnavailable` values, checked and resolved to pod
//! counts exactly as the Kubernetes deployment controller does.

use std::fmt;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Kubernetes' default for both `maxSurge` and `maxUnavailable`.
pub const DEFAULT_PERCENT: i32 = 25;

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
    /// A phrase saying what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(number) = text.strip_suffix('%') {
            let percent: i32 =
                number.parse().map_err(|_| format!("{text:?} is not a whole number of percent"))?;
            if !(0..=100).contains(&percent) {
                return Err(format!("{text:?} is outside 0%..100%"));
            }
            return Ok(Self::Percent(percent));
        }
        let count: i32 = text
            .parse()
            .map_err(|_| format!("{text:?} is neither a pod count (e.g. 1) nor a percent (e.g. 25%)"))?;
        if count < 0 {
            return Err(format!("{text:?} is negative"));
        }
        Ok(Self::Int(count))
    }

    /// Read the value of a Deployment field (`1`, `"25%"`, or `"1"` which Kubernetes accepts too).
    ///
    /// # Errors
    /// The field holds something Kubernetes itself would refuse.
    pub fn from_int_or_string(value: &IntOrString) -> Result<Self, String> {
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
    ) -> Result<Option<Self>, String> {
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
    /// `maxSurge` and `maxUnavailable` both zero.
    pub fn with(
        self,
        max_surge: Option<IntOrPercent>,
        max_unavailable: Option<IntOrPercent>,
    ) -> Result<Self, String> {
        let result = Self {
            max_surge: max_surge.unwrap_or(self.max_surge),
            max_unavailable: max_unavailable.unwrap_or(self.max_unavailable),
        };
        if result.max_surge.is_zero() && result.max_unavailable.is_zero() {
            return Err(format!(
                "maxSurge {} and maxUnavailable {} cannot both be zero: the rollout could never replace a pod",
                result.max_surge, result.max_unavailable
            ));
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
        for bad in ["-1", "101%", "-5%", "1.5", "abc", "%", "10 %", ""] {
            assert!(IntOrPercent::parse(bad).is_err(), "{bad}");
        }
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
        assert!(base.with(Some(IntOrPercent::Int(0)), Some(IntOrPercent::Percent(0))).is_err());
        let base = base.with(Some(IntOrPercent::Int(0)), None).unwrap();
        assert!(base.with(None, Some(IntOrPercent::Int(0))).is_err());
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
