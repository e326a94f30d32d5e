//! The parsed template: Go's `text/template/parse` nodes, with their byte
//! positions and their `String()` forms (used in execution errors, as in
//! `executing "line" at <.foo.bar>`).

use std::fmt::{self, Display, Formatter, Write};

use super::funcs::Func;
use super::strconv::quote;

/// A sequence of nodes.
pub(crate) type List = Vec<Node>;

/// A node of a list.
#[derive(Debug)]
pub(crate) enum Node {
    /// Plain text.
    Text(String),
    /// `{{pipeline}}`.
    Action(Action),
    /// `{{if}}…{{else}}…{{end}}`.
    If(Branch),
    /// `{{range}}…{{else}}…{{end}}`.
    Range(Branch),
    /// `{{with}}…{{else}}…{{end}}`.
    With(Branch),
    /// `{{template "name" pipeline}}` (also what `{{block}}` leaves behind).
    Template(TemplateCall),
    /// `{{break}}` at this position.
    Break(usize),
    /// `{{continue}}` at this position.
    Continue(usize),
}

/// `{{pipeline}}`.
#[derive(Debug)]
pub(crate) struct Action {
    pub(crate) pos: usize,
    pub(crate) pipe: Pipe,
}

/// The common shape of `if`, `range` and `with`.
#[derive(Debug)]
pub(crate) struct Branch {
    pub(crate) pipe: Pipe,
    pub(crate) list: List,
    pub(crate) else_list: Option<List>,
}

/// `{{template "name" pipeline}}`.
#[derive(Debug)]
pub(crate) struct TemplateCall {
    pub(crate) pos: usize,
    pub(crate) name: String,
    pub(crate) pipe: Option<Pipe>,
}

/// A pipeline: optional variable declarations (or assignments) and
/// commands separated by `|`.
#[derive(Debug)]
pub(crate) struct Pipe {
    pub(crate) pos: usize,
    pub(crate) is_assign: bool,
    pub(crate) decl: Vec<VarNode>,
    pub(crate) cmds: Vec<Command>,
}

/// A command: an operand followed by its arguments.
#[derive(Debug)]
pub(crate) struct Command {
    pub(crate) pos: usize,
    pub(crate) args: Vec<Arg>,
    /// The compiled pattern of `regexReplaceAll`, `regexReplaceAllLiteral`
    /// or `count` when it is a string literal (compiled once at parse
    /// time; the error text is reported when the call runs).
    pub(crate) regex: Option<Result<regex::Regex, String>>,
}

/// `$x` or `$x.field.field`.
#[derive(Debug)]
pub(crate) struct VarNode {
    pub(crate) pos: usize,
    /// The variable name (with `$`) then the field names.
    pub(crate) idents: Vec<String>,
}

/// A numeric constant, stored under every type that can represent it (Go's
/// ideal constants).
#[derive(Debug)]
pub(crate) struct NumberNode {
    pub(crate) pos: usize,
    pub(crate) text: String,
    pub(crate) is_int: bool,
    pub(crate) is_uint: bool,
    pub(crate) is_float: bool,
    pub(crate) int: i64,
    pub(crate) float: f64,
}

/// An operand.
#[derive(Debug)]
pub(crate) enum Arg {
    /// `.a.b`: field names without dots.
    Field { pos: usize, idents: Vec<String> },
    /// `$x.a`.
    Variable(VarNode),
    /// `(pipeline).a.b` or `func.a`.
    Chain { pos: usize, node: Box<Arg>, fields: Vec<String> },
    /// A function name.
    Ident { pos: usize, func: Func },
    /// `.`.
    Dot(usize),
    /// `nil`.
    Nil(usize),
    /// `true` / `false`.
    Bool(usize, bool),
    /// A number or character constant.
    Number(NumberNode),
    /// A string constant: the text as written and its value.
    Str { pos: usize, quoted: String, text: String },
    /// `(pipeline)`.
    Pipe(Box<Pipe>),
}

impl Arg {
    /// Byte offset of the operand.
    pub(crate) fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Ident { pos, .. }
            | Arg::Dot(pos)
            | Arg::Nil(pos)
            | Arg::Bool(pos, _)
            | Arg::Str { pos, .. } => *pos,
            Arg::Variable(v) => v.pos,
            Arg::Number(n) => n.pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

/// A node that execution errors point at.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NodeRef<'t> {
    Node(&'t Node),
    Pipe(&'t Pipe),
    Cmd(&'t Command),
    Arg(&'t Arg),
}

impl NodeRef<'_> {
    /// Byte offset of the node.
    pub(crate) fn pos(self) -> usize {
        match self {
            NodeRef::Node(n) => n.pos(),
            NodeRef::Pipe(p) => p.pos,
            NodeRef::Cmd(c) => c.pos,
            NodeRef::Arg(a) => a.pos(),
        }
    }
}

impl Display for NodeRef<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            NodeRef::Node(n) => n.fmt(f),
            NodeRef::Pipe(p) => p.fmt(f),
            NodeRef::Cmd(c) => c.fmt(f),
            NodeRef::Arg(a) => a.fmt(f),
        }
    }
}

impl Node {
    /// Byte offset of the node (text nodes: 0; they never appear in errors).
    pub(crate) fn pos(&self) -> usize {
        match self {
            Node::Text(_) => 0,
            Node::Action(a) => a.pos,
            Node::If(b) | Node::Range(b) | Node::With(b) => b.pipe.pos,
            Node::Template(t) => t.pos,
            Node::Break(p) | Node::Continue(p) => *p,
        }
    }
}

fn write_list(f: &mut Formatter<'_>, list: &List) -> fmt::Result {
    list.iter().try_for_each(|n| n.fmt(f))
}

impl Display for Node {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (name, b) = match self {
            Node::Text(t) => return f.write_str(t),
            Node::Action(a) => return write!(f, "{{{{{}}}}}", a.pipe),
            Node::Template(t) => {
                write!(f, "{{{{template {}", quote(&t.name))?;
                if let Some(p) = &t.pipe {
                    write!(f, " {p}")?;
                }
                return f.write_str("}}");
            }
            Node::Break(_) => return f.write_str("{{break}}"),
            Node::Continue(_) => return f.write_str("{{continue}}"),
            Node::If(b) => ("if", b),
            Node::Range(b) => ("range", b),
            Node::With(b) => ("with", b),
        };
        write!(f, "{{{{{name} {}}}}}", b.pipe)?;
        write_list(f, &b.list)?;
        if let Some(e) = &b.else_list {
            f.write_str("{{else}}")?;
            write_list(f, e)?;
        }
        f.write_str("{{end}}")
    }
}

impl Display for Pipe {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, v) in self.decl.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            v.fmt(f)?;
        }
        if !self.decl.is_empty() {
            f.write_str(" := ")?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            c.fmt(f)?;
        }
        Ok(())
    }
}

impl Display for Command {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            if let Arg::Pipe(p) = a {
                write!(f, "({p})")?;
            } else {
                a.fmt(f)?;
            }
        }
        Ok(())
    }
}

impl Display for VarNode {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.idents.join("."))
    }
}

impl Display for Arg {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => idents.iter().try_for_each(|i| write!(f, ".{i}")),
            Arg::Variable(v) => v.fmt(f),
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe(p) = &**node {
                    write!(f, "({p})")?;
                } else {
                    node.fmt(f)?;
                }
                fields.iter().try_for_each(|i| write!(f, ".{i}"))
            }
            Arg::Ident { func, .. } => f.write_str(func.name()),
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Number(n) => f.write_str(&n.text),
            Arg::Str { quoted, .. } => f.write_str(quoted),
            Arg::Pipe(p) => p.fmt(f),
        }
    }
}

/// Go's `parse.IsEmptyTree`: only white space text.
pub(crate) fn is_empty_tree(list: &List) -> bool {
    list.iter().all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
}

/// Loki's `listNodeFields`: the identifiers of every field node reached
/// through actions, control structures, commands and parenthesized
/// pipelines (not through variables, chains or `template` calls).
pub(crate) fn collect_fields<'t>(list: &'t List, out: &mut Vec<&'t str>) {
    for n in list {
        match n {
            Node::Action(a) => collect_pipe(&a.pipe, out),
            Node::If(b) | Node::Range(b) | Node::With(b) => {
                collect_pipe(&b.pipe, out);
                collect_fields(&b.list, out);
                if let Some(e) = &b.else_list {
                    collect_fields(e, out);
                }
            }
            _ => {}
        }
    }
}

fn collect_pipe<'t>(p: &'t Pipe, out: &mut Vec<&'t str>) {
    for c in &p.cmds {
        for a in &c.args {
            match a {
                Arg::Field { idents, .. } => out.extend(idents.iter().map(String::as_str)),
                Arg::Pipe(p) => collect_pipe(p, out),
                _ => {}
            }
        }
    }
}
