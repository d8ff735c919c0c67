//! Who a request comes from: the client IP (believing `X-Forwarded-For`
//! only from trusted proxies) behind the [`ClientKeyExtractor`] seam, the
//! [`ClientIp`] extension that passes the answer on, and the pluggable
//! "authenticated user" key.

use axum::extract::ConnectInfo;
use http::HeaderMap;
use http::request::Parts;
use ipnet::IpNet;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The client's IP as the rate limiter resolved it, inserted into the
/// request extensions by [`KeyedRateLimitLayer`](super::KeyedRateLimitLayer)
/// so that later handlers (session records, logs) use the same address the
/// limit was counted under, instead of resolving it again differently.
///
/// Absent when the layer could not find a client address at all. Under
/// axum it is an optional extractor: `client_ip: Option<ClientIp>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<ClientIp>().copied())
    }
}

/// How the rate limiter finds the client of a request: the seam an
/// embedder replaces when its clients are not identified by the peer
/// address (e.g. a load balancer that reports the client in its own
/// header). `None` means "no idea": the request then shares one bucket
/// with every other unknown client (see
/// [`KeyedRateLimitLayer`](super::KeyedRateLimitLayer)).
///
/// The default is [`ClientIpResolver`]. A closure
/// `Fn(&Parts) -> Option<IpAddr>` implements it too.
///
/// ```
/// use http::request::Parts;
/// use std::net::IpAddr;
/// use tradesense_core::ratelimit::{ClientKeyExtractor, KeyedRateLimitLayer, Limiter};
///
/// /// Our edge proxy writes the client into `x-client-ip` and strips it
/// /// from incoming requests.
/// struct EdgeHeader;
///
/// impl ClientKeyExtractor for EdgeHeader {
///     fn client_ip(&self, parts: &Parts) -> Option<IpAddr> {
///         parts.headers.get("x-client-ip")?.to_str().ok()?.parse().ok()
///     }
/// }
///
/// let layer = KeyedRateLimitLayer::new(Limiter::per_minute("api", 60)).client_key(EdgeHeader);
/// # let _ = layer;
/// ```
pub trait ClientKeyExtractor: Send + Sync + 'static {
    /// The client's IP, if it can be told.
    fn client_ip(&self, parts: &Parts) -> Option<IpAddr>;
}

impl<F> ClientKeyExtractor for F
where
    F: Fn(&Parts) -> Option<IpAddr> + Send + Sync + 'static,
{
    fn client_ip(&self, parts: &Parts) -> Option<IpAddr> {
        self(parts)
    }
}

/// Finds the authenticated user of a request, if any (e.g. the `sub` of a
/// *verified* access token). The rate limiter runs before routing and
/// authentication, so it asks this instead of reading a `Principal`. It
/// may leave what it learnt in the request's extensions for the layers
/// after it (see [`Authenticator::verify_request`](crate::auth::Authenticator::verify_request),
/// which spares the auth layer a second verification).
pub type UserKeyFn = Arc<dyn Fn(&mut Parts) -> Option<String> + Send + Sync>;

/// Resolves the client IP of a request from the peer address, axum's
/// [`ConnectInfo<SocketAddr>`] in the request extensions (what
/// `Router::into_make_service_with_connect_info::<SocketAddr>()` inserts,
/// and what `tradesense-server`'s accept loop inserts), believing
/// `X-Forwarded-For` only from trusted proxies. The default
/// [`ClientKeyExtractor`].
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

    /// The client IP: the peer (from [`ConnectInfo<SocketAddr>`]) unless
    /// the peer is a trusted proxy, in which case the right-most
    /// `X-Forwarded-For` hop that is not itself a trusted proxy. Hops left
    /// of that were written by the client and could be anything, so they
    /// are never believed. `None` without a `ConnectInfo<SocketAddr>`
    /// (nobody told the service its peer).
    pub fn resolve(&self, parts: &Parts) -> Option<IpAddr> {
        let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
        Some(self.resolve_from(peer.ip(), &parts.headers))
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

impl ClientKeyExtractor for ClientIpResolver {
    fn client_ip(&self, parts: &Parts) -> Option<IpAddr> {
        self.resolve(parts)
    }
}

/// The network a per-IP limit counts `ip` under: an IPv4 address alone
/// (`/32`), an IPv6 address by its `/64` prefix (a host or a home network
/// routinely holds a whole /64, so per-address keys would let one client
/// rotate through 2^64 budgets). IPv4-mapped IPv6 counts as its IPv4
/// address.
///
/// ```
/// use tradesense_core::ratelimit::client_network;
///
/// let a = client_network("2001:db8:1:2::1".parse().unwrap());
/// let b = client_network("2001:db8:1:2:ffff::c".parse().unwrap());
/// assert_eq!(a, b);
/// assert_eq!(a.to_string(), "2001:db8:1:2::/64");
/// assert_eq!(client_network("192.0.2.7".parse().unwrap()).to_string(), "192.0.2.7/32");
/// assert_eq!(client_network("::ffff:192.0.2.7".parse().unwrap()).to_string(), "192.0.2.7/32");
/// ```
pub fn client_network(ip: IpAddr) -> IpNet {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpNet::V4(ipnet::Ipv4Net::from(v4)),
        IpAddr::V6(v6) => {
            // A prefix length of 64 is always valid for IPv6.
            let net = ipnet::Ipv6Net::new(v6, 64).unwrap_or_else(|_| ipnet::Ipv6Net::from(v6));
            IpNet::V6(net.trunc())
        }
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
    fn ipv6_clients_share_their_64_and_ipv4_stays_per_address() {
        let net = |s: &str| client_network(ip(s));
        assert_eq!(net("2001:db8:1:2::1"), net("2001:db8:1:2::c"));
        assert_ne!(net("2001:db8:1:2::1"), net("2001:db8:1:3::1"));
        assert_ne!(net("192.0.2.1"), net("192.0.2.2"));
        assert_eq!(net("::ffff:192.0.2.1"), net("192.0.2.1"));
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
