//! Registry credentials: a user name and a secret that never appears in output.

use std::fmt;

/// Credentials for one registry. The password (or identity token) is never printed: `Debug`
/// redacts it, and no kiln error or JSON output carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    secret: Secret,
}

#[derive(Clone, PartialEq, Eq)]
enum Secret {
    Password(String),
    IdentityToken(String),
}

impl Credentials {
    /// A user name and password.
    pub fn password(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            secret: Secret::Password(password.into()),
        }
    }

    /// An identity (refresh) token, as `docker login` with an OAuth registry stores it.
    pub fn identity_token(token: impl Into<String>) -> Self {
        Credentials {
            username: String::new(),
            secret: Secret::IdentityToken(token.into()),
        }
    }

    /// The user name (empty for an identity token).
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password, if these are password credentials.
    pub fn expose_password(&self) -> Option<&str> {
        match &self.secret {
            Secret::Password(password) => Some(password),
            Secret::IdentityToken(_) => None,
        }
    }

    /// The identity token, if these are token credentials.
    pub fn expose_identity_token(&self) -> Option<&str> {
        match &self.secret {
            Secret::IdentityToken(token) => Some(token),
            Secret::Password(_) => None,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.secret {
            Secret::Password(_) => "password",
            Secret::IdentityToken(_) => "identity token",
        };
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field(kind, &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let credentials = Credentials::password("user", "pa??w>rd~ü");
        let debug = format!("{credentials:?}");
        assert!(!debug.contains("pa??w>rd"), "{debug}");
        assert!(debug.contains("user") && debug.contains("<redacted>"));
        assert_eq!(credentials.expose_password(), Some("pa??w>rd~ü"));
        let token = Credentials::identity_token("tok");
        assert!(!format!("{token:?}").contains("tok\""));
        assert_eq!(token.expose_identity_token(), Some("tok"));
    }
}
