//! Debian's mosquitto, for tests/mqtt and the fan-out bench's MQTT rows: a
//! broker on a loopback port with a config written to a directory, up once
//! it says it is running, killed when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::fs::TempDir;
use crate::process::Daemon;
use crate::{PATIENCE, net};

/// A mosquitto on 127.0.0.1:`port`.
pub struct Broker {
    pub daemon: Daemon,
    pub port: u16,
    /// Its configuration file.
    pub config: PathBuf,
    program: PathBuf,
    /// What [`Broker::start`] was told to do to the command, for a restart.
    adjust: fn(&mut Command),
    /// The directory of a [`Broker::start_fresh`] broker's config.
    _dir: Option<TempDir>,
}

impl Broker {
    /// Starts `program` as a broker on 127.0.0.1:`port`, its log on stderr,
    /// with `extra` config lines (anonymous clients allowed unless `extra`
    /// says who may connect), the config in `dir`, after `adjust` has had
    /// its say on the command; returns once it is running.
    pub fn start(
        program: &Path,
        dir: &Path,
        port: u16,
        extra: &str,
        adjust: fn(&mut Command),
    ) -> Result<Broker, String> {
        let config = dir.join(format!("mosquitto-{port}.conf"));
        let text = format!(
            "listener {port} 127.0.0.1\nlog_dest stderr\n{}{extra}\n{}",
            // As root, mosquitto would switch to its own user, which cannot
            // read the test's files.
            if rustix::process::geteuid().is_root() {
                "user root\n"
            } else {
                ""
            },
            if extra.contains("allow_anonymous") || extra.contains("password_file") {
                ""
            } else {
                "allow_anonymous true\n"
            }
        );
        std::fs::write(&config, text).map_err(|e| format!("writing {}: {e}", config.display()))?;
        let daemon = launch(program, &config, adjust)?;
        Ok(Broker {
            daemon,
            port,
            config,
            program: program.to_path_buf(),
            adjust,
            _dir: None,
        })
    }

    /// [`Broker::start`] with no extra config, on a port that was free, the
    /// config in a temporary directory of its own.
    pub fn start_fresh(program: &Path, adjust: fn(&mut Command)) -> Result<Broker, String> {
        let port = net::free_port().map_err(|e| format!("picking a port: {e}"))?;
        let dir = TempDir::try_new("mosquitto").map_err(|e| format!("temp dir: {e}"))?;
        let mut broker = Broker::start(program, dir.path(), port, "", adjust)?;
        broker._dir = Some(dir);
        Ok(broker)
    }

    /// Kills it (SIGKILL: no goodbye to anyone) and waits until it is gone.
    pub fn kill(&mut self) {
        self.daemon.kill();
    }

    /// Starts it again with the same config, on the same port.
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        self.daemon = launch(&self.program, &self.config, self.adjust)?;
        Ok(())
    }
}

/// `program -c config`, once it says it is running.
fn launch(program: &Path, config: &Path, adjust: fn(&mut Command)) -> Result<Daemon, String> {
    let mut cmd = Command::new(program);
    cmd.arg("-c").arg(config);
    adjust(&mut cmd);
    let daemon = Daemon::start(cmd).map_err(|e| format!("starting mosquitto: {e}"))?;
    daemon
        .try_wait_for(" running", PATIENCE)
        .map_err(|e| format!("mosquitto: {e}"))?;
    Ok(daemon)
}
