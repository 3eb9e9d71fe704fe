//! Logging set-up from the typed `Log` lines, in tor's line format:
//! `Nov 21 10:00:00.000 [notice] message`.
//!
//! Tor's five severities map onto tracing's five levels: err = ERROR, warn = WARN,
//! notice = INFO, info = DEBUG, debug = TRACE. Each `Log` line becomes one output with its own
//! severity range. Timestamps are UTC (tor uses local time; a container's is UTC anyway).
//! Span names and fields (channel, circuit, stream) are printed before the message.

use std::fs::OpenOptions;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{FilterFn, LevelFilter};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

use super::RtError;
use crate::config::{LogDest, LogSeverity, LogSpec};

/// The tracing level a tor severity maps to.
fn level_of(s: LogSeverity) -> Level {
    match s {
        LogSeverity::Err => Level::ERROR,
        LogSeverity::Warn => Level::WARN,
        LogSeverity::Notice => Level::INFO,
        LogSeverity::Info => Level::DEBUG,
        LogSeverity::Debug => Level::TRACE,
    }
}

/// Tor's name for a tracing level (`INFO` → `notice`).
pub fn tor_level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "err",
        Level::WARN => "warn",
        Level::INFO => "notice",
        Level::DEBUG => "info",
        Level::TRACE => "debug",
    }
}

/// Formats a time as tor does, in UTC: `Nov 21 10:00:00.000`.
pub fn format_timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days, for the month and day.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let name = usize::try_from(month - 1)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .unwrap_or(&"???");
    format!(
        "{name} {day:02} {:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// The tor-style event format.
struct TorFormat;

impl<S, N> FormatEvent<S, N> for TorFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let level = tor_level_name(event.metadata().level());
        write!(writer, "{} [{level}] ", format_timestamp(SystemTime::now()))?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write!(writer, "{}", span.name())?;
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>() {
                    if !fields.is_empty() {
                        write!(writer, "{{{fields}}}")?;
                    }
                }
                writer.write_str(": ")?;
            }
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// One output: tor format, the spec's severity range, the given writer.
fn layer_for<W>(spec: &LogSpec, writer: W) -> BoxedLayer
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let (lo, hi) = (level_of(spec.min), level_of(spec.max));
    let filter = FilterFn::new(move |m| *m.level() <= lo && *m.level() >= hi)
        .with_max_level_hint(LevelFilter::from_level(lo));
    tracing_subscriber::fmt::layer()
        .event_format(TorFormat)
        .with_ansi(false)
        .with_writer(writer)
        .with_filter(filter)
        .boxed()
}

fn layers(specs: &[LogSpec]) -> Result<Vec<BoxedLayer>, RtError> {
    let default = [LogSpec::default_spec()];
    let specs = if specs.is_empty() {
        &default[..]
    } else {
        specs
    };
    specs
        .iter()
        .map(|spec| {
            Ok(match &spec.dest {
                LogDest::Stdout => layer_for(spec, std::io::stdout),
                LogDest::Stderr => layer_for(spec, std::io::stderr),
                LogDest::File(path) => {
                    let file = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .map_err(|source| RtError::LogFile {
                            path: path.display().to_string(),
                            source,
                        })?;
                    layer_for(spec, file)
                }
            })
        })
        .collect()
}

/// Installs the process-wide logger for the given `Log` lines (none: `notice stdout`).
pub fn init_logging(specs: &[LogSpec]) -> Result<(), RtError> {
    let subscriber = Registry::default().with(layers(specs)?);
    tracing::subscriber::set_global_default(subscriber).map_err(|_| RtError::LoggingAlreadySet)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[test]
    fn timestamps() {
        let t = UNIX_EPOCH + Duration::from_millis(1_763_719_200_123); // 2025-11-21 10:00:00.123 UTC
        assert_eq!(format_timestamp(t), "Nov 21 10:00:00.123");
        assert_eq!(format_timestamp(UNIX_EPOCH), "Jan 01 00:00:00.000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(format_timestamp(leap), "Feb 29 00:00:00.000");
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn tor_format_and_severity_range() {
        let buf = Buf::default();
        let spec = LogSpec {
            min: LogSeverity::Info,
            max: LogSeverity::Warn,
            dest: LogDest::Stdout,
        };
        let w = buf.clone();
        let subscriber = Registry::default().with(vec![layer_for(&spec, move || w.clone())]);
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!("dropped: below info");
            tracing::debug!("an info line");
            let span = tracing::info_span!("circ", id = 7);
            let _e = span.enter();
            tracing::info!(n = 3, "a notice line");
            tracing::warn!("a warn line");
            tracing::error!("dropped: above warn");
        });
        let text = String::from_utf8(buf.0.lock().map(|b| b.clone()).unwrap_or_default())
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().map(|l| l.get(20..).unwrap_or("")).collect();
        assert_eq!(
            lines,
            [
                "[info] an info line",
                "[notice] circ{id=7}: a notice line n=3",
                "[warn] circ{id=7}: a warn line"
            ]
        );
        let first = text.lines().next().unwrap_or("");
        assert_eq!(first.get(3..4), Some(" "));
        assert_eq!(first.get(15..16), Some("."));
    }
}
