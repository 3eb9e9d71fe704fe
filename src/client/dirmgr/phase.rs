//! Bootstrap phases as C tor reports them (`control_events.h` `bootstrap_status_t` and the
//! tag/summary table in `control_bootstrap.c`; control-spec §5.5.2 "Phases in Bootstrap
//! Stage"). Only the phases a client without bridges or proxies passes through.

/// A bootstrap phase; the discriminant is its percentage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum BootstrapPhase {
    /// 0 `starting`.
    Starting = 0,
    /// 5 `conn`.
    Conn = 5,
    /// 10 `conn_done`.
    ConnDone = 10,
    /// 14 `handshake`.
    Handshake = 14,
    /// 15 `handshake_done`.
    HandshakeDone = 15,
    /// 20 `onehop_create`.
    OnehopCreate = 20,
    /// 25 `requesting_status`.
    RequestingStatus = 25,
    /// 30 `loading_status`.
    LoadingStatus = 30,
    /// 40 `loading_keys`.
    LoadingKeys = 40,
    /// 45 `requesting_descriptors`.
    RequestingDescriptors = 45,
    /// 50 `loading_descriptors` (C tor reports 50–74 as descriptors arrive).
    LoadingDescriptors = 50,
    /// 75 `enough_dirinfo`.
    EnoughDirinfo = 75,
    /// 80 `ap_conn`.
    ApConn = 80,
    /// 85 `ap_conn_done`.
    ApConnDone = 85,
    /// 89 `ap_handshake`.
    ApHandshake = 89,
    /// 90 `ap_handshake_done`.
    ApHandshakeDone = 90,
    /// 95 `circuit_create`.
    CircuitCreate = 95,
    /// 100 `done`.
    Done = 100,
}

impl BootstrapPhase {
    /// Its percentage.
    pub fn percent(self) -> u8 {
        self as u8
    }

    /// C tor's tag.
    pub fn tag(self) -> &'static str {
        use BootstrapPhase::*;
        match self {
            Starting => "starting",
            Conn => "conn",
            ConnDone => "conn_done",
            Handshake => "handshake",
            HandshakeDone => "handshake_done",
            OnehopCreate => "onehop_create",
            RequestingStatus => "requesting_status",
            LoadingStatus => "loading_status",
            LoadingKeys => "loading_keys",
            RequestingDescriptors => "requesting_descriptors",
            LoadingDescriptors => "loading_descriptors",
            EnoughDirinfo => "enough_dirinfo",
            ApConn => "ap_conn",
            ApConnDone => "ap_conn_done",
            ApHandshake => "ap_handshake",
            ApHandshakeDone => "ap_handshake_done",
            CircuitCreate => "circuit_create",
            Done => "done",
        }
    }

    /// C tor's summary.
    pub fn summary(self) -> &'static str {
        use BootstrapPhase::*;
        match self {
            Starting => "Starting",
            Conn => "Connecting to a relay",
            ConnDone => "Connected to a relay",
            Handshake => "Handshaking with a relay",
            HandshakeDone => "Handshake with a relay done",
            OnehopCreate => "Establishing an encrypted directory connection",
            RequestingStatus => "Asking for networkstatus consensus",
            LoadingStatus => "Loading networkstatus consensus",
            LoadingKeys => "Loading authority key certs",
            RequestingDescriptors => "Asking for relay descriptors",
            LoadingDescriptors => "Loading relay descriptors",
            EnoughDirinfo => "Loaded enough directory info to build circuits",
            ApConn => "Connecting to a relay to build circuits",
            ApConnDone => "Connected to a relay to build circuits",
            ApHandshake => "Finishing handshake with a relay to build circuits",
            ApHandshakeDone => "Handshake finished with a relay to build circuits",
            CircuitCreate => "Establishing a Tor circuit",
            Done => "Done",
        }
    }
}

/// Where bootstrap stands: a phase and a percentage (which may lie between the phase's own
/// and the next one's while descriptors load).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The phase.
    pub phase: BootstrapPhase,
    /// The percentage reported.
    pub percent: u8,
}

impl Progress {
    /// The notice-level line C tor logs: `Bootstrapped 50% (loading_descriptors): Loading
    /// relay descriptors`.
    pub fn log_line(&self) -> String {
        format!(
            "Bootstrapped {}% ({}): {}",
            self.percent,
            self.phase.tag(),
            self.phase.summary()
        )
    }
}
