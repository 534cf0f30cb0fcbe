//! What an error says beyond its own kind: the environment of the token request that failed, and
//! whether it is that failure handed out again during its cooldown. Every error struct holds one
//! [`Context`]; [`Error::environment`](super::Error::environment) and
//! [`Error::cooldown`](super::Error::cooldown) read it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// What an error handed out during a failure cooldown says: when the token request failed and
/// when the next one may be made. (After a token request fails, callers get its error at once
/// for a while instead of asking again: see `RenewalPolicy::with_failure_cooldown`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cooldown {
    /// How long ago the token request failed.
    pub failed_ago: Duration,
    /// How long until a new token request may be made.
    pub next_attempt_in: Duration,
}

impl fmt::Display for Cooldown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the failure of a token request {:.1} s ago, repeated during its cooldown; the next \
             attempt is made in {:.1} s at the earliest",
            self.failed_ago.as_secs_f64(),
            self.next_attempt_in.as_secs_f64()
        )
    }
}

/// The environment and the cooldown of an error, both usually absent: one pointer, shared by
/// the clones of an error (a failed token request is handed to every caller that waited on it).
#[derive(Clone, Default, PartialEq, Eq)]
pub(super) struct Context(Option<Arc<Fields>>);

#[derive(Clone, Default, PartialEq, Eq)]
struct Fields {
    environment: Option<String>,
    cooldown: Option<Cooldown>,
}

impl Context {
    /// The environment id, when the error names one.
    pub(super) fn environment(&self) -> Option<&str> {
        self.0.as_ref()?.environment.as_deref()
    }

    /// The cooldown, when the error is handed out again during one.
    pub(super) fn cooldown(&self) -> Option<Cooldown> {
        self.0.as_ref()?.cooldown
    }

    /// Names the environment `id`.
    pub(super) fn set_environment(&mut self, id: impl Into<String>) {
        self.fields().environment = Some(id.into());
    }

    /// Marks the error as handed out again during `cooldown`.
    pub(super) fn set_cooldown(&mut self, cooldown: Cooldown) {
        self.fields().cooldown = Some(cooldown);
    }

    fn fields(&mut self) -> &mut Fields {
        Arc::make_mut(self.0.get_or_insert_with(Default::default))
    }

    /// ` (in environment `<id>`; <cooldown>)`, with what there is of the two; nothing when
    /// there is neither. Ends an error's message.
    pub(super) fn note(&self) -> Note<'_> {
        Note {
            environment: self.environment(),
            cooldown: self.cooldown(),
        }
    }

    /// ` (<cooldown>)`, or nothing: the note of an error that names its environment itself
    /// (a [`ConfigurationError`](super::ConfigurationError)).
    pub(super) fn cooldown_note(&self) -> Note<'_> {
        Note {
            environment: None,
            cooldown: self.cooldown(),
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("environment", &self.environment())
            .field("cooldown", &self.cooldown())
            .finish()
    }
}

/// The end of an error's message: see [`Context::note`].
pub(super) struct Note<'a> {
    environment: Option<&'a str>,
    cooldown: Option<Cooldown>,
}

impl fmt::Display for Note<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.environment, self.cooldown) {
            (Some(env), Some(cooldown)) => write!(f, " (in environment `{env}`; {cooldown})"),
            (Some(env), None) => write!(f, " (in environment `{env}`)"),
            (None, Some(cooldown)) => write!(f, " ({cooldown})"),
            (None, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cooldown() -> Cooldown {
        Cooldown {
            failed_ago: Duration::from_millis(1500),
            next_attempt_in: Duration::from_secs(3),
        }
    }

    #[test]
    fn the_note_says_what_there_is() {
        let mut context = Context::default();
        assert_eq!(context.note().to_string(), "");
        context.set_environment("prod");
        assert_eq!(context.note().to_string(), " (in environment `prod`)");
        assert_eq!(context.cooldown_note().to_string(), "");
        context.set_cooldown(cooldown());
        let both = context.note().to_string();
        assert!(
            both.starts_with(" (in environment `prod`; the failure of a token request 1.5 s ago"),
            "{both}"
        );
        assert!(both.ends_with("in 3.0 s at the earliest)"), "{both}");
        assert!(!context.cooldown_note().to_string().contains("prod"));
    }

    #[test]
    fn a_clone_keeps_its_own_context() {
        let mut first = Context::default();
        first.set_environment("dev");
        let mut second = first.clone();
        second.set_cooldown(cooldown());
        assert_eq!(first.cooldown(), None);
        assert_eq!(second.cooldown(), Some(cooldown()));
        assert_eq!(second.environment(), Some("dev"));
    }
}
