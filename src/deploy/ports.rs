//! Host ports: which one a replica asks for, and the one allocator that hands them out (so two
//! replicas of one deploy never pick the same free port).
use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::Mutex;

/// The host port replica `replica` asks for: the service port for replica 1, 10000 above per
/// further replica (18100, 28100…) so replicas do not take the ports of the services that
/// follow in the file; 30000 past 65535.
#[must_use]
pub fn replica_port(port: Option<u16>, replica: u32) -> Option<u16> {
    let port = port?;
    Some(if replica <= 1 {
        port
    } else {
        u16::try_from(u32::from(port) + 10_000 * (replica - 1)).unwrap_or(30_000)
    })
}

/// Host ports claimed by one deploy.
#[derive(Debug, Default)]
pub struct PortBook {
    claimed: Mutex<BTreeSet<u16>>,
    /// Test ports by binding them on 127.0.0.1 (off in unit tests with a fake engine).
    check: bool,
}

impl PortBook {
    /// A book that tests ports by binding them when `check` is set.
    #[must_use]
    pub fn new(check: bool) -> Self {
        Self {
            claimed: Mutex::default(),
            check,
        }
    }

    /// Marks a port held by a container that is kept.
    pub fn claim(&self, port: u16) {
        if let Ok(mut c) = self.claimed.lock() {
            c.insert(port);
        }
    }

    /// Gives a claimed port back (its container was removed).
    pub fn release(&self, port: u16) {
        if let Ok(mut c) = self.claimed.lock() {
            c.remove(&port);
        }
    }

    /// `wanted` if free, else the next free port above it; `None` past 65535.
    pub fn allocate(&self, wanted: u16) -> Option<u16> {
        let mut claimed = self.claimed.lock().ok()?;
        let mut port = wanted;
        loop {
            let free = !claimed.contains(&port)
                && (!self.check || TcpListener::bind(("127.0.0.1", port)).is_ok());
            if free {
                claimed.insert(port);
                return Some(port);
            }
            port = port.checked_add(1)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_ports_step_by_ten_thousand() {
        assert_eq!(replica_port(Some(8100), 1), Some(8100));
        assert_eq!(replica_port(Some(8100), 2), Some(18100));
        assert_eq!(replica_port(Some(60000), 2), Some(30_000));
        assert_eq!(replica_port(None, 2), None);
    }

    #[test]
    fn allocate_skips_claimed_and_bound_ports() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let book = PortBook::new(true);
        let got = book.allocate(port).unwrap();
        assert_ne!(got, port, "a bound port is not free");
        assert_ne!(
            book.allocate(port).unwrap(),
            got,
            "a claimed port is not handed out twice"
        );
        book.release(got);
        assert_eq!(book.allocate(got), Some(got));
        let unchecked = PortBook::new(false);
        assert_eq!(unchecked.allocate(port), Some(port));
    }
}
