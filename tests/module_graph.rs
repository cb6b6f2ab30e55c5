//! The library's modules import one another without a circle: read from the `use crate::…`,
//! `use super::…` and inline `crate::…`/`super::…` paths of `src/**/*.rs`, with an item
//! re-exported by a `pub use` counted as an import of the module that defines it. The CLI
//! under `src/bin/zkinfer/` is a crate of its own, checked the same way. A circle means two
//! modules cannot be read, tested or changed apart; shared types belong in a leaf module
//! both import.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module path (`["graph", "ops", "linear"]`; empty for the crate root).
type Module = Vec<String>;

/// The library's modules and their files' code (comments, test modules and visibility
/// paths such as `pub(in crate::circuit)` left out: they import nothing).
fn modules(src: &Path) -> BTreeMap<Module, String> {
    fn walk(dir: &Path, src: &Path, out: &mut BTreeMap<Module, String>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                if path != src.join("bin") {
                    walk(&path, src, out);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path
                .strip_prefix(src)
                .expect("under src")
                .with_extension("");
            let mut module: Module = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).expect("read file");
            out.insert(module, code(&text));
        }
    }
    let mut out = BTreeMap::new();
    walk(src, src, &mut out);
    out
}

/// The code of a file: up to its test module, without comments and visibility paths.
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let line = match line.find("//") {
            Some(i) if line[..i].matches('"').count() % 2 == 0 => &line[..i],
            _ => line,
        };
        let mut line = line.to_string();
        while let Some(i) = line.find("pub(in ") {
            let end = line[i..].find(')').map_or(line.len(), |e| i + e + 1);
            line.replace_range(i..end, "pub");
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The paths a `use` tree names (`a::{b, c::{d as e}}` → `a::b`, `a::c::d`).
fn use_paths(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let prefix = &tree[..open];
        let inner = tree[open + 1..]
            .strip_suffix('}')
            .unwrap_or(&tree[open + 1..]);
        let (mut items, mut depth, mut current) = (Vec::new(), 0, String::new());
        for ch in inner.chars() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if ch == ',' && depth == 0 {
                items.push(std::mem::take(&mut current));
            } else {
                current.push(ch);
            }
        }
        items.push(current);
        return items
            .iter()
            .filter(|i| !i.trim().is_empty())
            .flat_map(|i| use_paths(&format!("{prefix}{}", i.trim())))
            .collect();
    }
    vec![tree.split(" as ").next().unwrap_or(tree).trim().to_string()]
}

/// Every `use` statement's trees in `code`, with whether it is a re-export (`pub … use`).
fn uses(code: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let before = &rest[..i];
        let word_start = before
            .chars()
            .last()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let after = &rest[i + 4..];
        let Some(end) = after.find(';') else { break };
        if word_start {
            let line_start = before.rfind('\n').map_or(0, |n| n + 1);
            let public = before[line_start..].trim_start().starts_with("pub");
            out.push((public, after[..end].to_string()));
            rest = &after[end..];
        } else {
            rest = after;
        }
    }
    out
}

/// The inline `crate::…` and `super::…` paths of `code`.
fn inline_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            let boundary = code[..at]
                .chars()
                .last()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$'));
            let len = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(code.len() - at);
            if boundary {
                out.push(code[at..at + len].trim_end_matches(':').to_string());
            }
            from = at + len.max(1);
        }
    }
    out
}

struct Graph {
    modules: BTreeMap<Module, String>,
    /// Per module, what its `pub use`s re-export: name → the path it names.
    reexports: BTreeMap<Module, BTreeMap<String, String>>,
}

impl Graph {
    fn new(modules: BTreeMap<Module, String>) -> Self {
        let mut reexports = BTreeMap::new();
        for (module, code) in &modules {
            let entry: &mut BTreeMap<String, String> = reexports.entry(module.clone()).or_default();
            for (public, tree) in uses(code) {
                if !public {
                    continue;
                }
                let full: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
                for path in use_paths(&full) {
                    let name = path.rsplit("::").next().unwrap_or(&path).to_string();
                    entry.insert(name, path);
                }
                // `x as y` re-exports under `y`.
                for part in full.split(',') {
                    if let Some((path, alias)) = part.split_once(" as ") {
                        let path = path.trim().trim_start_matches('{');
                        let alias = alias.trim().trim_end_matches('}').trim().to_string();
                        let prefix = full.split('{').next().unwrap_or("");
                        let path = if path.contains("::") || prefix.is_empty() {
                            path.to_string()
                        } else {
                            format!("{prefix}{path}")
                        };
                        entry.insert(alias, path);
                    }
                }
            }
        }
        Self { modules, reexports }
    }

    /// The module that defines what `path`, written in `from`, names (following re-exports),
    /// if it is a module of the crate.
    fn target(&self, from: &Module, path: &str, depth: usize) -> Option<Module> {
        let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        let (mut module, mut i): (Module, usize) = match segments.first().copied() {
            Some("crate") => (Vec::new(), 1),
            Some("super" | "self") => {
                let mut m = from.clone();
                let mut i = 0;
                while let Some(&s) = segments.get(i) {
                    match s {
                        "super" => {
                            m.pop();
                        }
                        "self" => {}
                        _ => break,
                    }
                    i += 1;
                }
                (m, i)
            }
            Some(first) => {
                let mut child = from.clone();
                child.push(first.to_string());
                if !self.modules.contains_key(&child) {
                    return None;
                }
                (from.clone(), 0)
            }
            None => return None,
        };
        while let Some(&s) = segments.get(i) {
            let mut child = module.clone();
            child.push(s.to_string());
            if !self.modules.contains_key(&child) {
                break;
            }
            module = child;
            i += 1;
        }
        if depth < 16 {
            if let Some(item) = segments.get(i) {
                if let Some(source) = self.reexports.get(&module).and_then(|r| r.get(*item)) {
                    if let Some(t) = self.target(&module, source, depth + 1) {
                        return Some(t);
                    }
                }
            }
        }
        self.modules.contains_key(&module).then_some(module)
    }

    fn edges(&self) -> BTreeMap<Module, BTreeSet<Module>> {
        let mut edges = BTreeMap::new();
        for (module, code) in &self.modules {
            let mut paths: Vec<String> = uses(code)
                .iter()
                .flat_map(|(_, tree)| use_paths(tree))
                .collect();
            paths.extend(inline_paths(code));
            let out: &mut BTreeSet<Module> = edges.entry(module.clone()).or_default();
            for path in paths {
                if let Some(t) = self.target(module, &path, 0) {
                    if &t != module {
                        out.insert(t);
                    }
                }
            }
        }
        edges
    }
}

/// The strongly connected components of more than one module (Tarjan).
fn circles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        out: Vec<Vec<Module>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// The import circles among the modules of the crate whose sources are under `src`, as
/// arrows (`a -> b, b -> a`), one line per circle.
fn circles_under(src: &Path) -> Vec<String> {
    let graph = Graph::new(modules(src));
    let edges = graph.edges();
    circles(&edges)
        .iter()
        .map(|c| {
            let members: BTreeSet<&Module> = c.iter().collect();
            let arrows: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    edges[a]
                        .iter()
                        .filter(|b| members.contains(b))
                        .map(move |b| format!("{} -> {}", name(a), name(b)))
                })
                .collect();
            arrows.join(", ")
        })
        .collect()
}

#[test]
fn module_imports_have_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = circles_under(&src);
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn the_clis_modules_import_each_other_without_a_circle() {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin/zkinfer");
    let graph = Graph::new(modules(&cli));
    // The commands' modules are read, not skipped.
    for module in ["common", "parts", "proofs", "shared"] {
        assert!(
            graph.modules.contains_key(&vec![module.to_string()]),
            "{module}"
        );
    }
    let found = circles_under(&cli);
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn the_parser_finds_a_known_import_and_a_planted_circle() {
    let mut modules = BTreeMap::new();
    modules.insert(Vec::new(), code("pub mod a;\npub mod b;\n"));
    modules.insert(vec!["a".into()], code("use crate::b::{x, y as z};\n"));
    modules.insert(vec!["b".into()], code("pub use inner::x;\nmod inner;\n"));
    modules.insert(
        vec!["b".into(), "inner".into()],
        code("// use crate::a; (a comment)\nfn f() { super::super::a::g() }\n"),
    );
    let edges = Graph::new(modules).edges();
    let a: Module = vec!["a".into()];
    let inner: Module = vec!["b".into(), "inner".into()];
    assert!(edges[&a].contains(&inner), "a re-export names its source");
    let found = circles(&edges);
    assert_eq!(found.len(), 1, "{found:?}");
}
