//! Processor restarts and crash loops, judged from the restart counts and
//! waiting reasons the processor pods report (`status.containerStatuses`).
//! Pure: the reconcile lists the pods and feeds what it saw.
//!
//! Alerts are edges, like lag verdict changes: `Restarting` once a
//! container restarted `threshold` times within the window (again only
//! after it `Settled`: fewer restarts within a whole window), `CrashLoop`
//! when a container starts waiting in CrashLoopBackOff. Restarts from
//! before the operator first saw a pod count as its baseline, so an
//! operator restart raises nothing old; a pod whose count went back (a new
//! pod with the same name) starts over.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// The processor container of one pod, as its status reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerObservation {
    pub pod: String,
    pub restarts: i32,
    /// `state.waiting.reason`, e.g. `CrashLoopBackOff`.
    pub waiting_reason: Option<String>,
    /// `lastState.terminated.reason`, e.g. `OOMKilled`, `Error`.
    pub last_termination: Option<String>,
}

/// The thresholds (`spec.alerts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    pub threshold: i32,
    pub window: Duration,
}

/// A change worth an Event and an alert record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestartAlert {
    Restarting {
        pod: String,
        restarts: i32,
        last_termination: Option<String>,
    },
    CrashLoop {
        pod: String,
        restarts: i32,
        last_termination: Option<String>,
    },
    Settled {
        pod: String,
    },
}

impl RestartAlert {
    pub fn message(&self, policy: &RestartPolicy) -> String {
        let window = policy.window.as_secs();
        let cause = |t: &Option<String>| match t {
            Some(reason) => format!(", last terminated: {reason}"),
            None => String::new(),
        };
        match self {
            RestartAlert::Restarting {
                pod,
                restarts,
                last_termination,
            } => format!(
                "processor pod {pod} restarted {restarts} times within {window} s (threshold {}){}",
                policy.threshold,
                cause(last_termination)
            ),
            RestartAlert::CrashLoop {
                pod,
                restarts,
                last_termination,
            } => format!(
                "processor pod {pod} is crash-looping (CrashLoopBackOff after {restarts} restarts{})",
                cause(last_termination)
            ),
            RestartAlert::Settled { pod } => {
                format!("processor pod {pod} ran without a restart for {window} s")
            }
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
struct PodHistory {
    /// (when, restart count), oldest first; the first is the baseline.
    samples: VecDeque<(Instant, i32)>,
    raised: bool,
    crash_looping: bool,
    seen: bool,
}

impl PodHistory {
    /// Restarts within `window` up to `now`: the latest count minus the
    /// count at the window's start (the last sample at or before it, else
    /// the baseline).
    fn within(&self, window: Duration, now: Instant) -> i32 {
        let Some(&(_, latest)) = self.samples.back() else {
            return 0;
        };
        let start = self
            .samples
            .iter()
            .rev()
            .find(|(at, _)| now.saturating_duration_since(*at) >= window)
            .or(self.samples.front())
            .map_or(latest, |(_, c)| *c);
        latest - start
    }
}

/// What one pipeline's processor pods did recently.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RestartWatch {
    pods: BTreeMap<String, PodHistory>,
}

impl RestartWatch {
    /// Records the pods seen now and returns the alerts their changes raise.
    pub fn observe(
        &mut self,
        containers: &[ContainerObservation],
        policy: &RestartPolicy,
        now: Instant,
    ) -> Vec<RestartAlert> {
        let mut alerts = Vec::new();
        for h in self.pods.values_mut() {
            h.seen = false;
        }
        for c in containers {
            let h = self.pods.entry(c.pod.clone()).or_default();
            h.seen = true;
            if h.samples.back().is_some_and(|(_, last)| c.restarts < *last) {
                *h = PodHistory {
                    seen: true,
                    ..PodHistory::default()
                };
            }
            h.samples.push_back((now, c.restarts));
            // Keep the last sample at or before the window's start.
            while h
                .samples
                .get(1)
                .is_some_and(|(at, _)| now.saturating_duration_since(*at) >= policy.window)
            {
                h.samples.pop_front();
            }
            let restarts = h.within(policy.window, now);
            if !h.raised && restarts >= policy.threshold {
                h.raised = true;
                alerts.push(RestartAlert::Restarting {
                    pod: c.pod.clone(),
                    restarts,
                    last_termination: c.last_termination.clone(),
                });
            } else if h.raised
                && restarts == 0
                && h.samples
                    .front()
                    .is_some_and(|(at, _)| now.saturating_duration_since(*at) >= policy.window)
            {
                h.raised = false;
                alerts.push(RestartAlert::Settled { pod: c.pod.clone() });
            }
            let looping = c.waiting_reason.as_deref() == Some("CrashLoopBackOff");
            if looping && !h.crash_looping {
                alerts.push(RestartAlert::CrashLoop {
                    pod: c.pod.clone(),
                    restarts: c.restarts,
                    last_termination: c.last_termination.clone(),
                });
            }
            h.crash_looping = looping;
        }
        // Pods that are gone (scaled down) are forgotten.
        self.pods.retain(|_, h| h.seen);
        alerts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, restarts: i32, waiting: Option<&str>) -> ContainerObservation {
        ContainerObservation {
            pod: name.into(),
            restarts,
            waiting_reason: waiting.map(str::to_string),
            last_termination: (restarts > 0).then(|| "Error".to_string()),
        }
    }

    const POLICY: RestartPolicy = RestartPolicy {
        threshold: 3,
        window: Duration::from_secs(900),
    };

    /// Golden: a sequence of observations and the alerts each raised.
    #[test]
    fn restarts_within_the_window_raise_once_and_settle_after_a_quiet_window() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut w = RestartWatch::default();
        let steps: Vec<(u64, Vec<ContainerObservation>, Vec<&str>)> = vec![
            // Old restarts are the baseline.
            (0, vec![pod("p-processor-0", 7, None)], vec![]),
            (60, vec![pod("p-processor-0", 8, None)], vec![]),
            (120, vec![pod("p-processor-0", 9, None)], vec![]),
            (
                180,
                vec![pod("p-processor-0", 10, None)],
                vec![
                    "processor pod p-processor-0 restarted 3 times within 900 s (threshold 3), last terminated: Error",
                ],
            ),
            (
                240,
                vec![pod("p-processor-0", 11, Some("CrashLoopBackOff"))],
                vec![
                    "processor pod p-processor-0 is crash-looping (CrashLoopBackOff after 11 restarts, last terminated: Error)",
                ],
            ),
            // Still looping, still above: nothing new.
            (
                300,
                vec![pod("p-processor-0", 12, Some("CrashLoopBackOff"))],
                vec![],
            ),
            (400, vec![pod("p-processor-0", 12, None)], vec![]),
            // 12 - 9 (the count at 120 s, the window's start) = 3: still raised.
            (1020, vec![pod("p-processor-0", 12, None)], vec![]),
            // No restart since 300 s and the history spans a window: settled.
            (
                1300,
                vec![pod("p-processor-0", 12, None)],
                vec!["processor pod p-processor-0 ran without a restart for 900 s"],
            ),
            (1400, vec![pod("p-processor-0", 12, None)], vec![]),
        ];
        for (s, pods, expected) in steps {
            let alerts = w.observe(&pods, &POLICY, at(s));
            let messages: Vec<String> = alerts.iter().map(|a| a.message(&POLICY)).collect();
            assert_eq!(messages, expected, "at {s} s");
        }
    }

    #[test]
    fn a_new_pod_with_the_same_name_starts_over_and_gone_pods_are_forgotten() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut w = RestartWatch::default();
        assert!(w.observe(&[pod("a", 2, None)], &POLICY, at(0)).is_empty());
        // Recreated: count 0 is the new baseline, not -2 restarts.
        assert!(w.observe(&[pod("a", 0, None)], &POLICY, at(10)).is_empty());
        let alerts = w.observe(&[pod("a", 3, None), pod("b", 0, None)], &POLICY, at(20));
        assert!(
            matches!(alerts.as_slice(), [RestartAlert::Restarting { pod, restarts: 3, .. }] if pod == "a")
        );
        assert!(w.observe(&[pod("b", 0, None)], &POLICY, at(30)).is_empty());
        assert!(!w.pods.contains_key("a"));
        // A crash loop seen at once (e.g. after an operator restart) raises.
        let alerts = w.observe(&[pod("c", 40, Some("CrashLoopBackOff"))], &POLICY, at(40));
        assert!(matches!(
            alerts.as_slice(),
            [RestartAlert::CrashLoop { restarts: 40, .. }]
        ));
    }
}
