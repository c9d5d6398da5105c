//! Redis Cluster: which nodes are the primaries (`CLUSTER NODES`), and which slot a key lives in.

use super::target::Addr;
use super::unavailable;
use crate::registry::StoreError;
use redis::cluster_routing::Slot;

/// The cluster slot of a key (CRC16/XMODEM of its hash tag, mod 16384), to route `WAIT` to the key's primary.
pub fn slot(key: &str) -> Slot {
    Slot::for_key(key)
}

/// Whether the keys share one hash tag, so one `MGET` reads them all on a cluster.
pub fn same_slot(keys: &[String]) -> bool {
    let tag = |k: &String| {
        k.find('{')
            .zip(k.find('}'))
            .map(|(a, b)| k[a..b].to_string())
    };
    let first = tag(&keys[0]);
    first.is_some() && keys.iter().all(|k| tag(k) == first)
}

/// Primary addresses from `CLUSTER NODES`. A primary marked failing is an error: scanning around it would report an
/// export as complete with its keys missing.
pub fn primaries(cluster_nodes: &str) -> Result<Vec<Addr>, StoreError> {
    let mut urls = Vec::new();
    for line in cluster_nodes.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(addr), Some(flags)) = (fields.get(1), fields.get(2)) else {
            continue;
        };
        if !flags.split(',').any(|f| f == "master") {
            continue;
        }
        let host_port = addr.split('@').next().unwrap_or(addr);
        if flags.contains("fail") {
            return Err(unavailable(format!(
                "cluster primary {host_port} is failing ({flags})"
            )));
        }
        // IPv6 addresses come as `::1:7000`: the port follows the last colon.
        let parsed = host_port
            .rsplit_once(':')
            .and_then(|(host, port)| Some(Addr::Tcp(host.to_string(), port.parse().ok()?)));
        urls.push(parsed.ok_or_else(|| unavailable(format!("CLUSTER NODES: address {addr}")))?);
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        // Values from `CLUSTER KEYSLOT` on Redis 7; 0x31C3 is CRC16/XMODEM's check value for "123456789" (below
        // 16384, so also its slot).
        let at = |n| Slot::new(n).unwrap();
        assert_eq!(slot("foo"), at(12182));
        assert_eq!(slot("{user1000}.following"), slot("{user1000}.followers"));
        assert_eq!(slot("123456789"), at(0x31C3));
    }

    #[test]
    fn cluster_primaries() {
        let nodes = "a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n\
                     b2 10.0.0.2:7001@17001 master - 0 0 2 connected 5461-10922\n\
                     c3 10.0.0.3:7002@17002 slave b2 0 0 2 connected\n\
                     d4 ::1:7003@17003 master - 0 0 3 connected 10923-16383\n";
        let tcp = |h: &str, p| Addr::Tcp(h.into(), p);
        assert_eq!(
            primaries(nodes).unwrap(),
            vec![
                tcp("127.0.0.1", 7000),
                tcp("10.0.0.2", 7001),
                tcp("::1", 7003)
            ]
        );
        let failing = "a1 127.0.0.1:7000@17000 master,fail? - 0 0 1 connected 0-16383\n";
        assert!(primaries(failing).is_err());
    }
}
