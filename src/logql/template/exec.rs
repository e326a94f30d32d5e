//! Execution, following Go's `text/template/exec.go`: the same evaluation
//! order, the same argument checks, and the same node in error messages
//! (`template: line:1:5: executing "line" at <node>: message`, where the
//! node is the one Go's executor last visited).

use std::borrow::Cow;

use super::ast::{Arg, Branch, Command, List, Node, NodeRef, NumberNode, Pipe, TemplateCall, VarNode};
use super::error::{TemplateError, TemplateErrorKind};
use super::format::{Overflow, print_value, sprint};
use super::funcs::{CallCx, CallError, Func, Method, Sig, Ty, call};
use super::strconv::quote;
use super::value::Value;
use super::{MAX_DEPTH, MAX_OUTPUT, MAX_STEPS, Template, TemplateData};

/// Why a walk stopped early.
enum Flow {
    Break,
    Continue,
    Err(TemplateError),
}

impl From<TemplateError> for Flow {
    fn from(e: TemplateError) -> Self {
        Flow::Err(e)
    }
}

type Res<T> = Result<T, TemplateError>;

/// What is being called.
#[derive(Clone, Copy)]
enum Callee<'r, 'a> {
    Func(Func),
    Method(Method, &'r Value<'a>),
}

struct State<'a, 'o> {
    tmpl: &'a Template,
    /// The template being executed (a `define` inside `template` calls).
    name: &'a str,
    data: &'a dyn TemplateData,
    out: &'o mut String,
    start: usize,
    vars: Vec<(&'a str, Value<'a>)>,
    node: Option<NodeRef<'a>>,
    depth: usize,
    steps: u64,
}

/// Runs `tmpl` on `data`, appending to `out`.
pub(crate) fn execute(tmpl: &Template, data: &dyn TemplateData, out: &mut String) -> Result<(), TemplateError> {
    let dot = Value::Labels(data);
    let start = out.len();
    let mut s = State {
        tmpl,
        name: &tmpl.name,
        data,
        out,
        start,
        vars: vec![("$", dot.clone())],
        node: None,
        depth: 0,
        steps: 0,
    };
    match s.walk_list(&dot, &tmpl.root) {
        Ok(()) | Err(Flow::Break | Flow::Continue) => Ok(()),
        Err(Flow::Err(e)) => Err(e),
    }
}

/// Line and byte column (0-based, Go's convention) of `pos` in `text`.
fn location(text: &str, pos: usize) -> (usize, usize) {
    let before = text.get(..pos).unwrap_or(text);
    let line = 1 + before.bytes().filter(|&b| b == b'\n').count();
    let col = match before.rfind('\n') {
        Some(nl) => pos.saturating_sub(nl + 1),
        None => pos,
    };
    (line, col)
}

fn is_hex_int(s: &str) -> bool {
    s.len() > 2 && (s.starts_with("0x") || s.starts_with("0X")) && !s.contains(['p', 'P'])
}

impl<'a> State<'a, '_> {
    fn at(&mut self, node: NodeRef<'a>) {
        self.node = Some(node);
    }

    fn error(&self, kind: TemplateErrorKind, msg: &str) -> TemplateError {
        let message = match self.node {
            None => format!("template: {}: {msg}", self.name),
            Some(n) => {
                let (line, col) = location(&self.tmpl.text, n.pos());
                format!("template: {}:{line}:{col}: executing {} at <{n}>: {msg}", self.tmpl.name, quote(self.name))
            }
        };
        TemplateError::new(kind, message)
    }

    fn errorf<T>(&self, msg: impl AsRef<str>) -> Res<T> {
        Err(self.error(TemplateErrorKind::Exec, msg.as_ref()))
    }

    fn limit<T>(&self, msg: impl AsRef<str>) -> Res<T> {
        Err(self.error(TemplateErrorKind::Limit, msg.as_ref()))
    }

    fn output_limit(&self) -> TemplateError {
        self.error(TemplateErrorKind::Limit, &format!("output exceeds {MAX_OUTPUT} bytes"))
    }

    fn step(&mut self) -> Res<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return self.limit(format!("exceeded maximum number of execution steps ({MAX_STEPS})"));
        }
        Ok(())
    }

    fn enter(&mut self) -> Res<()> {
        if self.depth >= MAX_DEPTH {
            return self.limit(format!("exceeded maximum template depth ({MAX_DEPTH})"));
        }
        self.depth += 1;
        Ok(())
    }

    fn write(&mut self, s: &str) -> Res<()> {
        if self.out.len() - self.start + s.len() > MAX_OUTPUT {
            return Err(self.output_limit());
        }
        self.out.push_str(s);
        Ok(())
    }

    // Walking.

    fn walk_list(&mut self, dot: &Value<'a>, list: &'a List) -> Result<(), Flow> {
        for n in list {
            self.walk(dot, n)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value<'a>, node: &'a Node) -> Result<(), Flow> {
        self.step()?;
        self.at(NodeRef::Node(node));
        match node {
            Node::Text(t) => self.write(t)?,
            Node::Action(a) => {
                let v = self.eval_pipeline(dot, &a.pipe)?;
                if a.pipe.decl.is_empty() {
                    self.at(NodeRef::Node(node));
                    if let Err(Overflow) = print_value(self.out, &v, self.start + MAX_OUTPUT) {
                        return Err(self.output_limit().into());
                    }
                }
            }
            Node::If(b) => self.walk_if_or_with(false, dot, b)?,
            Node::With(b) => self.walk_if_or_with(true, dot, b)?,
            Node::Range(b) => self.walk_range(dot, node, b)?,
            Node::Template(t) => self.walk_template(dot, node, t)?,
            Node::Break(_) => return Err(Flow::Break),
            Node::Continue(_) => return Err(Flow::Continue),
        }
        Ok(())
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Value<'a>, b: &'a Branch) -> Result<(), Flow> {
        self.enter()?;
        let mark = self.vars.len();
        let r = (|| {
            let val = self.eval_pipeline(dot, &b.pipe)?;
            if val.truth() {
                if with { self.walk_list(&val, &b.list) } else { self.walk_list(dot, &b.list) }
            } else if let Some(e) = &b.else_list {
                self.walk_list(dot, e)
            } else {
                Ok(())
            }
        })();
        self.vars.truncate(mark);
        self.depth -= 1;
        r
    }

    /// One iteration of a range body; `Ok(true)` means `break`.
    fn range_iteration(&mut self, b: &'a Branch, body_mark: usize, index: Value<'a>, elem: Value<'a>) -> Res<bool> {
        self.step()?;
        let decl = &b.pipe.decl;
        if let Some(first) = decl.first() {
            if b.pipe.is_assign {
                if let Some(second) = decl.get(1) {
                    self.set_var(first, index.clone())?;
                    self.set_var(second, elem.clone())?;
                } else {
                    self.set_var(first, elem.clone())?;
                }
            } else {
                // The declared variables are on top of the stack: the
                // element in the last one, the index in the one before.
                let n = self.vars.len();
                if let Some(slot) = n.checked_sub(1).and_then(|i| self.vars.get_mut(i)) {
                    slot.1 = elem.clone();
                }
                if decl.len() > 1
                    && let Some(slot) = n.checked_sub(2).and_then(|i| self.vars.get_mut(i))
                {
                    slot.1 = index;
                }
            }
        }
        let r = self.walk_list(&elem, &b.list);
        self.vars.truncate(body_mark);
        match r {
            Ok(()) | Err(Flow::Continue) => Ok(false),
            Err(Flow::Break) => Ok(true),
            Err(Flow::Err(e)) => Err(e),
        }
    }

    fn walk_range(&mut self, dot: &Value<'a>, node: &'a Node, b: &'a Branch) -> Result<(), Flow> {
        self.enter()?;
        self.at(NodeRef::Node(node));
        let mark = self.vars.len();
        let r = self.walk_range_inner(dot, b);
        self.vars.truncate(mark);
        self.depth -= 1;
        r
    }

    fn walk_range_inner(&mut self, dot: &Value<'a>, b: &'a Branch) -> Result<(), Flow> {
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let body_mark = self.vars.len();
        let mut ran = false;
        match &val {
            Value::List(l) => {
                for (i, e) in l.iter().enumerate() {
                    ran = true;
                    if self.range_iteration(b, body_mark, Value::Int(i as i64), e.clone())? {
                        break;
                    }
                }
            }
            Value::Labels(d) => {
                let d: &'a dyn TemplateData = *d;
                let mut entries: Vec<(&'a str, &'a str)> = Vec::new();
                d.for_each_label(&mut |k, v| entries.push((k, v)));
                entries.sort_unstable();
                for (k, v) in entries {
                    ran = true;
                    let (k, v) = (Value::Str(Cow::Borrowed(k)), Value::Str(Cow::Borrowed(v)));
                    if self.range_iteration(b, body_mark, k, v)? {
                        break;
                    }
                }
            }
            Value::Map(m) => {
                for (k, v) in m.iter() {
                    ran = true;
                    if self.range_iteration(b, body_mark, Value::str(k.clone()), v.clone())? {
                        break;
                    }
                }
            }
            Value::Nil => {}
            v @ (Value::Int(_)
            | Value::Int64(_)
            | Value::Uint8(_)
            | Value::Duration(_)
            | Value::Month(_)
            | Value::Weekday(_)) => {
                if b.pipe.decl.len() > 1 {
                    let msg =
                        format!("can't use {} to iterate over more than one variable", sprint(std::slice::from_ref(v)));
                    return Err(self.error(TemplateErrorKind::Exec, &msg).into());
                }
                let n = v.as_int().unwrap_or(0);
                let mut i = 0;
                while i < n {
                    ran = true;
                    let elem = match v {
                        Value::Int64(_) => Value::Int64(i),
                        Value::Uint8(_) => Value::Uint8(i as u8),
                        Value::Duration(_) => Value::Duration(i),
                        Value::Month(_) => Value::Month(i as u8),
                        Value::Weekday(_) => Value::Weekday(i as u8),
                        _ => Value::Int(i),
                    };
                    if self.range_iteration(b, body_mark, Value::Nil, elem)? {
                        break;
                    }
                    i += 1;
                }
            }
            other => {
                let msg = format!("range can't iterate over {}", sprint(std::slice::from_ref(other)));
                return Err(self.error(TemplateErrorKind::Exec, &msg).into());
            }
        }
        if !ran && let Some(e) = &b.else_list {
            return self.walk_list(dot, e);
        }
        Ok(())
    }

    fn walk_template(&mut self, dot: &Value<'a>, node: &'a Node, t: &'a TemplateCall) -> Result<(), Flow> {
        self.at(NodeRef::Node(node));
        let Some(body) = self.tmpl.lookup(&t.name) else {
            let msg = format!("template {} not defined", quote(&t.name));
            return Err(self.error(TemplateErrorKind::Exec, &msg).into());
        };
        self.enter()?;
        let r = (|| {
            let new_dot = match &t.pipe {
                Some(p) => self.eval_pipeline(dot, p)?,
                None => Value::Nil,
            };
            let vars = std::mem::replace(&mut self.vars, vec![("$", new_dot.clone())]);
            let name = std::mem::replace(&mut self.name, &t.name);
            let r = self.walk_list(&new_dot, body);
            self.vars = vars;
            self.name = name;
            match r {
                Ok(()) | Err(Flow::Break | Flow::Continue) => Ok(()),
                Err(e) => Err(e),
            }
        })();
        self.depth -= 1;
        r
    }

    // Evaluation.

    fn eval_pipeline(&mut self, dot: &Value<'a>, pipe: &'a Pipe) -> Res<Value<'a>> {
        self.at(NodeRef::Pipe(pipe));
        let mut value: Option<Value<'a>> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::Nil);
        for v in &pipe.decl {
            if pipe.is_assign {
                self.set_var(v, value.clone())?;
            } else if let Some(name) = v.idents.first() {
                self.vars.push((name, value.clone()));
            }
        }
        Ok(value)
    }

    fn set_var(&mut self, v: &'a VarNode, value: Value<'a>) -> Res<()> {
        let name = v.idents.first().map_or("", String::as_str);
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => self.errorf(format!("undefined variable: {name}")),
        }
    }

    fn var_value(&self, name: &str) -> Res<Value<'a>> {
        match self.vars.iter().rev().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => self.errorf(format!("undefined variable: {name}")),
        }
    }

    fn not_a_function(&self, args: &[Arg], last: &Option<Value<'a>>) -> Res<()> {
        if args.len() > 1 || last.is_some() {
            let first = args.first().map(|a| a.to_string()).unwrap_or_default();
            return self.errorf(format!("can't give argument to non-function {first}"));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value<'a>, cmd: &'a Command, last: Option<Value<'a>>) -> Res<Value<'a>> {
        let Some(first) = cmd.args.first() else {
            return self.errorf("empty command");
        };
        match first {
            Arg::Field { .. } => Ok(self.eval_field_node(dot, first, &cmd.args, last)?.0),
            Arg::Chain { .. } => Ok(self.eval_chain_node(dot, first, &cmd.args, last)?.0),
            Arg::Ident { func, .. } => self.eval_function(
                dot,
                first,
                *func,
                NodeRef::Cmd(cmd),
                Some(cmd),
                cmd.args.get(1..).unwrap_or_default(),
                last,
            ),
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &last)?;
                self.eval_pipeline(dot, p)
            }
            Arg::Variable(v) => Ok(self.eval_variable_node(dot, v, first, &cmd.args, last)?.0),
            _ => {
                self.at(NodeRef::Arg(first));
                self.not_a_function(&cmd.args, &last)?;
                match first {
                    Arg::Bool(_, b) => Ok(Value::Bool(*b)),
                    Arg::Dot(_) => Ok(dot.clone()),
                    Arg::Nil(_) => self.errorf("nil is not a command"),
                    Arg::Number(n) => self.ideal_constant(first, n),
                    Arg::Str { text, .. } => Ok(Value::Str(Cow::Borrowed(text))),
                    _ => self.errorf(format!("can't evaluate command {}", quote(&first.to_string()))),
                }
            }
        }
    }

    /// An untyped number constant: `float64` if it is spelled like one,
    /// else `int`.
    fn ideal_constant(&mut self, arg: &'a Arg, n: &NumberNode) -> Res<Value<'a>> {
        self.at(NodeRef::Arg(arg));
        if n.is_float && !is_hex_int(&n.text) && !n.text.starts_with('\'') && n.text.contains(['.', 'e', 'E', 'p', 'P'])
        {
            return Ok(Value::Float(n.float));
        }
        if n.is_int {
            return Ok(Value::Int(n.int));
        }
        if n.is_uint {
            return self.errorf(format!("{} overflows int", n.text));
        }
        Ok(Value::Nil)
    }

    /// Returns the value and whether it came out of an `interface{}` slot
    /// (an element of a decoded JSON value).
    fn eval_field_node(
        &mut self,
        dot: &Value<'a>,
        field: &'a Arg,
        args: &'a [Arg],
        last: Option<Value<'a>>,
    ) -> Res<(Value<'a>, bool)> {
        self.at(NodeRef::Arg(field));
        let Arg::Field { idents, .. } = field else {
            return Ok((Value::Nil, false));
        };
        self.eval_field_chain(dot, (dot.clone(), false), field, idents, args, last)
    }

    fn eval_chain_node(
        &mut self,
        dot: &Value<'a>,
        chain: &'a Arg,
        args: &'a [Arg],
        last: Option<Value<'a>>,
    ) -> Res<(Value<'a>, bool)> {
        self.at(NodeRef::Arg(chain));
        let Arg::Chain { node, fields, .. } = chain else {
            return Ok((Value::Nil, false));
        };
        if let Arg::Nil(_) = **node {
            return self.errorf(format!("indirection through explicit nil in {chain}"));
        }
        let pipe = self.eval_arg(dot, Ty::Any, node)?;
        self.eval_field_chain(dot, (pipe, false), chain, fields, args, last)
    }

    fn eval_variable_node(
        &mut self,
        dot: &Value<'a>,
        v: &'a VarNode,
        node: &'a Arg,
        args: &'a [Arg],
        last: Option<Value<'a>>,
    ) -> Res<(Value<'a>, bool)> {
        self.at(NodeRef::Arg(node));
        let name = v.idents.first().map_or("", String::as_str);
        let value = self.var_value(name)?;
        match v.idents.get(1..) {
            Some(fields) if !fields.is_empty() => self.eval_field_chain(dot, (value, false), node, fields, args, last),
            _ => {
                self.not_a_function(args, &last)?;
                Ok((value, false))
            }
        }
    }

    fn eval_field_chain(
        &mut self,
        dot: &Value<'a>,
        receiver: (Value<'a>, bool),
        node: &'a Arg,
        idents: &'a [String],
        args: &'a [Arg],
        last: Option<Value<'a>>,
    ) -> Res<(Value<'a>, bool)> {
        let Some((final_ident, init)) = idents.split_last() else {
            return Ok(receiver);
        };
        let mut recv = receiver;
        for id in init {
            recv = self.eval_field(dot, id, node, &[], None, recv)?;
        }
        self.eval_field(dot, final_ident, node, args, last, recv)
    }

    fn eval_field(
        &mut self,
        dot: &Value<'a>,
        name: &'a str,
        node: &'a Arg,
        args: &'a [Arg],
        last: Option<Value<'a>>,
        (recv, iface): (Value<'a>, bool),
    ) -> Res<(Value<'a>, bool)> {
        if let Value::Nil = recv {
            if iface {
                return self.errorf(format!("nil pointer evaluating interface {{}}.{name}"));
            }
            return Ok((Value::Nil, false));
        }
        if let Some(m) = Method::lookup(&recv, name) {
            let v = self.eval_call(
                dot,
                Callee::Method(m, &recv),
                NodeRef::Arg(node),
                None,
                name,
                args.get(1..).unwrap_or_default(),
                last,
            )?;
            return Ok((v, false));
        }
        let has_args = args.len() > 1 || last.is_some();
        match &recv {
            Value::Labels(d) => {
                if has_args {
                    return self.errorf(format!("{name} is not a method but has arguments"));
                }
                Ok((Value::Str(Cow::Borrowed(d.label(name).unwrap_or(""))), false))
            }
            Value::Map(m) => {
                if has_args {
                    return self.errorf(format!("{name} is not a method but has arguments"));
                }
                Ok((m.get(name).cloned().unwrap_or(Value::Nil), true))
            }
            other => {
                let ty = if iface { "interface {}" } else { other.type_name() };
                self.errorf(format!("can't evaluate field {name} in type {ty}"))
            }
        }
    }

    #[expect(clippy::too_many_arguments, reason = "mirrors Go's evalFunction")]
    fn eval_function(
        &mut self,
        dot: &Value<'a>,
        ident: &'a Arg,
        func: Func,
        node: NodeRef<'a>,
        cmd: Option<&'a Command>,
        args: &'a [Arg],
        last: Option<Value<'a>>,
    ) -> Res<Value<'a>> {
        self.at(NodeRef::Arg(ident));
        self.eval_call(dot, Callee::Func(func), node, cmd, func.name(), args, last)
    }

    #[expect(clippy::too_many_arguments, reason = "mirrors Go's evalCall")]
    fn eval_call(
        &mut self,
        dot: &Value<'a>,
        callee: Callee<'_, 'a>,
        node: NodeRef<'a>,
        cmd: Option<&'a Command>,
        name: &str,
        args: &'a [Arg],
        last: Option<Value<'a>>,
    ) -> Res<Value<'a>> {
        self.step()?;
        let sig: Sig = match callee {
            Callee::Func(f) => f.sig(),
            Callee::Method(m, _) => m.sig(),
        };
        let num_in = args.len() + usize::from(last.is_some());
        let fixed = sig.fixed;
        if sig.variadic.is_some() {
            if num_in < fixed.len() {
                return self.errorf(format!(
                    "wrong number of args for {name}: want at least {} got {}",
                    fixed.len(),
                    args.len()
                ));
            }
        } else if num_in != fixed.len() {
            return self.errorf(format!("wrong number of args for {name}: want {} got {num_in}", fixed.len()));
        }
        // `and` and `or` evaluate their arguments lazily.
        if let Callee::Func(f @ (Func::And | Func::Or)) = callee {
            let want = f == Func::Or;
            let mut v = Value::Nil;
            for a in args {
                v = self.eval_arg(dot, Ty::Any, a)?;
                if v.truth() == want {
                    return Ok(v);
                }
            }
            if let Some(l) = last {
                v = l;
            }
            return Ok(v);
        }
        let mut argv = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            let ty = match fixed.get(i) {
                Some(t) => *t,
                None => sig.variadic.unwrap_or(Ty::Any),
            };
            argv.push(self.eval_arg(dot, ty, a)?);
        }
        if let Some(l) = last {
            let ty = if sig.variadic.is_some() && num_in > fixed.len() {
                sig.variadic.unwrap_or(Ty::Any)
            } else {
                fixed.get(num_in - 1).copied().unwrap_or(Ty::Any)
            };
            argv.push(self.validate_type(l, false, ty)?);
        }
        let result = match callee {
            Callee::Func(f) => {
                let cx = CallCx {
                    data: self.data,
                    regex: cmd.and_then(|c| c.regex.as_ref()),
                    callee: args.first().map(|a| a.to_string()).unwrap_or_default(),
                };
                call(f, argv, &cx)
            }
            Callee::Method(m, recv) => Ok(m.call(recv, &argv)),
        };
        match result {
            Ok(v) => Ok(v),
            Err(CallError { msg, limit }) => {
                self.at(node);
                let kind = if limit { TemplateErrorKind::Limit } else { TemplateErrorKind::Exec };
                Err(self.error(kind, &format!("error calling {name}: {msg}")))
            }
        }
    }

    fn eval_arg(&mut self, dot: &Value<'a>, ty: Ty, arg: &'a Arg) -> Res<Value<'a>> {
        self.at(NodeRef::Arg(arg));
        match arg {
            Arg::Dot(_) => self.validate_type(dot.clone(), false, ty),
            Arg::Nil(_) => {
                if ty == Ty::Any {
                    Ok(Value::Nil)
                } else {
                    self.errorf(format!("cannot assign nil to {}", ty.go_name()))
                }
            }
            Arg::Field { .. } => {
                let (v, iface) = self.eval_field_node(dot, arg, std::slice::from_ref(arg), None)?;
                self.validate_type(v, iface, ty)
            }
            Arg::Variable(v) => {
                let (v, iface) = self.eval_variable_node(dot, v, arg, &[], None)?;
                self.validate_type(v, iface, ty)
            }
            Arg::Pipe(p) => {
                let v = self.eval_pipeline(dot, p)?;
                self.validate_type(v, false, ty)
            }
            Arg::Ident { func, .. } => {
                let v = self.eval_function(dot, arg, *func, NodeRef::Arg(arg), None, &[], None)?;
                self.validate_type(v, false, ty)
            }
            Arg::Chain { .. } => {
                let (v, iface) = self.eval_chain_node(dot, arg, &[], None)?;
                self.validate_type(v, iface, ty)
            }
            Arg::Bool(_, b) => match ty {
                Ty::Any => Ok(Value::Bool(*b)),
                _ => self.literal_mismatch(ty, arg),
            },
            Arg::Str { text, .. } => match ty {
                Ty::Str | Ty::Any => Ok(Value::Str(Cow::Borrowed(text))),
                _ => self.literal_mismatch(ty, arg),
            },
            Arg::Number(n) => match ty {
                Ty::Int if n.is_int => Ok(Value::Int(n.int)),
                Ty::Duration if n.is_int => Ok(Value::Duration(n.int)),
                Ty::Float if n.is_float => Ok(Value::Float(n.float)),
                Ty::Any => self.ideal_constant(arg, n),
                _ => self.literal_mismatch(ty, arg),
            },
        }
    }

    fn literal_mismatch<T>(&self, ty: Ty, arg: &Arg) -> Res<T> {
        match ty {
            Ty::Str => self.errorf(format!("expected string; found {arg}")),
            Ty::Int | Ty::Duration => self.errorf(format!("expected integer; found {arg}")),
            Ty::Float => self.errorf(format!("expected float; found {arg}")),
            Ty::Time | Ty::Any => self.errorf(format!("can't handle {arg} for arg of type {}", ty.go_name())),
        }
    }

    fn validate_type(&self, value: Value<'a>, iface: bool, ty: Ty) -> Res<Value<'a>> {
        if ty.accepts(&value) {
            return Ok(value);
        }
        if let Value::Nil = value {
            if iface {
                return self.errorf(format!("wrong type for value; expected {}; got interface {{}}", ty.go_name()));
            }
            return self.errorf(format!("invalid value; expected {}", ty.go_name()));
        }
        self.errorf(format!("wrong type for value; expected {}; got {}", ty.go_name(), value.type_name()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{MapData, Template};
    use super::*;

    fn run(t: &str, data: &MapData) -> Result<String, String> {
        let tmpl = Template::parse(t).map_err(|e| e.to_string())?;
        let mut out = String::new();
        tmpl.execute(data, &mut out).map(|_| out).map_err(|e| e.to_string())
    }

    #[test]
    fn locations() {
        assert_eq!(location("abc", 2), (1, 2));
        assert_eq!(location("a\nbc\nd", 3), (2, 1));
        assert_eq!(location("a\n", 2), (2, 0));
        assert_eq!(location("ab", 99), (1, 99));
    }

    #[test]
    fn executes() {
        let data = MapData::new([("a", "x"), ("n", "3")]).with_line("the line").with_timestamp(1_000_000_000);
        assert_eq!(run("{{ .a }}-{{ __line__ }}-{{ __timestamp__.Unix }}", &data).as_deref(), Ok("x-the line-1"));
        assert_eq!(run("{{ range $i := int .n }}{{ $i }}{{ end }}", &data).as_deref(), Ok("012"));
        assert_eq!(run("{{ with $x := .a }}{{ $x }}{{ . }}{{ end }}", &data).as_deref(), Ok("xx"));
        assert_eq!(
            run("{{ .a.b }}", &data),
            Err("template: line:1:5: executing \"line\" at <.a.b>: can't evaluate field b in type string".into())
        );
        // Variables declared inside a control structure end with it.
        assert_eq!(run("{{ $v := 1 }}{{ with 2 }}{{ $v := . }}{{ end }}{{ $v }}", &data).as_deref(), Ok("1"));
    }

    #[test]
    fn extreme_values_do_not_panic() {
        let data = MapData::new([("big", "9223372036854775807")]);
        for t in [
            "{{ (toDate \"2006\" \"2020\").AddDate 9223372036854775807 9223372036854775807 9223372036854775807 }}",
            "{{ (toDate \"2006\" \"2020\").Add -9223372036854775808 }}",
            "{{ unixToTime \"9999999999999999999\" }}",
            "{{ unixToTime \"-999999999999999999\" }}",
            "{{ date \"2006 002 Jan Mon\" (int .big) }}",
            "{{ trunc -9223372036854775808 \"abc\" }}",
            "{{ alignRight 9223372036854775807 \"x\" }}",
            "{{ substr -9223372036854775808 9223372036854775807 \"abc\" }}",
            "{{ mulf 1e300 1e300 1e300 | divf 1e-300 }}",
            "{{ round 1.5 9223372036854775807 }} {{ round 1.5 -9223372036854775808 }}",
            "{{ printf \"%.1000000f\" 1.5 }}",
            "{{ printf \"%[99999999999999999999]d\" 1 }}",
            "{{ div -9223372036854775808 -1 }} {{ mod -9223372036854775808 -1 }}",
            "{{ slice \"abc\" 9223372036854775807 }}",
            "{{ index (fromJson \"[1]\") 9223372036854775807 }}",
        ] {
            let _ = run(t, &data);
        }
    }
}
