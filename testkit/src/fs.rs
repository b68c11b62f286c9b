//! Files and descriptors: temporary directories, device symlinks, access.

use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use rustix::io::{FdFlags, fcntl_getfd, fcntl_setfd};

/// A private temporary directory (unique name, mode 0700), removed on drop.
pub struct TempDir(
    /// Its path, for joining names onto.
    pub PathBuf,
    /// Removes it when dropped.
    tempfile::TempDir,
);

impl TempDir {
    /// A new directory whose name starts `p1mux-test-TAG-`, or fails the test.
    pub fn new(tag: &str) -> TempDir {
        TempDir::try_new(tag).expect("creating a temporary directory")
    }

    pub fn try_new(tag: &str) -> io::Result<TempDir> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("p1mux-test-{tag}-"))
            .tempdir()?;
        Ok(TempDir(dir.path().to_path_buf(), dir))
    }

    pub fn path(&self) -> &Path {
        self.1.path()
    }
}

/// Rewrites a path as a symlink to `target`, atomically (as udev does).
pub fn point_symlink(link: &Path, target: &Path) {
    let tmp = link.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
}

/// Makes `path` unopenable for a spawned p1mux: as root (who opens
/// anything) by running p1mux as nobody, otherwise by removing all modes.
/// Pass the result as the `adjust` of [`crate::Daemon::spawn`].
pub fn deny_access(path: &Path) -> impl FnOnce(&mut Command) + use<> {
    let is_root = rustix::process::geteuid().is_root();
    if !is_root {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    move |cmd: &mut Command| {
        if is_root {
            use std::os::unix::process::CommandExt;
            cmd.uid(65534).gid(65534);
        }
    }
}

/// Keeps `fd` from being inherited by processes spawned from now on.
pub fn set_cloexec(fd: impl AsFd) {
    let flags = fcntl_getfd(&fd).expect("F_GETFD");
    fcntl_setfd(&fd, flags | FdFlags::CLOEXEC).expect("F_SETFD");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_dir_is_private_and_removed_on_drop() {
        let dir = TempDir::new("unit");
        let path = dir.0.clone();
        assert!(
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("p1mux-test-unit-")
        );
        std::fs::write(dir.0.join("f"), b"x").unwrap();
        assert_ne!(TempDir::new("unit").0, path, "each one is new");
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn point_symlink_replaces_the_link() {
        let dir = TempDir::new("link");
        let link = dir.path().join("p1");
        point_symlink(&link, Path::new("/dev/null"));
        point_symlink(&link, Path::new("/dev/zero"));
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/dev/zero"));
    }

    #[test]
    fn set_cloexec_sets_the_flag() {
        let file = std::fs::File::open("/dev/null").unwrap(); // std opens with O_CLOEXEC
        fcntl_setfd(&file, FdFlags::empty()).unwrap();
        set_cloexec(&file);
        assert!(fcntl_getfd(&file).unwrap().contains(FdFlags::CLOEXEC));
    }
}
