//! The tally of a shadow rollout: events claimed for the shadow, their
//! comparisons, and the decision; and the report it ends in.
//!
//! A [`Trial`] knows nothing of plugins: the call path (`plugin`) claims events,
//! runs both versions, and hands in what it found; the registry acts on the
//! decision. Claims are guards: a call dropped between its claim and its
//! comparison gives its events back, so a cancelled caller never leaves the
//! rollout waiting for events that will not come.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::spec::options::Rollout;

/// How a rollout ended.
///
/// ```
/// assert_eq!(wasp_host::RolloutOutcome::Promoted.as_str(), "promoted");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutOutcome {
    /// The new version took over after its last shadowed event.
    Promoted,
    /// The new version faulted or differed too often; the old one keeps serving,
    /// and the same file is not tried again until it changes.
    Rejected,
    /// The rollout ended before a decision: another reload replaced the new
    /// version, or the plugin was unloaded.
    Abandoned,
}

impl RolloutOutcome {
    /// The outcome as a word: `promoted`, `rejected`, `abandoned` (the
    /// `outcome` label of `wasp_rollouts_total`).
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutOutcome::Promoted => "promoted",
            RolloutOutcome::Rejected => "rejected",
            RolloutOutcome::Abandoned => "abandoned",
        }
    }
}

/// One shadowed event on which the new version did not do what the old did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutDifference {
    /// Its number among the shadowed events (1-based).
    pub event: u64,
    /// The event's input (at most [`SHOWN`] bytes of it).
    pub input: Vec<u8>,
    /// What the old version returned (an output, or the error), shortened.
    pub old: String,
    /// What the new version returned, shortened.
    pub new: String,
}

/// The most bytes of an input or a result a report keeps.
pub const SHOWN: usize = 200;

/// What a shadow rollout found, and what became of the new version.
///
/// Its `Display` is the line `wasp run` prints (for a rejection, followed by the
/// first fault and the first difference):
///
/// ```
/// use wasp_host::{RolloutOutcome, RolloutReport};
/// let r = RolloutReport {
///     plugin: "enrich".into(),
///     sha256: "abcdef0123456789".repeat(4),
///     outcome: RolloutOutcome::Promoted,
///     events: 1000,
///     faults: 0,
///     differing: 3,
///     first_difference: None,
///     first_fault: None,
/// };
/// assert_eq!(
///     r.to_string(),
///     "plugin 'enrich' version abcdef012345… promoted after 1000 events: 0 faults, 3 differing (0.3%)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutReport {
    /// The plugin's name.
    pub plugin: String,
    /// SHA-256 of the new version's file, in hex.
    pub sha256: String,
    /// The decision.
    pub outcome: RolloutOutcome,
    /// Shadowed events compared.
    pub events: u64,
    /// Events (or batches) on which the new version faulted.
    pub faults: u64,
    /// Events on which the new version's result differed from the old's.
    pub differing: u64,
    /// The first event that differed.
    pub first_difference: Option<RolloutDifference>,
    /// The new version's first fault, with the event's number.
    pub first_fault: Option<(u64, String)>,
}

impl std::fmt::Display for RolloutReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let share = if self.events == 0 {
            0.0
        } else {
            self.differing as f64 * 100.0 / self.events as f64
        };
        let short = self.sha256.get(..12).unwrap_or(&self.sha256);
        write!(
            f,
            "plugin '{}' version {short}… {} after {} event{}: {} fault{}, {} differing ({share:.1}%)",
            self.plugin,
            self.outcome.as_str(),
            self.events,
            if self.events == 1 { "" } else { "s" },
            self.faults,
            if self.faults == 1 { "" } else { "s" },
            self.differing,
        )?;
        // What went wrong first, where it decided.
        if self.outcome != RolloutOutcome::Rejected {
            return Ok(());
        }
        if let Some((event, fault)) = &self.first_fault {
            write!(f, "; first fault at shadowed event {event}: {fault}")?;
        }
        if let Some(d) = &self.first_difference {
            write!(
                f,
                "; first difference at shadowed event {} (input {}): old {}, new {}",
                d.event,
                String::from_utf8_lossy(&d.input),
                d.old,
                d.new
            )?;
        }
        Ok(())
    }
}

/// At most [`SHOWN`] bytes of `bytes`, as text.
pub(crate) fn shorten(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(SHOWN)]).into_owned();
    if bytes.len() > SHOWN {
        format!("{text}…")
    } else {
        text
    }
}

/// What one shadowed event showed.
#[derive(Debug)]
pub(crate) enum Compared {
    /// Both versions returned the same.
    Same,
    /// The new version returned something else: (input, old, new).
    Differs(Vec<u8>, String, String),
    /// The new version faulted (its message).
    Fault(String),
    /// Shadowed, but not compared: an event of a batch the new version faulted on
    /// as a whole (counted once, as that fault).
    Uncompared,
}

/// The decision a trial reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Promote,
    Reject,
}

#[derive(Default)]
struct Tally {
    done: u64,
    faults: u64,
    differing: u64,
    first_difference: Option<RolloutDifference>,
    first_fault: Option<(u64, String)>,
    decided: bool,
}

/// The tally of one rollout.
pub(crate) struct Trial {
    policy: Rollout,
    /// Events claimed (done, or in a call now).
    claimed: AtomicU64,
    tally: Mutex<Tally>,
}

/// Events claimed by one call; given back unless [`Trial::complete`]d.
pub(crate) struct Claim<'a> {
    trial: &'a Trial,
    /// The first claimed event's number among the shadowed (0-based).
    first: u64,
    n: u64,
}

impl Claim<'_> {
    /// How many events this call shadows.
    pub(crate) fn len(&self) -> usize {
        self.n as usize
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if self.n > 0 {
            self.trial.claimed.fetch_sub(self.n, Ordering::AcqRel);
        }
    }
}

impl Trial {
    pub(crate) fn new(policy: Rollout) -> Self {
        Trial {
            policy,
            claimed: AtomicU64::new(0),
            tally: Mutex::new(Tally::default()),
        }
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Claims up to `want` of the events still to shadow (none once decided).
    pub(crate) fn claim(&self, want: u64) -> Claim<'_> {
        let total = self.policy.shadow_events;
        let mut current = self.claimed.load(Ordering::Acquire);
        loop {
            let n = want.min(total.saturating_sub(current));
            if n == 0 {
                return Claim {
                    trial: self,
                    first: current,
                    n: 0,
                };
            }
            match self.claimed.compare_exchange_weak(
                current,
                current + n,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Claim {
                        trial: self,
                        first: current,
                        n,
                    };
                }
                Err(now) => current = now,
            }
        }
    }

    /// Counts what a claim's events showed (`found` in claim order; events of
    /// the claim past its end are given back) and returns the decision, once:
    /// a reject as soon as the policy can no longer be met, a promote when the
    /// last shadowed event is in.
    pub(crate) fn complete(&self, mut claim: Claim<'_>, found: Vec<Compared>) -> Option<Decision> {
        let counted = (found.len() as u64).min(claim.n);
        let first = claim.first;
        claim.n -= counted; // the rest is given back when the claim drops
        drop(claim);
        let policy = self.policy;
        let mut t = self.tally();
        if t.decided {
            return None;
        }
        for (i, c) in found.into_iter().take(counted as usize).enumerate() {
            let event = first + i as u64 + 1;
            match c {
                Compared::Same | Compared::Uncompared => {}
                Compared::Differs(input, old, new) => {
                    t.differing += 1;
                    t.first_difference.get_or_insert(RolloutDifference {
                        event,
                        input: input[..input.len().min(SHOWN)].to_vec(),
                        old,
                        new,
                    });
                }
                Compared::Fault(message) => {
                    t.faults += 1;
                    t.first_fault.get_or_insert((event, message));
                }
            }
        }
        t.done += counted;
        let allowed_diffs = policy.max_diff * policy.shadow_events as f64;
        let decision = if t.faults > policy.max_faults || t.differing as f64 > allowed_diffs {
            Decision::Reject
        } else if t.done >= policy.shadow_events {
            Decision::Promote
        } else {
            return None;
        };
        t.decided = true;
        Some(decision)
    }

    /// Marks the trial decided from outside (abandoned); false if it was already.
    pub(crate) fn end(&self) -> bool {
        !std::mem::replace(&mut self.tally().decided, true)
    }

    /// The report of this trial, as it stands.
    pub(crate) fn report(
        &self,
        plugin: &str,
        sha256: String,
        outcome: RolloutOutcome,
    ) -> RolloutReport {
        let t = self.tally();
        RolloutReport {
            plugin: plugin.to_string(),
            sha256,
            outcome,
            events: t.done,
            faults: t.faults,
            differing: t.differing,
            first_difference: t.first_difference.clone(),
            first_fault: t.first_fault.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff() -> Compared {
        Compared::Differs(b"in".to_vec(), "a".into(), "b".into())
    }

    #[test]
    fn promotes_after_exactly_the_shadowed_events() {
        let t = Trial::new(Rollout::shadow(3));
        let c = t.claim(2);
        assert_eq!(c.len(), 2);
        assert_eq!(t.complete(c, vec![Compared::Same, Compared::Same]), None);
        let c = t.claim(5);
        assert_eq!(c.len(), 1);
        assert_eq!(t.claim(1).len(), 0, "all three are claimed");
        assert_eq!(t.complete(c, vec![Compared::Same]), Some(Decision::Promote));
        assert_eq!(t.claim(1).len(), 0);
        assert!(!t.end(), "decided once");
    }

    #[test]
    fn a_dropped_claim_gives_its_events_back() {
        let t = Trial::new(Rollout::shadow(2));
        drop(t.claim(2));
        let c = t.claim(2);
        assert_eq!(c.len(), 2);
        // One counted, one given back.
        assert_eq!(t.complete(c, vec![Compared::Same]), None);
        let c = t.claim(2);
        assert_eq!(c.len(), 1);
        assert_eq!(t.complete(c, vec![Compared::Same]), Some(Decision::Promote));
    }

    #[test]
    fn rejects_as_soon_as_the_policy_cannot_be_met() {
        let t = Trial::new(Rollout::shadow(10).max_diff(0.1));
        let c = t.claim(1);
        assert_eq!(t.complete(c, vec![diff()]), None, "1 of 10 is allowed");
        let c = t.claim(1);
        assert_eq!(t.complete(c, vec![diff()]), Some(Decision::Reject));
        let r = t.report("p", "ab".into(), RolloutOutcome::Rejected);
        assert_eq!((r.events, r.differing, r.faults), (2, 2, 0));
        assert_eq!(r.first_difference.map(|d| d.event), Some(1));

        let t = Trial::new(Rollout::shadow(10).max_faults(1));
        let c = t.claim(3);
        let found = vec![
            Compared::Fault("x".into()),
            Compared::Same,
            Compared::Uncompared,
        ];
        assert_eq!(t.complete(c, found), None);
        let c = t.claim(1);
        assert_eq!(
            t.complete(c, vec![Compared::Fault("y".into())]),
            Some(Decision::Reject)
        );
        let r = t.report("p", "ab".into(), RolloutOutcome::Rejected);
        assert_eq!(r.first_fault, Some((1, "x".into())));
    }
}
