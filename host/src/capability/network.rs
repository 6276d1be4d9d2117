//! Network grants, enforced by wasmtime-wasi's own socket address check.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::sockets::SocketAddrUse;

/// One `host:port` entry of `network` or `listen`. The port may be `*` (any).
///
/// ```
/// let g: wasp_host::NetGrant = "example.com:443".parse()?;
/// assert_eq!(g.to_string(), "example.com:443");
/// assert!("no-port".parse::<wasp_host::NetGrant>().is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetGrant {
    host: Host,
    /// `None` = any port.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Ip(IpAddr),
    Name(String),
}

impl std::str::FromStr for NetGrant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "invalid address `{s}`: {why}; write host:port, e.g. \"127.0.0.1:8080\" or \"example.com:*\""
            )
        };
        let (host, port) = s.rsplit_once(':').ok_or_else(|| bad("no port"))?;
        let port = match port {
            "*" => None,
            p => Some(
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number from 0 to 65535"))?,
            ),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let host = match host.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(ip),
            Err(_) => {
                let valid = host.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
                if !valid || host.len() > 253 {
                    return Err(bad("the host is neither an IP address nor a DNS name"));
                }
                Host::Name(host.to_ascii_lowercase())
            }
        };
        Ok(NetGrant { host, port })
    }
}

impl fmt::Display for NetGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
            Host::Ip(ip) => write!(f, "{ip}")?,
            Host::Name(n) => write!(f, "{n}")?,
        }
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => write!(f, ":*"),
        }
    }
}

impl NetGrant {
    fn port_matches(&self, port: u16, zero_is_any: bool) -> bool {
        match self.port {
            None => true,
            Some(0) if zero_is_any => true,
            Some(p) => p == port,
        }
    }

    /// Whether `addr` is this grant; a name grant is resolved now (the host's
    /// resolver), so it follows DNS changes.
    async fn matches(&self, addr: SocketAddr, zero_is_any: bool) -> bool {
        if !self.port_matches(addr.port(), zero_is_any) {
            return false;
        }
        match &self.host {
            Host::Ip(ip) => canonical(*ip) == canonical(addr.ip()),
            Host::Name(name) => match tokio::net::lookup_host((name.as_str(), addr.port())).await {
                Ok(mut addrs) => addrs.any(|a| canonical(a.ip()) == canonical(addr.ip())),
                Err(_) => false,
            },
        }
    }
}

/// IPv4-mapped IPv6 addresses compare as their IPv4 address, so a plugin cannot
/// slip past an IPv4 grant (or a missing one) by writing `::ffff:a.b.c.d`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Sets the socket policy of one WASI context: TCP and UDP are enabled only if
/// something is granted, DNS only if a granted name needs it, and every address
/// the plugin uses goes through `socket_addr_check`.
pub(crate) fn configure(b: &mut WasiCtxBuilder, network: &[NetGrant], listen: &[NetGrant]) {
    let any = !network.is_empty() || !listen.is_empty();
    b.allow_tcp(any);
    b.allow_udp(any);
    b.allow_ip_name_lookup(network.iter().any(|g| matches!(g.host, Host::Name(_))));
    let network: Arc<[NetGrant]> = network.into();
    let listen: Arc<[NetGrant]> = listen.into();
    b.socket_addr_check(move |addr, use_| {
        let network = network.clone();
        let listen = listen.clone();
        Box::pin(async move {
            match use_ {
                // Implicit binds before connect/send use the wildcard address and
                // port 0; an explicit bind must match a listen grant.
                SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => {
                    (addr.ip().is_unspecified() && addr.port() == 0)
                        || any_match(&listen, addr, true).await
                }
                SocketAddrUse::TcpListen => any_match(&listen, addr, true).await,
                // Accepting only happens on a socket that was allowed to listen.
                SocketAddrUse::TcpAccept => !listen.is_empty(),
                SocketAddrUse::TcpConnect | SocketAddrUse::UdpSend => {
                    any_match(&network, addr, false).await
                }
                // A datagram from a peer the plugin may send to is one it may read;
                // anything else is dropped before the plugin sees it.
                SocketAddrUse::UdpReceive => any_match(&network, addr, false).await,
            }
        })
    });
}

async fn any_match(grants: &[NetGrant], addr: SocketAddr, zero_is_any: bool) -> bool {
    for g in grants {
        if g.matches(addr, zero_is_any).await {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert!("127.0.0.1:80".parse::<NetGrant>().is_ok());
        assert!("[::1]:80".parse::<NetGrant>().is_ok());
        assert!("example.com:*".parse::<NetGrant>().is_ok());
        for bad in ["", ":80", "127.0.0.1", "127.0.0.1:99999", "a b:80", "x:y"] {
            assert!(bad.parse::<NetGrant>().is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn ip_grants_match_exactly() {
        let g: NetGrant = "127.0.0.1:8080".parse().unwrap();
        assert!(g.matches("127.0.0.1:8080".parse().unwrap(), false).await);
        assert!(!g.matches("127.0.0.1:8081".parse().unwrap(), false).await);
        assert!(!g.matches("127.0.0.2:8080".parse().unwrap(), false).await);
        assert!(
            g.matches("[::ffff:127.0.0.1]:8080".parse().unwrap(), false)
                .await
        );
    }
}
