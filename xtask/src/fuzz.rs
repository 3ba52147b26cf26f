//! `cargo xtask fuzz [SECONDS]`: runs every cargo-fuzz target in `fuzz/` for SECONDS each (60
//! unless given) from a corpus seeded with the tests' own documents, and prints executions and
//! findings per target. Fails when any target crashes, hangs or blows up its memory; libFuzzer
//! leaves the input that did it under `target/fuzz/artifacts/<target>/`, to become a test.
//!
//! It runs on the stable toolchain with `--sanitizer none`: the product forbids `unsafe` code,
//! so what a fuzzer can find in it is a panic, a hang or runaway memory, and libFuzzer's own
//! limits catch all three. Where a nightly toolchain exists, `cargo +nightly fuzz run <target>`
//! adds AddressSanitizer (for the C inside SQLite and ring).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Result, install_cargo_tool, run, workspace_root};

/// Named first inputs of a target's corpus.
type Seeds = Vec<(String, Vec<u8>)>;

/// One fuzz target, the longest input it is given, and where its first inputs come from.
struct Target {
    name: &'static str,
    max_len: usize,
    seeds: fn() -> Result<Seeds>,
}

const TARGETS: [Target; 6] = [
    Target { name: "report", max_len: 256 * 1024, seeds: report_seeds },
    Target { name: "event", max_len: 4 * 1024, seeds: event_seeds },
    Target { name: "config", max_len: 64 * 1024, seeds: config_seeds },
    Target { name: "render", max_len: 256 * 1024, seeds: report_seeds },
    Target { name: "desk", max_len: 8 * 1024, seeds: desk_seeds },
    Target { name: "webhook", max_len: 16 * 1024, seeds: webhook_seeds },
];

/// What one target's run showed, read from libFuzzer's final statistics.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    executions: u64,
    peak_rss_mb: u64,
    corpus: u64,
    finding: Option<String>,
}

pub fn fuzz(args: &[String]) -> Result {
    let seconds: u64 = match args {
        [] => 60,
        [s] => s.parse().map_err(|_| format!("'{s}' is not a number of seconds; usage: cargo xtask fuzz [SECONDS]"))?,
        _ => return Err("usage: cargo xtask fuzz [SECONDS]".to_owned()),
    };
    install_cargo_tool("cargo-fuzz", "runs the fuzz targets with libFuzzer")?;
    let root = workspace_root();
    let build_dir = root.join("target/fuzz/build");
    let build_dir = build_dir.to_string_lossy();
    let common = ["--fuzz-dir", "fuzz", "--sanitizer", "none", "--target-dir", &build_dir];
    run("cargo", &[&["fuzz", "build"][..], &common].concat())?;
    let mut results = Vec::new();
    for target in &TARGETS {
        let corpus = seed_corpus(&root, target)?;
        println!("xtask: fuzzing {} for {seconds} s", target.name);
        results.push((target.name, run_target(&root, target, &common, &corpus, seconds)?));
    }
    print_table(&results, seconds);
    let found: Vec<String> =
        results.iter().filter_map(|(name, o)| o.finding.as_ref().map(|f| format!("{name}: {f}"))).collect();
    if found.is_empty() { Ok(()) } else { Err(format!("the fuzzers found problems:\n  {}", found.join("\n  "))) }
}

/// The target's corpus folder, with the seeds written into it (what earlier runs found stays).
fn seed_corpus(root: &Path, target: &Target) -> Result<PathBuf> {
    let dir = root.join("target/fuzz/corpus").join(target.name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (name, bytes) in (target.seeds)()? {
        let path = dir.join(format!("seed-{name}"));
        std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(dir)
}

fn run_target(root: &Path, target: &Target, common: &[&str], corpus: &Path, seconds: u64) -> Result<Outcome> {
    let artifacts = root.join("target/fuzz/artifacts").join(target.name);
    std::fs::create_dir_all(&artifacts).map_err(|e| format!("cannot create {}: {e}", artifacts.display()))?;
    let log_path = root.join("target/fuzz").join(format!("{}.log", target.name));
    let mut child = Command::new("cargo")
        .args(["fuzz", "run", target.name])
        .args(common)
        .arg("--")
        .arg(corpus)
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-max_len={}", target.max_len))
        // A hang is an input that takes longer than this; a blow-up one that needs more memory.
        .args(["-timeout=10", "-rss_limit_mb=2048", "-malloc_limit_mb=1024", "-print_final_stats=1"])
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .current_dir(root)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start cargo fuzz: {e}"))?;
    let stderr = child.stderr.take().ok_or("cargo fuzz has no stderr")?;
    let mut log = std::fs::File::create(&log_path).map_err(|e| format!("cannot write {}: {e}", log_path.display()))?;
    let mut lines = Vec::new();
    for line in BufReader::new(stderr).lines().map_while(std::result::Result::ok) {
        let _ = writeln!(log, "{line}");
        lines.push(line);
    }
    let status = child.wait().map_err(|e| format!("waiting for cargo fuzz: {e}"))?;
    let mut outcome = read_outcome(&lines);
    if !status.success() && outcome.finding.is_none() {
        outcome.finding = Some(format!("cargo fuzz failed ({status}); see {}", log_path.display()));
    }
    Ok(outcome)
}

/// Reads libFuzzer's closing statistics and, when it stopped on a finding, what and where.
fn read_outcome(lines: &[String]) -> Outcome {
    let stat = |key: &str| {
        lines.iter().rev().find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().parse::<u64>().ok())).unwrap_or(0)
    };
    let corpus = lines
        .iter()
        .rev()
        .find_map(|l| l.split(" corp: ").nth(1).and_then(|c| c.split('/').next()).and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    let kind = lines.iter().find_map(|l| {
        let l = l.trim_start_matches('=').trim_start_matches(|c: char| c.is_ascii_digit()).trim_start_matches('=');
        l.strip_prefix(" ERROR: libFuzzer: ").or_else(|| l.strip_prefix("ERROR: libFuzzer: ")).map(str::to_owned)
    });
    let panic = lines.iter().find(|l| l.starts_with("thread '") && l.contains("panicked")).cloned();
    let artifact = lines.iter().find_map(|l| l.split("Test unit written to ").nth(1).map(str::to_owned));
    let finding = match (kind, artifact) {
        (None, None) => None,
        (kind, artifact) => Some(format!(
            "{}{}; input kept at {}",
            kind.unwrap_or_else(|| "a finding".to_owned()),
            panic.map(|p| format!(" ({p})")).unwrap_or_default(),
            artifact.unwrap_or_else(|| "(not written)".to_owned())
        )),
    };
    Outcome {
        executions: stat("stat::number_of_executed_units:"),
        peak_rss_mb: stat("stat::peak_rss_mb:"),
        corpus,
        finding,
    }
}

fn print_table(results: &[(&str, Outcome)], seconds: u64) {
    println!("\nfuzz: {seconds} s per target (stable toolchain, --sanitizer none)");
    println!("{:<8} {:>12} {:>10} {:>8} {:>9}  findings", "target", "executions", "per second", "corpus", "peak RSS");
    for (name, o) in results {
        println!(
            "{name:<8} {:>12} {:>10} {:>8} {:>6} MB  {}",
            o.executions,
            o.executions / seconds.max(1),
            o.corpus,
            o.peak_rss_mb,
            o.finding.as_deref().unwrap_or("none")
        );
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The report tests' documents, and a hostile one built from them.
fn report_seeds() -> Result<Seeds> {
    let dir = workspace_root().join("crates/core/tests/fixtures");
    let mut seeds = Vec::new();
    for name in
        ["support_session_rs.xml", "support_session_pra_shape.xml", "support_session_legacy.xml", "exit_surveys.xml"]
    {
        seeds.push((name.to_owned(), read(&dir.join(name))?));
    }
    let session = String::from_utf8_lossy(&seeds[0].1).into_owned();
    seeds.push(("hostile.xml".to_owned(), hostile(&session).into_bytes()));
    Ok(seeds)
}

/// A session whose customer typed template syntax and markup, whose chat holds one line longer
/// than a note and odd Unicode (right-to-left override, combining marks, joiners, astral
/// characters, character references).
fn hostile(session: &str) -> String {
    let odd = "{{#each x}}{{/each}} {{{raw}}} <script>alert(1)</script> \u{202e}evil\u{202c} e\u{301}\u{301}\u{301} \
               \u{1f469}\u{200d}\u{1f4bb} \u{fffd} &#x1F600; &#1114111; &amp;lt;";
    let huge = "Ω".repeat(20_000) + &"x".repeat(30_000);
    session
        .replacen("Outlook keeps asking for my password &lt;every&gt; 5 minutes", &odd.replace('<', "&lt;"), 1)
        .replacen("Hi Dana, I'm connecting now. Please accept the prompt.", &huge, 1)
}

/// Outbound event bodies as an appliance sends them (the spec's fields), and two it should not.
fn event_seeds() -> Result<Seeds> {
    const LSID: &str = "lsid=c69a8e10bea9428f816cfababe9815fe";
    let bodies = [
        format!("event=support_conference_end&version=3&timestamp=1795515302&{LSID}&external_key=7201&appliance_id=a1"),
        format!("event=support_conference_begin&version=3&timestamp=1795514400&{LSID}"),
        format!(
            "event=support_conference_member_added&version=3&timestamp=1795514500&{LSID}&type=representative&username=sam.lee&display_name=Sam+Lee&gsnumber=14"
        ),
        format!("event=support_conference_customer_exit_survey_completed&timestamp=1795515400&{LSID}"),
        "event=login&timestamp=1795515400&username=alex%2Emorgan".to_owned(),
        format!("event=support_conference_end&timestamp=not-a-time&{LSID}"),
    ];
    Ok(bodies.into_iter().enumerate().map(|(i, b)| (format!("{i}.txt"), b.into_bytes())).collect())
}

/// A ticket callout as Autotask's webhooks send it, with all the fields the desk's copy keeps.
const CALLOUT: &str = r#"{"Action":"Update","Guid":"0b8a4f2e","EntityType":"Ticket","Id":7201,"EventTime":"2026-11-24T10:15:00Z","SequenceNumber":3,"PersonID":29682885,"Fields":{"title":"Outlook keeps asking for password","status":1,"companyID":175,"contactID":30684002,"configurationItemID":null,"assignedResourceID":29682885,"ticketNumber":"T20261124.0042","lastActivityDate":"2026-11-24T10:15:00Z"}}"#;

/// Requests to the desk's endpoints: a route (by number), a rep's token (high bit) or none, and
/// the body or query an app sends there.
fn desk_seeds() -> Result<Seeds> {
    let requests: [(u8, u8, &str); 10] = [
        (0, 0x80, "after=0&wait=0"),
        (1, 0x81, "q=printer&recent=7201,7202"),
        (1, 0x82, "q=T20261124.00&all=true"),
        (2, 0x83, r#"{"ticket": 7201}"#),
        (4, 0x84, ""),
        (5, 0x85, r#"{"session": "c69a8e10bea9428f816cfababe9815fe", "ticket": "T20261124.0042"}"#),
        (6, 0x86, r#"{"session": "c69a8e10bea9428f816cfababe9815fe"}"#),
        (7, 0x87, r#"{"job": 1}"#),
        (8, 0, r#"{"code": "K7M2Q-4XW9D-ABCDE-FGHJK"}"#),
        (9, 0, CALLOUT),
    ];
    let mut seeds: Seeds = requests
        .iter()
        .enumerate()
        .map(|(i, (route, rep, body))| (format!("{i}.bin"), [&[*route, *rep][..], body.as_bytes()].concat()))
        .collect();
    let event = "event=support_conference_end&version=3&timestamp=1795515302&lsid=c69a8e10&external_key=7201";
    seeds.push(("event.bin".to_owned(), [&[10u8, 0][..], event.as_bytes()].concat()));
    Ok(seeds)
}

/// A signature line, then a callout's body.
fn webhook_seeds() -> Result<Seeds> {
    let signed = format!("sha1=2jmj7l5rSw0yVb/vlWAYkK/YBwk=\n{CALLOUT}");
    let deleted = "\n{\"Action\":\"Delete\",\"EntityType\":\"Ticket\",\"Id\":7201}".to_owned();
    Ok(vec![("update.txt".to_owned(), signed.into_bytes()), ("delete.txt".to_owned(), deleted.into_bytes())])
}

/// The documented example configuration.
fn config_seeds() -> Result<Seeds> {
    Ok(vec![("worker.toml".to_owned(), read(&workspace_root().join("examples/worker.toml"))?)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_run_reads_its_statistics() {
        let lines: Vec<String> = [
            "#4096\tpulse  cov: 2211 ft: 5012 corp: 310/48Kb exec/s: 1365 rss: 88Mb",
            "Done 40960 runs in 31 second(s)",
            "stat::number_of_executed_units: 40960",
            "stat::peak_rss_mb:              91",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(read_outcome(&lines), Outcome { executions: 40960, peak_rss_mb: 91, corpus: 310, finding: None });
    }

    #[test]
    fn a_panic_is_a_finding_with_its_message_and_input() {
        let lines: Vec<String> = [
            "thread '<unnamed>' panicked at crates/core/src/render.rs:365:16:",
            "==1234== ERROR: libFuzzer: deadly signal",
            "artifact_prefix='target/fuzz/artifacts/render/'; Test unit written to target/fuzz/artifacts/render/crash-9f",
            "stat::number_of_executed_units: 12",
        ]
        .map(String::from)
        .to_vec();
        let finding = read_outcome(&lines).finding.unwrap_or_default();
        assert!(finding.starts_with("deadly signal (thread '<unnamed>' panicked"), "{finding}");
        assert!(finding.ends_with("input kept at target/fuzz/artifacts/render/crash-9f"), "{finding}");
    }
}
