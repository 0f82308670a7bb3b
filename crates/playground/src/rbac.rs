//! RBAC objects and users for the playground: users from a static token table (kube-apiserver's
//! `--token-auth-file`) and the kubeconfigs written for them. The checks kube-apiserver's RBAC
//! validation makes on Roles and bindings are `validation::rbac`; the authorizer that evaluates
//! them is `authz`.

use std::path::Path;

use serde_json::Value;

use super::resources::ResourceRef;

pub const ROLES: ResourceRef = ResourceRef::of("rbac.authorization.k8s.io", "v1", "roles");
pub const CLUSTER_ROLES: ResourceRef = ResourceRef::of("rbac.authorization.k8s.io", "v1", "clusterroles");
pub const ROLE_BINDINGS: ResourceRef = ResourceRef::of("rbac.authorization.k8s.io", "v1", "rolebindings");
pub const CLUSTER_ROLE_BINDINGS: ResourceRef =
    ResourceRef::of("rbac.authorization.k8s.io", "v1", "clusterrolebindings");

/// One line of a token-auth file: a bearer token and the user it authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticUser {
    pub token: String,
    pub name: String,
    pub uid: String,
    /// Groups besides `system:authenticated` (which every authenticated user is in).
    pub groups: Vec<String>,
}

impl StaticUser {
    /// A user with a fresh random token.
    pub fn new(name: &str, groups: &[&str]) -> Self {
        Self {
            token: format!("{name}-{}", uuid::Uuid::new_v4().simple()),
            name: name.to_string(),
            uid: uuid::Uuid::new_v4().to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }
}

/// A token-auth file the API server would refuse to start with; `line` counts from 1.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: std::path::PathBuf, source: std::io::Error },
    /// `path` is prefixed to a line's error when the file was read from disk.
    #[error("{}: {source}", .path.display())]
    InFile { path: std::path::PathBuf, source: Box<TokenFileError> },
    #[error("line {line}: a quoted field is not closed")]
    UnclosedQuote { line: usize },
    #[error("line {line}: expected token,user,uid[,\"group1,group2\"]")]
    TooFewFields { line: usize },
    #[error("line {line}: the token and the user name must not be empty")]
    Empty { line: usize },
    #[error("line {line}: the token of user {user:?} is used twice")]
    TokenTwice { line: usize, user: String },
}

/// Split one CSV line into fields (double quotes group, `""` inside quotes is a quote); `None`
/// when a quoted field is not closed.
fn csv_fields(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return None;
    }
    fields.push(field);
    Some(fields)
}

/// Parse a token-auth file: CSV lines `token,user,uid[,"group1,group2"]`, as kube-apiserver's
/// `--token-auth-file` reads them (blank lines and `#` comments skipped).
///
/// # Errors
/// A [`TokenFileError`] naming the line when a line has fewer than three fields, an empty token
/// or user, an unclosed quote, or a token used twice.
pub fn parse_token_auth_file(text: &str) -> Result<Vec<StaticUser>, TokenFileError> {
    let mut users: Vec<StaticUser> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = csv_fields(line).ok_or(TokenFileError::UnclosedQuote { line: number })?;
        if fields.len() < 3 {
            return Err(TokenFileError::TooFewFields { line: number });
        }
        let (token, name, uid) = (fields[0].trim(), fields[1].trim(), fields[2].trim());
        if token.is_empty() || name.is_empty() {
            return Err(TokenFileError::Empty { line: number });
        }
        if users.iter().any(|u| u.token == token) {
            return Err(TokenFileError::TokenTwice { line: number, user: name.to_string() });
        }
        let groups = fields
            .get(3)
            .map(|g| g.split(',').map(str::trim).filter(|g| !g.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        users.push(StaticUser { token: token.into(), name: name.into(), uid: uid.into(), groups });
    }
    Ok(users)
}

/// Read and parse a token-auth file.
///
/// # Errors
/// When the file cannot be read or a line is malformed (see [`parse_token_auth_file`]).
pub fn read_token_auth_file(path: &Path) -> Result<Vec<StaticUser>, TokenFileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| TokenFileError::Read { path: path.to_path_buf(), source })?;
    parse_token_auth_file(&text)
        .map_err(|e| TokenFileError::InFile { path: path.to_path_buf(), source: Box::new(e) })
}

pub(super) fn strings(value: &Value) -> impl Iterator<Item = &str> {
    value.as_array().into_iter().flatten().filter_map(Value::as_str)
}

impl super::Playground {
    /// Write a kubeconfig for `user` beside this playground's: the same cluster (server and CA),
    /// one user with the token, one context `name` (current) in `namespace`.
    ///
    /// # Errors
    /// When the playground's kubeconfig cannot be read or the new one cannot be written.
    pub fn write_user_kubeconfig(
        &self,
        user: &StaticUser,
        namespace: &str,
        path: &Path,
    ) -> std::io::Result<()> {
        let text = std::fs::read_to_string(&self.kubeconfig_path)?;
        let admin: Value = serde_yaml::from_str(&text).map_err(std::io::Error::other)?;
        let cluster = admin["clusters"][0].clone();
        let config = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [cluster],
            "users": [{"name": user.name, "user": {"token": user.token}}],
            "contexts": [{"name": user.name, "context": {"cluster": cluster["name"], "user": user.name, "namespace": namespace}}],
            "current-context": user.name,
        });
        let yaml = serde_yaml::to_string(&config).map_err(std::io::Error::other)?;
        std::fs::write(path, yaml)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_parse_like_kube_apiserver() {
        let users = parse_token_auth_file(
            "# comment\nt1,alice,u1,\"ml-team,deployers\"\n\nt2,bob,u2\nt3,carol,u3,ops\n",
        )
        .unwrap();
        assert_eq!(users.len(), 3);
        assert_eq!(users[0].groups, vec!["ml-team", "deployers"]);
        assert!(users[1].groups.is_empty());
        assert_eq!(users[2].groups, vec!["ops"]);
        let err = parse_token_auth_file("t1,alice\n").unwrap_err();
        assert!(matches!(err, TokenFileError::TooFewFields { line: 1 }));
        assert_eq!(err.to_string(), "line 1: expected token,user,uid[,\"group1,group2\"]");
        let err = parse_token_auth_file("t1,a,u\nt1,b,u\n").unwrap_err();
        assert!(matches!(&err, TokenFileError::TokenTwice { line: 2, user } if user == "b"));
        assert_eq!(err.to_string(), "line 2: the token of user \"b\" is used twice");
        let err = parse_token_auth_file("t1,a,u,\"g\n").unwrap_err();
        assert!(matches!(err, TokenFileError::UnclosedQuote { line: 1 }));
        assert_eq!(err.to_string(), "line 1: a quoted field is not closed");
        assert!(matches!(parse_token_auth_file(" ,a,u\n"), Err(TokenFileError::Empty { line: 1 })));
        let path = std::env::temp_dir().join(format!("tokens-{}.csv", uuid::Uuid::new_v4().simple()));
        assert!(matches!(read_token_auth_file(&path), Err(TokenFileError::Read { .. })));
        std::fs::write(&path, "t1,alice\n").unwrap();
        let err = read_token_auth_file(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            err.to_string(),
            format!("{}: line 1: expected token,user,uid[,\"group1,group2\"]", path.display())
        );
    }
}
