//! The shape of src/ that the developers' guide asks for, checked so that it
//! stays: no module imports one that imports it back, and no source file
//! grows past 400 lines. Reads the files as text: `crate::` and `super::`
//! paths outside comments, mapped to the file of the longest module prefix.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

const MAX_LINES: usize = 400;

/// Module path ("hub::backlog", "" for lib.rs) -> the file's text.
fn modules() -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    walk(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src").as_path(),
        &mut Vec::new(),
        &mut found,
    );
    found
}

fn walk(dir: &Path, prefix: &mut Vec<String>, found: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            prefix.push(name);
            walk(&path, prefix, found);
            prefix.pop();
        } else if path.extension().is_some_and(|e| e == "rs") {
            let mut module = prefix.clone();
            if !matches!(name.as_str(), "mod" | "lib" | "main") {
                module.push(name);
            }
            found.insert(module.join("::"), fs::read_to_string(&path).unwrap());
        }
    }
}

/// The text without `//` comments (doc comments name other modules freely).
fn code(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            // A "//" inside a string (a URL) is rare in paths' company; keep
            // lines where it follows a quote.
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules `module` names by path, resolved to the longest known prefix.
fn imports(module: &str, text: &str, known: &BTreeMap<String, String>) -> BTreeSet<String> {
    let own: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
    let mut out = BTreeSet::new();
    let text = code(text);
    let mut resolve = |path: Vec<&str>| {
        for len in (1..=path.len()).rev() {
            let target = path[..len].join("::");
            if known.contains_key(&target) {
                // A module's own parent or children are one house.
                let related = target == module
                    || module.starts_with(&format!("{target}::"))
                    || target.starts_with(&format!("{module}::"));
                if !related && !module.is_empty() {
                    out.insert(target);
                }
                return;
            }
        }
    };
    let bytes = text.as_bytes();
    for root in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = text[from..].find(root) {
            let start = from + at;
            from = start + root.len();
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                continue;
            }
            let mut base: Vec<&str> = if root == "crate::" {
                Vec::new()
            } else {
                own[..own.len().saturating_sub(1)].to_vec()
            };
            let rest = &text[from..];
            // `crate::{a, b::c}`: each item of a group is its own path.
            if rest.starts_with('{') {
                let group = &rest[1..rest.find('}').unwrap_or(rest.len())];
                for item in group.split(',') {
                    let first = item.trim().split("::").next().unwrap_or("");
                    let first = first.trim_matches(|c: char| !c.is_alphanumeric() && c != '_');
                    if !first.is_empty() {
                        let mut path = base.clone();
                        path.push(first);
                        resolve(path);
                    }
                }
                continue;
            }
            let path: Vec<&str> = rest
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .filter(|s| !s.is_empty())
                .collect();
            let mut path = path.into_iter().peekable();
            while path.peek() == Some(&"super") {
                base.pop();
                path.next();
            }
            base.extend(path);
            resolve(base);
        }
    }
    out
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let known = modules();
    assert!(known.len() > 40, "found only {} modules", known.len());
    let graph: BTreeMap<&str, BTreeSet<String>> = known
        .iter()
        .map(|(module, text)| (module.as_str(), imports(module, text, &known)))
        .collect();
    // The scan itself works: it sees what the loop is known to import.
    assert!(
        graph["gateway"].contains("source") && graph["gateway"].contains("pipeline"),
        "the scan misses imports: {graph:?}"
    );
    let mut circles = Vec::new();
    for (&module, targets) in &graph {
        for target in targets {
            // Any path back from target to module closes a circle.
            let mut seen = BTreeSet::new();
            let mut todo = vec![target.as_str()];
            while let Some(next) = todo.pop() {
                if next == module {
                    circles.push(format!("{module} -> {target} -> ... -> {module}"));
                    break;
                }
                if seen.insert(next) {
                    todo.extend(graph.get(next).into_iter().flatten().map(String::as_str));
                }
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn no_source_file_is_over_400_lines() {
    let long: Vec<String> = modules()
        .into_iter()
        .map(|(module, text)| (module, text.lines().count()))
        .filter(|&(_, lines)| lines > MAX_LINES)
        .map(|(module, lines)| format!("{module}: {lines} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "split these by topic:\n{}",
        long.join("\n")
    );
}
