//! Cutting a batch of SQLite statements into single statements, for an
//! executor that runs one statement per call (Spin's).

/// The statements of `sql`, separated by `;`, trimmed; a `;` inside a
/// string, a quoted name or a comment does not separate, and a piece that
/// holds nothing but whitespace and comments is left out.
pub(crate) fn statements(sql: &str) -> Vec<&str> {
    #[derive(Clone, Copy, PartialEq)]
    enum At {
        Code,
        /// Inside a quote that this character closes (`'`, `"`, `` ` ``, `]`).
        Quoted(char),
        LineComment,
        BlockComment,
    }
    let mut pieces = Vec::new();
    let mut at = At::Code;
    let mut start = 0;
    let mut has_code = false;
    let mut chars = sql.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        let next = chars.peek().map(|&(_, next)| next);
        match at {
            At::Code => match c {
                ';' => {
                    if has_code {
                        pieces.push(sql[start..index].trim());
                    }
                    start = index + 1;
                    has_code = false;
                }
                '-' if next == Some('-') => {
                    chars.next();
                    at = At::LineComment;
                }
                '/' if next == Some('*') => {
                    chars.next();
                    at = At::BlockComment;
                }
                '\'' | '"' | '`' => {
                    at = At::Quoted(c);
                    has_code = true;
                }
                '[' => {
                    at = At::Quoted(']');
                    has_code = true;
                }
                c if c.is_whitespace() => {}
                _ => has_code = true,
            },
            // A doubled quote inside a quote is the quote itself: it closes
            // and at once reopens, which comes to the same.
            At::Quoted(close) if c == close => at = At::Code,
            At::Quoted(_) => {}
            At::LineComment if c == '\n' => at = At::Code,
            At::LineComment => {}
            At::BlockComment if c == '*' && next == Some('/') => {
                chars.next();
                at = At::Code;
            }
            At::BlockComment => {}
        }
    }
    if has_code {
        pieces.push(sql[start..].trim());
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::statements;

    #[test]
    fn splits_on_semicolons_and_drops_empty_pieces() {
        assert_eq!(
            statements(" CREATE TABLE a (x);\n\n CREATE INDEX i ON a (x) ;; "),
            ["CREATE TABLE a (x)", "CREATE INDEX i ON a (x)"]
        );
        assert_eq!(statements("BEGIN IMMEDIATE"), ["BEGIN IMMEDIATE"]);
        assert!(statements(" ; \n ").is_empty());
    }

    #[test]
    fn a_semicolon_in_a_string_a_name_or_a_comment_does_not_split() {
        assert_eq!(
            statements("INSERT INTO t VALUES ('a;b', 'it''s;'); SELECT \"x;y\", [p;q], `r;s` FROM t"),
            [
                "INSERT INTO t VALUES ('a;b', 'it''s;')",
                "SELECT \"x;y\", [p;q], `r;s` FROM t"
            ]
        );
        assert_eq!(
            statements("-- one; two\nSELECT 1 /* three; */; -- four;\n/* five; */"),
            ["-- one; two\nSELECT 1 /* three; */"]
        );
    }

    #[test]
    fn every_schema_step_splits_into_its_statements() {
        for schema in [crate::kv::SCHEMA, crate::outbox::SCHEMA, crate::audit::SCHEMA] {
            for step in schema.sqlite {
                let pieces = statements(step);
                assert_eq!(pieces.len(), step.matches(';').count().max(1), "{step}");
                assert!(pieces.iter().all(|p| !p.is_empty() && !p.contains(';')));
            }
        }
    }
}
