//! What a command acts on: `NAME`, `deploy/NAME` or `ksvc/NAME`, parsed once.

use crate::error::{Error, Result};

/// What a command acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Deployment: the stable model.
    Deployment(String),
    /// A Knative Service.
    KnativeService(String),
}

impl Target {
    /// Parse `NAME`, `deploy/NAME`, `deployment/NAME`, `deployments.apps/NAME`, `ksvc/NAME`,
    /// `kservice/NAME`, `service.serving.knative.dev/NAME`.
    ///
    /// # Errors
    /// Exit 2 for an unknown kind or an empty or invalid name.
    pub fn parse(text: &str) -> Result<Self> {
        let (kind, name) = match text.split_once('/') {
            Some((kind, name)) => (Some(kind), name),
            None => (None, text),
        };
        if name.is_empty() || name.contains('/') || !is_dns_subdomain(name) {
            return Err(Error::usage(format!(
                "invalid target {text:?}: a name must be lowercase letters, digits, '-' and '.'"
            )));
        }
        let name = name.to_string();
        match kind.map(str::to_ascii_lowercase).as_deref() {
            None | Some("deploy" | "deployment" | "deployments" | "deployment.apps" | "deployments.apps") => {
                Ok(Self::Deployment(name))
            }
            Some(
                "ksvc"
                | "kservice"
                | "ksvcs"
                | "kservices"
                | "service.serving.knative.dev"
                | "services.serving.knative.dev",
            ) => Ok(Self::KnativeService(name)),
            Some(other) => Err(Error::usage(format!(
                "unknown target kind {other:?} in {text:?}: use NAME, deploy/NAME or ksvc/NAME"
            ))),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Deployment(name) | Self::KnativeService(name) => name,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Deployment(name) => write!(f, "deployment/{name}"),
            Self::KnativeService(name) => write!(f, "ksvc/{name}"),
        }
    }
}

fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExitCode;

    #[test]
    fn targets_parse_as_cli_md_lists_them() {
        for text in ["fraud", "deploy/fraud", "deployment/fraud", "deployments.apps/fraud"] {
            assert_eq!(Target::parse(text).unwrap(), Target::Deployment("fraud".into()), "{text}");
        }
        for text in ["ksvc/fraud", "kservice/fraud", "service.serving.knative.dev/fraud"] {
            assert_eq!(Target::parse(text).unwrap(), Target::KnativeService("fraud".into()), "{text}");
        }
        assert_eq!(Target::parse("ksvc/fraud").unwrap().to_string(), "ksvc/fraud");
        assert_eq!(Target::parse("fraud.v2").unwrap().name(), "fraud.v2");
    }

    #[test]
    fn unknown_kinds_and_bad_names_are_usage_errors() {
        for text in ["pod/fraud", "Fraud", "deploy/", "a/b/c", "", "-fraud", "fraud-", "fr_aud"] {
            let err = Target::parse(text).unwrap_err();
            assert_eq!(err.code, ExitCode::Usage, "{text}");
        }
        let err = Target::parse("statefulset/fraud").unwrap_err();
        assert!(err.message.contains("unknown target kind \"statefulset\""), "{}", err.message);
    }
}
