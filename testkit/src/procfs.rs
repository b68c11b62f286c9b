//! What /proc says about a process: CPU time, memory, descriptors, context
//! switches. Figures for benchmarks and soak reports; `None` once the
//! process is gone.

use std::path::PathBuf;

use rustix::time::{ClockId, clock_gettime};

/// The directories of all threads of `pid`.
fn tasks(pid: i32) -> Vec<PathBuf> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| dir.flatten().map(|task| task.path()).collect())
        .unwrap_or_default()
}

/// CPU time (user + system) of the live threads of `pid`, in ns: from
/// schedstat, which counts in ns, else from the tick-based stat (often 10 ms
/// ticks: too coarse for a few telegrams). Threads that have ended no longer
/// count: measure a process whose threads outlive the measurement.
pub fn cpu_ns(pid: i32) -> Option<u64> {
    // A thread that ends between the listing and the read just drops out.
    let per_thread: Vec<u64> = tasks(pid)
        .iter()
        .filter_map(|task| {
            let text = std::fs::read_to_string(task.join("schedstat")).ok()?;
            text.split_whitespace().next()?.parse().ok()
        })
        .collect();
    if per_thread.is_empty() {
        stat_cpu_ns(pid)
    } else {
        Some(per_thread.iter().sum())
    }
}

/// utime + stime from /proc/PID/stat, in ns.
fn stat_cpu_ns(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: count after it.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 1_000_000_000 / rustix::param::clock_ticks_per_second().max(1))
}

/// [`cpu_ns`] in seconds, or fails the test if `pid` is gone.
pub fn cpu_seconds(pid: i32) -> f64 {
    cpu_ns(pid).expect("CPU time of a running process") as f64 / 1e9
}

/// CPU time the calling thread has used, in ns.
pub fn thread_cpu_ns() -> u64 {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// A `Name:   123 kB` figure of /proc/PID/status.
fn status_kib(pid: i32, name: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let value = status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))?;
    value.trim().trim_end_matches("kB").trim().parse().ok()
}

/// Resident memory now, in KiB.
pub fn vm_rss_kib(pid: i32) -> Option<u64> {
    status_kib(pid, "VmRSS")
}

/// Peak resident memory since start, in KiB.
pub fn vm_hwm_kib(pid: i32) -> Option<u64> {
    status_kib(pid, "VmHWM")
}

/// Open descriptors of `pid`.
pub fn fd_count(pid: i32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// Open sockets of `pid`.
pub fn socket_count(pid: i32) -> Option<usize> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(
        fds.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count(),
    )
}

/// Times any thread of `pid` was preempted (involuntary context switches):
/// when it grows during a measurement, something else took the CPU.
pub fn involuntary_switches(pid: i32) -> u64 {
    tasks(pid)
        .iter()
        .filter_map(|task| {
            let status = std::fs::read_to_string(task.join("status")).ok()?;
            let value = status
                .lines()
                .find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:"))?;
            value.trim().parse::<u64>().ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> i32 {
        std::process::id() as i32
    }

    #[test]
    fn cpu_time_counts_a_busy_process() {
        let mut busy = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let pid = busy.id() as i32;
        let deadline = std::time::Instant::now() + crate::PATIENCE;
        let first = cpu_ns(pid).unwrap();
        while cpu_ns(pid).unwrap() < first + 20_000_000 {
            assert!(std::time::Instant::now() < deadline, "the loop got no CPU");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // The tick-based fallback agrees within a few ticks.
        let (ns, ticks) = (cpu_ns(pid).unwrap(), stat_cpu_ns(pid).unwrap());
        assert!(ticks.abs_diff(ns) < 50_000_000, "{ticks} vs {ns}");
        busy.kill().unwrap();
        busy.wait().unwrap();
        let t0 = thread_cpu_ns();
        while thread_cpu_ns() == t0 {}
        assert!(cpu_seconds(me()) > 0.0);
    }

    #[test]
    fn memory_descriptors_and_switches_of_this_process() {
        let rss = vm_rss_kib(me()).unwrap();
        let hwm = vm_hwm_kib(me()).unwrap();
        assert!(rss > 100 && hwm >= rss, "{rss} {hwm}");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(fd_count(me()).unwrap() >= 4, "stdio and the listener");
        assert!(socket_count(me()).unwrap() >= 1);
        drop(listener);
        let _ = involuntary_switches(me()); // any count is right; it must parse
        assert!(!tasks(me()).is_empty());
    }

    #[test]
    fn a_vanished_process_has_no_figures() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        assert_eq!(vm_rss_kib(pid), None);
        assert_eq!(cpu_ns(pid), None);
        assert_eq!(fd_count(pid), None);
        assert_eq!(involuntary_switches(pid), 0);
    }
}
