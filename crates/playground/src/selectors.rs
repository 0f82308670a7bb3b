//! Label selectors (query syntax `a=b,c!=d,e in (f,g),h notin (i),j,!k` and the LabelSelector
//! object form) and field selectors, with the API server's rules on which fields each
//! resource can be selected by.

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector: all requirements must hold. Empty selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub requirements: Vec<Requirement>,
}

fn label<'a>(labels: &'a Value, key: &str) -> Option<&'a str> {
    labels.get(key).and_then(Value::as_str)
}

impl Requirement {
    fn matches(&self, labels: &Value) -> bool {
        match self {
            Self::Equals(k, v) => label(labels, k) == Some(v.as_str()),
            Self::NotEquals(k, v) => label(labels, k) != Some(v.as_str()),
            Self::In(k, vs) => label(labels, k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Self::NotIn(k, vs) => label(labels, k).is_none_or(|l| !vs.iter().any(|v| v == l)),
            Self::Exists(k) => label(labels, k).is_some(),
            Self::DoesNotExist(k) => label(labels, k).is_none(),
        }
    }
}

/// A label selector the API server refuses, in its words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelSelectorError {
    #[error("unable to parse requirement: found '', expected: identifier (in {text:?})")]
    TrailingComma { text: String },
    #[error("found '{rest}', expected: ',' or 'end of string'")]
    ExpectedComma { rest: String },
    #[error("unable to parse requirement: found '{found}', expected: identifier")]
    ExpectedIdentifier { found: String },
    #[error("unable to parse requirement: found '{found}', expected: '('")]
    ExpectedOpenParen { found: String },
    #[error("unable to parse requirement: found 'end of string', expected: ')'")]
    ExpectedCloseParen,
    /// A key that is no qualified name: the first cause the name check gives.
    #[error("unable to parse requirement: {cause}")]
    Key { cause: String },
    #[error("unable to parse requirement: values[0][key]: Invalid value: {value:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")]
    Value { value: String },
    #[error("must be specified when `operator` is 'In' or 'NotIn'")]
    ValuesRequired,
    #[error("{operator:?} is not a valid label selector operator")]
    Operator { operator: String },
}

/// A field selector the API server refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldSelectorError {
    #[error("invalid selector: '{term}'; can't understand '{term}'")]
    Term { term: String },
    #[error("field label not supported: {field}")]
    NotSupported { field: String },
}

impl LabelSelector {
    /// Whether `labels` (a JSON map, or null) satisfies every requirement.
    pub fn matches(&self, labels: &Value) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Parse the query form (`labelSelector=`).
    ///
    /// # Errors
    /// A [`LabelSelectorError`] in the API server's words.
    pub fn parse(text: &str) -> Result<Self, LabelSelectorError> {
        let mut requirements = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            let (req, remainder) = parse_requirement(rest)?;
            requirements.push(req);
            rest = remainder.trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r.trim_start();
                if rest.is_empty() {
                    return Err(LabelSelectorError::TrailingComma { text: text.to_string() });
                }
            } else if !rest.is_empty() {
                return Err(LabelSelectorError::ExpectedComma { rest: rest.to_string() });
            }
        }
        for r in &requirements {
            let (key, values): (&str, Vec<&str>) = match r {
                Requirement::Equals(k, v) | Requirement::NotEquals(k, v) => (k, vec![v.as_str()]),
                Requirement::In(k, vs) | Requirement::NotIn(k, vs) => {
                    (k, vs.iter().map(String::as_str).collect())
                }
                Requirement::Exists(k) | Requirement::DoesNotExist(k) => (k, vec![]),
            };
            if let Some(cause) = super::names::qualified_name_causes("key", key).first() {
                return Err(LabelSelectorError::Key { cause: cause.message.clone() });
            }
            for v in values {
                if !super::names::is_label_value(v) {
                    return Err(LabelSelectorError::Value { value: v.to_string() });
                }
            }
        }
        Ok(Self { requirements })
    }

    /// Build from a `LabelSelector` object (`matchLabels`, `matchExpressions`).
    ///
    /// # Errors
    /// [`LabelSelectorError::Operator`] or [`LabelSelectorError::ValuesRequired`].
    pub fn from_object(selector: &Value) -> Result<Self, LabelSelectorError> {
        let mut requirements = Vec::new();
        if let Some(map) = selector["matchLabels"].as_object() {
            for (k, v) in map {
                requirements.push(Requirement::Equals(k.clone(), v.as_str().unwrap_or("").to_string()));
            }
        }
        for expr in selector["matchExpressions"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let key = expr["key"].as_str().unwrap_or("").to_string();
            let values: Vec<String> = expr["values"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            let req = match expr["operator"].as_str().unwrap_or("") {
                "In" if !values.is_empty() => Requirement::In(key, values),
                "NotIn" if !values.is_empty() => Requirement::NotIn(key, values),
                "In" | "NotIn" => return Err(LabelSelectorError::ValuesRequired),
                "Exists" => Requirement::Exists(key),
                "DoesNotExist" => Requirement::DoesNotExist(key),
                other => return Err(LabelSelectorError::Operator { operator: other.to_string() }),
            };
            requirements.push(req);
        }
        Ok(Self { requirements })
    }
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

fn parse_requirement(text: &str) -> Result<(Requirement, &str), LabelSelectorError> {
    if let Some(rest) = text.strip_prefix('!') {
        let rest = rest.trim_start();
        let end = rest.find(|c: char| !is_key_char(c)).unwrap_or(rest.len());
        if end == 0 {
            return Err(LabelSelectorError::ExpectedIdentifier { found: rest.to_string() });
        }
        return Ok((Requirement::DoesNotExist(rest[..end].to_string()), &rest[end..]));
    }
    let end = text.find(|c: char| !is_key_char(c)).unwrap_or(text.len());
    if end == 0 {
        return Err(LabelSelectorError::ExpectedIdentifier { found: text.to_string() });
    }
    let key = text[..end].to_string();
    let rest = text[end..].trim_start();
    let value_end = |s: &str| s.find(|c: char| c == ',' || c.is_whitespace()).unwrap_or(s.len());
    for (op, build) in [
        ("==", Requirement::Equals as fn(String, String) -> Requirement),
        ("!=", Requirement::NotEquals),
        ("=", Requirement::Equals),
    ] {
        if let Some(after) = rest.strip_prefix(op) {
            let after = after.trim_start();
            let e = value_end(after);
            return Ok((build(key, after[..e].to_string()), &after[e..]));
        }
    }
    for (op, in_set) in [("notin", false), ("in", true)] {
        if let Some(after) = rest.strip_prefix(op) {
            let after = after.trim_start();
            let Some(after) = after.strip_prefix('(') else {
                return Err(LabelSelectorError::ExpectedOpenParen { found: after.to_string() });
            };
            let Some(close) = after.find(')') else {
                return Err(LabelSelectorError::ExpectedCloseParen);
            };
            let values: Vec<String> =
                after[..close].split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
            let req = if in_set { Requirement::In(key, values) } else { Requirement::NotIn(key, values) };
            return Ok((req, &after[close + 1..]));
        }
    }
    Ok((Requirement::Exists(key), rest))
}

/// One field selector term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    pub field: String,
    pub value: String,
    pub negated: bool,
}

/// A parsed field selector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    pub terms: Vec<FieldTerm>,
}

/// The fields each built-in resource can be selected by (besides metadata.name/namespace).
fn selectable(group: &str, resource: &str) -> &'static [&'static str] {
    match (group, resource) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "namespaces") => &["status.phase"],
        ("", "nodes") => &["spec.unschedulable"],
        ("apps", "replicasets") => &["status.replicas"],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parse `a=b,c!=d` for a resource.
    ///
    /// # Errors
    /// [`FieldSelectorError::NotSupported`] (`field label not supported: X`) for a field the
    /// resource cannot be selected by; [`FieldSelectorError::Term`] for a term without `=`.
    pub fn parse(text: &str, group: &str, resource: &str) -> Result<Self, FieldSelectorError> {
        let mut terms = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, value, negated) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, false)
            } else {
                return Err(FieldSelectorError::Term { term: part.to_string() });
            };
            let field = field.trim();
            if field != "metadata.name"
                && field != "metadata.namespace"
                && !selectable(group, resource).contains(&field)
            {
                return Err(FieldSelectorError::NotSupported { field: field.to_string() });
            }
            terms.push(FieldTerm { field: field.to_string(), value: value.trim().to_string(), negated });
        }
        Ok(Self { terms })
    }

    /// Whether `object` satisfies every term.
    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|t| {
            let mut v = object;
            for part in t.field.split('.') {
                v = &v[part];
            }
            let actual = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                Value::Bool(b) => b.to_string(),
                other => other.to_string(),
            };
            (actual == t.value) != t.negated
        })
    }

    /// Whether the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// A label selector object as the query string the Scale status carries.
pub fn selector_string(selector: &Value) -> String {
    let mut parts: Vec<String> = selector["matchLabels"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect())
        .unwrap_or_default();
    for e in selector["matchExpressions"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let key = e["key"].as_str().unwrap_or("");
        let values: Vec<&str> =
            e["values"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        parts.push(match e["operator"].as_str().unwrap_or("") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            _ => format!("!{key}"),
        });
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors() {
        let labels = json!({"app": "fraud", "track": "canary", "tier": "model"});
        for (text, want) in [
            ("app=fraud", true),
            ("app==fraud", true),
            ("app!=fraud", false),
            ("track in (canary, stable)", true),
            ("track notin (canary)", false),
            ("tier", true),
            ("!tier", false),
            ("!missing,app=fraud", true),
            ("app=fraud,track=stable", false),
            ("", true),
        ] {
            assert_eq!(LabelSelector::parse(text).unwrap().matches(&labels), want, "{text}");
        }
        use LabelSelectorError as E;
        assert_eq!(LabelSelector::parse("app=fraud,"), Err(E::TrailingComma { text: "app=fraud,".into() }));
        assert_eq!(
            LabelSelector::parse("app=fraud,").unwrap_err().to_string(),
            "unable to parse requirement: found '', expected: identifier (in \"app=fraud,\")"
        );
        assert_eq!(LabelSelector::parse("a in b"), Err(E::ExpectedOpenParen { found: "b".into() }));
        assert_eq!(LabelSelector::parse("a in (b"), Err(E::ExpectedCloseParen));
        assert_eq!(LabelSelector::parse("a=b c"), Err(E::ExpectedComma { rest: "c".into() }));
        assert_eq!(LabelSelector::parse("=b"), Err(E::ExpectedIdentifier { found: "=b".into() }));
        assert!(matches!(LabelSelector::parse("a=-b"), Err(E::Value { value }) if value == "-b"));
        assert!(matches!(LabelSelector::parse("-a=b"), Err(E::Key { .. })));
        let expression = |operator: &str, values: Value| {
            LabelSelector::from_object(
                &json!({"matchExpressions": [{"key": "a", "operator": operator, "values": values}]}),
            )
        };
        assert_eq!(expression("In", json!([])), Err(E::ValuesRequired));
        assert_eq!(expression("Has", json!(["x"])), Err(E::Operator { operator: "Has".into() }));
        assert_eq!(
            expression("Has", json!(["x"])).unwrap_err().to_string(),
            "\"Has\" is not a valid label selector operator"
        );
    }

    #[test]
    fn field_selectors() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ml"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let sel = FieldSelector::parse("spec.nodeName=n1,status.phase!=Pending", "", "pods").unwrap();
        assert!(sel.matches(&pod));
        assert!(!FieldSelector::parse("metadata.name=q", "", "pods").unwrap().matches(&pod));
        let err = FieldSelector::parse("spec.nodeName=n1", "apps", "deployments").unwrap_err();
        assert_eq!(err, FieldSelectorError::NotSupported { field: "spec.nodeName".into() });
        assert_eq!(err.to_string(), "field label not supported: spec.nodeName");
        let err = FieldSelector::parse("spec.nodeName", "", "pods").unwrap_err();
        assert_eq!(err.to_string(), "invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'");
    }

    #[test]
    fn selectors_as_strings() {
        let s = json!({"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "t", "operator": "In", "values": ["a", "b"]}]});
        assert_eq!(selector_string(&s), "app=x,t in (a,b)");
    }
}
