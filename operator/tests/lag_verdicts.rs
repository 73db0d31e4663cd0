//! The lag verdict rules (operator/src/status/lag_verdict.rs) against
//! scenarios in tests/fixtures/lag_verdict_scenarios.yaml; the judgements
//! are compared with tests/fixtures/lag_verdicts.golden.yaml. After an
//! intended change: `UPDATE_GOLDEN=1 cargo test -p operator --test lag_verdicts`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use operator::crd::{LagVerdict, PartitionLagVerdict};
use operator::status::lag_verdict::{GroupSample, LagWindow, PartitionPoint};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Scenario {
    name: String,
    window: u64,
    samples: Vec<Sample>,
}

#[derive(Deserialize)]
struct Sample {
    t: u64,
    members: usize,
    partitions: Vec<(Option<i64>, i64)>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Outcome {
    name: String,
    verdict: LagVerdict,
    settled: bool,
    reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    partitions: Vec<PartitionLagVerdict>,
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn run(scenario: &Scenario) -> Outcome {
    let t0 = Instant::now();
    let window = Duration::from_secs(scenario.window);
    let mut lag_window = LagWindow::default();
    let mut last = operator::status::lag_verdict::judge(std::iter::empty(), window);
    for s in &scenario.samples {
        let sample = GroupSample {
            at: t0 + Duration::from_secs(s.t),
            partitions: s
                .partitions
                .iter()
                .enumerate()
                .map(|(i, &(committed, lag))| PartitionPoint {
                    partition: i as i32,
                    committed,
                    lag,
                })
                .collect(),
            active_members: s.members,
        };
        last = lag_window.record(sample, window);
    }
    Outcome {
        name: scenario.name.clone(),
        verdict: last.verdict,
        settled: last.settled,
        reason: last.reason,
        partitions: last.partitions,
    }
}

#[test]
fn lag_verdicts_match_the_golden_file() {
    let scenarios: Vec<Scenario> = serde_yaml::from_str(
        &std::fs::read_to_string(fixture("lag_verdict_scenarios.yaml")).expect("scenarios"),
    )
    .expect("scenarios parse");
    let outcomes: Vec<Outcome> = scenarios.iter().map(run).collect();
    let golden = fixture("lag_verdicts.golden.yaml");
    let actual = serde_yaml::to_string(&outcomes).expect("outcomes serialize");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; UPDATE_GOLDEN=1 creates it",
            golden.display()
        )
    });
    assert!(
        actual == expected,
        "judgements differ from {}.\n--- expected\n{expected}\n--- actual\n{actual}",
        golden.display()
    );
}
