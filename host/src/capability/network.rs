//! Network grants, enforced by wasmtime-wasi's own socket address check.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::sockets::SocketAddrUse;

use crate::spec::grants::{NetGrant, NetHost as Host};

fn port_matches(g: &NetGrant, port: u16, zero_is_any: bool) -> bool {
    match g.port {
        None => true,
        Some(0) if zero_is_any => true,
        Some(p) => p == port,
    }
}

/// Whether `addr` is this grant; a name grant is resolved now (the host's
/// resolver), so it follows DNS changes.
async fn matches(g: &NetGrant, addr: SocketAddr, zero_is_any: bool) -> bool {
    if !port_matches(g, addr.port(), zero_is_any) {
        return false;
    }
    match &g.host {
        Host::Ip(ip) => canonical(*ip) == canonical(addr.ip()),
        Host::Name(name) => match tokio::net::lookup_host((name.as_str(), addr.port())).await {
            Ok(mut addrs) => addrs.any(|a| canonical(a.ip()) == canonical(addr.ip())),
            Err(_) => false,
        },
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
        if matches(g, addr, zero_is_any).await {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ip_grants_match_exactly() {
        let g: NetGrant = "127.0.0.1:8080".parse().unwrap();
        assert!(matches(&g, "127.0.0.1:8080".parse().unwrap(), false).await);
        assert!(!matches(&g, "127.0.0.1:8081".parse().unwrap(), false).await);
        assert!(!matches(&g, "127.0.0.2:8080".parse().unwrap(), false).await);
        assert!(matches(&g, "[::ffff:127.0.0.1]:8080".parse().unwrap(), false).await);
    }
}
