//! Image references and `[CONTAINER=]IMAGE` assignments: checked against the reference grammar
//! before anything is written, and applied to a pod spec (as raw JSON, so that fields this build
//! does not know survive the write).

use std::fmt;

use serde_json::Value;

/// Longest tag the reference grammar allows.
pub const MAX_TAG_LEN: usize = 128;
/// Longest repository name (registry and path) the reference grammar allows.
pub const MAX_NAME_LEN: usize = 255;

/// What is wrong with an image reference; each says it in the reference grammar's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("the image is empty")]
    Empty,
    #[error("it contains whitespace")]
    Whitespace,
    #[error("the digest {digest:?} must be sha256: followed by 64 hex digits")]
    DigestAlgorithm { digest: String },
    #[error("the digest {digest:?} must be sha256: followed by 64 lowercase hex digits")]
    DigestHex { digest: String },
    #[error("the tag after ':' is empty")]
    EmptyTag,
    #[error("the tag is {length} characters long; at most {MAX_TAG_LEN} are allowed")]
    TagTooLong { length: usize },
    #[error(
        "the tag {tag:?} may only hold letters, digits, '_', '.' and '-' and must not start with '.' or '-'"
    )]
    TagCharacters { tag: String },
    #[error("the repository name is empty")]
    EmptyName,
    #[error("the repository name is longer than {MAX_NAME_LEN} characters")]
    NameTooLong,
    #[error("the registry {registry:?} has an unclosed '['")]
    UnclosedBracket { registry: String },
    #[error("the registry {registry:?} is not a valid IPv6 address")]
    Ipv6 { registry: String },
    #[error("the registry {registry:?} is not host[:port]")]
    NotHostPort { registry: String },
    #[error("the registry host {host:?} is not a valid host name")]
    Host { host: String },
    #[error("the registry port {port:?} is not a number from 0 to 65535")]
    Port { port: String },
    #[error("the repository path {path:?} must be lowercase")]
    PathCase { path: String },
    #[error("the repository path {path:?} has an empty component")]
    EmptyPathComponent { path: String },
    #[error(
        "the path component {component:?} may only hold lowercase letters and digits, separated by '.', '_', '__' or '-'"
    )]
    PathComponent { component: String },
}

/// A checked image reference: `[registry[:port]/]path[:tag][@sha256:HEX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `registry.example:5000`, when the first component names a registry.
    pub registry: Option<String>,
    /// `team/fraud`: lowercase components.
    pub path: String,
    pub tag: Option<String>,
    /// `sha256:` and 64 hex digits.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parse and check `text` against the image reference grammar.
    ///
    /// # Errors
    /// What is wrong, e.g. [`ReferenceError::PathCase`] (`the repository path "Fraud" must be lowercase`).
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        if text.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if text.chars().any(char::is_whitespace) {
            return Err(ReferenceError::Whitespace);
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                check_digest(digest)?;
                (rest, Some(digest.to_string()))
            }
            None => (text, None),
        };
        // A tag follows the last ':' that comes after the last '/' (an earlier ':' is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                check_tag(tag)?;
                (&rest[..last_slash + i], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(ReferenceError::EmptyName);
        }
        if name.len() > MAX_NAME_LEN {
            return Err(ReferenceError::NameTooLong);
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.')
                    || first.contains(':')
                    || first == "localhost"
                    || first.starts_with('[')
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                check_registry(first)?;
                (Some(first.to_string()), path)
            }
            _ => (None, name),
        };
        check_path(path)?;
        Ok(Self { registry, path: path.to_string(), tag, digest })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        f.write_str(&self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn check_digest(digest: &str) -> Result<(), ReferenceError> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| ReferenceError::DigestAlgorithm { digest: digest.to_string() })?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(ReferenceError::DigestHex { digest: digest.to_string() });
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), ReferenceError> {
    if tag.is_empty() {
        return Err(ReferenceError::EmptyTag);
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(ReferenceError::TagTooLong { length: tag.len() });
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    let first_ok = chars.next().is_some_and(word);
    if !first_ok || !chars.all(|c| word(c) || c == '.' || c == '-') {
        return Err(ReferenceError::TagCharacters { tag: tag.to_string() });
    }
    Ok(())
}

fn check_registry(registry: &str) -> Result<(), ReferenceError> {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        // [IPv6]:port
        let (addr, after) = rest
            .split_once(']')
            .ok_or_else(|| ReferenceError::UnclosedBracket { registry: registry.to_string() })?;
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err(ReferenceError::Ipv6 { registry: registry.to_string() });
        }
        match after {
            "" => return Ok(()),
            _ => match after.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return Err(ReferenceError::NotHostPort { registry: registry.to_string() }),
            },
        }
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(registry), None),
        }
    };
    if let Some(host) = host {
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !c.starts_with('-')
                && !c.ends_with('-')
        };
        if !host.split('.').all(component_ok) {
            return Err(ReferenceError::Host { host: host.to_string() });
        }
    }
    if let Some(port) = port {
        if port.is_empty()
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u32>().map_or(true, |p| p > 65535)
        {
            return Err(ReferenceError::Port { port: port.to_string() });
        }
    }
    Ok(())
}

fn check_path(path: &str) -> Result<(), ReferenceError> {
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(ReferenceError::PathCase { path: path.to_string() });
    }
    for component in path.split('/') {
        if component.is_empty() {
            return Err(ReferenceError::EmptyPathComponent { path: path.to_string() });
        }
        if !path_component_ok(component) {
            return Err(ReferenceError::PathComponent { component: component.to_string() });
        }
    }
    Ok(())
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn path_component_ok(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Which containers one `[CONTAINER=]IMAGE` argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerChoice {
    /// A bare `IMAGE`: allowed when the pod has exactly one container.
    Only,
    /// `*=IMAGE`: every container and init container, as with `kubectl set image`.
    All,
    /// `NAME=IMAGE`: the container or init container of that name.
    Named(String),
}

/// What is wrong with the `[CONTAINER=]IMAGE` arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignmentError {
    #[error(
        "invalid container name {name:?} in {argument:?}: use lowercase letters, digits and '-' (or * for every container)"
    )]
    ContainerName { name: String, argument: String },
    #[error("invalid image reference {image:?}: {source}")]
    Reference { image: String, source: ReferenceError },
    #[error("more than one bare IMAGE given: name the containers with CONTAINER=IMAGE")]
    BareImageTwice,
    /// `container` is `*` for two `*=IMAGE`.
    #[error("container {container:?} is given more than one image")]
    ContainerTwice { container: String },
    #[error("a bare IMAGE cannot be combined with others: name the containers with CONTAINER=IMAGE")]
    BareImageWithOthers,
}

/// One `[CONTAINER=]IMAGE` argument, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageAssignment {
    pub container: ContainerChoice,
    pub image: ImageRef,
    /// The image as the user wrote it (written to the pod spec unchanged).
    pub text: String,
}

impl ImageAssignment {
    /// Parse `IMAGE`, `CONTAINER=IMAGE` or `*=IMAGE`.
    ///
    /// # Errors
    /// [`AssignmentError::ContainerName`] or [`AssignmentError::Reference`], naming the argument.
    pub fn parse(arg: &str) -> Result<Self, AssignmentError> {
        let (container, image) = match arg.split_once('=') {
            Some(("*", image)) => (ContainerChoice::All, image),
            Some((name, image)) => {
                if !is_dns_label(name) {
                    return Err(AssignmentError::ContainerName {
                        name: name.to_string(),
                        argument: arg.to_string(),
                    });
                }
                (ContainerChoice::Named(name.to_string()), image)
            }
            None => (ContainerChoice::Only, arg),
        };
        let parsed = ImageRef::parse(image)
            .map_err(|source| AssignmentError::Reference { image: image.to_string(), source })?;
        Ok(Self { container, image: parsed, text: image.to_string() })
    }
}

/// Parse every argument and refuse two that name the same container.
///
/// # Errors
/// The first bad argument, or the repeated container.
pub fn parse_assignments(args: &[String]) -> Result<Vec<ImageAssignment>, AssignmentError> {
    let assignments = args.iter().map(|a| ImageAssignment::parse(a)).collect::<Result<Vec<_>, _>>()?;
    let mut seen = std::collections::BTreeSet::new();
    for a in &assignments {
        let key = match &a.container {
            ContainerChoice::Only => "".to_string(),
            ContainerChoice::All => "*".to_string(),
            ContainerChoice::Named(n) => n.clone(),
        };
        if !seen.insert(key.clone()) {
            return Err(match key.as_str() {
                "" => AssignmentError::BareImageTwice,
                _ => AssignmentError::ContainerTwice { container: key },
            });
        }
    }
    if assignments.len() > 1 && assignments.iter().any(|a| a.container == ContainerChoice::Only) {
        return Err(AssignmentError::BareImageWithOthers);
    }
    Ok(assignments)
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// An assignment that does not fit the pod it is applied to. `owner` names the object
/// (`deployment "fraud"`); the containers are listed so the user can pick one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContainerError {
    #[error(
        "{owner} has {} containers, so name the one to update with CONTAINER=IMAGE (or *=IMAGE for all); containers are: {}",
        .containers.len(),
        listing(.containers, .init_containers)
    )]
    NameNeeded { owner: String, containers: Vec<String>, init_containers: Vec<String> },
    #[error("{owner} has no container {name:?}; containers are: {}", listing(.containers, .init_containers))]
    NoSuchContainer { owner: String, name: String, containers: Vec<String>, init_containers: Vec<String> },
}

/// `model, proxy (init containers: fetch)`; an unnamed container (Knative allows one) is `(unnamed)`.
fn listing(containers: &[String], init_containers: &[String]) -> String {
    let shown = |names: &[String]| {
        names
            .iter()
            .map(|n| if n.is_empty() { "(unnamed)" } else { n.as_str() })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = shown(containers);
    if !init_containers.is_empty() {
        text.push_str(&format!(" (init containers: {})", shown(init_containers)));
    }
    text
}

/// One container whose image an assignment changes (or would set to what it already is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageChange {
    pub container: String,
    pub init: bool,
    pub from: String,
    pub to: String,
}

/// The names of the containers and init containers of a pod spec (raw JSON). A container
/// without a name (Knative allows one) is listed as `""`.
pub fn container_names(pod_spec: &Value) -> (Vec<String>, Vec<String>) {
    let names = |key: &str| -> Vec<String> {
        pod_spec
            .get(key)
            .and_then(Value::as_array)
            .map(|list| list.iter().map(|c| c["name"].as_str().unwrap_or_default().to_string()).collect())
            .unwrap_or_default()
    };
    (names("containers"), names("initContainers"))
}

/// Set the images of `assignments` in `pod_spec` (raw JSON of a PodSpec) and return what each
/// container goes from and to (later assignments win: `*=A proxy=B` gives proxy B).
/// `owner` names the object in messages, e.g. `deployment "fraud"`.
///
/// # Errors
/// A bare IMAGE on a pod with several containers ([`ContainerError::NameNeeded`]), or an unknown
/// container name ([`ContainerError::NoSuchContainer`]); both list the containers.
pub fn apply_images(
    pod_spec: &mut Value,
    assignments: &[ImageAssignment],
    owner: &str,
) -> Result<Vec<ImageChange>, ContainerError> {
    let (containers, init_containers) = container_names(pod_spec);
    // (init?, index) -> image, in assignment order.
    let mut targets: Vec<((bool, usize), &str)> = Vec::new();
    for a in assignments {
        match &a.container {
            ContainerChoice::Only => {
                if containers.len() != 1 {
                    return Err(ContainerError::NameNeeded {
                        owner: owner.to_string(),
                        containers,
                        init_containers,
                    });
                }
                targets.push(((false, 0), &a.text));
            }
            ContainerChoice::All => {
                let every = |init: bool, count: usize| (0..count).map(move |i| ((init, i), a.text.as_str()));
                targets.extend(every(false, containers.len()).chain(every(true, init_containers.len())));
            }
            ContainerChoice::Named(name) => {
                if let Some(i) = containers.iter().position(|c| c == name) {
                    targets.push(((false, i), &a.text));
                } else if let Some(i) = init_containers.iter().position(|c| c == name) {
                    targets.push(((true, i), &a.text));
                } else {
                    return Err(ContainerError::NoSuchContainer {
                        owner: owner.to_string(),
                        name: name.clone(),
                        containers,
                        init_containers,
                    });
                }
            }
        }
    }
    let mut order: Vec<(bool, usize)> = Vec::new();
    let mut wanted: std::collections::BTreeMap<(bool, usize), &str> = std::collections::BTreeMap::new();
    for (key, image) in targets {
        if wanted.insert(key, image).is_none() {
            order.push(key);
        }
    }
    let mut changes = Vec::new();
    for key in order {
        let (init, index) = key;
        let list = if init { "initContainers" } else { "containers" };
        let container = &mut pod_spec[list][index];
        let to = wanted[&key].to_string();
        changes.push(ImageChange {
            container: container["name"].as_str().unwrap_or_default().to_string(),
            init,
            from: container["image"].as_str().unwrap_or_default().to_string(),
            to: to.clone(),
        });
        container["image"] = Value::String(to);
    }
    Ok(changes)
}

/// The model version a change records in `modelroll.io/model-version`. Without
/// `--model-version` the label must not keep an older image's version (history would show new
/// images as the old model): it follows the new image's tag, else its digest, else it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelVersion {
    /// `--model-version V`.
    Given(String),
    /// No flag: the tag the new image(s) share (`fraud:v3` → `v3`).
    ImageTag(String),
    /// No flag, no tag: the digest's first 12 hex digits (`sha256-0123456789ab`).
    ImageDigest(String),
    /// No flag, and the new images name no one version (different tags, or none usable as a
    /// label value): the label is removed rather than left stale.
    Unknown,
}

impl ModelVersion {
    /// The version for a change to `new_images` (only the images that change); `None` when no
    /// image changes and no flag is given (the label is left as it is).
    pub fn resolve(flag: Option<&str>, new_images: &[&str]) -> Option<Self> {
        if let Some(v) = flag {
            return Some(Self::Given(v.to_string()));
        }
        if new_images.is_empty() {
            return None;
        }
        let of_image = |image: &str| -> Option<Self> {
            let image = ImageRef::parse(image).ok()?;
            let version = match (&image.tag, &image.digest) {
                (Some(tag), _) => Self::ImageTag(tag.clone()),
                (None, Some(digest)) => {
                    let hex = digest.strip_prefix("sha256:")?;
                    Self::ImageDigest(format!("sha256-{}", &hex[..hex.len().min(12)]))
                }
                (None, None) => return None,
            };
            version.label().filter(|v| super::keys::check_label_value(v).is_ok())?;
            Some(version)
        };
        let first = of_image(new_images[0]);
        let all_same = new_images[1..].iter().all(|i| of_image(i) == first);
        Some(match first {
            Some(version) if all_same => version,
            _ => Self::Unknown,
        })
    }

    /// The label value, `None` for [`ModelVersion::Unknown`] (the label is removed).
    pub fn label(&self) -> Option<&str> {
        match self {
            Self::Given(v) | Self::ImageTag(v) | Self::ImageDigest(v) => Some(v),
            Self::Unknown => None,
        }
    }

    /// How progress lines say it: `model v3`, `model v3, from the image tag`, ….
    pub fn describe(&self) -> String {
        match self {
            Self::Given(v) => format!("model {v}"),
            Self::ImageTag(v) => format!("model {v}, from the image tag; --model-version names it"),
            Self::ImageDigest(v) => format!("model {v}, from the image digest; --model-version names it"),
            Self::Unknown => {
                "no model version: the images name no one version, so the modelroll.io/model-version label is removed; --model-version names it".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_that_registries_accept() {
        let digest = format!("sha256:{}", "a".repeat(64));
        for text in [
            "fraud",
            "fraud:v2",
            "team/fraud:v2",
            "registry.example/fraud:v2",
            "registry.example:5000/team/fraud:v2.1-rc_1",
            "localhost/fraud",
            "localhost:5000/fraud:latest",
            "[::1]:5000/fraud:v1",
            "my-registry.io/a__b/c.d/e--f:TAG_1",
            &format!("registry.example/fraud@{digest}"),
            &format!("registry.example/fraud:v2@{digest}"),
        ] {
            let parsed = ImageRef::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parsed.to_string(), text);
        }
        let r = ImageRef::parse("registry.example:5000/team/fraud:v2").unwrap();
        assert_eq!(r.registry.as_deref(), Some("registry.example:5000"));
        assert_eq!(r.path, "team/fraud");
        assert_eq!(r.tag.as_deref(), Some("v2"));
        let r = ImageRef::parse("team/fraud").unwrap();
        assert_eq!(r.registry, None);
        assert_eq!(r.path, "team/fraud");
    }

    #[test]
    fn references_that_registries_refuse() {
        use ReferenceError as E;
        let long_tag = format!("fraud:{}", "a".repeat(129));
        let text = |s: &str| s.to_string();
        let cases = [
            ("", E::Empty),
            ("Fraud:v1", E::PathCase { path: text("Fraud") }),
            ("registry.example/Team/fraud", E::PathCase { path: text("Team/fraud") }),
            ("fraud:", E::EmptyTag),
            ("fraud:-v1", E::TagCharacters { tag: text("-v1") }),
            // No tag after the last '/': "fraud:v" is a registry with a port that is no number.
            ("fraud:v/1", E::Port { port: text("v") }),
            (long_tag.as_str(), E::TagTooLong { length: 129 }),
            ("fraud@sha256:abc", E::DigestHex { digest: text("sha256:abc") }),
            ("fraud@md5:0123", E::DigestAlgorithm { digest: text("md5:0123") }),
            ("registry.example:port/fraud", E::Port { port: text("port") }),
            ("registry..example/fraud", E::Host { host: text("registry..example") }),
            ("[::1/fraud", E::UnclosedBracket { registry: text("[::1") }),
            ("[xyz]:5000/fraud", E::Ipv6 { registry: text("[xyz]:5000") }),
            ("[::1]5000/fraud", E::NotHostPort { registry: text("[::1]5000") }),
            ("fraud//model", E::EmptyPathComponent { path: text("fraud//model") }),
            ("fraud-/model", E::PathComponent { component: text("fraud-") }),
            ("fra ud", E::Whitespace),
            ("fraud:v1:v2", E::PathComponent { component: text("fraud:v1") }),
            (":v1", E::EmptyName),
        ];
        for (text, expected) in cases {
            assert_eq!(ImageRef::parse(text).expect_err(text), expected, "{text}");
        }
        // 128 characters is the limit, inclusive.
        assert!(ImageRef::parse(&format!("fraud:{}", "a".repeat(128))).is_ok());
        assert_eq!(ImageRef::parse(&format!("{}:v1", "a".repeat(256))), Err(E::NameTooLong));
        // The sentences users read.
        assert_eq!(
            ImageRef::parse(&long_tag).unwrap_err().to_string(),
            "the tag is 129 characters long; at most 128 are allowed"
        );
        assert_eq!(
            ImageRef::parse("fraud@sha256:abc").unwrap_err().to_string(),
            "the digest \"sha256:abc\" must be sha256: followed by 64 lowercase hex digits"
        );
        assert_eq!(
            ImageRef::parse("fraud-/model").unwrap_err().to_string(),
            "the path component \"fraud-\" may only hold lowercase letters and digits, separated by '.', '_', '__' or '-'"
        );
    }

    #[test]
    fn assignments_parse_and_refuse_repeats() {
        use AssignmentError as E;
        let a = parse_assignments(&["model=registry.example/fraud:v2".into(), "*=x:1".into()]).unwrap();
        assert_eq!(a[0].container, ContainerChoice::Named("model".into()));
        assert_eq!(a[1].container, ContainerChoice::All);
        let refused = |args: &[&str]| {
            parse_assignments(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>()).unwrap_err()
        };
        assert_eq!(refused(&["a=x:1", "a=x:2"]), E::ContainerTwice { container: "a".into() });
        assert_eq!(refused(&["*=x:1", "*=x:2"]), E::ContainerTwice { container: "*".into() });
        assert_eq!(refused(&["x:1", "x:2"]), E::BareImageTwice);
        assert_eq!(refused(&["x:1", "a=x:2"]), E::BareImageWithOthers);
        assert_eq!(
            refused(&["Model=x:1"]),
            E::ContainerName { name: "Model".into(), argument: "Model=x:1".into() }
        );
        assert_eq!(
            refused(&["model=X:1"]),
            E::Reference { image: "X:1".into(), source: ReferenceError::PathCase { path: "X".into() } }
        );
        assert_eq!(
            refused(&["model=X:1"]).to_string(),
            "invalid image reference \"X:1\": the repository path \"X\" must be lowercase"
        );
        assert_eq!(
            refused(&["Model=x:1"]).to_string(),
            "invalid container name \"Model\" in \"Model=x:1\": use lowercase letters, digits and '-' (or * for every container)"
        );
        assert_eq!(refused(&["a=x:1", "a=x:2"]).to_string(), "container \"a\" is given more than one image");
    }

    fn spec() -> Value {
        json!({
            "initContainers": [{"name": "fetch", "image": "fetch:1"}],
            "containers": [
                {"name": "model", "image": "fraud:v1", "resources": {"limits": {"nvidia.com/gpu": "1"}}},
                {"name": "proxy", "image": "envoy:1"}
            ]
        })
    }

    #[test]
    fn bare_image_needs_a_single_container() {
        let mut s = spec();
        let a = parse_assignments(&["fraud:v2".into()]).unwrap();
        let err = apply_images(&mut s, &a, "deployment \"fraud\"").unwrap_err();
        assert!(matches!(&err, ContainerError::NameNeeded { containers, .. } if containers.len() == 2));
        assert_eq!(
            err.to_string(),
            "deployment \"fraud\" has 2 containers, so name the one to update with CONTAINER=IMAGE (or *=IMAGE for all); containers are: model, proxy (init containers: fetch)"
        );
        let mut single = json!({"containers": [{"name": "model", "image": "fraud:v1"}]});
        let changes = apply_images(&mut single, &a, "d").unwrap();
        assert_eq!(changes[0].from, "fraud:v1");
        assert_eq!(single["containers"][0]["image"], "fraud:v2");
    }

    #[test]
    fn star_sets_init_containers_too() {
        let mut s = spec();
        let changes = apply_images(&mut s, &parse_assignments(&["*=fraud:v2".into()]).unwrap(), "d").unwrap();
        assert_eq!(s["containers"][0]["image"], "fraud:v2");
        assert_eq!(s["containers"][1]["image"], "fraud:v2");
        assert_eq!(s["initContainers"][0]["image"], "fraud:v2");
        let changed: Vec<(&str, bool, &str)> =
            changes.iter().map(|c| (c.container.as_str(), c.init, c.from.as_str())).collect();
        assert_eq!(
            changed,
            [("model", false, "fraud:v1"), ("proxy", false, "envoy:1"), ("fetch", true, "fetch:1")]
        );
        // A container named after * still gets its own image, init containers included.
        let mut s = spec();
        let a = parse_assignments(&["*=fraud:v2".into(), "fetch=fetch:2".into()]).unwrap();
        apply_images(&mut s, &a, "d").unwrap();
        assert_eq!(s["initContainers"][0]["image"], "fetch:2");
        assert_eq!(s["containers"][1]["image"], "fraud:v2");
    }

    #[test]
    fn named_star_and_init_containers() {
        let mut s = spec();
        let a = parse_assignments(&["*=fraud:v2".into(), "proxy=envoy:2".into(), "fetch=fetch:2".into()])
            .unwrap();
        let changes = apply_images(&mut s, &a, "d").unwrap();
        assert_eq!(s["containers"][0]["image"], "fraud:v2");
        assert_eq!(s["containers"][1]["image"], "envoy:2");
        assert_eq!(s["initContainers"][0]["image"], "fetch:2");
        // Unknown fields survive.
        assert_eq!(s["containers"][0]["resources"]["limits"]["nvidia.com/gpu"], "1");
        assert_eq!(changes.len(), 3);
        assert!(changes.iter().any(|c| c.container == "proxy" && c.to == "envoy:2"));
        // Knative allows one unnamed container: a bare IMAGE sets it.
        let mut knative = json!({"containers": [{"image": "sentiment:v1"}]});
        let changes =
            apply_images(&mut knative, &parse_assignments(&["sentiment:v2".into()]).unwrap(), "ksvc")
                .unwrap();
        assert_eq!(changes[0].container, "");
        assert_eq!(knative["containers"][0]["image"], "sentiment:v2");
        let err =
            apply_images(&mut s, &parse_assignments(&["server=x:1".into()]).unwrap(), "deployment \"fraud\"")
                .unwrap_err();
        assert!(matches!(&err, ContainerError::NoSuchContainer { name, .. } if name == "server"));
        assert_eq!(
            err.to_string(),
            "deployment \"fraud\" has no container \"server\"; containers are: model, proxy (init containers: fetch)"
        );
        // An unnamed container is listed as such.
        let mut unnamed = json!({"containers": [{"image": "a:1"}, {"image": "b:1"}]});
        let err = apply_images(&mut unnamed, &parse_assignments(&["c:2".into()]).unwrap(), "ksvc \"s\"")
            .unwrap_err();
        assert!(err.to_string().ends_with("containers are: (unnamed), (unnamed)"), "{err}");
    }

    #[test]
    fn the_model_version_follows_the_new_image_unless_given() {
        let digest = format!("registry.example/fraud@sha256:{}", "0123456789abcdef".repeat(4));
        let resolve = |flag: Option<&str>, images: &[&str]| ModelVersion::resolve(flag, images);
        assert_eq!(resolve(Some("v9"), &["fraud:v3"]), Some(ModelVersion::Given("v9".into())));
        assert_eq!(resolve(None, &["registry.example/fraud:v3"]), Some(ModelVersion::ImageTag("v3".into())));
        assert_eq!(resolve(None, &["a:v3", "b:v3"]), Some(ModelVersion::ImageTag("v3".into())));
        assert_eq!(resolve(None, &[&digest]), Some(ModelVersion::ImageDigest("sha256-0123456789ab".into())));
        // Different tags, no tag, a tag that is no label value: removed, never stale.
        assert_eq!(resolve(None, &["a:v3", "b:v4"]), Some(ModelVersion::Unknown));
        assert_eq!(resolve(None, &["registry.example/fraud"]), Some(ModelVersion::Unknown));
        assert_eq!(resolve(None, &["fraud:_v3"]), Some(ModelVersion::Unknown));
        assert_eq!(ModelVersion::Unknown.label(), None);
        // No image changes and no flag: the label is left alone.
        assert_eq!(resolve(None, &[]), None);
    }
}
