//! Line filters (spec §3.4; Loki's `log/filter.go`, `log/ip.go`).
//!
//! | op | keeps the line iff |
//! |---|---|
//! | `\|= "s"` | it contains `s` (bytes, case-sensitive; `""` matches every line) |
//! | `!= "s"` | it does not |
//! | `\|~ "re"` | the regex matches somewhere |
//! | `!~ "re"` | it does not |
//! | `\|> "p"` | the pattern matches the whole line ([`LinePattern`]) |
//! | `!> "p"` | it does not |
//! | `\|= ip("x")` / `!= ip("x")` | the line holds / does not hold an address in `x` ([`IpMatcher`]) |
//!
//! In an `or` chain every operand takes the chain's operator: a positive
//! chain keeps a line if any operand matches, a negative one only if none
//! does.
//!
//! Compilation, done once:
//! * a literal becomes an owned `memchr::memmem::Finder`;
//! * a regex that Loki simplifies is replaced the same way: a literal
//!   (`foo`, `.*foo.*`, `(foo)`) becomes a substring search, `(?i)foo` a
//!   case-insensitive one with Loki's semantics (below), alternations of
//!   those an `or`, `.*` and the empty regex match everything, and `.+`
//!   matches every non-empty line (as Loki's `ExistsFilter`: also a line
//!   that is only a newline);
//! * other regexes run on `regex::bytes::Regex` (RE2 syntax, unanchored),
//!   after a `memmem` check for the longest literal the regex requires
//!   at its top level, when there is one. As in Go, bytes that are not
//!   UTF-8 match as U+FFFD: a line the raw search rejects is searched
//!   again, decoded, when it is not valid UTF-8.
//!
//! Case-insensitive literals follow Loki's `containsLower`: the needle is
//! lowercased (Go's `unicode.ToLower`, after RE2's case folding of the
//! regex literal); a line byte must equal the needle's first byte after
//! ASCII lowering; then ASCII bytes compare after ASCII lowering, other
//! characters after `unicode.ToLower` of the line's character (so `K`
//! KELVIN SIGN inside a match counts as `k`), invalid UTF-8 bytes raw. For
//! ASCII needles the search lowers the line in stack chunks and runs one
//! `memmem` search per chunk; the characters whose lowercase is ASCII
//! (U+212A, U+0130) are then handled by an exact fallback scan. O(n) per
//! line for ASCII needles, O(n·m) worst case otherwise; nothing allocates
//! per line.

use memchr::memmem::Finder;
use regex::bytes::Regex;
use regex_syntax::ast::{self, Ast};

use super::{IpMatcher, LinePattern, StageError, decode_char};

/// A line filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineFilterOp {
    /// `|=`
    Contains,
    /// `!=`
    NotContains,
    /// `|~`
    Regex,
    /// `!~`
    NotRegex,
    /// `|>`
    Pattern,
    /// `!>`
    NotPattern,
}

impl LineFilterOp {
    /// Whether the operator keeps lines that do *not* match.
    pub fn is_negated(self) -> bool {
        matches!(self, Self::NotContains | Self::NotRegex | Self::NotPattern)
    }
}

/// One operand of a line filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFilterArg<'a> {
    /// A string: the substring, regex or pattern.
    Text(&'a str),
    /// `ip("…")`.
    Ip(&'a str),
}

impl<'a> From<&'a str> for LineFilterArg<'a> {
    fn from(s: &'a str) -> Self {
        Self::Text(s)
    }
}

/// A case-sensitive substring filter, as reported by
/// [`LineFilter::literal`] for push-down into chunk iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiteralFilter<'a> {
    /// The bytes searched for.
    pub needle: &'a [u8],
    /// Whether lines containing it are dropped (`!=`) rather than kept.
    pub negated: bool,
}

/// A compiled line filter.
///
/// # Examples
///
/// ```
/// use lokistore::logql::log::{LineFilter, LineFilterArg, LineFilterOp};
///
/// let f = LineFilter::new(LineFilterOp::NotContains, &["debug".into(), LineFilterArg::Ip("10.0.0.0/8")]).unwrap();
/// assert!(f.matches(b"level=info src=192.168.0.1"));
/// assert!(!f.matches(b"level=info src=10.1.2.3"));
/// assert!(!f.matches(b"level=debug"));
///
/// let ci = LineFilter::new(LineFilterOp::Regex, &["(?i)error".into()]).unwrap();
/// assert!(ci.matches(b"an ERROR here"));
///
/// let lit = LineFilter::new(LineFilterOp::Regex, &["timeout".into()]).unwrap();
/// assert_eq!(lit.literal().map(|l| l.needle), Some(&b"timeout"[..]));
/// ```
#[derive(Debug, Clone)]
pub struct LineFilter {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    One { negated: bool, matcher: Box<Matcher> },
    All(Vec<LineFilter>),
}

/// What a positive filter tests.
#[derive(Debug, Clone)]
enum Matcher {
    Always,
    NonEmpty,
    Contains(Finder<'static>),
    ContainsFold(FoldFinder),
    Regex {
        re: Box<Regex>,
        required: Option<Finder<'static>>,
    },
    Pattern(Box<LinePattern>),
    Ip(IpMatcher),
    /// Any of several matchers; when they are all substring tests, one
    /// multi-literal search (the regex crate's SIMD literal searchers) that
    /// matches exactly when one of them does.
    Any(Vec<Matcher>, Option<Box<Regex>>),
}

impl Matcher {
    fn is_match(&self, line: &[u8]) -> bool {
        match self {
            Self::Always => true,
            Self::NonEmpty => !line.is_empty(),
            Self::Contains(f) => f.find(line).is_some(),
            Self::ContainsFold(f) => f.is_match(line),
            Self::Regex { re, required } => {
                required.as_ref().is_none_or(|f| f.find(line).is_some()) && regex_match(re, line)
            }
            Self::Pattern(p) => p.matches(line),
            Self::Ip(m) => m.matches_text(line),
            Self::Any(_, Some(re)) => re.is_match(line),
            Self::Any(ms, None) => ms.iter().any(|m| m.is_match(line)),
        }
    }

    fn any(ms: Vec<Matcher>) -> Self {
        let mut flat = Vec::with_capacity(ms.len());
        for m in ms {
            match m {
                Self::Always => return Self::Always,
                Self::Any(inner, _) => flat.extend(inner),
                m => flat.push(m),
            }
        }
        if flat.len() == 1 {
            return flat.pop().unwrap_or(Self::Always);
        }
        let literals = flat.iter().all(|m| matches!(m, Self::Contains(_))).then(|| {
            // Byte-wise literals (Unicode off), so any needle bytes match
            // exactly themselves.
            let alternation: Vec<String> = flat
                .iter()
                .filter_map(|m| match m {
                    Self::Contains(f) => Some(f.needle().iter().map(|&b| format!("\\x{b:02x}")).collect()),
                    _ => None,
                })
                .collect();
            regex::bytes::RegexBuilder::new(&format!("(?-u:{})", alternation.join("|"))).build().ok().map(Box::new)
        });
        Self::Any(flat, literals.flatten())
    }

    fn contains(needle: &[u8]) -> Self {
        if needle.is_empty() { Self::Always } else { Self::Contains(Finder::new(needle).into_owned()) }
    }

    /// A cost rank: cheap filters run first in an `and`.
    fn cost(&self) -> u8 {
        match self {
            Self::Always | Self::NonEmpty => 0,
            Self::Contains(_) => 1,
            Self::ContainsFold(_) | Self::Ip(_) | Self::Pattern(_) => 2,
            Self::Any(..) => 3,
            Self::Regex { .. } => 4,
        }
    }
}

impl LineFilter {
    /// Compiles `op` with its operands (one, or an `or` chain).
    ///
    /// # Errors
    ///
    /// [`StageError::Regex`] for a regex that does not compile, pattern
    /// errors ([`LinePattern::new`]), [`StageError::IpInvalidOperation`]
    /// for `ip()` with `|~`, `!~`, `|>` or `!>`,
    /// [`StageError::IpInvalidPattern`].
    pub fn new(op: LineFilterOp, args: &[LineFilterArg<'_>]) -> Result<Self, StageError> {
        let mut matchers = Vec::with_capacity(args.len());
        for arg in args {
            matchers.push(match (op, *arg) {
                (LineFilterOp::Contains | LineFilterOp::NotContains, LineFilterArg::Text(s)) => {
                    Matcher::contains(s.as_bytes())
                }
                (LineFilterOp::Contains | LineFilterOp::NotContains, LineFilterArg::Ip(p)) => {
                    Matcher::Ip(IpMatcher::new(p)?)
                }
                (_, LineFilterArg::Ip(_)) => return Err(StageError::IpInvalidOperation),
                (LineFilterOp::Regex | LineFilterOp::NotRegex, LineFilterArg::Text(re)) => regex_matcher(re)?,
                (LineFilterOp::Pattern | LineFilterOp::NotPattern, LineFilterArg::Text(p)) => {
                    Matcher::Pattern(Box::new(LinePattern::new(p)?))
                }
            });
        }
        Ok(Self { repr: Repr::One { negated: op.is_negated(), matcher: Box::new(Matcher::any(matchers)) } })
    }

    /// `|= "s"`.
    pub fn contains(s: &str) -> Self {
        Self { repr: Repr::One { negated: false, matcher: Box::new(Matcher::contains(s.as_bytes())) } }
    }

    /// Consecutive filters: a line must pass all of them. Cheap filters
    /// run first (the result does not depend on the order).
    pub fn all(filters: Vec<LineFilter>) -> Self {
        let mut flat = Vec::with_capacity(filters.len());
        for f in filters {
            match f.repr {
                Repr::All(inner) => flat.extend(inner),
                one => flat.push(Self { repr: one }),
            }
        }
        flat.sort_by_key(LineFilter::cost);
        Self { repr: Repr::All(flat) }
    }

    fn cost(&self) -> u8 {
        match &self.repr {
            Repr::One { matcher, .. } => matcher.cost(),
            Repr::All(_) => 5,
        }
    }

    /// Whether the filter keeps `line`.
    pub fn matches(&self, line: &[u8]) -> bool {
        match &self.repr {
            Repr::One { negated, matcher } => matcher.is_match(line) != *negated,
            Repr::All(fs) => fs.iter().all(|f| f.matches(line)),
        }
    }

    /// The filter as one case-sensitive substring test (`|= "s"`,
    /// `!= "s"`, or a regex that simplifies to one), for push-down; `None`
    /// for anything else.
    pub fn literal(&self) -> Option<LiteralFilter<'_>> {
        match &self.repr {
            Repr::One { negated, matcher } => match &**matcher {
                Matcher::Contains(f) => Some(LiteralFilter { needle: f.needle(), negated: *negated }),
                _ => None,
            },
            Repr::All(_) => None,
        }
    }
}

thread_local! {
    /// A line with invalid UTF-8 as Go's regexp reads it.
    static DECODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A regex match as Go's regexp finds it: bytes that are not UTF-8 read as
/// U+FFFD. Only lines the raw search rejects and that are not UTF-8 are
/// searched again, decoded into a reused thread-local buffer.
fn regex_match(re: &Regex, line: &[u8]) -> bool {
    if re.is_match(line) {
        return true;
    }
    if std::str::from_utf8(line).is_ok() {
        return false;
    }
    DECODED.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        super::push_go_decoded(&mut buf, line);
        re.is_match(&buf)
    })
}

/// Compiles a `|~` operand, simplified as Loki does where possible.
fn regex_matcher(pattern: &str) -> Result<Matcher, StageError> {
    // Compile first so invalid regexes are refused even if they would
    // simplify.
    let re = super::regexp::compile(pattern)?;
    let Ok(ast) = ast::parse::Parser::new().parse(pattern) else {
        return Ok(Matcher::Regex { re: Box::new(re), required: None });
    };
    if let Some(simple) = simplify(&ast) {
        return Ok(simple);
    }
    // A literal with U+FFFD could match a decoded invalid byte: no prefilter.
    let required =
        required_literal(&ast).filter(|l| !l.contains('\u{fffd}')).map(|l| Finder::new(l.as_bytes()).into_owned());
    Ok(Matcher::Regex { re: Box::new(re), required })
}

/// Loki's regex simplification, on the parsed regex: `None` keeps the
/// regex.
fn simplify(top: &Ast) -> Option<Matcher> {
    // Leading flags of the top-level concatenation apply to the rest.
    let (items, fold) = match top {
        Ast::Concat(c) => {
            let mut fold = false;
            let mut rest = c.asts.as_slice();
            while let Some(Ast::Flags(f)) = rest.first() {
                fold = apply_flags(&f.flags, fold)?;
                rest = rest.get(1..).unwrap_or_default();
            }
            (rest, fold)
        }
        Ast::Flags(f) => {
            apply_flags(&f.flags, false)?;
            return Some(Matcher::Always);
        }
        other => (std::slice::from_ref(other), false),
    };
    match items {
        [] => Some(Matcher::Always),
        [one] => simplify_node(one, fold),
        many => simplify_concat(many, fold),
    }
}

/// The new case-insensitivity after a flag group; `None` for flags that
/// change what a literal means (`u`).
fn apply_flags(flags: &ast::Flags, mut fold: bool) -> Option<bool> {
    let mut negate = false;
    for item in &flags.items {
        match item.kind {
            ast::FlagsItemKind::Negation => negate = true,
            ast::FlagsItemKind::Flag(ast::Flag::CaseInsensitive) => fold = !negate,
            ast::FlagsItemKind::Flag(ast::Flag::Unicode | ast::Flag::CRLF) => return None,
            ast::FlagsItemKind::Flag(_) => {}
        }
    }
    Some(fold)
}

fn is_dot_star(ast: &Ast) -> bool {
    matches!(ast, Ast::Repetition(r)
        if r.op.kind == ast::RepetitionKind::ZeroOrMore && matches!(*r.ast, Ast::Dot(_)))
}

fn is_dot_plus(ast: &Ast) -> bool {
    matches!(ast, Ast::Repetition(r)
        if r.op.kind == ast::RepetitionKind::OneOrMore && matches!(*r.ast, Ast::Dot(_)))
}

fn simplify_node(ast: &Ast, fold: bool) -> Option<Matcher> {
    match ast {
        Ast::Empty(_) => Some(Matcher::Always),
        Ast::Literal(l) => Some(literal_matcher(&l.c.to_string(), fold)),
        _ if is_dot_star(ast) => Some(Matcher::Always),
        _ if is_dot_plus(ast) => Some(Matcher::NonEmpty),
        Ast::Group(g) => {
            let fold = match &g.kind {
                ast::GroupKind::NonCapturing(flags) => apply_flags(flags, fold)?,
                _ => fold,
            };
            match &*g.ast {
                Ast::Concat(c) => simplify_concat(&c.asts, fold),
                inner => simplify_node(inner, fold),
            }
        }
        Ast::Alternation(a) => {
            let mut legs = Vec::with_capacity(a.asts.len());
            for leg in &a.asts {
                let m = match leg {
                    Ast::Concat(c) => simplify_concat(&c.asts, fold)?,
                    other => simplify_node(other, fold)?,
                };
                if matches!(m, Matcher::NonEmpty) {
                    return None;
                }
                legs.push(m);
            }
            Some(Matcher::any(legs))
        }
        _ => None,
    }
}

/// `[.*] literal… [.*]` (a substring test), or only `.*`s.
fn simplify_concat(items: &[Ast], fold: bool) -> Option<Matcher> {
    let items: Vec<&Ast> = items.iter().filter(|a| !matches!(a, Ast::Empty(_))).collect();
    let mut i = 0;
    if items.first().is_some_and(|a| is_dot_star(a)) {
        i = 1;
    }
    let mut lit = String::new();
    while let Some(Ast::Literal(l)) = items.get(i) {
        lit.push(l.c);
        i += 1;
    }
    if items.get(i).is_some_and(|a| is_dot_star(a)) {
        i += 1;
    }
    if i != items.len() {
        return match items.as_slice() {
            [one] => simplify_node(one, fold),
            _ => None,
        };
    }
    Some(literal_matcher(&lit, fold))
}

fn literal_matcher(lit: &str, fold: bool) -> Matcher {
    if lit.is_empty() {
        return Matcher::Always;
    }
    if fold {
        let needle: String = lit.chars().map(fold_lower).collect();
        return Matcher::ContainsFold(FoldFinder::new(needle.as_bytes()));
    }
    Matcher::contains(lit.as_bytes())
}

/// The lowercase needle character Loki searches for a case-insensitive
/// regex literal: Go stores the smallest character of the literal's case
/// orbit, then lowers it.
fn fold_lower(c: char) -> char {
    let mut min = c;
    for alt in [single(c.to_uppercase()), single(c.to_lowercase())].into_iter().flatten() {
        min = min.min(alt);
    }
    go_to_lower(min)
}

fn single(mut it: impl Iterator<Item = char>) -> Option<char> {
    let c = it.next()?;
    it.next().is_none().then_some(c)
}

/// Go's `unicode.ToLower` (the simple mapping).
fn go_to_lower(c: char) -> char {
    if c == '\u{130}' {
        return 'i';
    }
    single(c.to_lowercase()).unwrap_or(c)
}

/// The longest run of literal characters among the top-level items of a
/// concatenation without flags: every match must contain it.
fn required_literal(ast: &Ast) -> Option<String> {
    let Ast::Concat(c) = ast else { return None };
    if c.asts.iter().any(|a| matches!(a, Ast::Flags(_))) {
        return None;
    }
    let mut best = String::new();
    let mut run = String::new();
    for item in &c.asts {
        if let Ast::Literal(l) = item {
            run.push(l.c);
        } else {
            if run.len() > best.len() {
                best = std::mem::take(&mut run);
            }
            run.clear();
        }
    }
    if run.len() > best.len() {
        best = run;
    }
    (best.len() >= 2).then_some(best)
}

/// Loki's `containsLower` search for a lowered needle.
#[derive(Debug, Clone)]
struct FoldFinder {
    needle: Vec<u8>,
    /// For an ASCII needle: a finder of it, for the chunked search.
    ascii: Option<Finder<'static>>,
    /// For an ASCII needle: the same search as an ASCII-case-insensitive
    /// byte regex (Unicode off, so only ASCII letters fold), which runs
    /// the regex crate's SIMD literal searchers on the line in place.
    ascii_re: Option<Box<Regex>>,
    /// Whether lines with U+212A / U+0130 need the exact scan too.
    special: bool,
}

/// Bytes lowered per chunk by the ASCII search.
const CHUNK: usize = 4096;

impl FoldFinder {
    fn new(needle: &[u8]) -> Self {
        let ascii = (needle.is_ascii() && needle.len() <= CHUNK / 2).then(|| Finder::new(needle).into_owned());
        let special = needle.iter().any(|&c| c == b'k' || c == b'i');
        let ascii_re = std::str::from_utf8(needle)
            .ok()
            // A lowered needle has no upper-case letter; one that had would
            // never match the lowered line, so it keeps the chunked search.
            .filter(|n| n.is_ascii() && !n.is_empty() && !n.bytes().any(|b| b.is_ascii_uppercase()))
            .and_then(|n| regex::bytes::RegexBuilder::new(&format!("(?i-u:{})", regex::escape(n))).build().ok())
            .map(Box::new);
        Self { needle: needle.to_vec(), ascii, ascii_re, special }
    }

    fn is_match(&self, line: &[u8]) -> bool {
        let Some(finder) = &self.ascii else { return contains_lower(line, &self.needle) };
        if self.needle.is_empty() {
            return true;
        }
        let found = match &self.ascii_re {
            Some(re) => re.is_match(line),
            None => ascii_fold_search(line, finder),
        };
        if found {
            return true;
        }
        // Only U+212A (→ k) and U+0130 (→ i) lower to ASCII.
        self.special
            && (memchr::memmem::find(line, "\u{212a}".as_bytes()).is_some()
                || memchr::memmem::find(line, "\u{130}".as_bytes()).is_some())
            && contains_lower(line, &self.needle)
    }
}

/// ASCII-case-insensitive substring search: the line is lowered in stack
/// chunks that overlap by the needle's length.
fn ascii_fold_search(line: &[u8], finder: &Finder<'_>) -> bool {
    let m = finder.needle().len();
    let mut buf = [0u8; CHUNK];
    let mut start = 0;
    while start < line.len() {
        let end = (start + CHUNK).min(line.len());
        let chunk = line.get(start..end).unwrap_or_default();
        let dst = buf.get_mut(..chunk.len()).unwrap_or_default();
        dst.copy_from_slice(chunk);
        dst.make_ascii_lowercase();
        if finder.find(dst).is_some() {
            return true;
        }
        if end == line.len() {
            break;
        }
        start = end + 1 - m.min(end + 1);
    }
    false
}

/// Loki's `containsLower`, exactly (see the module docs); also the
/// reference the fast search is tested against.
pub(crate) fn contains_lower(line: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else { return true };
    if needle.len() > line.len() {
        return false;
    }
    let last_start = line.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        // Candidates: bytes equal to the first needle byte after ASCII
        // lowering.
        let rest = line.get(i..=last_start).unwrap_or_default();
        let found = if first.is_ascii_lowercase() {
            memchr::memchr2(first, first.to_ascii_uppercase(), rest)
        } else {
            memchr::memchr(first, rest)
        };
        let Some(off) = found else { return false };
        i += off;
        if verify_lower(line.get(i..).unwrap_or_default(), needle) {
            return true;
        }
        i += 1;
    }
    false
}

/// Whether `needle` matches at the start of `line` under `containsLower`.
fn verify_lower(line: &[u8], needle: &[u8]) -> bool {
    let (mut l, mut n) = (0, 0);
    while let (Some(&c), Some(&s)) = (line.get(l), needle.get(n)) {
        if c < 0x80 && s < 0x80 {
            if c.to_ascii_lowercase() != s {
                return false;
            }
            l += 1;
            n += 1;
            continue;
        }
        let Some((lc, lsize)) = decode_char(line.get(l..).unwrap_or_default()) else {
            // Invalid UTF-8 in the line compares as a raw byte.
            if c != s {
                return false;
            }
            l += 1;
            n += 1;
            continue;
        };
        let Some((nc, nsize)) = decode_char(needle.get(n..).unwrap_or_default()) else { return false };
        if go_to_lower(lc) != nc {
            return false;
        }
        l += lsize;
        n += nsize;
    }
    n == needle.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(op: LineFilterOp, args: &[&str]) -> LineFilter {
        let args: Vec<LineFilterArg<'_>> = args.iter().map(|&a| a.into()).collect();
        LineFilter::new(op, &args).unwrap()
    }

    fn kind(re: &str) -> String {
        let m = regex_matcher(re).unwrap();
        match m {
            Matcher::Always => "always".into(),
            Matcher::NonEmpty => "nonempty".into(),
            Matcher::Contains(f) => format!("contains({})", String::from_utf8_lossy(f.needle())),
            Matcher::ContainsFold(f) => format!("fold({})", String::from_utf8_lossy(&f.needle)),
            Matcher::Regex { required, .. } => {
                format!(
                    "regex({})",
                    required.map(|f| String::from_utf8_lossy(f.needle()).into_owned()).unwrap_or_default()
                )
            }
            Matcher::Any(ms, _) => format!("any({})", ms.len()),
            _ => "other".into(),
        }
    }

    #[test]
    fn literal_alternation_matches_each_literal() {
        let f = LineFilter::new(LineFilterOp::Contains, &["ab".into(), "é|x".into(), "\u{fffd}".into()]).unwrap();
        let Repr::One { matcher, .. } = &f.repr else { panic!("one matcher") };
        assert!(matches!(**matcher, Matcher::Any(_, Some(_))));
        for (line, want) in [
            (&b"xxabyy"[..], true),
            (b"a b", false),
            ("é|x".as_bytes(), true),
            ("é".as_bytes(), false),
            (b"\xef\xbf\xbd", true),
            (b"\xff\xfe", false),
            (b"", false),
        ] {
            assert_eq!(f.matches(line), want, "{line:?}");
        }
    }

    #[test]
    fn simplification() {
        assert_eq!(kind("foo"), "contains(foo)");
        assert_eq!(kind(".*foo.*"), "contains(foo)");
        assert_eq!(kind("(foo)"), "contains(foo)");
        assert_eq!(kind("(?:foo)"), "contains(foo)");
        assert_eq!(kind(r"foo\.bar"), "contains(foo.bar)");
        assert_eq!(kind("(?i)FOO"), "fold(foo)");
        assert_eq!(kind("(?i:Foo)"), "fold(foo)");
        assert_eq!(kind("(?i)ſ"), "fold(s)");
        assert_eq!(kind("foo|bar"), "any(2)");
        assert_eq!(kind("(?i)foo|bar"), "regex()", "flags crossing an alternation: left to the regex");
        assert_eq!(kind(""), "always");
        assert_eq!(kind(".*"), "always");
        assert_eq!(kind("(?s).*"), "always");
        assert_eq!(kind(".+"), "nonempty");
        assert_eq!(kind("foo|.*"), "always");
        assert_eq!(kind("fo+"), "regex()");
        assert_eq!(kind("code=5.."), "regex(code=5)");
        assert_eq!(kind("^foo"), "regex(foo)");
        assert_eq!(kind("(?-u)foo"), "regex()");
    }

    #[test]
    fn filters() {
        use LineFilterOp::*;
        assert!(f(Contains, &["err"]).matches(b"req err=x"));
        assert!(!f(Contains, &["ERR"]).matches(b"req err=x"));
        assert!(f(Contains, &[""]).matches(b""));
        assert!(!f(NotContains, &[""]).matches(b"x"));
        assert!(f(Contains, &["error", "warn"]).matches(b"level=warn"));
        assert!(!f(NotContains, &["error", "warn"]).matches(b"level=warn"));
        assert!(f(NotContains, &["error", "warn"]).matches(b"level=info"));
        assert!(f(Regex, &["code=5.."]).matches(b"code=500 fail"));
        assert!(!f(Regex, &["code=5.."]).matches(b"CODE=503 down"));
        assert!(f(Regex, &["(?i)code=5.."]).matches(b"CODE=503 down"));
        assert!(f(NotRegex, &["err.r", "wa.n"]).matches(b"level=info"));
        assert!(f(Regex, &[".+"]).matches(b"\n"), "Loki's ExistsFilter");
        assert!(!f(Regex, &[".+"]).matches(b""));
        assert!(f(Pattern, &["GET <_> 200"]).matches(b"GET /api 200"));
        assert!(f(NotPattern, &["GET <_> 200"]).matches(b"POST /api 500"));
        assert!(f(Pattern, &["level=error <_>", "level=warn <_>"]).matches(b"level=warn y"));
        let ip = LineFilter::new(Contains, &["special".into(), LineFilterArg::Ip("10.0.0.0/8")]).unwrap();
        assert!(ip.matches(b"src 10.0.0.9 ok") && ip.matches(b"special no ip") && !ip.matches(b"no ip here"));
        assert_eq!(
            LineFilter::new(Regex, &["x".into(), LineFilterArg::Ip("10.0.0.0/8")]).unwrap_err(),
            StageError::IpInvalidOperation
        );
        assert!(LineFilter::new(Regex, &["(".into()]).is_err());
        assert!(LineFilter::new(Pattern, &["<verb> /api".into()]).is_err());
        assert!(LineFilter::new(Contains, &[LineFilterArg::Ip("")]).is_err());
    }

    #[test]
    fn literals_and_and() {
        use LineFilterOp::*;
        assert_eq!(f(Contains, &["x"]).literal(), Some(LiteralFilter { needle: b"x", negated: false }));
        assert_eq!(f(NotContains, &["x"]).literal(), Some(LiteralFilter { needle: b"x", negated: true }));
        assert_eq!(f(Regex, &["x"]).literal(), Some(LiteralFilter { needle: b"x", negated: false }));
        assert_eq!(f(Contains, &["x", "y"]).literal(), None);
        assert_eq!(f(Regex, &["(?i)x"]).literal(), None);
        let all = LineFilter::all(vec![f(Regex, &["b.r"]), f(Contains, &["foo"]), f(NotContains, &["baz"])]);
        assert!(all.matches(b"foo bar"));
        assert!(!all.matches(b"foo bar baz"));
        assert!(!all.matches(b"bar"));
        assert!(all.literal().is_none());
    }

    #[test]
    fn fold_search() {
        let m = |needle: &str, line: &[u8]| FoldFinder::new(needle.as_bytes()).is_match(line);
        assert!(m("error", b"An ERROR occurred"));
        assert!(!m("error", b"An ERRO"));
        assert!(m("k8s", "\u{212a}\u{212a}8s".as_bytes()) == contains_lower("\u{212a}\u{212a}8s".as_bytes(), b"k8s"));
        assert!(m("ok", "o\u{212a}".as_bytes()), "KELVIN SIGN inside a match lowers to k");
        assert!(!m("ko", "\u{212a}o".as_bytes()), "but not as the first byte");
        assert!(m("café", "CAFÉ au lait".as_bytes()));
        assert!(m("x", &[0xff, b'X']));
        let long = format!("{}NEEDLE", "a".repeat(CHUNK * 3 - 3));
        assert!(m("needle", long.as_bytes()));
        let split = format!("{}NEEDLE{}", "a".repeat(CHUNK - 3), "b".repeat(10));
        assert!(m("needle", split.as_bytes()));
    }

    #[test]
    fn fold_search_matches_reference() {
        // Lines over a small alphabet (both cases, `[`, a byte that is not
        // UTF-8, the Kelvin sign's bytes), against Loki's algorithm.
        const ALPHABET: &[u8] = b"abAB[\xff\xe2\x84\xaa";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for needle in ["ab", "ba[", "a", "bab", "k"] {
            let finder = FoldFinder::new(needle.as_bytes());
            for _ in 0..3000 {
                let len = (next() % 12) as usize;
                let line: Vec<u8> = (0..len).map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize]).collect();
                assert_eq!(finder.is_match(&line), contains_lower(&line, needle.as_bytes()), "{needle} in {line:?}");
            }
        }
    }
}
