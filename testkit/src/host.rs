//! The machine a benchmark runs on: descriptor limits, CPU pinning, and a
//! one-line description for its report.

use rustix::process::{Pid, Resource, Rlimit, getrlimit, setrlimit};
use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};

/// Raises RLIMIT_NOFILE to `want` where the hard limit (or root) allows:
/// 1000 clients need 1000 descriptors in the bench and 1000 in the server,
/// which inherits the limit. Returns the soft limit now in force.
pub fn raise_fd_limit(want: u64) -> u64 {
    let now = getrlimit(Resource::Nofile);
    let current = now.current.unwrap_or(u64::MAX);
    if current >= want {
        return current;
    }
    let both = Rlimit {
        current: Some(want),
        maximum: Some(want),
    };
    // Root may raise the hard limit too; anyone may go up to it.
    if now.maximum.is_some_and(|max| max < want) && setrlimit(Resource::Nofile, both).is_ok() {
        return want;
    }
    let capped = Rlimit {
        current: Some(now.maximum.map_or(want, |max| max.min(want))),
        maximum: now.maximum,
    };
    let _ = setrlimit(Resource::Nofile, capped);
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// The server gets one CPU to itself and the bench (meter writer, client
/// loop) the others, so that the bench's wake-ups do not preempt the server
/// in the middle of a fan-out.
#[derive(Debug)]
pub struct Pinning {
    /// The CPU for the measured server.
    pub server: usize,
    /// The CPUs the calling process keeps.
    pub bench: Vec<usize>,
}

impl Pinning {
    /// Confines the calling thread, and the threads it starts from now on,
    /// to all allowed CPUs but the first, which it leaves for the server.
    /// None on a 1-CPU machine, or if affinity cannot be set.
    pub fn split() -> Option<Pinning> {
        let allowed = sched_getaffinity(None).ok()?;
        let cpus: Vec<usize> = (0..CpuSet::MAX_CPU)
            .filter(|&c| allowed.is_set(c))
            .collect();
        let (&server, bench) = cpus.split_first()?;
        if bench.is_empty() {
            return None;
        }
        let mut mine = CpuSet::new();
        for &c in bench {
            mine.set(c);
        }
        sched_setaffinity(None, &mine).ok()?;
        Some(Pinning {
            server,
            bench: bench.to_vec(),
        })
    }
}

/// Pins every thread `pid` has now to `cpu` (threads it starts later
/// inherit the pinning of the one that starts them).
pub fn pin_process(pid: i32, cpu: usize) {
    let mut set = CpuSet::new();
    set.set(cpu);
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return;
    };
    for task in tasks.flatten() {
        let tid = task.file_name().to_str().and_then(|t| t.parse().ok());
        if let Some(tid) = tid.and_then(Pid::from_raw) {
            let _ = sched_setaffinity(Some(tid), &set);
        }
    }
}

/// "CPU model, N cores, Linux VERSION, OS NAME", for a benchmark's header.
/// Call it before [`Pinning::split`]: it counts the CPUs this process may use.
pub fn describe() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            matches!(k.trim(), "model name" | "Model" | "Hardware").then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_default();
    format!("{model}, {cores} cores, Linux {}, {os}", kernel.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fd_limit_never_goes_down() {
        let before = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
        assert!(raise_fd_limit(16) >= before.min(16));
        assert_eq!(
            getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX),
            before
        );
    }

    #[test]
    fn split_leaves_the_server_cpu_to_the_server() {
        // In a thread of its own: the pinning stays with that thread.
        let (pinning, mine) = std::thread::spawn(|| (Pinning::split(), sched_getaffinity(None)))
            .join()
            .unwrap();
        let allowed = sched_getaffinity(None).unwrap().count();
        match pinning {
            None => assert_eq!(allowed, 1, "only a 1-CPU machine cannot split"),
            Some(p) => {
                let mine = mine.unwrap();
                assert!(!mine.is_set(p.server));
                assert_eq!(mine.count() as usize, p.bench.len());
                assert_eq!(p.bench.len() + 1, allowed as usize);
            }
        }
    }

    #[test]
    fn pinning_a_process_confines_its_threads() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let first = (0..CpuSet::MAX_CPU)
            .find(|&c| sched_getaffinity(None).unwrap().is_set(c))
            .unwrap();
        pin_process(pid, first);
        let set = sched_getaffinity(Pid::from_raw(pid)).unwrap();
        assert_eq!(set.count(), 1);
        assert!(set.is_set(first));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(describe().contains("Linux"));
    }
}
