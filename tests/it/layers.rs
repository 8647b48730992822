//! The module map in docs/ARCHITECTURE.md is the rule: every `crate::…` path in `src/` (test
//! modules aside) must be one its table allows, and the allowed imports must have no cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// module → the modules it may import, from the table in docs/ARCHITECTURE.md.
fn allowed() -> BTreeMap<String, BTreeSet<String>> {
    let doc =
        std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).expect("architecture doc");
    let mut table = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let [_, module, imports, _, ..] = cells.as_slice() else {
            continue;
        };
        let Some(module) = module.strip_prefix('`').and_then(|m| m.strip_suffix('`')) else {
            continue;
        };
        let imports = imports
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty() && *m != "—")
            .map(str::to_string)
            .collect();
        table.insert(module.to_string(), imports);
    }
    table
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

/// The code of a file without its inline test modules (they may reach anywhere).
fn without_tests(text: &str) -> &str {
    let mut end = text.len();
    let mut from = 0;
    while let Some(at) = text[from..].find("#[cfg(test)]") {
        let at = from + at;
        let rest = text[at + "#[cfg(test)]".len()..].trim_start();
        if rest.starts_with("mod ") && rest.lines().next().is_some_and(|l| l.ends_with('{')) {
            end = at;
            break;
        }
        from = at + 1;
    }
    &text[..end]
}

/// (module, imported module) for every `crate::name` path in `src/`.
fn imports() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let src = root().join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut found: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .to_string();
        let module = rel
            .split('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read");
        let code = without_tests(&text);
        for (at, _) in code.match_indices("crate::") {
            let name: String = code[at + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                found
                    .entry(module.clone())
                    .or_default()
                    .entry(name)
                    .or_default()
                    .insert(rel.clone());
            }
        }
    }
    found
}

#[test]
fn imports_follow_the_module_map() {
    let allowed = allowed();
    assert!(
        allowed.len() >= 10,
        "the table in docs/ARCHITECTURE.md: {allowed:?}"
    );
    let mut wrong = Vec::new();
    for (module, targets) in imports() {
        let Some(may) = allowed.get(&module) else {
            wrong.push(format!("{module} is not in the module map"));
            continue;
        };
        for (target, files) in targets {
            if !may.contains(&target) {
                wrong.push(format!(
                    "{module} → {target} ({})",
                    files.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports the module map does not allow:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_module_map_has_no_cycle() {
    let allowed = allowed();
    // Depth-first search for a back edge.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut cycle = path[at..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for next in graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in allowed.keys() {
        if let Some(cycle) = visit(m, &allowed, &mut Vec::new(), &mut done) {
            panic!("the module map has a cycle: {}", cycle.join(" → "));
        }
    }
}
