//! `docs/seed-conformance.md` keeps its promise: every row cites at least one test, and every
//! test it cites exists in the tree.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() && !path.ends_with("target") && !path.ends_with("node_modules") {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_row_of_the_conformance_table_cites_a_test_that_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let table = std::fs::read_to_string(root.join("docs/seed-conformance.md")).unwrap();
    let mut files = Vec::new();
    sources(&root.join("crates"), &mut files);
    sources(&root.join("tests"), &mut files);
    let code: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    let mut rows = 0;
    for line in table.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| Seed")) {
        let proved_by = line.trim_end_matches('|').rsplit('|').next().unwrap();
        let cited: Vec<&str> = proved_by
            .split('`')
            .skip(1)
            .step_by(2)
            .filter_map(|c| c.rsplit("::").next())
            .filter(|name| name.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'))
            .collect();
        if proved_by.trim() == "(above)" {
            continue;
        }
        assert!(!cited.is_empty(), "this row cites no test: {line}");
        for name in cited {
            assert!(code.contains(&format!("fn {name}(")), "the row cites {name}, which is no test: {line}");
        }
        rows += 1;
    }
    assert!(rows >= 40, "the table has {rows} rows");
}
