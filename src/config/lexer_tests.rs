use super::*;
use proptest::prelude::*;

fn kv(text: &str) -> Vec<(String, String)> {
    match parse_torrc(text, "torrc") {
        Ok(es) => es.into_iter().map(|e| (e.key, e.value)).collect(),
        Err(e) => panic!("{text:?}: {e}"),
    }
}

fn one(text: &str) -> (String, String) {
    match kv(text).as_slice() {
        [e] => e.clone(),
        other => panic!("{text:?}: {other:?}"),
    }
}

fn err(text: &str) -> ConfigError {
    match parse_torrc(text, "torrc") {
        Ok(es) => panic!("{text:?} parsed: {es:?}"),
        Err(e) => e,
    }
}

fn pair(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

// The examples of C tor's doc/torrc_format.txt §4.1, one by one.
#[test]
fn torrc_format_examples() {
    assert_eq!(one("Foo Bar\n"), pair("Foo", "Bar"));
    assert_eq!(one("Foo    Bar    Baz\n"), pair("Foo", "Bar    Baz"));
    assert_eq!(one("Foo    Bar    Baz    \n"), pair("Foo", "Bar    Baz"));
    assert_eq!(one("Hello\\\nWorld\n"), pair("Hello", "World"));
    assert_eq!(one("Hello World   #today\n"), pair("Hello", "World"));
    assert_eq!(one("Hello World#tomorrow\n"), pair("Hello", "World"));
    assert_eq!(one("Hello \"World!\"\n"), pair("Hello", "World!"));
    assert_eq!(
        one("Hello \"\\\"World\\\"\\nand\\nuniverse\"\n"),
        pair("Hello", "\"World\"\nand\nuniverse")
    );
    assert_eq!(
        one("Hello\\\nWorld\\\nand\\\nfriends\n"),
        pair("Hello", "Worldandfriends")
    );
    assert_eq!(
        one("Too \\\nMany\\\\\\\nBacksl\\ashes \\\\\nhere\n"),
        pair("Too", "Many\\\\Backsl\\ashes \\here")
    );
    let silly = "entry        and some        are  silly";
    assert_eq!(
        one("This entry      \\\n # has comments \\\n and some       \\\n are # generally \\\n silly\n"),
        pair("This", silly)
    );
    assert_eq!(
        one("This entry      \\\n # has comments\n and some       \\\n are # generally\n silly\n"),
        pair("This", silly)
    );
}

#[test]
fn lines_comments_and_whitespace() {
    let text = "# a comment\n\n   \t\nORPort 9001\n  Nickname   abc  # trailing\n#ORPort 1\nContactInfo a#b\n";
    assert_eq!(
        kv(text),
        [
            pair("ORPort", "9001"),
            pair("Nickname", "abc"),
            pair("ContactInfo", "a")
        ]
    );
    // Keys repeat; order is kept; an empty value is allowed at this level.
    assert_eq!(
        kv("A 1\nA 2\nB\n"),
        [pair("A", "1"), pair("A", "2"), pair("B", "")]
    );
    // No trailing newline, CRLF line ends.
    assert_eq!(kv("A 1\r\nB 2"), [pair("A", "1"), pair("B", "2")]);
    // A quoted value keeps '#' and a trailing comment is allowed after it.
    assert_eq!(
        one("ContactInfo \"x # y \" # comment\n"),
        pair("ContactInfo", "x # y ")
    );
    assert_eq!(one("K \"\\x41\\101\\t\\r\\'\"\n"), pair("K", "AA\t\r'"));
    assert_eq!(kv(""), []);
    assert_eq!(kv("\n\n# only\n"), []);
}

#[test]
fn line_numbers_and_ops() {
    let es = parse_torrc("# c\nA 1\\\n 2\n\n+B x\n/C\n", "my.torrc").unwrap_or_default();
    let got: Vec<_> = es
        .iter()
        .map(|e| (e.key.as_str(), e.location.to_string(), e.op))
        .collect();
    assert_eq!(
        got,
        [
            ("A", "my.torrc:2".to_string(), Op::Set),
            ("B", "my.torrc:5".into(), Op::Append),
            ("C", "my.torrc:6".into(), Op::Clear)
        ]
    );
}

#[test]
fn syntax_errors() {
    let cases: &[(&str, SyntaxProblem, u32)] = &[
        ("A 1\nK \"abc\n", SyntaxProblem::UnterminatedQuote, 2),
        ("K \"abc", SyntaxProblem::UnterminatedQuote, 1),
        ("K \"a\\qb\"", SyntaxProblem::BadEscape, 1),
        ("K \"a\\x4\"", SyntaxProblem::BadEscape, 1),
        ("K \"\\777\"", SyntaxProblem::BadEscape, 1),
        ("K \"\\0\"", SyntaxProblem::NulByte, 1),
        ("A 1\nK a\0b\n", SyntaxProblem::NulByte, 2),
        ("K \"\\xff\"", SyntaxProblem::NotUtf8, 1),
        ("K \"a\" b\n", SyntaxProblem::ExcessAfterQuote, 1),
        ("\n\nK a\\\n", SyntaxProblem::TruncatedContinuation, 3),
        ("K a\\\n   \n", SyntaxProblem::TruncatedContinuation, 1),
        (
            "K a\\\n# comment only\n",
            SyntaxProblem::TruncatedContinuation,
            1,
        ),
        ("%include /etc/x\n", SyntaxProblem::IncludeUnsupported, 1),
    ];
    for (text, problem, line) in cases {
        match err(text) {
            ConfigError::Syntax {
                location: Location::File { line: l, .. },
                problem: p,
                ..
            } => {
                assert_eq!((&p, l), (problem, *line), "{text:?}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    assert_eq!(
        err("K \"abc\n").to_string(),
        "torrc:1: K: unterminated quoted value (hint: close the \" on the same line; quoted values cannot span lines)"
    );
    // A continuation into a blank line is an error too (tor would keep a literal backslash).
    assert!(matches!(
        err("K a\\\n\nL b\n"),
        ConfigError::Syntax {
            problem: SyntaxProblem::TruncatedContinuation,
            ..
        }
    ));
    // A backslash at the very end without newline is kept, as in tor.
    assert_eq!(one("K a\\"), pair("K", "a\\"));
}

struct MapResolver(Vec<(&'static str, &'static str)>);

impl IncludeResolver for MapResolver {
    fn resolve(&mut self, path: &str) -> Result<Vec<IncludedFile>, String> {
        let files: Vec<_> = self
            .0
            .iter()
            .filter(|(n, _)| n.starts_with(path))
            .map(|(n, t)| IncludedFile {
                name: n.to_string(),
                text: t.to_string(),
            })
            .collect();
        if files.is_empty() {
            Err("no such file".into())
        } else {
            Ok(files)
        }
    }
}

#[test]
fn includes() {
    let mut r = MapResolver(vec![
        ("d/1", "B 1\n"),
        ("d/2", "C 2\n%include e\n"),
        ("e", "D 3\n"),
    ]);
    let es = parse_torrc_with("A 0\n%include d/\nE 4\n", "torrc", &mut r).unwrap_or_default();
    let got: Vec<_> = es
        .iter()
        .map(|e| format!("{} {} @{}", e.key, e.value, e.location))
        .collect();
    assert_eq!(
        got,
        [
            "A 0 @torrc:1",
            "B 1 @d/1:1",
            "C 2 @d/2:1",
            "D 3 @e:1",
            "E 4 @torrc:3"
        ]
    );

    let mut r = MapResolver(vec![("loop", "%include loop\n")]);
    assert!(matches!(
        parse_torrc_with("%include loop", "torrc", &mut r),
        Err(ConfigError::Syntax {
            problem: SyntaxProblem::IncludeTooDeep,
            ..
        })
    ));
    let mut r = MapResolver(vec![]);
    let e = parse_torrc_with("\n%include nothere", "torrc", &mut r).unwrap_err();
    assert_eq!(
        e.to_string(),
        "torrc:2: %include: cannot include \"nothere\": no such file"
    );
}

#[test]
fn render_quotes_what_needs_it() {
    let es = parse_torrc(
        "A plain value\nB \" lead\"\nC \"has # and \\\\ \\n\"\n+D x\n/E\nF\n",
        "t",
    )
    .unwrap_or_default();
    let text = render(&es);
    assert_eq!(
        text,
        "A plain value\nB \" lead\"\nC \"has # and \\\\ \\n\"\n+D x\n/E\nF\n"
    );
    let again = parse_torrc(&text, "t").unwrap_or_default();
    assert_eq!(es, again);
}

fn entry_strategy() -> impl Strategy<Value = (String, String, u8)> {
    (
        "[A-Za-z][A-Za-z0-9]{0,20}",
        prop_oneof![
            "[ -~]{0,40}",
            "\\PC{0,20}",
            any::<String>().prop_map(|s| s.replace('\0', "")),
        ],
        0u8..3,
    )
}

/// Entries `render` can write: keys that torrc syntax can spell.
fn renderable(e: &Entry) -> bool {
    !e.key.is_empty() && !e.key.ends_with('\\')
}

fn norm(es: &[Entry]) -> Vec<(String, Op, String)> {
    es.iter()
        .map(|e| {
            let v = if e.op == Op::Clear {
                String::new()
            } else {
                e.value.clone()
            };
            (e.key.clone(), e.op, v)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_text(s in "(\\PC|[\\n\\r\\t\\\\\"#])*") {
        let _ = parse_torrc(&s, "fuzz");
    }

    #[test]
    fn parse_render_parse_is_stable(s in "(\\PC|[\\n\\r\\t\\\\\"#+/ \\x0b])*") {
        if let Ok(es) = parse_torrc(&s, "p") {
            let es: Vec<Entry> = es.into_iter().filter(renderable).collect();
            let text = render(&es);
            let back = parse_torrc(&text, "p").map(|b| norm(&b));
            prop_assert_eq!(back, Ok(norm(&es)), "text: {:?}", text);
        }
    }

    #[test]
    fn never_panics_on_bytes(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_torrc(&String::from_utf8_lossy(&b), "fuzz");
    }

    #[test]
    fn render_then_parse_round_trips(items in proptest::collection::vec(entry_strategy(), 0..12)) {
        let entries: Vec<Entry> = items
            .into_iter()
            .enumerate()
            .map(|(i, (key, value, op))| {
                let op = [Op::Set, Op::Append, Op::Clear][usize::from(op)];
                Entry {
                    key,
                    value: if op == Op::Clear { String::new() } else { value },
                    op,
                    location: Location::File { name: "r".into(), line: u32::try_from(i + 1).unwrap_or(0) },
                }
            })
            .collect();
        let text = render(&entries);
        let back = parse_torrc(&text, "r");
        prop_assert_eq!(back, Ok(entries), "text: {:?}", text);
    }
}

// Cases from C tor's src/test/test_util.c (test_util_config_line, _quotes,
// _comment_character, _escaped_content, _crlf): the same inputs must give the same keys and
// values, or fail where tor fails.
#[test]
fn c_tor_test_util_config_line_cases() {
    let text = concat!(
        "k v\n",
        " key    value with spaces   \n",
        "keykey val\n",
        "k2\n",
        "k3 \n",
        "\n",
        "   \n",
        "#comment\n",
        "k4#a\n",
        "k5#abc\n",
        "k6 val #with comment\n",
        "kseven   \"a quoted 'string\"\n",
        "k8 \"a \\x71uoted\\n\\\"str\\\\ing\\t\\001\\01\\1\\\"\"\n",
        "k9 a line that\\\n spans two lines.\n\n",
        "k10 more than\\\n one contin\\\nuation\n",
        "k11  \\\ncontinuation at the start\n",
        "k12 line with a\\\n#comment\n embedded\n",
        "k13\\\ncontinuation at the very start\n",
        "k14 a line that has a comment and # ends with a slash \\\n",
        "k15 this should be the next new line\n",
        "k16 a line that has a comment and # ends without a slash \n",
        "k17 this should be the next new line\n",
    );
    assert_eq!(
        kv(text),
        [
            pair("k", "v"),
            pair("key", "value with spaces"),
            pair("keykey", "val"),
            pair("k2", ""),
            pair("k3", ""),
            pair("k4", ""),
            pair("k5", ""),
            pair("k6", "val"),
            pair("kseven", "a quoted 'string"),
            pair("k8", "a quoted\n\"str\\ing\t\x01\x01\x01\""),
            pair("k9", "a line that spans two lines."),
            pair("k10", "more than one continuation"),
            pair("k11", "continuation at the start"),
            pair("k12", "line with a embedded"),
            pair("k13", "continuation at the very start"),
            pair("k14", "a line that has a comment and"),
            pair("k15", "this should be the next new line"),
            pair("k16", "a line that has a comment and"),
            pair("k17", "this should be the next new line"),
        ]
    );

    assert_eq!(
        one("kTrailingSpace \"quoted value\"   \n"),
        pair("kTrailingSpace", "quoted value")
    );
    assert_eq!(
        kv("k1 \"# in quotes\"\nk2 some value    # some comment\nk3 /home/user/myTorNetwork#2\n"),
        [
            pair("k1", "# in quotes"),
            pair("k2", "some value"),
            pair("k3", "/home/user/myTorNetwork")
        ]
    );
    let escaped = concat!(
        "HexadecimalLower \"\\x2a\"\n",
        "HexadecimalUpper \"\\x2A\"\n",
        "HexadecimalUpperX \"\\X2A\"\n",
        "Octal \"\\52\"\n",
        "Newline \"\\n\"\n",
        "Tab \"\\t\"\n",
        "CarriageReturn \"\\r\"\n",
        "DoubleQuote \"\\\"\"\n",
        "SimpleQuote \"\\'\"\n",
        "Backslash \"\\\\\"\n",
        "Mix \"This is a \\\"star\\\":\\t\\'\\x2a\\'\\nAnd second line\"\n",
    );
    let values: Vec<String> = kv(escaped).into_iter().map(|(_, v)| v).collect();
    assert_eq!(
        values,
        [
            "*",
            "*",
            "*",
            "*",
            "\n",
            "\t",
            "\r",
            "\"",
            "'",
            "\\",
            "This is a \"star\":\t'*'\nAnd second line"
        ]
    );
    assert_eq!(
        kv("Hello world\r\nHello \"nice big world\"\r\n"),
        [pair("Hello", "world"), pair("Hello", "nice big world")]
    );

    for bad in [
        "kTrailingGarbage \"quoted value\"trailing garbage\n",
        "kTrailingSpaceAndGarbage \"quoted value\" trailing space+g\n",
        "kMultilineTrailingSpace \"mline\\ \nvalue w/ trailing sp\"\n",
        "kMultilineNoTrailingBackslash \"naked multiline\nvalue\"\n",
        "BrokenEscapedContent \"\\a\"\n",
        "BrokenEscapedContent \"\\x\"\n",
        "BrokenOctal \"\\8\"\n",
        "BrokenHex \"\\xg4\"\n",
        "BrokenEscape \"\\",
        "Foo \"\\x9g\"\n",
        "Foo \"\\xg0\"\n",
        "Foo \"\\xf\"\n",
        "Foo \"\\q\"\n",
        "Foo \"hello\n",
        "Foo \"hello\" world\n",
    ] {
        assert!(parse_torrc(bad, "t").is_err(), "{bad:?}");
    }
}
