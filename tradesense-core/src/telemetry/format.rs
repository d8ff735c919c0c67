//! [`LineFormat`]: the log line formats (text and JSON) for output that no
//! one reads live, written field by field without `fmt` machinery.
//!
//! Why our own: the access log writes a line per request, and
//! tracing-subscriber's formatters were a quarter of the instructions of
//! `GET /health` under callgrind (11k per line: every value through
//! `Debug`, timestamps formatted from scratch, ANSI styling calls even when
//! off; benches/README.md). Here a timestamp is formatted once per second
//! per thread, strings are copied (quoted only when they need it) and
//! numbers are written with `itoa`. The lines read as before: text as
//! tracing-subscriber's default format without colours, JSON as its
//! flattened JSON (`timestamp`, `level`, `target`, the fields, `spans`).
//! On a terminal, [`init_tracing`](super::init_tracing) keeps
//! tracing-subscriber's coloured format. Install it with ANSI off
//! (`with_ansi(false)`): span fields are formatted by the subscriber's
//! field formatter, which would colour them otherwise.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// One line per event: `text` or `json` (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineFormat {
    json: bool,
}

impl LineFormat {
    /// `2026-12-01T10:00:00.123456Z  INFO target: message key=value ...`
    pub fn text() -> Self {
        Self { json: false }
    }

    /// `{"timestamp":"...","level":"INFO","target":"...","message":"...",...}`
    pub fn json() -> Self {
        Self { json: true }
    }
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let level = meta.level().as_str();
        if self.json {
            writer.write_str("{\"timestamp\":\"")?;
            write_timestamp(&mut writer)?;
            writer.write_str("\",\"level\":\"")?;
            writer.write_str(level)?;
            writer.write_str("\",\"target\":")?;
            write_json_str(&mut writer, meta.target())?;
            let mut fields = Fields {
                writer: &mut writer,
                json: true,
                result: Ok(()),
            };
            event.record(&mut fields);
            fields.result?;
            if let Some(scope) = ctx.event_scope() {
                writer.write_str(",\"spans\":[")?;
                for (n, span) in scope.from_root().enumerate() {
                    if n > 0 {
                        writer.write_char(',')?;
                    }
                    writer.write_str("{\"name\":")?;
                    write_json_str(&mut writer, span.name())?;
                    if let Some(fields) = span.extensions().get::<FormattedFields<N>>()
                        && !fields.is_empty()
                    {
                        writer.write_str(",\"fields\":")?;
                        write_json_str(&mut writer, fields)?;
                    }
                    writer.write_char('}')?;
                }
                writer.write_char(']')?;
            }
            writer.write_str("}\n")
        } else {
            write_timestamp(&mut writer)?;
            // Right-aligned to five, as tracing-subscriber does.
            writer.write_str(&"  "[..1 + usize::from(level.len() == 4)])?;
            writer.write_str(level)?;
            writer.write_char(' ')?;
            if let Some(scope) = ctx.event_scope() {
                for span in scope.from_root() {
                    writer.write_str(span.name())?;
                    if let Some(fields) = span.extensions().get::<FormattedFields<N>>()
                        && !fields.is_empty()
                    {
                        write!(writer, "{{{fields}}}")?;
                    }
                    writer.write_char(':')?;
                }
                writer.write_char(' ')?;
            }
            writer.write_str(meta.target())?;
            writer.write_str(":")?;
            let mut fields = Fields {
                writer: &mut writer,
                json: false,
                result: Ok(()),
            };
            event.record(&mut fields);
            fields.result?;
            writer.write_char('\n')
        }
    }
}

/// `2026-12-01T10:00:00.123456Z`: the part up to the seconds formatted once
/// per second on each thread.
fn write_timestamp(writer: &mut Writer<'_>) -> fmt::Result {
    thread_local! {
        static SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let now = chrono::Utc::now();
    let second = now.timestamp();
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != second {
            cached.1.clear();
            let _ = write!(cached.1, "{}", now.format("%Y-%m-%dT%H:%M:%S"));
            cached.0 = second;
        }
        writer.write_str(&cached.1)
    })?;
    let micros = now.timestamp_subsec_micros().min(999_999);
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(micros);
    writer.write_char('.')?;
    writer.write_str(&"000000"[digits.len()..])?;
    writer.write_str(digits)?;
    writer.write_char('Z')
}

/// The fields of one event, in the line's format. Text: the message as it
/// is, then ` name=value`, strings quoted (and escaped as `Debug` does) as
/// tracing-subscriber writes them. JSON: `,"name":value` each, strings
/// escaped, `Debug` values as strings.
struct Fields<'a, 'w> {
    writer: &'a mut Writer<'w>,
    json: bool,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    /// Writes what comes before a value, then the value with `write`.
    fn field(&mut self, field: &Field, write: impl FnOnce(&mut Writer<'_>, bool) -> fmt::Result) {
        self.result = self.result.and_then(|()| {
            if self.json {
                self.writer.write_char(',')?;
                write_json_str(self.writer, field.name())?;
                self.writer.write_char(':')?;
            } else {
                self.writer.write_char(' ')?;
                if field.name() != "message" {
                    self.writer.write_str(field.name())?;
                    self.writer.write_char('=')?;
                }
            }
            write(self.writer, self.json)
        });
    }
}

/// Whether `Debug` would print `value` between quotes and nothing else.
fn needs_no_escape(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ')
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let message = field.name() == "message";
        self.field(field, |writer, json| {
            if json {
                write_json_str(writer, value)
            } else if message {
                writer.write_str(value)
            } else if needs_no_escape(value) {
                writer.write_char('"')?;
                writer.write_str(value)?;
                writer.write_char('"')
            } else {
                write!(writer, "{value:?}")
            }
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |writer, _| {
            writer.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |writer, _| {
            writer.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, |writer, json| {
            if json && !value.is_finite() {
                // JSON has no NaN or infinity.
                write_json_str(writer, &value.to_string())
            } else {
                write_f64(writer, value)
            }
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |writer, _| {
            writer.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, |writer, json| {
            if json {
                write_json_str(writer, &format!("{value:?}"))
            } else {
                write!(writer, "{value:?}")
            }
        });
    }
}

/// A finite `value` in its shortest exact form (`ryu`: `0.25`, `1.0`,
/// `1e-7`), a non-finite one as `Debug` prints it.
fn write_f64(writer: &mut impl fmt::Write, value: f64) -> fmt::Result {
    if value.is_finite() {
        writer.write_str(ryu::Buffer::new().format_finite(value))
    } else {
        write!(writer, "{value:?}")
    }
}

/// `value` as a JSON string (RFC 8259 escapes).
fn write_json_str(writer: &mut impl fmt::Write, value: &str) -> fmt::Result {
    writer.write_char('"')?;
    let mut plain = 0;
    for (at, byte) in value.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f | 0x7f => "",
            _ => continue,
        };
        writer.write_str(&value[plain..at])?;
        if escape.is_empty() {
            write!(writer, "\\u{byte:04x}")?;
        } else {
            writer.write_str(escape)?;
        }
        plain = at + 1;
    }
    writer.write_str(&value[plain..])?;
    writer.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(format: LineFormat, log: impl FnOnce()) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .event_format(format)
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    fn access_line() {
        tracing::info!(target: "access", request_id = "r-1", method = %http::Method::GET,
            route = "/things/{id}", status = 200u16, duration_ms = 0.25, cached = true, "request");
    }

    #[test]
    fn text_reads_like_tracing_subscribers_default_format() {
        let line = lines(LineFormat::text(), access_line);
        let (timestamp, rest) = line.split_once(' ').unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(timestamp).is_ok(),
            "{timestamp}"
        );
        assert_eq!(
            rest,
            " INFO access: request request_id=\"r-1\" method=GET route=\"/things/{id}\" \
             status=200 duration_ms=0.25 cached=true\n"
        );
        let odd = lines(LineFormat::text(), || {
            tracing::warn!(detail = "say \"hi\"\n", "odd {}", 1);
        });
        assert!(
            odd.ends_with("  WARN tradesense_core::telemetry::format::tests: odd 1 detail=\"say \\\"hi\\\"\\n\"\n"),
            "{odd}"
        );
    }

    #[test]
    fn json_is_one_object_per_line_with_the_fields_flattened() {
        let line = lines(LineFormat::json(), access_line);
        assert!(line.ends_with("}\n"));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["level"], "INFO");
        assert_eq!(value["target"], "access");
        assert_eq!(value["message"], "request");
        assert_eq!(value["request_id"], "r-1");
        assert_eq!(value["method"], "GET");
        assert_eq!(value["status"], 200);
        assert_eq!(value["duration_ms"], 0.25);
        assert_eq!(value["cached"], true);
        assert!(chrono::DateTime::parse_from_rfc3339(value["timestamp"].as_str().unwrap()).is_ok());
    }

    #[test]
    fn json_escapes_what_it_must_and_names_spans() {
        let line = lines(LineFormat::json(), || {
            let span = tracing::info_span!("login", user = 7);
            let _entered = span.enter();
            tracing::error!(weird = "q\"b\\n\n\u{1}é", nan = f64::NAN, "boom");
        });
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["weird"], "q\"b\\n\n\u{1}é");
        assert_eq!(value["nan"], "NaN");
        assert_eq!(value["spans"][0]["name"], "login");
        assert_eq!(value["spans"][0]["fields"], "user=7");
    }
}
