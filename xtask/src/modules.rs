//! The module graph of the workspace's crates, read from the source text: which module of a
//! crate names which other module of the same crate (`crate::a::b`, `crate::{a, b}`,
//! `super::x`, a parent's `child::Item`, and items re-exported by `lib.rs`). A test keeps the
//! graph free of cycles, so that every crate reads from the bottom up.
//!
//! It reads text, not syntax: `//` comments and everything from the first `#[cfg(test)]` of a
//! file on are left out (tests may use anything).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Module path (`config::read`; the crate root is `""`) → the modules it names.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// The module path of a source file under `src`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("lib" | "mod")) {
        parts.pop();
    }
    Some(parts.join("::"))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "bin") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "main.rs")
        {
            out.push(path);
        }
    }
}

/// The text without `//` comments and without anything from the first `#[cfg(test)]` on.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The paths after every `prefix` in `code`: `prefix a::b::C` gives `[a, b, C]`; a group
/// `prefix {a::X, b}` gives one path per member.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        let mut members = Vec::new();
        let mut path = Vec::new();
        let mut rest = rest;
        loop {
            if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for member in group.split(',') {
                    let mut p = path.clone();
                    p.extend(
                        member
                            .trim()
                            .split("::")
                            .map(|s| ident(s.trim()).to_string())
                            .filter(|s| !s.is_empty()),
                    );
                    members.push(p);
                }
                break;
            }
            let name = ident(rest);
            if name.is_empty() {
                members.push(path);
                break;
            }
            path.push(name.to_string());
            match rest[name.len()..].strip_prefix("::") {
                Some(next) => rest = next,
                None => {
                    members.push(path);
                    break;
                }
            }
        }
        out.extend(members.into_iter().filter(|p| !p.is_empty()));
    }
    out
}

/// The longest prefix of `base` + `path` that is a module.
fn resolve(modules: &BTreeSet<String>, base: &[String], path: &[String]) -> Option<String> {
    (1..=path.len()).rev().find_map(|n| {
        let mut full = base.to_vec();
        full.extend_from_slice(&path[..n]);
        let name = full.join("::");
        modules.contains(&name).then_some(name)
    })
}

/// The module graph of the crate whose sources are in `src`.
pub fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let texts: BTreeMap<String, String> = files
        .iter()
        .filter_map(|f| Some((module_of(src, f)?, code_of(&fs::read_to_string(f).ok()?))))
        .collect();
    let modules: BTreeSet<String> = texts.keys().cloned().collect();
    // Items the crate root re-exports, by the module they come from.
    let mut reexported: BTreeMap<String, String> = BTreeMap::new();
    if let Some(root) = texts.get("") {
        for path in paths_after(root, "pub use ") {
            if let (Some(first), Some(last)) = (path.first(), path.last()) {
                if modules.contains(first) {
                    reexported.insert(last.clone(), first.clone());
                }
            }
        }
    }
    let mut graph = Graph::new();
    for (module, code) in texts.iter().filter(|(m, _)| !m.is_empty()) {
        let segments: Vec<String> = module.split("::").map(str::to_string).collect();
        let parent = &segments[..segments.len() - 1];
        let mut named = BTreeSet::new();
        for path in paths_after(code, "crate::") {
            let found = resolve(&modules, &[], &path).or_else(|| reexported.get(&path[0]).cloned());
            named.extend(found);
        }
        for path in paths_after(code, "super::") {
            named.insert(resolve(&modules, parent, &path).unwrap_or_else(|| parent.join("::")));
        }
        // A parent naming its children (`pub use child::Item`, `child::f()`).
        for (at, _) in code.match_indices("::") {
            let start = code[..at]
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            let name = &code[start..at];
            if name.is_empty() || code[..start].ends_with("::") {
                continue;
            }
            let child = format!("{module}::{name}");
            if modules.contains(&child) {
                named.insert(child);
            }
        }
        named.remove(module);
        named.remove("");
        graph.insert(module.clone(), named);
    }
    graph
}

/// Every cycle of `graph`, each as `a -> b -> a`, sorted.
pub fn cycles(graph: &Graph) -> Vec<String> {
    fn walk(
        graph: &Graph,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        out: &mut BTreeSet<String>,
    ) {
        let here = stack.last().cloned().unwrap_or_default();
        for next in graph.get(&here).into_iter().flatten() {
            if let Some(i) = stack.iter().position(|m| m == next) {
                let mut cycle = stack[i..].to_vec();
                cycle.push(next.clone());
                out.insert(cycle.join(" -> "));
            } else if !done.contains(next) {
                stack.push(next.clone());
                walk(graph, stack, done, out);
                stack.pop();
            }
        }
        done.insert(here);
    }
    let mut out = BTreeSet::new();
    for start in graph.keys() {
        let mut done = BTreeSet::new();
        walk(graph, &mut vec![start.clone()], &mut done, &mut out);
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace root")
            .to_path_buf()
    }

    #[test]
    fn no_crate_of_the_workspace_has_a_module_cycle() {
        let crates = workspace().join("crates");
        let mut found = Vec::new();
        let mut read = 0;
        for entry in fs::read_dir(&crates).expect("crates/").flatten() {
            let src = entry.path().join("src");
            if src.is_dir() {
                read += 1;
                let name = entry.file_name().to_string_lossy().into_owned();
                found.extend(
                    cycles(&graph(&src))
                        .into_iter()
                        .map(|c| format!("{name}: {c}")),
                );
            }
        }
        assert!(read >= 8, "read only {read} crates");
        assert!(found.is_empty(), "module cycles:\n{}", found.join("\n"));
    }

    #[test]
    fn paths_are_read_with_groups_and_nesting() {
        assert_eq!(
            paths_after(
                "use crate::{a::X, b};\nlet x = crate::c::d::f();",
                "crate::"
            ),
            [
                vec!["a".to_string(), "X".to_string()],
                vec!["b".to_string()],
                vec!["c".to_string(), "d".to_string(), "f".to_string()]
            ]
        );
        assert_eq!(
            paths_after("use super::base::{Experiment, Trained};", "super::"),
            [
                vec!["base".to_string(), "Experiment".to_string()],
                vec!["base".to_string(), "Trained".to_string()]
            ]
        );
        assert_eq!(
            code_of("a // crate::x\nb\n#[cfg(test)]\nmod t { crate::y }"),
            "a \nb"
        );
    }

    #[test]
    fn a_cycle_is_found_and_a_tree_is_not() {
        let dir = std::env::temp_dir().join(format!("xtask-modules-{}", std::process::id()));
        let src = dir.join("src");
        fs::create_dir_all(src.join("config")).expect("dirs");
        let write = |name: &str, text: &str| fs::write(src.join(name), text).expect("write");
        write(
            "lib.rs",
            "pub mod config;\npub mod error;\npub use error::RunError;\n",
        );
        write(
            "config/mod.rs",
            "mod read;\npub use read::Loaded;\nuse crate::RunError;\n",
        );
        write("config/read.rs", "use super::Config;\n");
        write("error.rs", "pub struct RunError;\n");
        let g = graph(&src);
        assert_eq!(
            g["config"],
            BTreeSet::from(["config::read".into(), "error".into()])
        );
        assert_eq!(
            cycles(&g),
            [
                "config -> config::read -> config",
                "config::read -> config -> config::read"
            ]
        );
        // The child no longer names its parent: no cycle.
        write("config/read.rs", "use crate::error::RunError;\n");
        assert!(cycles(&graph(&src)).is_empty());
        // A cycle through a re-export of the root.
        write("error.rs", "use crate::config::Loaded;\n");
        write("config/read.rs", "use crate::RunError;\n");
        assert!(!cycles(&graph(&src)).is_empty());
        fs::remove_dir_all(&dir).expect("cleanup");
    }
}
