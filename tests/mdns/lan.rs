//! A network of the test's own: two network namespaces, A (p1mux, and
//! avahi-daemon when asked) and B (the browsers), joined by a veth pair
//! with multicast. Needs root; removed when dropped.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::{Daemon, TempDir};

/// A's address, and the one a test adds later.
pub const A_V4: &str = "10.77.0.1";
pub const SECOND_V4: &str = "10.77.0.11";
const B_V4: &str = "10.77.0.2";

pub struct Lan {
    pub a: String,
    pub b: String,
    pub a_v4: &'static str,
    dir: TempDir,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    match out.status.success() {
        true => Ok(()),
        false => Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

impl Lan {
    pub fn new() -> Result<Lan, String> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let id = std::process::id();
        let (a, b) = (format!("p1mux-{id}-{n}a"), format!("p1mux-{id}-{n}b"));
        ip(&["netns", "add", &a])?;
        let lan = Lan {
            a: a.clone(),
            b: b.clone(),
            a_v4: A_V4,
            dir: TempDir::new("lan"),
        };
        ip(&["netns", "add", &b])?;
        for (ns, addr, dev) in [(&a, A_V4, "veth-a"), (&b, B_V4, "veth-b")] {
            // No duplicate address detection: link-local IPv6 addresses
            // are usable at once, as on a network that has been up a while.
            let sysctl = "net.ipv6.conf.default.accept_dad=0";
            ip(&["netns", "exec", ns, "sysctl", "-qw", sysctl])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            if dev == "veth-a" {
                ip(&[
                    "link", "add", "veth-a", "netns", &a, "type", "veth", "peer", "name", "veth-b",
                    "netns", &b,
                ])?;
            }
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev])?;
        }
        for (ns, dev) in [(&a, "veth-a"), (&b, "veth-b")] {
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        // Browsers listen on the addresses there are when they start:
        // wait for both link-local IPv6 addresses.
        for (ns, dev) in [(&a, "veth-a"), (&b, "veth-b")] {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            loop {
                let out = Command::new("ip")
                    .args(["-n", ns, "-6", "addr", "show", "dev", dev])
                    .output()
                    .map_err(|e| e.to_string())?;
                let text = String::from_utf8_lossy(&out.stdout);
                if text.contains("fe80:") && !text.contains("tentative") {
                    break;
                }
                if std::time::Instant::now() > deadline {
                    return Err(format!("no link-local IPv6 address on {dev}: {text}"));
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        Ok(lan)
    }

    fn spawn_in(ns: &str, program: &str, args: &[&str]) -> Daemon {
        let mut all = vec!["netns", "exec", ns, program];
        all.extend_from_slice(args);
        // `ip netns exec` execs the program: the pid is the program's.
        Daemon::spawn(Path::new("ip"), &all, |_| {})
    }

    pub fn spawn_a(&self, program: &str, args: &[&str]) -> Daemon {
        Lan::spawn_in(&self.a, program, args)
    }

    pub fn spawn_b(&self, program: &str, args: &[&str]) -> Daemon {
        Lan::spawn_in(&self.b, program, args)
    }

    /// Runs `program ARGS` in B to the end; its standard output.
    pub fn run_b(&self, program: &str, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.b, program])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    pub fn add_address_a(&self, addr: &str) {
        ip(&[
            "-n",
            &self.a,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            "veth-a",
        ])
        .unwrap();
    }

    /// avahi-daemon in A, in the foreground, with a private /run (its pid
    /// file) so that one on the host does not stop it, and without D-Bus.
    pub fn start_avahi(&self, avahi: &Path) -> Daemon {
        let conf = self.dir.0.join("avahi-daemon.conf");
        std::fs::write(
            &conf,
            "[server]\nuse-ipv4=yes\nuse-ipv6=yes\nenable-dbus=no\n\
             [wide-area]\nenable-wide-area=no\n[publish]\npublish-workstation=yes\n",
        )
        .unwrap();
        let script = format!(
            "mount -t tmpfs tmpfs /run && exec {} -f {} --no-drop-root --no-chroot --no-rlimits",
            avahi.display(),
            conf.display()
        );
        Lan::spawn_in(&self.a, "unshare", &["-m", "sh", "-c", &script])
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // The veth pair goes with its namespaces.
        let _ = ip(&["netns", "del", &self.a]);
        let _ = ip(&["netns", "del", &self.b]);
    }
}
