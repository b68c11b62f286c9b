//! The mDNS responder: announces the HomeWizard API (`_hwenergy._tcp`,
//! which Home Assistant discovers without a question) and the status page
//! (`_http._tcp`) on the local network, inside the loop like every other
//! output: two UDP sockets and a netlink socket, no thread.
//!
//! - Starts at the first valid telegram, which tells which meter this is
//!   (the serial in the names and TXT comes from its equipment id); a
//!   meter with another id later is a new identity: goodbye to the old
//!   records, announcement of the new.
//! - Announces three times (at once, after 1 s, after 3 s; RFC 6762, 8.3),
//!   and again on every interface whenever links or addresses change
//!   ([`interfaces::Watch`]).
//! - Answers queries with the addresses of the interface they came in on,
//!   to the group, or to the asker for a QU or legacy question.
//! - Says goodbye (every record with TTL 0) at exit, so browsers drop it
//!   at once rather than after two minutes.
//! - Shares port 5353 with avahi-daemon ([`sockets`]); its own names
//!   (`p1mux-SERIAL.local`) do not collide with the host's.
//!
//! Probing for name conflicts (RFC 6762, 8.1) is left out: the names
//! carry the meter's serial, unique unless the same meter is read twice.

pub mod error;
pub mod interfaces;
pub mod sockets;
pub mod zone;

pub use error::MdnsError;

use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::event::Event;
use mio::{Interest, Registry, Token};

use crate::config::Config;
use crate::error::StartError;
use crate::health::OutputStatus;
use crate::homewizard::Identity;
use crate::homewizard::identity::{PRODUCT_NAME, PRODUCT_TYPE};
use crate::output::{Context, Delivery, Output, plural};
use interfaces::{Interface, RESCAN, Watch};
use sockets::{Family, McastSocket, PORT};
use zone::{Service, Zone};

/// Gaps between announcements: at once, then 1 s, then 2 s more.
const ANNOUNCE_GAPS: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_secs(1),
    Duration::from_secs(2),
];
/// Packets handled per socket per turn before others get theirs.
const READ_BUDGET: usize = 64;
/// RFC 6762, 6: a record is multicast on an interface at most once a
/// second; a question within that second is answered to the asker alone.
const MULTICAST_GAP: Duration = Duration::from_secs(1);

/// The mDNS output's line in [`crate::outputs::LIST`]: on with `--mdns`.
pub fn build(
    config: &Config,
    cx: &Context,
    first_token: usize,
) -> Result<Option<Box<dyn Output>>, StartError> {
    let Some(mdns) = &config.mdns else {
        return Ok(None);
    };
    let source = crate::homewizard::identity::source_name(&config.source);
    let responder = Mdns::open(&source, mdns.port, cx.registry, first_token, cx.now)
        .map_err(StartError::Mdns)?;
    Ok(Some(Box::new(responder)))
}

/// The responder.
pub struct Mdns {
    sockets: Vec<McastSocket>,
    /// Token of `sockets[i]` is `first_token + i`; the watch's follows.
    first_token: usize,
    watch: Option<Watch>,
    interfaces: Vec<Interface>,
    /// The source's name, for meters without an equipment id.
    source: String,
    /// The HTTP output's port: where the API and the page are.
    http_port: u16,
    /// The meter's, once a telegram told it; the zone is made from it.
    identity: Option<Identity>,
    zone: Option<Zone>,
    /// Announcements still to send: the next one's time, and how many
    /// of [`ANNOUNCE_GAPS`] were sent.
    announce: Option<(Instant, usize)>,
    next_rescan: Option<Instant>,
    /// Sockets with packets left over from a turn's budget.
    unread: Vec<usize>,
    /// When our records were last multicast, by socket and interface.
    multicast_at: Vec<(usize, u32, Instant)>,
    answered: u64,
    announcements: u64,
}

impl Mdns {
    /// Opens the sockets and the watch, with tokens from `first_token`;
    /// fails only when neither IPv4 nor IPv6 can bind 5353.
    pub fn open(
        source: &str,
        http_port: u16,
        registry: &Registry,
        first_token: usize,
        now: Instant,
    ) -> Result<Mdns, MdnsError> {
        let mut sockets = Vec::new();
        let mut failed = Vec::new();
        for family in [Family::V4, Family::V6] {
            match McastSocket::open(family) {
                Ok(s) => sockets.push(s),
                Err(e) => {
                    warn!("mDNS over {family:?}: cannot bind port {PORT}: {e}");
                    failed.push(e);
                }
            }
        }
        if sockets.is_empty() {
            return Err(MdnsError::Bind(failed));
        }
        for (i, s) in sockets.iter_mut().enumerate() {
            registry
                .register(&mut s.socket, Token(first_token + i), Interest::READABLE)
                .map_err(MdnsError::Watch)?;
        }
        let watch = match Watch::open() {
            Ok(w) => match w.register(registry, Token(first_token + sockets.len())) {
                Ok(()) => Some(w),
                Err(e) => {
                    warn!("mDNS: cannot watch address changes ({e}); re-scanning every {RESCAN:?}");
                    None
                }
            },
            Err(e) => {
                warn!("mDNS: cannot watch address changes ({e}); re-scanning every {RESCAN:?}");
                None
            }
        };
        let mut mdns = Mdns {
            next_rescan: watch.is_none().then_some(now + RESCAN),
            sockets,
            first_token,
            watch,
            interfaces: Vec::new(),
            source: source.to_string(),
            http_port,
            identity: None,
            zone: None,
            announce: None,
            unread: Vec::new(),
            multicast_at: Vec::new(),
            answered: 0,
            announcements: 0,
        };
        mdns.rescan(now);
        Ok(mdns)
    }

    /// The records for the meter with `identity`.
    fn zone(&self, identity: &Identity) -> Zone {
        let label = format!("p1mux-{}", identity.serial);
        let hwenergy = Service::new(
            "_hwenergy._tcp",
            &label,
            self.http_port,
            &[
                ("api_enabled", "1"),
                ("path", "/api/v1"),
                ("product_name", PRODUCT_NAME),
                ("product_type", PRODUCT_TYPE),
                ("serial", &identity.serial),
            ],
        );
        let page = Service::new("_http._tcp", &label, self.http_port, &[("path", "/")]);
        Zone {
            host: format!("{label}.local"),
            services: vec![hwenergy, page],
        }
    }

    /// Re-reads the interfaces; announces again when they changed.
    fn rescan(&mut self, now: Instant) {
        let found = match interfaces::scan() {
            Ok(found) => found,
            Err(e) => {
                warn!("mDNS: cannot list the network interfaces: {e}");
                return;
            }
        };
        if found == self.interfaces {
            return;
        }
        for s in &mut self.sockets {
            for (name, e) in s.join(&found) {
                warn!("mDNS: cannot join the {:?} group on {name}: {e}", s.family);
            }
        }
        let names: Vec<&str> = found.iter().map(|i| i.name.as_str()).collect();
        debug!("mDNS interfaces: {}", names.join(", "));
        self.interfaces = found;
        if self.zone.is_some() {
            self.announce = Some((now, 0));
        }
    }

    /// Sends every record (or, `goodbye`, their TTL 0 copies) on every
    /// interface, each with its own addresses.
    fn send_all(&mut self, goodbye: bool, now: Instant) {
        let Some(zone) = &self.zone else {
            return;
        };
        for interface in &self.interfaces {
            let packet = zone.announcement(&interface.addrs, goodbye);
            for (i, s) in self.sockets.iter().enumerate() {
                if !s.carries(interface) {
                    continue;
                }
                match s.send(interface.index, None, &packet) {
                    Ok(()) => self.announcements += 1,
                    Err(e) => debug!("mDNS: announcing on {}: {e}", interface.name),
                }
                note_multicast(&mut self.multicast_at, i, interface.index, now);
            }
        }
    }

    /// Answers what waits on socket `i`, up to the budget.
    fn read(&mut self, i: usize, now: Instant) {
        let mut buf = [0u8; 9000];
        for _ in 0..READ_BUDGET {
            let received = match self.sockets[i].recv(&mut buf) {
                Ok(Some(r)) => r,
                Ok(None) => return,
                Err(e) => {
                    debug!("mDNS: receiving: {e}");
                    return;
                }
            };
            let (Some(zone), Some(interface)) = (
                &self.zone,
                self.interfaces
                    .iter()
                    .find(|f| f.index == received.interface),
            ) else {
                continue;
            };
            let legacy = received.from.port() != PORT;
            let Some(reply) = zone.answer(&buf[..received.len], &interface.addrs, legacy) else {
                continue;
            };
            let recent = self.multicast_at.iter().any(|&(s, f, at)| {
                s == i && f == interface.index && now.saturating_duration_since(at) < MULTICAST_GAP
            });
            let to = (reply.unicast || recent).then_some(received.from);
            if to.is_none() {
                note_multicast(&mut self.multicast_at, i, interface.index, now);
            }
            match self.sockets[i].send(interface.index, to, &reply.bytes) {
                Ok(()) => self.answered += 1,
                Err(e) => debug!("mDNS: answering {}: {e}", received.from),
            }
        }
        self.unread.push(i);
    }
}

/// Our records went to the group of `interface` over socket `i` at `now`.
fn note_multicast(at: &mut Vec<(usize, u32, Instant)>, i: usize, interface: u32, now: Instant) {
    at.retain(|&(s, f, _)| (s, f) != (i, interface));
    at.push((i, interface, now));
}

impl Output for Mdns {
    fn deliver(&mut self, cx: &Context, delivery: Delivery<'_>) {
        let Delivery::Telegram(telegram) = delivery else {
            return;
        };
        let Some(reading) = telegram.reading() else {
            return;
        };
        let identity = Identity::of(&reading, &self.source);
        if self.identity.as_ref() == Some(&identity) {
            return;
        }
        let zone = self.zone(&identity);
        self.identity = Some(identity);
        if self.zone.is_some() {
            info!("mDNS: the meter changed; saying goodbye to the old records");
            self.send_all(true, cx.now);
        }
        info!(
            "mDNS: announcing {} and {} on port {}",
            zone.services[0].instance, zone.host, self.http_port
        );
        self.zone = Some(zone);
        self.announce = Some((cx.now, 0));
        self.on_time(cx);
    }

    fn on_event(&mut self, cx: &Context, event: &Event) {
        let i = event.token().0 - self.first_token;
        if i < self.sockets.len() {
            self.read(i, cx.now);
        } else if self.watch.as_ref().is_some_and(Watch::drain) {
            self.rescan(cx.now);
            self.on_time(cx);
        }
    }

    fn due_at(&self) -> Option<Instant> {
        let announce = self.announce.map(|(at, _)| at);
        match (announce, self.next_rescan) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        }
    }

    fn on_time(&mut self, cx: &Context) {
        if let Some(at) = self.next_rescan
            && at <= cx.now
        {
            self.next_rescan = Some(cx.now + RESCAN);
            self.rescan(cx.now);
        }
        if let Some((at, sent)) = self.announce
            && at <= cx.now
        {
            self.send_all(false, cx.now);
            self.announce = ANNOUNCE_GAPS
                .get(sent + 1)
                .map(|gap| (cx.now + *gap, sent + 1));
        }
    }

    fn has_pending(&self) -> bool {
        !self.unread.is_empty()
    }

    fn on_pending(&mut self, cx: &Context) {
        for i in std::mem::take(&mut self.unread) {
            self.read(i, cx.now);
        }
    }

    fn shutdown(&mut self, cx: &Context) -> String {
        let said = self.zone.is_some();
        self.send_all(true, cx.now);
        for s in &mut self.sockets {
            let _ = cx.registry.deregister(&mut s.socket);
        }
        if let Some(w) = &self.watch {
            w.deregister(cx.registry);
        }
        if said {
            "mDNS goodbye sent".into()
        } else {
            "mDNS had announced nothing".into()
        }
    }

    fn summary(&self) -> String {
        format!(
            "mDNS answers {}, mDNS announcements {}",
            self.answered, self.announcements
        )
    }

    fn status(&self) -> OutputStatus {
        let state = match &self.zone {
            Some(zone) => format!(
                "announcing {} on {}",
                zone.host,
                plural(self.interfaces.len(), "interface", "interfaces")
            ),
            None => "waiting for the first telegram".into(),
        };
        OutputStatus {
            name: "mdns",
            clients: 0,
            dropped: 0,
            state,
        }
    }
}
