//! The servers under test: p1mux (built here) and ser2net (if installed).

use std::path::{Path, PathBuf};
use std::process::Command;

use p1mux_testkit::process::{self, Daemon};
use p1mux_testkit::{PATIENCE, TempDir, host, net};

use crate::{Kind, RowSpec};

/// Builds p1mux in release mode next to this example and returns its path.
pub fn build_p1mux() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("fanout-bench: cargo build --release --bin p1mux");
    let status = Command::new(&cargo)
        .args(["build", "--release", "--bin", "p1mux"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build --release --bin p1mux: {status}"));
    }
    // This example is <target>/<profile>/examples/fanout-bench.
    let exe = std::env::current_exe().map_err(|e| format!("locating the bench: {e}"))?;
    let target = exe.ancestors().nth(3).ok_or("no target directory")?;
    let bin = target.join("release/p1mux");
    match bin.exists() {
        true => Ok(bin),
        false => Err(format!("{} is missing after the build", bin.display())),
    }
}

pub fn find_ser2net() -> Option<PathBuf> {
    process::which("ser2net")
}

/// A server under test, listening on `port`, reading the pty at `device`.
pub struct Server {
    pub daemon: Daemon,
    pub port: u16,
    /// The status page's port, with `--http`.
    pub http_port: Option<u16>,
    /// ser2net's configuration file lives here.
    _dir: Option<TempDir>,
}

impl Server {
    /// Starts it; `more` are p1mux's options for the row's other output
    /// (`--http ...`, `--mqtt ...`).
    pub fn start(spec: &RowSpec, device: &Path, more: &[String]) -> Result<Server, String> {
        let mut cmd = Command::new(spec.bin);
        let (mut port, mut dir) = (0, None);
        match spec.kind {
            Kind::P1mux | Kind::Before => {
                cmd.arg("serve").arg("--device").arg(device);
                cmd.args(["--baud", "115200", "--framing", "8n1", "--no-replay"]);
                cmd.args(["--listen", "127.0.0.1:0", "--max-clients"]);
                cmd.arg(spec.max_clients.to_string()).env_remove("RUST_LOG");
                cmd.args(more);
            }
            Kind::Ser2net => {
                port = net::free_port().map_err(|e| format!("picking a port: {e}"))?;
                let d = TempDir::try_new("ser2net").map_err(|e| format!("temp dir: {e}"))?;
                let mut yaml = format!(
                    "%YAML 1.1\n---\nconnection: &p1\n  accepter: tcp,127.0.0.1,{port}\n  \
                     connector: serialdev,{},115200n81,local\n  options:\n    \
                     max-connections: {}\n    kickolduser: false\n",
                    device.display(),
                    spec.max_clients
                );
                for (k, v) in &spec.opts.ser2net_opt {
                    yaml.push_str(&format!("    {k}: {v}\n"));
                }
                let config = d.path().join("ser2net.yaml");
                std::fs::write(&config, yaml).map_err(|e| format!("writing {config:?}: {e}"))?;
                // -d: foreground, logs to stdout; -u: no UUCP lock files.
                cmd.args(["-d", "-u", "-c"]).arg(&config);
                dir = Some(d);
            }
        }
        // A bench killed mid-run must leave no server holding a pty path.
        process::die_with_parent(&mut cmd);
        let daemon = Daemon::start(cmd).map_err(|e| format!("starting {:?}: {e}", spec.bin))?;
        let mut http_port = None;
        if spec.kind.is_p1mux() {
            // In the order p1mux logs them: raw listener, status page, broker.
            port = daemon.try_port()?;
            if more.iter().any(|a| a == "--http") {
                let line = daemon.try_wait_for("status page: http://", PATIENCE)?;
                let port = line.trim_end_matches('/').rsplit(':').next();
                let port = port.and_then(|p| p.parse().ok());
                http_port = Some(port.ok_or_else(|| format!("no port in {line:?}"))?);
            }
            if more.iter().any(|a| a == "--mqtt") {
                daemon.try_wait_for("mqtt: connected to", PATIENCE)?;
            }
        }
        Ok(Server {
            daemon,
            port,
            http_port,
            _dir: dir,
        })
    }

    pub fn pin(&self, cpu: Option<usize>) {
        if let Some(cpu) = cpu {
            host::pin_process(self.daemon.pid(), cpu);
        }
    }

    /// Why the row cannot go on, if the server has exited.
    pub fn died(&mut self, kind: Kind) -> Option<String> {
        let status = self.daemon.exited()?;
        Some(format!(
            "{} exited ({status}):\n{}",
            kind.name(),
            self.daemon.log_text()
        ))
    }
}
