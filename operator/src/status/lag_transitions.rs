//! What changed between the lag verdicts of the last status and the new
//! ones: which verdicts carry on (keeping `since`) and which changed (an
//! Event and an alert each). Pure, unit-tested; the status written last is
//! the memory, so an operator restart neither repeats nor loses a change.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::crd::{GroupLagVerdict, LagVerdict};

/// A group's new verdict, and whether it is settled (see
/// [`super::lag_verdict::Judgement::settled`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    pub verdict: GroupLagVerdict,
    pub settled: bool,
}

/// A change of a group's verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub group: String,
    pub topic: String,
    /// `None`: the group had no verdict before.
    pub from: Option<LagVerdict>,
    pub to: LagVerdict,
    pub reason: String,
}

impl Transition {
    /// "consumer group g on topic t: OK → STALL: <reason>".
    pub fn message(&self) -> String {
        let from = self.from.map_or("none", LagVerdict::as_str);
        format!(
            "consumer group {} on topic {}: {from} → {}: {}",
            self.group,
            self.topic,
            self.to.as_str(),
            self.reason
        )
    }
}

/// The verdicts to write, and the changes to report. An unsettled verdict
/// keeps the group's previous one, if it had one; a verdict that did not
/// change keeps its `since`. A group seen for the first time reports a
/// change only when it is not OK.
pub fn carry_over(
    previous: &[GroupLagVerdict],
    next: Vec<Judged>,
    now: &Time,
) -> (Vec<GroupLagVerdict>, Vec<Transition>) {
    let mut verdicts = Vec::with_capacity(next.len());
    let mut transitions = Vec::new();
    for judged in next {
        let mut verdict = judged.verdict;
        let before = previous
            .iter()
            .find(|p| p.group == verdict.group && p.topic == verdict.topic);
        match before {
            Some(before) if !judged.settled && verdict.verdict != before.verdict => {
                verdicts.push(before.clone());
                continue;
            }
            Some(before) if before.verdict == verdict.verdict => {
                verdict.since = before.since.clone().or_else(|| Some(now.clone()));
            }
            before => {
                verdict.since = Some(now.clone());
                let from = before.map(|b| b.verdict);
                if from.is_some() || verdict.verdict != LagVerdict::Ok {
                    transitions.push(Transition {
                        group: verdict.group.clone(),
                        topic: verdict.topic.clone(),
                        from,
                        to: verdict.verdict,
                        reason: verdict.reason.clone(),
                    });
                }
            }
        }
        verdicts.push(verdict);
    }
    (verdicts, transitions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).expect("valid time"))
    }

    fn group(verdict: LagVerdict, since: Option<i64>) -> GroupLagVerdict {
        GroupLagVerdict {
            group: "g".into(),
            topic: "t".into(),
            verdict,
            reason: format!("{verdict:?}"),
            partitions: Vec::new(),
            since: since.map(time),
        }
    }

    fn judged(verdict: LagVerdict, settled: bool) -> Judged {
        Judged {
            verdict: group(verdict, None),
            settled,
        }
    }

    #[test]
    fn a_first_ok_is_no_change_and_a_first_stop_is_one() {
        let (v, t) = carry_over(&[], vec![judged(LagVerdict::Ok, true)], &time(10));
        assert_eq!(v[0].since, Some(time(10)));
        assert!(t.is_empty());
        let (_, t) = carry_over(&[], vec![judged(LagVerdict::Stop, true)], &time(10));
        assert_eq!(t.len(), 1);
        assert_eq!(
            t[0].message(),
            "consumer group g on topic t: none → STOP: Stop"
        );
    }

    #[test]
    fn an_unchanged_verdict_keeps_its_since_and_a_change_is_reported() {
        let previous = [group(LagVerdict::Ok, Some(5))];
        let (v, t) = carry_over(&previous, vec![judged(LagVerdict::Ok, true)], &time(10));
        assert_eq!(v[0].since, Some(time(5)));
        assert!(t.is_empty());
        let (v, t) = carry_over(&previous, vec![judged(LagVerdict::Stall, true)], &time(10));
        assert_eq!(v[0].since, Some(time(10)));
        assert_eq!(
            (t[0].from, t[0].to),
            (Some(LagVerdict::Ok), LagVerdict::Stall)
        );
    }

    #[test]
    fn an_unsettled_verdict_keeps_the_previous_one() {
        // The operator restarted: its windows are empty, the status says STOP.
        let previous = [group(LagVerdict::Stop, Some(5))];
        let (v, t) = carry_over(&previous, vec![judged(LagVerdict::Ok, false)], &time(10));
        assert_eq!(v, previous.to_vec());
        assert!(t.is_empty());
        // Caught up (settled at once): the STOP is over.
        let (v, t) = carry_over(&previous, vec![judged(LagVerdict::Ok, true)], &time(10));
        assert_eq!(v[0].verdict, LagVerdict::Ok);
        assert_eq!(
            (t[0].from, t[0].to),
            (Some(LagVerdict::Stop), LagVerdict::Ok)
        );
    }
}
