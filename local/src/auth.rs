//! The local API's bearer token: there is no anonymous access, even on
//! loopback, so a forgotten runner can't take orders from anything that
//! reaches the port.

use subtle::ConstantTimeEq;

/// Environment variable that fixes the token (otherwise one is generated).
pub const TOKEN_ENV: &str = "ACME_LOCAL_TOKEN";

/// The token every request must present as `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct BearerToken(String);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

impl BearerToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// 32 random bytes, hex.
    pub fn generate() -> std::io::Result<Self> {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Self(hex::encode(b)))
    }

    /// `ACME_LOCAL_TOKEN` if set and non-empty, else a generated token.
    pub fn from_env_or_generate() -> std::io::Result<(Self, bool)> {
        match std::env::var(TOKEN_ENV) {
            Ok(t) if !t.trim().is_empty() => Ok((Self(t.trim().to_owned()), false)),
            _ => Ok((Self::generate()?, true)),
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether an `Authorization` header value carries this token. The
    /// comparison takes the same time wherever the first difference is.
    pub fn accepts(&self, header: Option<&str>) -> bool {
        let Some(h) = header else { return false };
        let Some(presented) = h
            .strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
        else {
            return false;
        };
        presented.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_exact_bearer_token() {
        let t = BearerToken::new("s3cret");
        assert!(t.accepts(Some("Bearer s3cret")));
        assert!(!t.accepts(Some("Bearer s3cre")));
        assert!(!t.accepts(Some("Bearer s3cretX")));
        assert!(!t.accepts(Some("Basic s3cret")));
        assert!(!t.accepts(Some("s3cret")));
        assert!(!t.accepts(None));
        assert_eq!(
            BearerToken::generate().map(|t| t.expose().len()).ok(),
            Some(64)
        );
    }
}
