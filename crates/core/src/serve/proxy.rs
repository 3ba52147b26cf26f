//! The PROXY protocol (HAProxy's, versions 1 and 2), read from the desk's own load balancers only
//! (`trusted_proxies`): a balancer that passes the reps' TLS through to the workers tells each
//! worker, before the first byte of the connection, whose connection it is — so the per-address
//! slowing, `source_allowlist` and `monitoring_allowlist` see the rep's machine, not the
//! balancer. A connection from a trusted proxy without a valid header is closed; a header from
//! anyone else is never read (it is only bytes a request cannot start with). The header is read
//! to its end and no further: what follows is the client's TLS or HTTP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt};

/// Version 2's first twelve bytes.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Version 1's longest header, `\r\n` included.
const V1_LONGEST: usize = 107;
/// Version 2's longest address block this reads (IPv6 addresses and ports are 36 bytes; the rest
/// are optional extensions, skipped).
const V2_LONGEST: usize = 4096;

/// Why a trusted proxy's connection carried no usable header.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("the connection did not start with a PROXY protocol header")]
    NoHeader,
    #[error("the PROXY protocol header is malformed: {0}")]
    Malformed(&'static str),
}

/// Reads the header and returns the client's address: the source it names, or `peer` (the proxy
/// itself) for its own connections (version 2's LOCAL, version 1's UNKNOWN: health checks).
pub async fn read_header<S: AsyncRead + Unpin>(stream: &mut S, peer: SocketAddr) -> Result<SocketAddr, ProxyError> {
    let mut start = [0u8; 6];
    read(stream, &mut start).await?;
    if &start == b"PROXY " {
        return read_v1(stream, peer).await;
    }
    if start != V2_SIGNATURE[..6] {
        return Err(ProxyError::NoHeader);
    }
    let mut rest = [0u8; 10];
    read(stream, &mut rest).await?;
    if rest[..6] != V2_SIGNATURE[6..] {
        return Err(ProxyError::NoHeader);
    }
    let (version_command, family) = (rest[6], rest[7]);
    let length = usize::from(u16::from_be_bytes([rest[8], rest[9]]));
    if version_command >> 4 != 2 {
        return Err(ProxyError::Malformed("not version 2"));
    }
    if length > V2_LONGEST {
        return Err(ProxyError::Malformed("its address block is too long"));
    }
    let mut block = vec![0u8; length];
    read(stream, &mut block).await?;
    match version_command & 0x0f {
        0 => return Ok(peer),
        1 => {}
        _ => return Err(ProxyError::Malformed("an unknown command")),
    }
    let port = |at: usize| u16::from_be_bytes([block[at], block[at + 1]]);
    match family >> 4 {
        1 if length >= 12 => {
            let ip = Ipv4Addr::new(block[0], block[1], block[2], block[3]);
            Ok(SocketAddr::new(IpAddr::V4(ip), port(8)))
        }
        2 if length >= 36 => {
            let octets: [u8; 16] = block[..16].try_into().map_err(|_| ProxyError::Malformed("a short address"))?;
            Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(octets)), port(32)))
        }
        // Unspecified or local (Unix) addresses: the connection is the proxy's own.
        0 | 3 => Ok(peer),
        _ => Err(ProxyError::Malformed("a short or unknown address")),
    }
}

/// Version 1: `PROXY TCP4 <source> <destination> <source port> <destination port>\r\n`, read a
/// byte at a time so nothing after it is taken.
async fn read_v1<S: AsyncRead + Unpin>(stream: &mut S, peer: SocketAddr) -> Result<SocketAddr, ProxyError> {
    let mut line = Vec::with_capacity(V1_LONGEST);
    line.extend_from_slice(b"PROXY ");
    while !line.ends_with(b"\r\n") {
        if line.len() >= V1_LONGEST {
            return Err(ProxyError::Malformed("a version 1 line longer than 107 bytes"));
        }
        let mut byte = [0u8; 1];
        read(stream, &mut byte).await?;
        line.push(byte[0]);
    }
    let text = std::str::from_utf8(&line[6..line.len() - 2]).map_err(|_| ProxyError::Malformed("not text"))?;
    let fields: Vec<&str> = text.split(' ').collect();
    match fields[..] {
        ["UNKNOWN", ..] => Ok(peer),
        [family @ ("TCP4" | "TCP6"), source, _, source_port, _] => {
            let ip: IpAddr = source.parse().map_err(|_| ProxyError::Malformed("a source that is not an address"))?;
            if ip.is_ipv4() != (family == "TCP4") {
                return Err(ProxyError::Malformed("a source of another family than it says"));
            }
            let port = source_port.parse().map_err(|_| ProxyError::Malformed("a source port that is not a port"))?;
            Ok(SocketAddr::new(ip, port))
        }
        _ => Err(ProxyError::Malformed("not TCP4, TCP6 or UNKNOWN with its four fields")),
    }
}

async fn read<S: AsyncRead + Unpin>(stream: &mut S, buffer: &mut [u8]) -> Result<(), ProxyError> {
    stream.read_exact(buffer).await.map(drop).map_err(|_| ProxyError::NoHeader)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "10.0.0.2:40000".parse().unwrap()
    }

    async fn read_from(bytes: &[u8]) -> (Result<SocketAddr, ProxyError>, Vec<u8>) {
        let mut stream = bytes;
        let said = read_header(&mut stream, peer()).await;
        (said, stream.to_vec())
    }

    fn v2(command: u8, family: u8, block: &[u8]) -> Vec<u8> {
        let mut header = V2_SIGNATURE.to_vec();
        header.extend([0x20 | command, family]);
        header.extend((block.len() as u16).to_be_bytes());
        header.extend(block);
        header
    }

    #[tokio::test]
    async fn both_versions_name_the_client_and_leave_what_follows_unread() {
        let v1 = b"PROXY TCP4 192.0.2.7 10.0.0.5 51234 8180\r\nGET / HTTP/1.1\r\n";
        assert_eq!(read_from(v1).await, (Ok("192.0.2.7:51234".parse().unwrap()), b"GET / HTTP/1.1\r\n".to_vec()));
        let v6 = b"PROXY TCP6 2001:db8::7 2001:db8::1 51234 8180\r\n\x16\x03\x01";
        assert_eq!(read_from(v6).await, (Ok("[2001:db8::7]:51234".parse().unwrap()), b"\x16\x03\x01".to_vec()));
        assert_eq!(read_from(b"PROXY UNKNOWN\r\nX").await, (Ok(peer()), b"X".to_vec()), "the proxy's own");

        let mut block = vec![192, 0, 2, 7, 10, 0, 0, 5];
        block.extend(51234u16.to_be_bytes());
        block.extend(8180u16.to_be_bytes());
        block.extend([0x04, 0, 1, 0]); // an extension, skipped
        let mut bytes = v2(1, 0x11, &block);
        bytes.extend(b"\x16\x03\x01");
        assert_eq!(read_from(&bytes).await, (Ok("192.0.2.7:51234".parse().unwrap()), b"\x16\x03\x01".to_vec()));
        let mut six = [0u8; 36];
        six[..16].copy_from_slice(&"2001:db8::7".parse::<Ipv6Addr>().unwrap().octets());
        six[32..34].copy_from_slice(&443u16.to_be_bytes());
        assert_eq!(read_from(&v2(1, 0x21, &six)).await.0, Ok("[2001:db8::7]:443".parse().unwrap()));
        assert_eq!(read_from(&v2(0, 0x00, &[])).await.0, Ok(peer()), "LOCAL: a health check");
    }

    #[tokio::test]
    async fn anything_else_is_refused_without_reading_on() {
        let refused = |bytes: &'static [u8]| async move { read_from(bytes).await.0.unwrap_err() };
        assert_eq!(refused(b"GET / HTTP/1.1\r\n\r\n").await, ProxyError::NoHeader);
        assert_eq!(refused(b"\x16\x03\x01\x02\x00\x01\x00\x01").await, ProxyError::NoHeader, "TLS without a header");
        assert_eq!(refused(b"PROX").await, ProxyError::NoHeader, "closed early");
        assert!(matches!(refused(b"PROXY TCP4 192.0.2.7\r\n").await, ProxyError::Malformed(_)));
        assert!(matches!(refused(b"PROXY TCP4 2001:db8::7 10.0.0.5 1 2\r\n").await, ProxyError::Malformed(_)));
        assert!(matches!(refused(b"PROXY TCP4 192.0.2.7 10.0.0.5 99999 2\r\n").await, ProxyError::Malformed(_)));
        let endless: &'static [u8] = Box::leak(format!("PROXY {}", "A".repeat(200)).into_bytes().into_boxed_slice());
        assert!(matches!(refused(endless).await, ProxyError::Malformed(_)));
        let short: &'static [u8] = Box::leak(v2(1, 0x11, &[192, 0, 2]).into_boxed_slice());
        assert!(matches!(refused(short).await, ProxyError::Malformed(_)));
        let mut wrong = v2(1, 0x11, &[0; 12]);
        wrong[12] = 0x11; // version 1 in a version 2 header
        assert!(matches!(refused(Box::leak(wrong.into_boxed_slice())).await, ProxyError::Malformed(_)));
    }
}
