//! A CSV file as records with their line numbers.
//!
//! Written here rather than taken from the `csv` crate for two things it
//! does not give: the line a record starts on counted the way a trader's
//! editor counts (blank lines and quoted line breaks included), and what
//! to do with a quote that never closes. A CSV reader reads such a quote as
//! a field that runs to the end of the file, silently swallowing every row
//! after it; here it is an error of the line it opened on, and reading
//! resumes on the next line, so each following row imports or fails on its
//! own.
//!
//! The quoting is RFC 4180's: a quote opens a field only at the field's
//! start (elsewhere it is a character, as csv-core reads it), `""` inside a
//! quoted field is one quote, and a closing quote must end the field; a
//! quote followed by anything else did not close it, and the record is
//! broken like an unterminated one. (A stray quote that happens to close a
//! field lines later makes one multi-line record, as any CSV reader reads
//! it; its row is then refused at its first line, in every layout but a
//! free-text column.) Fields are
//! trimmed. `\n`, `\r\n` and `\r` end records. The delimiter is the one of
//! `,`, `;` and tab found most often (outside quotes) on the first line.

/// One record, or a line that cannot be read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Scanned {
    /// A record (never blank) starting on `line`.
    Record {
        /// The line it starts on (1-based).
        line: u64,
        /// Its fields, trimmed.
        fields: Vec<String>,
    },
    /// A line that is not CSV (an unterminated quote, bytes that are not
    /// UTF-8).
    Broken {
        /// The line (1-based).
        line: u64,
        /// Why.
        message: String,
    },
}

/// The records of a file, in order.
pub(super) struct Records<'a> {
    bytes: &'a [u8],
    at: usize,
    line: u64,
    delimiter: u8,
}

impl<'a> Records<'a> {
    /// The records of `file` (a UTF-8 byte order mark is dropped).
    pub(super) fn new(file: &'a [u8]) -> Self {
        let bytes = file.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(file);
        Self {
            bytes,
            at: 0,
            line: 1,
            delimiter: delimiter(bytes),
        }
    }

    /// Reads the record starting at `self.at`: its fields and whether its
    /// quoting is broken (a quote still open at the end of the file, or a
    /// closing quote followed by more than a delimiter or a line end).
    fn scan(&mut self) -> (Vec<Vec<u8>>, bool) {
        #[derive(Clone, Copy, PartialEq)]
        enum State {
            FieldStart,
            Unquoted,
            Quoted,
            QuoteInQuoted,
        }
        let mut state = State::FieldStart;
        let mut fields: Vec<Vec<u8>> = Vec::new();
        let mut field = Vec::new();
        while let Some(&byte) = self.bytes.get(self.at) {
            self.at += 1;
            let end_of_line = byte == b'\n' || byte == b'\r';
            if byte == b'\r' && self.bytes.get(self.at) == Some(&b'\n') {
                self.at += 1;
            }
            if end_of_line {
                self.line += 1;
            }
            state = match state {
                State::Quoted if byte == b'"' => State::QuoteInQuoted,
                State::Quoted => {
                    // Line breaks inside a field read as `\n` whatever the file's.
                    field.push(if end_of_line { b'\n' } else { byte });
                    State::Quoted
                }
                _ if end_of_line => break,
                _ if byte == self.delimiter => {
                    fields.push(std::mem::take(&mut field));
                    State::FieldStart
                }
                State::FieldStart if byte == b'"' => State::Quoted,
                State::QuoteInQuoted if byte == b'"' => {
                    field.push(b'"');
                    State::Quoted
                }
                // A quote that neither doubles nor ends its field did not
                // close it: the field's opening quote is unmatched.
                State::QuoteInQuoted => return (fields, true),
                _ => {
                    field.push(byte);
                    State::Unquoted
                }
            };
        }
        fields.push(field);
        (fields, state == State::Quoted)
    }

    /// Moves to the line after `line`, which starts at byte `from`.
    fn resume_after(&mut self, from: usize, line: u64) {
        let rest = &self.bytes[from..];
        self.at = match rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
            Some(end) if rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n') => from + end + 2,
            Some(end) => from + end + 1,
            None => self.bytes.len(),
        };
        self.line = line + 1;
    }
}

impl Iterator for Records<'_> {
    type Item = Scanned;

    fn next(&mut self) -> Option<Scanned> {
        while self.at < self.bytes.len() {
            let (start, line) = (self.at, self.line);
            let (raw, unterminated) = self.scan();
            if unterminated {
                self.resume_after(start, line);
                return Some(Scanned::Broken {
                    line,
                    message: "a quote opened on this line is never closed (or is \
                              followed by more than a delimiter); the row is not \
                              read (the following rows are)"
                        .to_owned(),
                });
            }
            let fields: Result<Vec<String>, _> = raw
                .into_iter()
                .map(|f| String::from_utf8(f).map(|s| s.trim().to_owned()))
                .collect();
            match fields {
                Err(_) => {
                    return Some(Scanned::Broken {
                        line,
                        message: "the row is not UTF-8 text".to_owned(),
                    });
                }
                Ok(fields) if fields.iter().all(String::is_empty) => continue,
                Ok(fields) => return Some(Scanned::Record { line, fields }),
            }
        }
        None
    }
}

/// The first line's most frequent delimiter outside quotes (`,` on a tie).
fn delimiter(bytes: &[u8]) -> u8 {
    let first = bytes
        .split(|b| *b == b'\n' || *b == b'\r')
        .find(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
        .unwrap_or_default();
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for byte in first {
        if *byte == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (delimiter, count) in &mut counts {
                if byte == delimiter {
                    *count += 1;
                }
            }
        }
    }
    counts
        .iter()
        .fold(
            (b',', 0),
            |best, &(d, n)| if n > best.1 { (d, n) } else { best },
        )
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> Vec<Scanned> {
        Records::new(text.as_bytes()).collect()
    }

    fn record(line: u64, fields: &[&str]) -> Scanned {
        Scanned::Record {
            line,
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    #[test]
    fn lines_count_blank_lines_and_quoted_breaks() {
        let text = "a,b\r\n\r\n\"x\ny\",\"say \"\"hi\"\"\"\n  c ,d\n";
        assert_eq!(
            scan(text),
            vec![
                record(1, &["a", "b"]),
                record(3, &["x\ny", "say \"hi\""]),
                record(5, &["c", "d"]),
            ]
        );
    }

    #[test]
    fn an_unterminated_quote_breaks_its_line_only() {
        let text = "a,b\n\"x,1\n2,3\n\"4\",5";
        let scanned = scan(text);
        assert!(matches!(scanned[1], Scanned::Broken { line: 2, .. }));
        assert_eq!(scanned[2], record(3, &["2", "3"]));
        assert_eq!(scanned[3], record(4, &["4", "5"]));
        // A closing quote must end its field.
        assert!(matches!(
            scan("\"4\"x,5\n6,7")[0],
            Scanned::Broken { line: 1, .. }
        ));
        assert_eq!(scan("\"4\"x,5\n6,7")[1], record(2, &["6", "7"]));
        // A quote inside an unquoted field is a character, as csv-core reads it.
        assert_eq!(scan("5\" screen,x")[0], record(1, &["5\" screen", "x"]));
    }

    #[test]
    fn delimiters_are_detected_on_the_first_line() {
        assert_eq!(delimiter(b"a;b;\"c,d\"\n1,2,3"), b';');
        assert_eq!(delimiter(b"\n\na\tb\tc"), b'\t');
        assert_eq!(delimiter(b"a,b;c"), b',');
        assert_eq!(scan("\u{feff}a;b\n1,5;2")[1], record(2, &["1,5", "2"]));
        assert!(matches!(
            Records::new(b"a\n\xff\n").nth(1),
            Some(Scanned::Broken { line: 2, .. })
        ));
    }
}
