//! Go (RE2) patterns compiled with Rust's `regex` crate. The syntaxes
//! agree except that Go's Perl classes `\d \w \s` and the word boundaries
//! `\b \B` are ASCII-only while Rust's are Unicode-aware, so those escapes
//! are rewritten to their ASCII forms before compiling. Error texts are
//! `error parsing regexp: <Rust's reason>: `<pattern>``.

/// Compiles a Go pattern.
pub(crate) fn compile(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(&translate(pattern)).map_err(|e| {
        let reason = match &e {
            regex::Error::Syntax(s) => s.lines().rev().find_map(|l| l.strip_prefix("error: ")).unwrap_or(s).to_owned(),
            regex::Error::CompiledTooBig(_) => "expression too large".to_owned(),
            other => other.to_string(),
        };
        format!("error parsing regexp: {reason}: `{pattern}`")
    })
}

/// Rewrites `\d \D \w \W \s \S \b \B` to ASCII forms, inside and outside
/// bracket expressions.
fn translate(pattern: &str) -> String {
    const DIGIT: &str = "0-9";
    const WORD: &str = "0-9A-Za-z_";
    const SPACE: &str = "\\t\\n\\f\\r ";
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    // Characters seen since the class opened (a leading `]` is literal).
    let mut class_len = 0usize;
    while let Some(c) = chars.next() {
        if c == '\\' {
            let Some(e) = chars.next() else {
                out.push(c);
                break;
            };
            let class = match e {
                'd' | 'D' => Some(DIGIT),
                'w' | 'W' => Some(WORD),
                's' | 'S' => Some(SPACE),
                _ => None,
            };
            match (class, in_class) {
                (Some(set), false) => {
                    out.push('[');
                    if e.is_ascii_uppercase() {
                        out.push('^');
                    }
                    out.push_str(set);
                    out.push(']');
                }
                (Some(set), true) => {
                    if e.is_ascii_uppercase() {
                        out.push_str("[^");
                        out.push_str(set);
                        out.push(']');
                    } else {
                        out.push_str(set);
                    }
                }
                (None, false) if e == 'b' || e == 'B' => {
                    out.push_str("(?-u:\\");
                    out.push(e);
                    out.push(')');
                }
                _ => {
                    out.push('\\');
                    out.push(e);
                }
            }
            if in_class {
                class_len += 1;
            }
            continue;
        }
        if in_class {
            if c == '[' && chars.peek() == Some(&':') {
                // A POSIX class such as [:alpha:] stays as it is.
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == ']' {
                        break;
                    }
                }
                class_len += 1;
                continue;
            }
            if c == ']' && class_len > 0 {
                in_class = false;
            } else if !(c == '^' && class_len == 0) {
                class_len += 1;
            }
            if c == '[' {
                // Literal in Go; Rust would open a nested class.
                out.push('\\');
            }
            out.push(c);
            continue;
        }
        if c == '[' {
            in_class = true;
            class_len = 0;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_classes() {
        assert_eq!(translate(r"\d+\w\s\b"), r"[0-9]+[0-9A-Za-z_][\t\n\f\r ](?-u:\b)");
        assert_eq!(translate(r"[\d.]\D"), r"[0-9.][^0-9]");
        assert_eq!(translate(r"[^\W]"), r"[^[^0-9A-Za-z_]]");
        assert_eq!(translate(r"\\d[]\d]"), r"\\d[]0-9]");
        assert_eq!(translate(r"[[:alpha:]\d]"), r"[[:alpha:]0-9]");
        assert_eq!(translate(r"[[a]"), r"[\[a]");
        let re = compile(r"\d+").map(|r| r.is_match("٣")).ok();
        assert_eq!(re, Some(false));
        assert!(compile(r"a|b|\q").is_err_and(|e| e.starts_with("error parsing regexp: ")));
        assert_eq!(compile("a*").map(|r| r.find_iter("baaac").count()).ok(), Some(3));
    }
}
