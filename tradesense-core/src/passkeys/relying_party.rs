//! The relying party of passkeys: the origin the browser shows, the RP ID
//! the credentials are bound to, and the display name. Parsed once, so a
//! bad configuration fails at startup, never at the first ceremony.

use url::{Host, Url};

/// What is wrong with a relying-party setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelyingPartyError {
    /// The origin is no `http(s)://host[:port]` origin, is plain `http`
    /// away from `localhost`, or its host is an IP address.
    #[error("origin: {0}")]
    Origin(&'static str),
    /// The RP ID is no domain, or not the origin's host or a suffix of it.
    #[error("RP ID: {0}")]
    RpId(&'static str),
    /// The display name is empty or too long.
    #[error("RP name: {0}")]
    RpName(&'static str),
}

/// The relying party: `origin` (`https://app.example.com`, the frontend's
/// origin: what `clientDataJSON.origin` must be), `rp_id` (the domain the
/// credentials belong to: the origin's host or a registrable suffix of it,
/// `example.com` for `https://app.example.com`) and `name` (shown by the
/// authenticator).
///
/// ```
/// use tradesense_core::passkeys::RelyingParty;
///
/// let rp = RelyingParty::new("https://app.example.com", Some("example.com"), "TradeSense").unwrap();
/// assert_eq!(rp.id(), "example.com");
/// // The RP ID defaults to the origin's host.
/// let local = RelyingParty::new("http://localhost:8000", None, "TradeSense").unwrap();
/// assert_eq!(local.id(), "localhost");
/// // An RP ID cannot be an IP address, and must cover the origin.
/// assert!(RelyingParty::new("http://127.0.0.1:8000", None, "TradeSense").is_err());
/// assert!(RelyingParty::new("https://app.example.com", Some("other.com"), "TradeSense").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    origin: Url,
    id: String,
    name: String,
}

impl RelyingParty {
    /// Checks and builds the relying party. `rp_id` `None`: the host of
    /// `origin`. Plain `http` is accepted for `localhost` (and
    /// `*.localhost`) only: browsers offer WebAuthn to secure contexts
    /// alone, and that is the one insecure-scheme origin they count as
    /// secure.
    pub fn new(origin: &str, rp_id: Option<&str>, name: &str) -> Result<Self, RelyingPartyError> {
        let origin_err = RelyingPartyError::Origin;
        let url = Url::parse(origin.trim().trim_end_matches('/'))
            .map_err(|_| origin_err("must be an origin like https://app.example.com"))?;
        if !matches!(url.scheme(), "http" | "https")
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(origin_err(
                "must be an origin like https://app.example.com (scheme, host, optional port)",
            ));
        }
        let host = match url.host() {
            Some(Host::Domain(host)) => host.to_ascii_lowercase(),
            Some(Host::Ipv4(_) | Host::Ipv6(_)) => {
                return Err(origin_err(
                    "its host must be a name, not an IP address (an RP ID cannot be one): use http://localhost:PORT locally",
                ));
            }
            None => return Err(origin_err("must have a host")),
        };
        let local = host == "localhost" || host.ends_with(".localhost");
        if url.scheme() == "http" && !local {
            return Err(origin_err(
                "must be https (plain http only for localhost: browsers refuse WebAuthn elsewhere)",
            ));
        }
        let id = match rp_id.map(str::trim).filter(|id| !id.is_empty()) {
            None => host.clone(),
            Some(id) => {
                let id = id.to_ascii_lowercase();
                let parsed = Host::parse(&id)
                    .map_err(|_| RelyingPartyError::RpId("must be a domain name"))?;
                if !matches!(parsed, Host::Domain(_)) {
                    return Err(RelyingPartyError::RpId(
                        "must be a domain name, not an IP address",
                    ));
                }
                // A suffix on a label boundary: `example.com` covers
                // `app.example.com`, never `badexample.com`.
                if host != id && !host.ends_with(&format!(".{id}")) {
                    return Err(RelyingPartyError::RpId(
                        "must be the origin's host or a parent domain of it",
                    ));
                }
                // A bare top-level label (`com`) would claim every site
                // under it; browsers refuse public suffixes, and so do we
                // for the one kind that needs no list to recognise.
                if !id.contains('.') && id != "localhost" {
                    return Err(RelyingPartyError::RpId(
                        "must be a registrable domain, not a top-level one",
                    ));
                }
                id
            }
        };
        // The same rule as webauthn-rs' own, checked here so that a
        // relying party that exists always builds a service.
        webauthn_rs::prelude::WebauthnBuilder::new(&id, &url).map_err(|_| {
            RelyingPartyError::RpId("must be the origin's host or a parent domain of it")
        })?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(RelyingPartyError::RpName("must be 1 to 100 characters"));
        }
        Ok(Self {
            origin: url,
            id,
            name: name.to_owned(),
        })
    }

    /// The origin, as a URL (`https://app.example.com/`).
    pub fn origin(&self) -> &Url {
        &self.origin
    }

    /// The origin as the browser writes it (`https://app.example.com`).
    pub fn origin_str(&self) -> String {
        self.origin.origin().ascii_serialization()
    }

    /// The RP ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_rp_ids_are_checked() {
        let ok = RelyingParty::new("https://app.example.com/", None, "TS").unwrap();
        assert_eq!(ok.id(), "app.example.com");
        assert_eq!(ok.origin_str(), "https://app.example.com");
        let port = RelyingParty::new("http://localhost:41234", None, "TS").unwrap();
        assert_eq!(port.origin_str(), "http://localhost:41234");
        for (origin, id) in [
            ("http://app.example.com", None),
            ("https://[::1]:8000", None),
            ("https://10.0.0.1", None),
            ("ftp://example.com", None),
            ("https://example.com/path", None),
            ("not a url", None),
            ("https://app.example.com", Some("example.org")),
            ("https://app.example.com", Some("badapp.example.com")),
            ("https://app.example.com", Some("com")),
            ("https://app.example.com", Some("127.0.0.1")),
        ] {
            assert!(
                RelyingParty::new(origin, id, "TS").is_err(),
                "{origin} {id:?}"
            );
        }
        assert!(RelyingParty::new("https://a.b.example.com", Some("Example.COM"), "TS").is_ok());
        assert!(RelyingParty::new("https://example.com", None, " ").is_err());
    }
}
