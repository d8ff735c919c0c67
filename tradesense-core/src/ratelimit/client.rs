//! Who a request comes from: the client IP (believing `X-Forwarded-For`
//! only from trusted proxies) and the pluggable "authenticated user" key.

use crate::http::ClientAddr;
use http::HeaderMap;
use http::request::Parts;
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::Arc;

/// Finds the authenticated user of a request, if any (e.g. the `sub` of a
/// *verified* access token). The rate limiter runs before routing and
/// authentication, so it asks this instead of reading a `Principal`.
pub type UserKeyFn = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

/// Resolves the client IP of a request.
#[derive(Debug, Clone, Default)]
pub struct ClientIpResolver {
    trusted: Arc<[IpNet]>,
}

impl ClientIpResolver {
    /// Believes `X-Forwarded-For` only when the peer is in `trusted`.
    pub fn new(trusted: impl Into<Arc<[IpNet]>>) -> Self {
        Self {
            trusted: trusted.into(),
        }
    }

    fn is_trusted(&self, ip: &IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(ip))
    }

    /// The client IP: the peer (from [`ClientAddr`]) unless the peer is a
    /// trusted proxy, in which case the right-most `X-Forwarded-For` hop
    /// that is not itself a trusted proxy. Hops left of that were written by
    /// the client and could be anything, so they are never believed.
    /// `None` without a [`ClientAddr`] (a service not behind our accept loop).
    pub fn resolve(&self, parts: &Parts) -> Option<IpAddr> {
        let peer = parts.extensions.get::<ClientAddr>()?.0.ip();
        Some(self.resolve_from(peer, &parts.headers))
    }

    fn resolve_from(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.is_trusted(&peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) => {
                    client = ip;
                    if !self.is_trusted(&ip) {
                        break;
                    }
                }
                // Garbage from here leftwards: the last trusted hop is the
                // best-known client.
                None => break,
            }
        }
        client
    }
}

/// A hop is an IP, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|addr| addr.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in xff {
            map.append("x-forwarded-for", value.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_forwards() {
        let resolver = ClientIpResolver::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let got = resolver.resolve_from(ip("203.0.113.9"), &headers(&["1.1.1.1"]));
        assert_eq!(got, ip("203.0.113.9"));
    }

    #[test]
    fn trusted_peer_yields_the_rightmost_untrusted_hop() {
        let resolver = ClientIpResolver::new(vec![
            "10.0.0.0/8".parse().unwrap(),
            "192.0.2.1/32".parse().unwrap(),
        ]);
        // The client claims 6.6.6.6; the real client 198.51.100.7 went
        // through proxies 192.0.2.1 and 10.1.1.1.
        let got = resolver.resolve_from(
            ip("10.0.0.2"),
            &headers(&["6.6.6.6, 198.51.100.7", "192.0.2.1 , 10.1.1.1"]),
        );
        assert_eq!(got, ip("198.51.100.7"));
        // Ports and IPv6 are understood.
        let got = resolver.resolve_from(ip("10.0.0.2"), &headers(&["[2001:db8::1]:443"]));
        assert_eq!(got, ip("2001:db8::1"));
    }

    #[test]
    fn trusted_peer_without_or_with_garbage_header() {
        let resolver = ClientIpResolver::new(vec!["10.0.0.0/8".parse().unwrap()]);
        assert_eq!(
            resolver.resolve_from(ip("10.0.0.2"), &headers(&[])),
            ip("10.0.0.2")
        );
        assert_eq!(
            resolver.resolve_from(ip("10.0.0.2"), &headers(&["nonsense, 10.3.3.3"])),
            ip("10.3.3.3")
        );
    }
}
