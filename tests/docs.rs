//! The documentation's links lead somewhere: in the source tree, and in
//! /usr/share/doc/p1mux as the .deb installs it (its assets in Cargo.toml
//! keep the tree's layout for exactly this).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every relative link target (`](target)`) in a Markdown text, without
/// its `#anchor`.
fn links(markdown: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = markdown;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = &rest[..end];
        let path = target.split('#').next().unwrap_or("");
        let external = target.contains("://") || target.starts_with("mailto:");
        if !external && !path.is_empty() {
            found.push(path.to_string());
        }
    }
    found
}

/// `base/link` with `..` resolved, as a path relative to the tree's root.
fn resolve(base: &Path, link: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for part in base.join(link).components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The Markdown files in the tree that users read.
fn documents() -> Vec<PathBuf> {
    let mut docs = vec![PathBuf::from("README.md"), PathBuf::from("CHANGELOG.md")];
    for dir in ["docs", "contrib/guides", "contrib/udev"] {
        for entry in std::fs::read_dir(Path::new(ROOT).join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "md") {
                docs.push(path.strip_prefix(ROOT).unwrap().to_path_buf());
            }
        }
    }
    docs
}

#[test]
fn every_link_in_the_tree_leads_to_a_file() {
    for doc in documents() {
        let text = std::fs::read_to_string(Path::new(ROOT).join(&doc)).unwrap();
        for link in links(&text) {
            let target = resolve(doc.parent().unwrap(), &link);
            assert!(
                Path::new(ROOT).join(&target).exists(),
                "{}: the link to {link} leads nowhere",
                doc.display()
            );
        }
    }
}

/// What the .deb puts under /usr/share/doc/p1mux, by the tree's paths,
/// from the `assets` in Cargo.toml (a `*` in a name is a whole-name glob).
fn installed_docs() -> BTreeSet<PathBuf> {
    let manifest = std::fs::read_to_string(Path::new(ROOT).join("Cargo.toml")).unwrap();
    let mut installed = BTreeSet::new();
    for line in manifest.lines() {
        let fields: Vec<&str> = line.trim().trim_start_matches('[').split('"').collect();
        // ["SOURCE", "DEST", "MODE"],
        let (Some(source), Some(dest)) = (fields.get(1), fields.get(3)) else {
            continue;
        };
        let Some(place) = dest.strip_prefix("usr/share/doc/p1mux/") else {
            continue;
        };
        let source = Path::new(source);
        let names: Vec<PathBuf> = match source.file_name().and_then(|n| n.to_str()) {
            Some(pattern) if pattern.starts_with('*') => {
                let ending = &pattern[1..];
                let dir = source.parent().unwrap();
                std::fs::read_dir(Path::new(ROOT).join(dir))
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|name| name.ends_with(ending))
                    .map(|name| dir.join(name))
                    .collect()
            }
            _ => vec![source.to_path_buf()],
        };
        for name in names {
            // Installed where the tree has it: DEST mirrors SOURCE.
            let at = if place.is_empty() || place.ends_with('/') {
                Path::new(place).join(name.file_name().unwrap())
            } else {
                PathBuf::from(place)
            };
            assert_eq!(
                at, name,
                "{name:?} is installed as {at:?}, not where the tree has it"
            );
            installed.insert(name);
        }
    }
    installed
}

#[test]
fn every_link_in_the_installed_docs_leads_to_an_installed_file() {
    let installed = installed_docs();
    assert!(installed.contains(Path::new("README.md")), "{installed:?}");
    for doc in installed
        .iter()
        .filter(|d| d.extension().is_some_and(|e| e == "md"))
    {
        let text = std::fs::read_to_string(Path::new(ROOT).join(doc)).unwrap();
        for link in links(&text) {
            let target = resolve(doc.parent().unwrap(), &link);
            assert!(
                installed.contains(&target),
                "{}: the link to {link} ({}) is not installed by the .deb",
                doc.display(),
                target.display()
            );
        }
    }
}

#[test]
fn the_package_depends_on_what_the_binary_links() {
    let manifest = std::fs::read_to_string(Path::new(ROOT).join("Cargo.toml")).unwrap();
    let depends = manifest
        .lines()
        .find(|l| l.starts_with("depends = "))
        .expect("a depends line for the .deb");
    assert!(depends.contains("libgcc-s1"), "{depends}");
}
