//! The parser: Go's `text/template/parse` grammar, scoping and error texts
//! (`template: <name>:<line>: <message>`).
//!
//! ```text
//! template  = { text | action | define }
//! action    = "{{" ( pipeline | if | range | with | template | block | break | continue ) "}}"
//! pipeline  = [ decl ( ":=" | "=" ) ] command { "|" command }
//! command   = operand { space operand }
//! operand   = term { ".field" }
//! term      = literal | "." | ".field" | "$var" | function | "(" pipeline ")"
//! ```
//!
//! Functions must exist when parsing (`function "x" not defined`),
//! variables must be declared in an enclosing scope (`undefined variable
//! "$x"`), and `break`/`continue` must be inside a `range`.

use super::MAX_DEPTH;
use super::ast::{Action, Arg, Branch, Command, List, Node, NumberNode, Pipe, TemplateCall, VarNode, is_empty_tree};
use super::error::{TemplateError, TemplateErrorKind};
use super::funcs::Func;
use super::lexer::{Item, ItemKind, lex};
use super::strconv::{parse_float, parse_int, parse_uint, quote, unquote_char, unquote_string};

/// What `text_or_action` found.
enum Parsed {
    Node(Node),
    End,
    Else,
}

impl Parsed {
    fn describe(&self) -> &'static str {
        match self {
            Parsed::End => "{{end}}",
            Parsed::Else => "{{else}}",
            Parsed::Node(_) => "node",
        }
    }
}

type PResult<T> = Result<T, TemplateError>;

struct Parser<'a> {
    name: &'a str,
    items: Vec<Item>,
    cursor: usize,
    /// The furthest token read; its line is the one Go reports.
    furthest: usize,
    vars: Vec<String>,
    range_depth: usize,
    paren_depth: usize,
    control_depth: usize,
    action_line: usize,
    defines: Vec<(String, List)>,
    eof: Item,
}

/// Parses `text`: the main body and the `define`/`block` templates.
pub(crate) fn parse(name: &str, text: &str) -> Result<(List, Vec<(String, List)>), TemplateError> {
    let mut p = Parser {
        name,
        items: lex(text),
        cursor: 0,
        furthest: 0,
        vars: vec!["$".to_owned()],
        range_depth: 0,
        paren_depth: 0,
        control_depth: 0,
        action_line: 0,
        defines: Vec::new(),
        eof: Item { kind: ItemKind::Eof, pos: text.len(), val: String::new(), line: 1 },
    };
    let root = p.parse_top()?;
    // The main template joins the set of templates like a define does.
    let mut defines = std::mem::take(&mut p.defines);
    if let Some(i) = defines.iter().position(|(n, _)| n == name) {
        let (_, body) = defines.remove(i);
        if is_empty_tree(&root) {
            return Ok((body, defines));
        }
        if !is_empty_tree(&body) {
            return Err(p.error(format!("template: multiple definition of template {}", quote(name))));
        }
    }
    Ok((root, defines))
}

impl Parser<'_> {
    fn item(&self, i: usize) -> Item {
        self.items.get(i).or(self.items.last()).unwrap_or(&self.eof).clone()
    }

    fn next(&mut self) -> Item {
        let it = self.item(self.cursor);
        self.furthest = self.furthest.max(self.cursor.min(self.items.len().saturating_sub(1)));
        self.cursor += 1;
        it
    }

    fn backup(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    fn peek(&mut self) -> Item {
        let it = self.next();
        self.backup();
        it
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let it = self.next();
            if it.kind != ItemKind::Space {
                return it;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let it = self.next_non_space();
        self.backup();
        it
    }

    fn error(&self, msg: String) -> TemplateError {
        let line = self.item(self.furthest).line;
        TemplateError::new(TemplateErrorKind::Parse, format!("template: {}:{}: {}", self.name, line, msg))
    }

    fn errorf<T>(&self, msg: String) -> PResult<T> {
        Err(self.error(msg))
    }

    fn unexpected<T>(&self, token: &Item, context: &str) -> PResult<T> {
        if token.kind == ItemKind::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(" in action started at {}:{}", self.name, self.action_line);
                if token.val.ends_with(" action") {
                    extra = extra.get(" in action".len()..).unwrap_or_default().to_owned();
                }
            }
            return self.errorf(format!("{}{}", token.describe(), extra));
        }
        self.errorf(format!("unexpected {} in {}", token.describe(), context))
    }

    fn expect(&mut self, kind: ItemKind, context: &str) -> PResult<Item> {
        let token = self.next_non_space();
        if token.kind != kind {
            return self.unexpected(&token, context);
        }
        Ok(token)
    }

    fn parse_top(&mut self) -> PResult<List> {
        let mut root = Vec::new();
        while self.peek().kind != ItemKind::Eof {
            if self.peek().kind == ItemKind::LeftDelim {
                let save = self.cursor;
                self.next();
                if self.next_non_space().kind == ItemKind::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.cursor = save;
            }
            match self.text_or_action()? {
                Parsed::Node(n) => root.push(n),
                other => return self.errorf(format!("unexpected {}", other.describe())),
            }
        }
        Ok(root)
    }

    /// Adds a `define`d template, as Go's `Tree.add` does: an empty body
    /// never replaces a non-empty one, two non-empty bodies are an error.
    fn add_define(&mut self, name: String, body: List) -> PResult<()> {
        match self.defines.iter_mut().find(|(n, _)| *n == name) {
            None => self.defines.push((name, body)),
            Some(existing) => {
                if is_empty_tree(&existing.1) {
                    existing.1 = body;
                } else if !is_empty_tree(&body) {
                    return self.errorf(format!("template: multiple definition of template {}", quote(&name)));
                }
            }
        }
        Ok(())
    }

    /// Runs `f` with a fresh scope (a new tree in Go: only `$`, not inside
    /// a range).
    fn in_new_tree<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let vars = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        let range = std::mem::replace(&mut self.range_depth, 0);
        let action = std::mem::replace(&mut self.action_line, 0);
        let r = f(self);
        self.vars = vars;
        self.range_depth = range;
        self.action_line = action;
        r
    }

    fn parse_definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let token = self.next_non_space();
        if token.kind != ItemKind::String && token.kind != ItemKind::RawString {
            return self.unexpected(&token, CONTEXT);
        }
        let Some(name) = unquote_string(&token.val) else {
            return self.errorf("invalid syntax".to_owned());
        };
        self.expect(ItemKind::RightDelim, CONTEXT)?;
        let body = self.in_new_tree(|p| {
            let (body, end) = p.item_list()?;
            if !matches!(end, Parsed::End) {
                return p.errorf(format!("unexpected {} in {CONTEXT}", end.describe()));
            }
            Ok(body)
        })?;
        self.add_define(name, body)
    }

    fn item_list(&mut self) -> PResult<(List, Parsed)> {
        let mut list = Vec::new();
        while self.peek_non_space().kind != ItemKind::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.push(n),
                other => return Ok((list, other)),
            }
        }
        self.errorf("unexpected EOF".to_owned())
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        match token.kind {
            ItemKind::Text => Ok(Parsed::Node(Node::Text(token.val))),
            ItemKind::LeftDelim => {
                self.action_line = token.line;
                let r = self.action();
                self.action_line = 0;
                r
            }
            _ => self.unexpected(&token, "input"),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        let node = match token.kind {
            ItemKind::Block => self.block_control()?,
            ItemKind::Break | ItemKind::Continue => {
                let word = if token.kind == ItemKind::Break { "{{break}}" } else { "{{continue}}" };
                let next = self.next_non_space();
                if next.kind != ItemKind::RightDelim {
                    return self.unexpected(&next, word);
                }
                if self.range_depth == 0 {
                    return self.errorf(format!("{word} outside {{{{range}}}}"));
                }
                if token.kind == ItemKind::Break { Node::Break(token.pos) } else { Node::Continue(token.pos) }
            }
            ItemKind::Else => {
                let peek = self.peek_non_space();
                if peek.kind != ItemKind::If && peek.kind != ItemKind::With {
                    self.expect(ItemKind::RightDelim, "else")?;
                }
                return Ok(Parsed::Else);
            }
            ItemKind::End => {
                self.expect(ItemKind::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            ItemKind::If => Node::If(self.parse_control("if")?),
            ItemKind::Range => Node::Range(self.parse_control("range")?),
            ItemKind::With => Node::With(self.parse_control("with")?),
            ItemKind::Template => self.template_control()?,
            _ => {
                self.backup();
                let pos = self.peek().pos;
                Node::Action(Action { pos, pipe: self.pipeline("command", ItemKind::RightDelim)? })
            }
        };
        Ok(Parsed::Node(node))
    }

    fn parse_control(&mut self, context: &str) -> PResult<Branch> {
        if self.control_depth >= MAX_DEPTH {
            return self.errorf("max control nesting depth exceeded".to_owned());
        }
        self.control_depth += 1;
        let vars = self.vars.len();
        let r = self.parse_control_inner(context);
        self.vars.truncate(vars);
        self.control_depth -= 1;
        r
    }

    fn parse_control_inner(&mut self, context: &str) -> PResult<Branch> {
        let pipe = self.pipeline(context, ItemKind::RightDelim)?;
        let is_range = context == "range";
        if is_range {
            self.range_depth += 1;
        }
        let r = self.item_list();
        if is_range {
            self.range_depth -= 1;
        }
        let (list, next) = r?;
        let mut else_list = None;
        if let Parsed::Else = next {
            let peek = self.peek().kind;
            if context == "if" && peek == ItemKind::If {
                self.next();
                else_list = Some(vec![Node::If(self.parse_control("if")?)]);
            } else if context == "with" && peek == ItemKind::With {
                self.next();
                else_list = Some(vec![Node::With(self.parse_control("with")?)]);
            } else {
                let (list, next) = self.item_list()?;
                if !matches!(next, Parsed::End) {
                    return self.errorf(format!("expected end; found {}", next.describe()));
                }
                else_list = Some(list);
            }
        }
        Ok(Branch { pipe, list, else_list })
    }

    fn template_name(&mut self, token: &Item, context: &str) -> PResult<String> {
        match token.kind {
            ItemKind::String | ItemKind::RawString => match unquote_string(&token.val) {
                Some(s) => Ok(s),
                None => self.errorf("invalid syntax".to_owned()),
            },
            _ => self.unexpected(token, context),
        }
    }

    fn template_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().kind != ItemKind::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, ItemKind::RightDelim)?);
        }
        Ok(Node::Template(TemplateCall { pos: token.pos, name, pipe }))
    }

    fn block_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemKind::RightDelim)?;
        if self.control_depth >= MAX_DEPTH {
            return self.errorf("max control nesting depth exceeded".to_owned());
        }
        self.control_depth += 1;
        let body = self.in_new_tree(|p| {
            let (body, end) = p.item_list()?;
            if !matches!(end, Parsed::End) {
                return p.errorf(format!("unexpected {} in {CONTEXT}", end.describe()));
            }
            Ok(body)
        });
        self.control_depth -= 1;
        self.add_define(name.clone(), body?)?;
        Ok(Node::Template(TemplateCall { pos: token.pos, name, pipe: Some(pipe) }))
    }

    fn pipeline(&mut self, context: &str, end: ItemKind) -> PResult<Pipe> {
        let pos = self.peek_non_space().pos;
        let mut pipe = Pipe { pos, is_assign: false, decl: Vec::new(), cmds: Vec::new() };
        loop {
            let v = self.peek_non_space();
            if v.kind != ItemKind::Variable {
                break;
            }
            let at_v = self.cursor;
            self.next();
            let next = self.peek_non_space();
            if next.kind == ItemKind::Assign || next.kind == ItemKind::Declare {
                pipe.is_assign = next.kind == ItemKind::Assign;
                self.next_non_space();
                pipe.decl.push(VarNode { pos: v.pos, idents: vec![v.val.clone()] });
                self.vars.push(v.val);
            } else if next.kind == ItemKind::Char && next.val == "," {
                self.next_non_space();
                pipe.decl.push(VarNode { pos: v.pos, idents: vec![v.val.clone()] });
                self.vars.push(v.val);
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space().kind {
                        ItemKind::Variable | ItemKind::RightDelim | ItemKind::RightParen => continue,
                        _ => return self.errorf("range can only initialize variables".to_owned()),
                    }
                }
                return self.errorf(format!("too many declarations in {context}"));
            } else {
                self.cursor = at_v;
            }
            break;
        }
        loop {
            let token = self.next_non_space();
            if token.kind == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match token.kind {
                ItemKind::Bool
                | ItemKind::CharConstant
                | ItemKind::Complex
                | ItemKind::Dot
                | ItemKind::Field
                | ItemKind::Identifier
                | ItemKind::Number
                | ItemKind::Nil
                | ItemKind::RawString
                | ItemKind::String
                | ItemKind::Variable
                | ItemKind::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&token, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return self.errorf(format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(Arg::Bool(..) | Arg::Dot(_) | Arg::Nil(_) | Arg::Number(_) | Arg::Str { .. })
            ) {
                return self.errorf(format!("non executable command in pipeline stage {}", i + 1));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                args.push(op);
            }
            let token = self.next();
            match token.kind {
                ItemKind::Space => continue,
                ItemKind::RightDelim | ItemKind::RightParen => self.backup(),
                ItemKind::Pipe => {}
                _ => return self.unexpected(&token, "operand"),
            }
            break;
        }
        if args.is_empty() {
            return self.errorf("empty command".to_owned());
        }
        // A literal pattern of a regex function is compiled once, here.
        let regex = match args.as_slice() {
            [Arg::Ident { func, .. }, Arg::Str { text, .. }, ..] if func.takes_regex() => {
                Some(super::goregex::compile(text))
            }
            _ => None,
        };
        Ok(Command { pos, args, regex })
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != ItemKind::Field {
            return Ok(Some(node));
        }
        let chain_pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == ItemKind::Field {
            let f = self.next();
            fields.push(f.val.get(1..).unwrap_or_default().to_owned());
        }
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field { pos: chain_pos, idents }
            }
            Arg::Variable(mut v) => {
                v.idents.extend(fields);
                Arg::Variable(VarNode { pos: chain_pos, idents: v.idents })
            }
            Arg::Bool(..) | Arg::Str { .. } | Arg::Number(_) | Arg::Nil(_) | Arg::Dot(_) => {
                return self.errorf(format!("unexpected . after term {}", quote(&node.to_string())));
            }
            other => Arg::Chain { pos: chain_pos, node: Box::new(other), fields },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let token = self.next_non_space();
        let arg = match token.kind {
            ItemKind::Identifier => match Func::lookup(&token.val) {
                Some(func) => Arg::Ident { pos: token.pos, func },
                None => return self.errorf(format!("function {} not defined", quote(&token.val))),
            },
            ItemKind::Dot => Arg::Dot(token.pos),
            ItemKind::Nil => Arg::Nil(token.pos),
            ItemKind::Variable => {
                if !self.vars.contains(&token.val) {
                    return self.errorf(format!("undefined variable {}", quote(&token.val)));
                }
                Arg::Variable(VarNode { pos: token.pos, idents: vec![token.val] })
            }
            ItemKind::Field => {
                Arg::Field { pos: token.pos, idents: vec![token.val.get(1..).unwrap_or_default().to_owned()] }
            }
            ItemKind::Bool => Arg::Bool(token.pos, token.val == "true"),
            ItemKind::CharConstant | ItemKind::Complex | ItemKind::Number => match new_number(&token) {
                Ok(n) => Arg::Number(n),
                Err(msg) => return self.errorf(msg),
            },
            ItemKind::LeftParen => {
                if self.paren_depth >= MAX_DEPTH {
                    return self.errorf("max expression depth exceeded".to_owned());
                }
                self.paren_depth += 1;
                let r = self.pipeline("parenthesized pipeline", ItemKind::RightParen);
                self.paren_depth -= 1;
                Arg::Pipe(Box::new(r?))
            }
            ItemKind::String | ItemKind::RawString => match unquote_string(&token.val) {
                Some(text) => Arg::Str { pos: token.pos, quoted: token.val, text },
                None => return self.errorf("invalid syntax".to_owned()),
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        };
        Ok(Some(arg))
    }
}

/// Go's `newNumber`: the value of a number or character constant under
/// every type that can hold it.
fn new_number(token: &Item) -> Result<NumberNode, String> {
    let text = token.val.as_str();
    let mut n = NumberNode {
        pos: token.pos,
        text: text.to_owned(),
        is_int: false,
        is_uint: false,
        is_float: false,
        int: 0,
        float: 0.0,
    };
    match token.kind {
        ItemKind::CharConstant => {
            let body = text.get(1..).unwrap_or_default();
            let Some((v, _, tail)) = unquote_char(body, '\'') else {
                return Err("invalid syntax".to_owned());
            };
            if tail != "'" {
                return Err(format!("malformed character constant: {text}"));
            }
            n.int = i64::from(v);
            n.float = f64::from(v);
            n.is_int = true;
            n.is_uint = true;
            n.is_float = true;
            return Ok(n);
        }
        ItemKind::Complex => return Err(format!("complex number constants are not supported: {}", quote(text))),
        _ => {}
    }
    if let Some(imag) = text.strip_suffix('i')
        && parse_float(imag).is_ok()
    {
        return Err(format!("complex number constants are not supported: {}", quote(text)));
    }
    let u = parse_uint(text, true);
    if u.is_ok() {
        n.is_uint = true;
    }
    if let Ok(i) = parse_int(text, true) {
        n.is_int = true;
        n.int = i;
        if i == 0 {
            n.is_uint = true;
        }
    }
    if n.is_int {
        n.is_float = true;
        n.float = n.int as f64;
    } else if let Ok(u) = u {
        n.is_float = true;
        n.float = u as f64;
    } else if let Ok(f) = parse_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!("integer overflow: {}", quote(text)));
        }
        n.is_float = true;
        n.float = f;
        if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f) {
            n.is_int = true;
            n.int = f as i64;
        }
        if f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f) {
            n.is_uint = true;
        }
    }
    if !n.is_int && !n.is_uint && !n.is_float {
        return Err(format!("illegal number syntax: {}", quote(text)));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match parse("line", text) {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.to_string(),
        }
    }

    fn canon(text: &str) -> String {
        match parse("line", text) {
            Ok((root, _)) => root.iter().map(|n| n.to_string()).collect(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn prints_back() {
        assert_eq!(canon("a{{.foo | upper}}b"), "a{{.foo | upper}}b");
        assert_eq!(canon("{{ .a.b }}{{$x := 1}}{{$x.y}}"), "{{.a.b}}{{$x := 1}}{{$x.y}}");
        assert_eq!(
            canon("{{if .a}}x{{else if .b}}y{{else}}z{{end}}"),
            "{{if .a}}x{{else}}{{if .b}}y{{else}}z{{end}}{{end}}"
        );
        assert_eq!(canon("{{range $k, $v := .}}{{$k}}{{end}}"), "{{range $k, $v := .}}{{$k}}{{end}}");
        assert_eq!(canon("{{ (printf \"%d\" 1).x }}"), "{{(printf \"%d\" 1).x}}");
        assert_eq!(canon("{{ __timestamp__.Unix }}"), "{{__timestamp__.Unix}}");
        assert_eq!(canon("{{ with $x := .a }}{{ $x }}{{ end }}"), "{{with $x := .a}}{{$x}}{{end}}");
        assert_eq!(canon("{{template \"x\" .}}{{define \"x\"}}X{{end}}"), "{{template \"x\" .}}");
        assert_eq!(canon("{{ 'a' }} {{ 0x1F }} {{ 1e3 }} {{ -2 }}"), "{{'a'}} {{0x1F}} {{1e3}} {{-2}}");
    }

    #[test]
    fn parse_errors() {
        assert_eq!(err("{{.foo"), "template: line:1: unclosed action");
        assert_eq!(err("{{"), "template: line:1: unclosed action");
        assert_eq!(err("{{ nosuchfunc }}"), "template: line:1: function \"nosuchfunc\" not defined");
        assert_eq!(err("{{ $x }}"), "template: line:1: undefined variable \"$x\"");
        assert_eq!(err("{{if .a}}"), "template: line:1: unexpected EOF");
        assert_eq!(err("{{end}}"), "template: line:1: unexpected {{end}}");
        assert_eq!(err("{{else}}"), "template: line:1: unexpected {{else}}");
        assert_eq!(err("{{range .}}{{else}}{{else}}{{end}}"), "template: line:1: expected end; found {{else}}");
        assert_eq!(err("{{ | .a }}"), "template: line:1: unexpected \"|\" in command");
        assert_eq!(err("{{ }}"), "template: line:1: missing value for command");
        assert_eq!(err("{{ .a | 3 }}"), "template: line:1: non executable command in pipeline stage 2");
        assert_eq!(err("{{ \"x\".y }}"), "template: line:1: unexpected . after term \"\\\"x\\\"\"");
        assert_eq!(err("{{break}}"), "template: line:1: {{break}} outside {{range}}");
        assert_eq!(err("{{range .}}{{continue 1}}{{end}}"), "template: line:1: unexpected \"1\" in {{continue}}");
        assert_eq!(err("{{ 08 }}"), "template: line:1: integer overflow: \"08\"");
        assert_eq!(err("{{ 99999999999999999999 }}"), "template: line:1: integer overflow: \"99999999999999999999\"");
        assert_eq!(err("{{ - }}"), "template: line:1: illegal number syntax: \"-\"");
        assert_eq!(err("{{ 'ab' }}"), "template: line:1: malformed character constant: 'ab'");
        assert_eq!(err("{{ \"\\q\" }}"), "template: line:1: invalid syntax");
        assert_eq!(err("{{ 1i }}"), "template: line:1: complex number constants are not supported: \"1i\"");
        assert_eq!(
            err("{{define \"x\"}}a{{end}}{{define \"x\"}}b{{end}}"),
            "template: line:1: template: multiple definition of template \"x\""
        );
        assert_eq!(err("{{ .a = 1 }}"), "template: line:1: unexpected \"=\" in operand");
        assert_eq!(err("{{range $a, $b, $c := .}}{{end}}"), "template: line:1: too many declarations in range");
        assert_eq!(err("{{ $a, $b := 1 }}"), "template: line:1: too many declarations in command");
        assert_eq!(err("{{ template .x }}"), "template: line:1: unexpected \".x\" in template clause");
        assert_eq!(err("a\n{{ .x\n| upper"), "template: line:3: unclosed action started at line:2");
        assert_eq!(err("a\n\n{{ .x }\n}"), "template: line:3: unexpected \"}\" in operand");
        let deep = format!("{}1{}", "{{".to_owned() + &"(".repeat(200), ")".repeat(200) + "}}");
        assert_eq!(err(&deep), "template: line:1: max expression depth exceeded");
        let deep = "{{if 1}}".repeat(200);
        assert_eq!(err(&deep), "template: line:1: max control nesting depth exceeded");
        assert_eq!(err("{{define \"line\"}}x{{end}}"), "ok");
        assert_eq!(
            err("y{{define \"line\"}}x{{end}}"),
            "template: line:1: template: multiple definition of template \"line\""
        );
    }
}
