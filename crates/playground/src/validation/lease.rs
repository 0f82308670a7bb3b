//! Lease rules (`ValidateLeaseSpec`): durations positive, transitions never negative.

use serde_json::Value;

use crate::errors::InvalidField;

/// `ValidateLeaseSpec` of pkg/apis/coordination/validation: a duration, when given, is
/// positive; transitions are never negative.
pub(super) fn lease(object: &Value, causes: &mut Vec<InvalidField>) {
    let spec = &object["spec"];
    if let Some(seconds) = spec["leaseDurationSeconds"].as_i64().filter(|s| *s <= 0) {
        causes.push(InvalidField::invalid("spec.leaseDurationSeconds", seconds, "must be greater than 0"));
    }
    if let Some(transitions) = spec["leaseTransitions"].as_i64().filter(|t| *t < 0) {
        causes.push(InvalidField::invalid(
            "spec.leaseTransitions",
            transitions,
            "must be greater than or equal to 0",
        ));
    }
}
