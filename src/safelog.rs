//! Safe logging: keep addresses and destinations out of logs, as tor's `SafeLogging` does.
//!
//! Wrap a value before logging it: [`Sensitive`] (tor's `safe_str`) for what we learn while
//! serving others as a relay, such as client addresses and exit destinations; and
//! [`ClientSensitive`] (tor's `safe_str_client`) for our own user's activity, such as the
//! destinations and onion addresses our client visits. Their `Display` and `Debug` print
//! `[scrubbed]` unless the process-wide level, set once at start from the `SafeLogging` option,
//! allows the real value:
//!
//! | `SafeLogging` | [`Sensitive`] | [`ClientSensitive`] |
//! |---|---|---|
//! | `1` (default) | scrubbed | scrubbed |
//! | `relay`       | scrubbed | shown    |
//! | `0`           | shown    | shown    |
//!
//! Deliberately not here: deciding what is sensitive (the call sites do).

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

/// The `SafeLogging` setting (tor(1) "SafeLogging").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SafeLogging {
    /// `0`: log everything.
    Off,
    /// `relay`: scrub what we see as a relay, show our own client's activity.
    Relay,
    /// `1`: scrub everything sensitive (the default).
    #[default]
    On,
}

/// What a value is, for scrubbing purposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sensitivity {
    /// Information about other people's traffic seen while relaying (tor's `safe_str`).
    Relay,
    /// Information about our own user's traffic (tor's `safe_str_client`).
    Client,
}

impl SafeLogging {
    /// Whether a value of this sensitivity is scrubbed under this setting.
    pub fn scrubs(self, s: Sensitivity) -> bool {
        match (self, s) {
            (SafeLogging::Off, _) => false,
            (SafeLogging::Relay, Sensitivity::Client) => false,
            (SafeLogging::Relay, Sensitivity::Relay) | (SafeLogging::On, _) => true,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            SafeLogging::Off => 0,
            SafeLogging::Relay => 1,
            SafeLogging::On => 2,
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            0 => SafeLogging::Off,
            1 => SafeLogging::Relay,
            _ => SafeLogging::On,
        }
    }
}

/// The text printed instead of a scrubbed value (tor's).
pub const SCRUBBED: &str = "[scrubbed]";

static LEVEL: AtomicU8 = AtomicU8::new(2);

/// Sets the process-wide level (once, at start, from the `SafeLogging` option).
pub fn set_safe_logging(level: SafeLogging) {
    LEVEL.store(level.to_u8(), Ordering::Relaxed);
}

/// The process-wide level (`On` until set).
pub fn safe_logging() -> SafeLogging {
    SafeLogging::from_u8(LEVEL.load(Ordering::Relaxed))
}

fn show<T: ?Sized>(
    f: &mut fmt::Formatter<'_>,
    s: Sensitivity,
    v: &T,
    inner: impl FnOnce(&T, &mut fmt::Formatter<'_>) -> fmt::Result,
) -> fmt::Result {
    if safe_logging().scrubs(s) {
        f.write_str(SCRUBBED)
    } else {
        inner(v, f)
    }
}

macro_rules! wrapper {
    ($(#[$doc:meta])* $name:ident, $sens:expr, $ctor:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name<T>(pub T);

        impl<T> $name<T> {
            /// Unwraps the value (for use, never for logging).
            pub fn into_inner(self) -> T {
                self.0
            }
            /// The value (for use, never for logging).
            pub fn as_inner(&self) -> &T {
                &self.0
            }
        }

        impl<T: fmt::Display> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                show(f, $sens, &self.0, fmt::Display::fmt)
            }
        }

        impl<T: fmt::Debug> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                show(f, $sens, &self.0, fmt::Debug::fmt)
            }
        }

        /// Wraps a value (shorthand for the tuple constructor).
        pub fn $ctor<T>(v: T) -> $name<T> {
            $name(v)
        }
    };
}

wrapper!(
    /// A value seen while relaying for others (client addresses, exit destinations): scrubbed
    /// unless `SafeLogging 0`.
    Sensitive,
    Sensitivity::Relay,
    sensitive
);

wrapper!(
    /// A value about our own user's activity (destinations our client visits): scrubbed only
    /// under `SafeLogging 1`.
    ClientSensitive,
    Sensitivity::Client,
    client_sensitive
);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Tests that touch the global level run one at a time.
    static GLOBAL: Mutex<()> = Mutex::new(());

    #[test]
    fn table() {
        use SafeLogging::*;
        use Sensitivity as S;
        assert!(On.scrubs(S::Relay) && On.scrubs(S::Client));
        assert!(Relay.scrubs(S::Relay) && !Relay.scrubs(S::Client));
        assert!(!Off.scrubs(S::Relay) && !Off.scrubs(S::Client));
        for l in [Off, Relay, On] {
            assert_eq!(SafeLogging::from_u8(l.to_u8()), l);
        }
    }

    #[test]
    fn wrappers_follow_the_global_level() {
        let _g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        let addr = "198.51.100.7:443";
        assert_eq!(safe_logging(), SafeLogging::On, "default is on");
        assert_eq!(sensitive(addr).to_string(), SCRUBBED);
        assert_eq!(format!("{:?}", client_sensitive(addr)), SCRUBBED);

        set_safe_logging(SafeLogging::Relay);
        assert_eq!(sensitive(addr).to_string(), SCRUBBED);
        assert_eq!(client_sensitive(addr).to_string(), addr);
        assert_eq!(format!("{:?}", client_sensitive(addr)), format!("{addr:?}"));

        set_safe_logging(SafeLogging::Off);
        assert_eq!(format!("{:>20}", sensitive(addr)), format!("{addr:>20}"));
        assert_eq!(Sensitive(7u16).into_inner(), 7);

        set_safe_logging(SafeLogging::On);
        assert_eq!(format!("x={}", sensitive(addr)), "x=[scrubbed]");
    }
}
