//! The `Email` newtype (parse, don't validate): the one place an address is
//! checked and normalised. Registration, login, the user store and the
//! login throttle all go through it, so "the same account" means the same
//! thing everywhere.

use std::fmt;
use std::str::FromStr;

/// A syntactically valid email, normalised (trimmed, lower-cased) so that
/// uniqueness and lookups are case-insensitive.
///
/// ```
/// use tradesense_core::users::Email;
///
/// let email: Email = "  Ada@Example.COM ".parse().unwrap();
/// assert_eq!(email.as_str(), "ada@example.com");
/// assert!(Email::parse("not an address").is_err());
/// // The normal form of input that may not even be an address, for keys
/// // that must treat malformed input like well-formed input.
/// assert_eq!(Email::normalize(" Not An Address "), "not an address");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why a string is not an email.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a valid email address")]
pub struct EmailError;

impl Email {
    /// Checks the syntax (one `@`, a non-empty local part of at most 64
    /// bytes, a dotted domain of letters, digits and hyphens, at most 254
    /// bytes overall, no whitespace or control characters) and normalises.
    pub fn parse(candidate: &str) -> Result<Self, EmailError> {
        let email = Self::normalize(candidate);
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError);
        }
        let (local, domain) = email.split_once('@').ok_or(EmailError)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && !local.contains(['@', '"', '(', ')', ',', ':', ';', '<', '>', '[', '\\', ']']);
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Self(email))
        } else {
            Err(EmailError)
        }
    }

    /// The normal form [`parse`](Self::parse) compares, of any input, valid
    /// or not. For keys that must not tell a malformed address from a
    /// well-formed one (the login throttle counts failures for both; log
    /// hashes of unknown emails), so they agree with the stored accounts.
    pub fn normalize(raw: &str) -> String {
        raw.trim().to_lowercase()
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Email {
    type Err = EmailError;

    fn from_str(candidate: &str) -> Result<Self, EmailError> {
        Self::parse(candidate)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails_normalise_and_reject_garbage() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
        for bad in [
            "",
            "a",
            "a@b",
            "@example.com",
            "a@.com",
            "a b@example.com",
            "a@exa mple.com",
            "a@@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn normalize_is_what_parse_stores() {
        assert_eq!(Email::normalize(" Alice@Example.COM "), "alice@example.com");
        assert_eq!(
            Email::normalize(" Alice@Example.COM "),
            Email::parse(" Alice@Example.COM ").unwrap().as_str()
        );
        // Malformed input still has a normal form.
        assert_eq!(Email::normalize(" NO AT SIGN "), "no at sign");
    }

    proptest! {
        #[test]
        fn email_parse_is_idempotent_and_lowercase(s in "\\PC{0,80}") {
            if let Ok(email) = Email::parse(&s) {
                prop_assert_eq!(email.as_str(), email.as_str().to_lowercase());
                prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email.clone());
                prop_assert_eq!(email.as_str().matches('@').count(), 1);
            }
        }

        #[test]
        fn generated_emails_parse(local in "[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]", domain in "[a-z0-9]{1,10}\\.[a-z]{2,6}") {
            let raw = format!("{}@{}", local.to_uppercase(), domain);
            prop_assume!(!local.contains(".."));
            let email = Email::parse(&raw).unwrap();
            prop_assert_eq!(email.as_str(), format!("{local}@{domain}"));
        }
    }
}
