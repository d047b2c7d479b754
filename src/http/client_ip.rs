//! Who is on the other end: the peer's IP address, or, when the peer is a
//! trusted reverse proxy (`--trusted-proxies`), the client it forwards for,
//! from `X-Forwarded-For`. The login limiter and the access log both ask
//! here, so they always name the same address.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpRequest};
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed; none by default.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Comma-separated CIDRs (`10.0.0.0/8`) or addresses; blank is none.
    pub fn parse(raw: &str) -> Result<TrustedProxies, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(parse_proxy)
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`. Each trusted proxy appends the address it
    /// saw to `X-Forwarded-For`, so the list is walked from the right while
    /// the hop is trusted; what a client wrote further left is never
    /// reached. From an untrusted peer the header is ignored.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        // Several header lines read as one list, in order.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                // Garbage where a proxy should have written an address:
                // the last hop we can vouch for is the client.
                break;
            };
            client = ip;
            if !self.contains(client) {
                break;
            }
        }
        client
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

fn parse_proxy(raw: &str) -> Result<IpNet, String> {
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| format!("{raw:?} is not an IP address or a CIDR such as 10.0.0.0/8"))
}

/// The client address of `req`, per the server's trusted proxies; `None`
/// only for a request with no peer (never over TCP).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    Some(match req.app_data::<web::Data<TrustedProxies>>() {
        Some(trusted) => trusted.client_of(peer, req.headers()),
        None => peer.to_canonical(),
    })
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

    use super::TrustedProxies;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let trusted = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        let headers = forwarded(&["6.6.6.6, 203.0.113.9, 10.1.2.3"]);
        // Through two of our proxies: the address the outer one saw.
        assert_eq!(
            trusted.client_of(ip("127.0.0.1"), &headers),
            ip("203.0.113.9")
        );
        // Straight from the internet: the header is the client's own word.
        assert_eq!(
            trusted.client_of(ip("198.51.100.7"), &headers),
            ip("198.51.100.7")
        );
        assert_eq!(
            TrustedProxies::default().client_of(ip("127.0.0.1"), &headers),
            ip("127.0.0.1")
        );
        // Lines are one list; ports and IPv4-mapped peers are understood.
        let split = forwarded(&["6.6.6.6", "203.0.113.9:4711"]);
        assert_eq!(
            trusted.client_of(ip("::ffff:127.0.0.1"), &split),
            ip("203.0.113.9")
        );
        // Nothing usable: the proxy itself is all we know.
        assert_eq!(
            trusted.client_of(ip("10.9.9.9"), &forwarded(&["garbage"])),
            ip("10.9.9.9")
        );
        assert_eq!(
            trusted.client_of(ip("10.9.9.9"), &HeaderMap::new()),
            ip("10.9.9.9")
        );
        // Every hop trusted: the furthest one.
        assert_eq!(
            trusted.client_of(ip("127.0.0.1"), &forwarded(&["10.0.0.5, 10.0.0.6"])),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn proxies_parse_as_cidrs_or_addresses() {
        let parsed = TrustedProxies::parse(" 10.1.2.3/8 ,::1,").unwrap();
        assert_eq!(format!("{:?}", parsed.0), "[10.0.0.0/8, ::1/128]");
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
        let error = TrustedProxies::parse("127.0.0.1, 10.0.0.0/33").unwrap_err();
        assert!(
            error.contains("\"10.0.0.0/33\" is not an IP address or a CIDR"),
            "{error}"
        );
        assert!(TrustedProxies::parse("proxy.local").is_err());
    }
}
