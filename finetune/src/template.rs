//! A minimal Jinja renderer for Hugging Face chat templates (ChatML-style and similar).
//!
//! Supported: text, `{{ expr }}`, `{% if/elif/else/endif %}`, `{% for x in xs %}` with
//! `loop.first/last/index/index0`, `{% set x = expr %}`, comments, `-` whitespace control, and
//! the `trim_blocks` + `lstrip_blocks` options that `transformers` renders chat templates with.
//! Expressions: string/integer/boolean/none literals, lists, names, `a.b`, `a['b']`, `a[0]`,
//! `a[-1]`, `+`, `~`, `==`, `!=`, `<`, `>`, `in`, `not in`, `and`, `or`, `not`,
//! `is defined`/`is none`/`is string` (and `is not`), filters `trim` and `length`, the method
//! `.strip()`, and `raise_exception(msg)`. Anything else is a clear error, not a silent guess.

use std::collections::HashMap;

/// A template value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
}

impl Value {
    fn truthy(&self) -> bool {
        match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
        }
    }

    fn render(&self) -> String {
        match self {
            Value::None => String::new(),
            Value::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
            Value::Int(i) => i.to_string(),
            Value::Str(s) => s.clone(),
            other => format!("{other:?}"),
        }
    }

    fn get(&self, key: &Value) -> Value {
        match (self, key) {
            (Value::Map(m), Value::Str(k)) => {
                m.iter().find(|(n, _)| n == k).map_or(Value::None, |(_, v)| v.clone())
            }
            (Value::List(l), Value::Int(i)) => {
                let idx = if *i < 0 { l.len() as i64 + i } else { *i };
                usize::try_from(idx).ok().and_then(|i| l.get(i)).cloned().unwrap_or(Value::None)
            }
            _ => Value::None,
        }
    }
}

type R<T> = Result<T, String>;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Int(i64),
    Op(&'static str),
}

fn lex(src: &str) -> R<Vec<Tok>> {
    const OPS: [&str; 17] =
        ["==", "!=", "<=", ">=", "+", "-", "~", "(", ")", "[", "]", ".", ",", "|", "<", ">", "="];
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            let mut chars = src[i + 1..].char_indices();
            let mut end = None;
            while let Some((j, ch)) = chars.next() {
                if ch == c {
                    end = Some(i + 1 + j + 1);
                    break;
                }
                if ch == '\\' {
                    match chars.next().map(|(_, e)| e) {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some(e) => s.push(e),
                        None => break,
                    }
                } else {
                    s.push(ch);
                }
            }
            i = end.ok_or_else(|| format!("unterminated string in {src:?}"))?;
            out.push(Tok::Str(s));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Tok::Int(src[start..i].parse().map_err(|e| format!("{e}"))?));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Name(src[start..i].to_owned()));
        } else if let Some(op) = OPS.iter().find(|op| src[i..].starts_with(**op)) {
            i += op.len();
            out.push(Tok::Op(op));
        } else {
            return Err(format!("unexpected character {c:?} in {src:?}"));
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
enum Expr {
    Lit(Value),
    List(Vec<Expr>),
    Var(String),
    Get(Box<Expr>, Box<Expr>),
    Bin(&'static str, Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Test(Box<Expr>, String, bool),
    Filter(Box<Expr>, String),
    Call(String, Vec<Expr>),
    Method(Box<Expr>, String),
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_name(&mut self, name: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Name(n)) if n == name) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_op(&mut self, op: &str) -> R<()> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(format!("expected {op:?}, found {:?}", self.peek()))
        }
    }
    fn name(&mut self) -> R<String> {
        match self.next() {
            Some(Tok::Name(n)) => Ok(n),
            other => Err(format!("expected a name, found {other:?}")),
        }
    }

    fn expr(&mut self) -> R<Expr> {
        let mut left = self.and()?;
        while self.eat_name("or") {
            left = Expr::Bin("or", Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> R<Expr> {
        let mut left = self.not()?;
        while self.eat_name("and") {
            left = Expr::Bin("and", Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }
    fn not(&mut self) -> R<Expr> {
        if self.eat_name("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.compare()
    }
    fn compare(&mut self) -> R<Expr> {
        let left = self.concat()?;
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.eat_op(op) {
                return Ok(Expr::Bin(op, Box::new(left), Box::new(self.concat()?)));
            }
        }
        if self.eat_name("in") {
            return Ok(Expr::Bin("in", Box::new(left), Box::new(self.concat()?)));
        }
        if matches!(self.peek(), Some(Tok::Name(n)) if n == "not")
            && matches!(self.toks.get(self.pos + 1), Some(Tok::Name(n)) if n == "in")
        {
            self.pos += 2;
            let inner = Expr::Bin("in", Box::new(left), Box::new(self.concat()?));
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.eat_name("is") {
            let negate = self.eat_name("not");
            let test = self.name()?;
            return Ok(Expr::Test(Box::new(left), test, negate));
        }
        Ok(left)
    }
    fn concat(&mut self) -> R<Expr> {
        let mut left = self.postfix()?;
        loop {
            let op = if self.eat_op("+") {
                "+"
            } else if self.eat_op("~") {
                "~"
            } else if self.eat_op("-") {
                "-"
            } else {
                return Ok(left);
            };
            left = Expr::Bin(op, Box::new(left), Box::new(self.postfix()?));
        }
    }
    fn postfix(&mut self) -> R<Expr> {
        let mut e = self.primary()?;
        loop {
            if self.eat_op(".") {
                let name = self.name()?;
                if self.eat_op("(") {
                    self.expect_op(")")?;
                    e = Expr::Method(Box::new(e), name);
                } else {
                    e = Expr::Get(Box::new(e), Box::new(Expr::Lit(Value::Str(name))));
                }
            } else if self.eat_op("[") {
                let key = self.expr()?;
                self.expect_op("]")?;
                e = Expr::Get(Box::new(e), Box::new(key));
            } else if self.eat_op("|") {
                e = Expr::Filter(Box::new(e), self.name()?);
            } else {
                return Ok(e);
            }
        }
    }
    fn primary(&mut self) -> R<Expr> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Expr::Lit(Value::Str(s))),
            Some(Tok::Int(i)) => Ok(Expr::Lit(Value::Int(i))),
            Some(Tok::Op("-")) => match self.next() {
                Some(Tok::Int(i)) => Ok(Expr::Lit(Value::Int(-i))),
                other => Err(format!("unsupported unary minus before {other:?}")),
            },
            Some(Tok::Op("(")) => {
                let e = self.expr()?;
                self.expect_op(")")?;
                Ok(e)
            }
            Some(Tok::Op("[")) => {
                let mut items = Vec::new();
                while !self.eat_op("]") {
                    items.push(self.expr()?);
                    if !self.eat_op(",") {
                        self.expect_op("]")?;
                        break;
                    }
                }
                Ok(Expr::List(items))
            }
            Some(Tok::Name(n)) => match n.as_str() {
                "true" | "True" => Ok(Expr::Lit(Value::Bool(true))),
                "false" | "False" => Ok(Expr::Lit(Value::Bool(false))),
                "none" | "None" => Ok(Expr::Lit(Value::None)),
                _ if self.eat_op("(") => {
                    let mut args = Vec::new();
                    while !self.eat_op(")") {
                        args.push(self.expr()?);
                        if !self.eat_op(",") {
                            self.expect_op(")")?;
                            break;
                        }
                    }
                    Ok(Expr::Call(n, args))
                }
                _ => Ok(Expr::Var(n)),
            },
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

fn parse_expr(src: &str) -> R<Expr> {
    let mut p = Parser { toks: lex(src)?, pos: 0 };
    let e = p.expr()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected {:?} in {src:?}", p.peek()));
    }
    Ok(e)
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Out(Expr),
    If(Vec<(Expr, Vec<Node>)>, Vec<Node>),
    For(String, Expr, Vec<Node>),
    Set(String, Expr),
}

enum Piece {
    Text(String),
    Out(String),
    Stmt(String),
}

/// Splits the source into text, `{{ }}` and `{% %}` pieces, applying `-` whitespace control,
/// `trim_blocks` and `lstrip_blocks`.
fn split(src: &str) -> R<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while !rest.is_empty() {
        let next = ["{{", "{%", "{#"].iter().filter_map(|o| rest.find(o)).min();
        let Some(at) = next else {
            pieces.push(Piece::Text(take_text(rest, trim_next, false, false)));
            break;
        };
        let open = &rest[at..at + 2];
        let close = match open {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let body_start = at + 2;
        let end = rest[body_start..]
            .find(close)
            .map(|e| body_start + e)
            .ok_or_else(|| format!("unclosed {open}"))?;
        let mut body = &rest[body_start..end];
        let strip_before = body.starts_with('-');
        let strip_after = body.ends_with('-');
        if strip_before {
            body = &body[1..];
        }
        if strip_after {
            body = &body[..body.len() - 1];
        }
        let is_block = open != "{{";
        pieces.push(Piece::Text(take_text(&rest[..at], trim_next, strip_before, is_block)));
        match open {
            "{{" => pieces.push(Piece::Out(body.trim().to_owned())),
            "{%" => pieces.push(Piece::Stmt(body.trim().to_owned())),
            _ => {}
        }
        rest = &rest[end + 2..];
        trim_next = strip_after;
        if is_block && !strip_after {
            // trim_blocks: the first newline after a block tag is removed.
            if let Some(r) = rest.strip_prefix('\n') {
                rest = r;
            }
        }
    }
    Ok(pieces)
}

fn take_text(text: &str, strip_start: bool, strip_end: bool, before_block: bool) -> String {
    let mut t = text;
    if strip_start {
        t = t.trim_start();
    }
    if strip_end {
        t = t.trim_end();
    } else if before_block {
        // lstrip_blocks: spaces and tabs from the start of the line up to a block tag go.
        let line_start = t.rfind('\n').map_or(0, |i| i + 1);
        if t[line_start..].chars().all(|c| c == ' ' || c == '\t') {
            t = &t[..line_start];
        }
    }
    t.to_owned()
}

fn parse_nodes(pieces: &[Piece], pos: &mut usize, stops: &[&str]) -> R<(Vec<Node>, String)> {
    let mut nodes = Vec::new();
    while *pos < pieces.len() {
        let piece = &pieces[*pos];
        *pos += 1;
        match piece {
            Piece::Text(t) if !t.is_empty() => nodes.push(Node::Text(t.clone())),
            Piece::Text(_) => {}
            Piece::Out(e) => nodes.push(Node::Out(parse_expr(e)?)),
            Piece::Stmt(s) => {
                let (kw, arg) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
                if stops.contains(&kw) {
                    return Ok((nodes, s.clone()));
                }
                match kw {
                    "if" => {
                        let mut branches = Vec::new();
                        let mut cond = parse_expr(arg)?;
                        let mut otherwise = Vec::new();
                        loop {
                            let (body, stop) =
                                parse_nodes(pieces, pos, &["elif", "else", "endif"])?;
                            branches.push((cond, body));
                            let (skw, sarg) =
                                stop.split_once(char::is_whitespace).unwrap_or((&stop, ""));
                            match skw {
                                "elif" => cond = parse_expr(sarg)?,
                                "else" => {
                                    otherwise = parse_nodes(pieces, pos, &["endif"])?.0;
                                    break;
                                }
                                _ => break,
                            }
                        }
                        nodes.push(Node::If(branches, otherwise));
                    }
                    "for" => {
                        let (var, iter) = arg
                            .split_once(" in ")
                            .ok_or_else(|| format!("unsupported for statement {s:?}"))?;
                        let (body, _) = parse_nodes(pieces, pos, &["endfor"])?;
                        nodes.push(Node::For(var.trim().to_owned(), parse_expr(iter)?, body));
                    }
                    "set" => {
                        let (var, e) = arg
                            .split_once('=')
                            .ok_or_else(|| format!("unsupported set statement {s:?}"))?;
                        nodes.push(Node::Set(var.trim().to_owned(), parse_expr(e)?));
                    }
                    _ => return Err(format!("unsupported statement {s:?}")),
                }
            }
        }
    }
    if stops.is_empty() {
        Ok((nodes, String::new()))
    } else {
        Err(format!("missing {{% {} %}}", stops.join(" / ")))
    }
}

/// A parsed chat template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

impl Template {
    /// Parses a template.
    ///
    /// # Errors
    /// A message naming the unsupported or malformed construct.
    pub fn parse(src: &str) -> R<Self> {
        let pieces = split(src)?;
        let mut pos = 0;
        Ok(Self { nodes: parse_nodes(&pieces, &mut pos, &[])?.0 })
    }

    /// Renders with the given variables.
    ///
    /// # Errors
    /// `raise_exception` was called, or an expression is not supported.
    pub fn render(&self, vars: &[(&str, Value)]) -> R<String> {
        let mut scope: HashMap<String, Value> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        let mut out = String::new();
        exec(&self.nodes, &mut scope, &mut out)?;
        Ok(out)
    }
}

fn exec(nodes: &[Node], scope: &mut HashMap<String, Value>, out: &mut String) -> R<()> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Out(e) => out.push_str(&eval(e, scope)?.render()),
            Node::Set(name, e) => {
                let v = eval(e, scope)?;
                scope.insert(name.clone(), v);
            }
            Node::If(branches, otherwise) => {
                let mut done = false;
                for (cond, body) in branches {
                    if eval(cond, scope)?.truthy() {
                        exec(body, scope, out)?;
                        done = true;
                        break;
                    }
                }
                if !done {
                    exec(otherwise, scope, out)?;
                }
            }
            Node::For(var, iter, body) => {
                let Value::List(items) = eval(iter, scope)? else {
                    return Err(format!("for {var}: not a list"));
                };
                let n = items.len();
                let saved = (scope.remove(var), scope.remove("loop"));
                for (i, item) in items.into_iter().enumerate() {
                    scope.insert(var.clone(), item);
                    let lp = vec![
                        ("index0".to_owned(), Value::Int(i as i64)),
                        ("index".to_owned(), Value::Int(i as i64 + 1)),
                        ("first".to_owned(), Value::Bool(i == 0)),
                        ("last".to_owned(), Value::Bool(i + 1 == n)),
                        ("length".to_owned(), Value::Int(n as i64)),
                    ];
                    scope.insert("loop".to_owned(), Value::Map(lp));
                    exec(body, scope, out)?;
                }
                scope.remove(var);
                scope.remove("loop");
                if let Some(v) = saved.0 {
                    scope.insert(var.clone(), v);
                }
                if let Some(v) = saved.1 {
                    scope.insert("loop".to_owned(), v);
                }
            }
        }
    }
    Ok(())
}

fn eval(e: &Expr, scope: &HashMap<String, Value>) -> R<Value> {
    Ok(match e {
        Expr::Lit(v) => v.clone(),
        Expr::List(items) => Value::List(items.iter().map(|i| eval(i, scope)).collect::<R<_>>()?),
        Expr::Var(n) => scope.get(n).cloned().unwrap_or(Value::None),
        Expr::Get(obj, key) => eval(obj, scope)?.get(&eval(key, scope)?),
        Expr::Not(x) => Value::Bool(!eval(x, scope)?.truthy()),
        Expr::Bin("and", a, b) => {
            let a = eval(a, scope)?;
            if a.truthy() {
                eval(b, scope)?
            } else {
                a
            }
        }
        Expr::Bin("or", a, b) => {
            let a = eval(a, scope)?;
            if a.truthy() {
                a
            } else {
                eval(b, scope)?
            }
        }
        Expr::Bin(op, a, b) => {
            let (a, b) = (eval(a, scope)?, eval(b, scope)?);
            match (*op, &a, &b) {
                ("==", _, _) => Value::Bool(a == b),
                ("!=", _, _) => Value::Bool(a != b),
                ("+", Value::Int(x), Value::Int(y)) => Value::Int(x + y),
                ("-", Value::Int(x), Value::Int(y)) => Value::Int(x - y),
                ("<", Value::Int(x), Value::Int(y)) => Value::Bool(x < y),
                (">", Value::Int(x), Value::Int(y)) => Value::Bool(x > y),
                ("<=", Value::Int(x), Value::Int(y)) => Value::Bool(x <= y),
                (">=", Value::Int(x), Value::Int(y)) => Value::Bool(x >= y),
                ("+", Value::Str(x), Value::Str(y)) => Value::Str(format!("{x}{y}")),
                ("+", Value::List(x), Value::List(y)) => {
                    Value::List(x.iter().chain(y).cloned().collect())
                }
                ("~", _, _) => Value::Str(a.render() + &b.render()),
                ("in", Value::Str(x), Value::Str(y)) => Value::Bool(y.contains(x.as_str())),
                ("in", _, Value::List(y)) => Value::Bool(y.contains(&a)),
                ("in", Value::Str(x), Value::Map(m)) => Value::Bool(m.iter().any(|(k, _)| k == x)),
                _ => return Err(format!("unsupported operation {a:?} {op} {b:?}")),
            }
        }
        Expr::Test(x, test, negate) => {
            let v = eval(x, scope)?;
            let r = match test.as_str() {
                "defined" => v != Value::None,
                "none" => v == Value::None,
                "string" => matches!(v, Value::Str(_)),
                other => return Err(format!("unsupported test {other:?}")),
            };
            Value::Bool(r != *negate)
        }
        Expr::Filter(x, f) => match (f.as_str(), eval(x, scope)?) {
            ("trim", Value::Str(s)) => Value::Str(s.trim().to_owned()),
            ("length", Value::Str(s)) => Value::Int(s.chars().count() as i64),
            ("length", Value::List(l)) => Value::Int(l.len() as i64),
            (f, v) => return Err(format!("unsupported filter {f:?} on {v:?}")),
        },
        Expr::Method(x, m) => match (m.as_str(), eval(x, scope)?) {
            ("strip", Value::Str(s)) => Value::Str(s.trim().to_owned()),
            (m, v) => return Err(format!("unsupported method {m:?} on {v:?}")),
        },
        Expr::Call(f, args) if f == "raise_exception" => {
            let msg = args.first().map(|a| eval(a, scope)).transpose()?.unwrap_or(Value::None);
            return Err(format!("the template raised: {}", msg.render()));
        }
        Expr::Call(f, _) => return Err(format!("unsupported function {f:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: &str, content: &str) -> Value {
        Value::Map(vec![
            ("role".into(), Value::Str(role.into())),
            ("content".into(), Value::Str(content.into())),
        ])
    }

    /// SmolLM2-135M-Instruct's template, verbatim from its tokenizer_config.json.
    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn renders_smollm2_chatml() {
        let t = Template::parse(SMOLLM2).unwrap();
        let out = t
            .render(&[
                ("messages", Value::List(vec![msg("user", "hi")])),
                ("add_generation_prompt", Value::Bool(true)),
            ])
            .unwrap();
        assert_eq!(out, "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
        let out = t
            .render(&[
                ("messages", Value::List(vec![msg("system", "S"), msg("user", "u")])),
                ("add_generation_prompt", Value::Bool(false)),
            ])
            .unwrap();
        assert_eq!(out, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nu<|im_end|>\n");
    }

    #[test]
    fn whitespace_control_and_blocks() {
        struct Case {
            name: &'static str,
            src: &'static str,
            want: &'static str,
        }
        let cases = [
            Case { name: "trim_blocks", src: "{% if true %}\nA{% endif %}\n", want: "A" },
            Case { name: "lstrip_blocks", src: "x\n  {% if true %}\ny\n  {% endif %}\n", want: "x\ny\n" },
            Case { name: "dash", src: "a  {{- 'b' -}}  c", want: "abc" },
            Case { name: "elif", src: "{% if 1 == 2 %}a{% elif 'x' in 'xy' %}b{% else %}c{% endif %}", want: "b" },
            Case { name: "set and tilde", src: "{% set n = 2 %}{{ 'n=' ~ n }}", want: "n=2" },
            Case { name: "loop vars", src: "{% for x in ['a','b'] %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}", want: "1a,2b" },
            Case { name: "tests", src: "{{ y is defined }}{{ y is not defined }}{{ ' s '|trim }}", want: "FalseTrues" },
            Case { name: "negative index", src: "{{ ['a','b'][-1] }}", want: "b" },
        ];
        for case in cases {
            let got = Template::parse(case.src).and_then(|t| t.render(&[]));
            assert_eq!(got.as_deref(), Ok(case.want), "case {}", case.name);
        }
    }

    #[test]
    fn raise_exception_is_an_error() {
        let t = Template::parse("{{ raise_exception('only user and assistant') }}").unwrap();
        assert!(t.render(&[]).unwrap_err().contains("only user and assistant"));
        assert!(Template::parse("{% macro x() %}{% endmacro %}").is_err());
    }
}
