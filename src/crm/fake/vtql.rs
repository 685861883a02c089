//! The VTQL grammar of vtenext's `query` operation (CRM-API §2.7,
//! `include/Webservices/VTQL_Parser.php`):
//! `SELECT * | count(*) | f1,f2 FROM Module [WHERE cond ((AND|OR) cond)*]
//! [ORDER BY f[,f] [ASC|DESC]] [LIMIT n | LIMIT offset, n];` with the trailing `;` required.
//! Syntax errors are worded like the PHP parser's (`query_nosemicolon.json`, `query_syntax.json`).

/// Longest query text accepted; the parser is linear but a bound keeps the fake predictable.
pub const MAX_QUERY_LEN: u32 = 65_536;
/// Most conditions in a WHERE clause.
pub const MAX_CONDITIONS: u32 = 256;
/// Most values inside one `IN (...)`.
pub const MAX_IN_VALUES: u32 = 10_000;

#[derive(Clone, Debug, PartialEq)]
pub enum Select {
    Star,
    Count,
    Fields(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Like,
    In,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cond {
    pub field: String,
    pub op: Op,
    pub values: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    And,
    Or,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub select: Select,
    pub module: String,
    /// The first condition and then each following one with its joining word.
    pub conds: Vec<(Join, Cond)>,
    pub order_by: Vec<String>,
    pub descending: bool,
    pub offset: Option<u32>,
    pub limit: Option<u32>,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(String),
    Sym(&'static str),
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Word(s) | Tok::Num(s) => s.clone(),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Sym(s) => (*s).to_owned(),
        }
    }

    fn kw(&self, k: &str) -> bool {
        matches!(self, Tok::Word(w) if w.eq_ignore_ascii_case(k))
    }
}

fn lex(q: &str) -> Result<Vec<Tok>, String> {
    let cs: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = cs.get(i) {
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match cs.get(i) {
                    None => return Err(syntax(&format!("{c}{s}"), "Unknown", "")),
                    Some('\\') => {
                        if let Some(&n) = cs.get(i + 1) {
                            s.push(n);
                        }
                        i += 2;
                    }
                    Some(&d) if d == c => {
                        i += 1;
                        break;
                    }
                    Some(&d) => {
                        s.push(d);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
        } else if c.is_ascii_digit() {
            let start = i;
            while cs.get(i).is_some_and(|d| d.is_ascii_digit()) {
                i += 1;
            }
            out.push(Tok::Num(cs[start..i].iter().collect()));
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while cs
                .get(i)
                .is_some_and(|d| d.is_alphanumeric() || *d == '_' || *d == '.')
            {
                i += 1;
            }
            out.push(Tok::Word(cs[start..i].iter().collect()));
        } else {
            let two: String = cs.iter().skip(i).take(2).collect();
            let sym: &'static str = match two.as_str() {
                "<=" => "<=",
                ">=" => ">=",
                "!=" => "!=",
                "<>" => "!=",
                _ => match c {
                    ',' => ",",
                    '(' => "(",
                    ')' => ")",
                    ';' => ";",
                    '*' => "*",
                    '=' => "=",
                    '<' => "<",
                    '>' => ">",
                    _ => return Err(syntax(&c.to_string(), "Unknown", "")),
                },
            };
            i += sym.len().min(two.len()).max(1);
            out.push(Tok::Sym(sym));
        }
    }
    Ok(out)
}

fn syntax(tok: &str, unexpected: &str, expected: &str) -> String {
    format!(
        "Syntax Error on line 1: token '{tok}' Unexpected {unexpected}, expected one of: {expected}"
    )
}

struct P {
    toks: Vec<Tok>,
    pos: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    /// The parser's error for the current position: at the end, PHP names the last token read.
    fn err(&self, expected: &str) -> String {
        match self.toks.get(self.pos) {
            None => {
                let last = self
                    .pos
                    .checked_sub(1)
                    .and_then(|p| self.toks.get(p))
                    .map(Tok::text)
                    .unwrap_or_default();
                syntax(&last, "End of Input(0)", expected)
            }
            Some(t) => {
                let kind = match t {
                    Tok::Word(w) if is_keyword(w) => w.to_ascii_uppercase(),
                    Tok::Word(_) => "Unknown".to_owned(),
                    Tok::Str(_) => "VALUE".to_owned(),
                    Tok::Num(_) => "NUMBER".to_owned(),
                    Tok::Sym(_) => "SYMBOL".to_owned(),
                };
                syntax(&t.text(), &format!("{kind}({})", t.text()), expected)
            }
        }
    }

    fn expect_kw(&mut self, k: &str) -> Result<(), String> {
        if self.peek().is_some_and(|t| t.kw(k)) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(&k.to_ascii_uppercase()))
        }
    }

    fn sym(&mut self, s: &str) -> bool {
        if self.peek() == Some(&Tok::Sym(leak(s))) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn ident(&mut self, expected: &str) -> Result<String, String> {
        match self.peek() {
            Some(Tok::Word(w)) if !is_keyword(w) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => Err(self.err(expected)),
        }
    }

    fn number(&mut self, expected: &str) -> Result<u32, String> {
        match self.peek() {
            Some(Tok::Num(n)) => {
                let v = n.parse::<u32>().unwrap_or(u32::MAX);
                self.pos += 1;
                Ok(v)
            }
            _ => Err(self.err(expected)),
        }
    }

    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Str(s)) | Some(Tok::Num(s)) => Ok(s),
            _ => {
                self.pos -= 1;
                Err(self.err("VALUE"))
            }
        }
    }
}

fn leak(s: &str) -> &'static str {
    match s {
        "," => ",",
        "(" => "(",
        ")" => ")",
        ";" => ";",
        "*" => "*",
        _ => "",
    }
}

fn is_keyword(w: &str) -> bool {
    [
        "select", "from", "where", "and", "or", "order", "by", "limit", "asc", "desc", "like",
        "in", "count",
    ]
    .iter()
    .any(|k| w.eq_ignore_ascii_case(k))
}

/// Parses one VTQL statement.
pub fn parse(q: &str) -> Result<Query, String> {
    if u32::try_from(q.len()).map_or(true, |l| l > MAX_QUERY_LEN) {
        return Err(syntax("", "Unknown", "SELECT"));
    }
    let mut p = P {
        toks: lex(q)?,
        pos: 0,
    };
    if !p.peek().is_some_and(|t| t.kw("select")) {
        return Err(match p.peek() {
            Some(t) => syntax(&t.text(), &format!("Unknown({})", t.text()), "SELECT"),
            None => syntax("", "End of Input(0)", "SELECT"),
        });
    }
    p.pos += 1;
    let select = if p.sym("*") {
        Select::Star
    } else if p.peek().is_some_and(|t| t.kw("count")) {
        p.pos += 1;
        if !(p.sym("(") && p.sym("*") && p.sym(")")) {
            return Err(p.err("PARENOPEN"));
        }
        Select::Count
    } else {
        let mut fields = vec![p.ident("COLUMNNAME")?];
        while p.sym(",") {
            fields.push(p.ident("COLUMNNAME")?);
        }
        Select::Fields(fields)
    };
    p.expect_kw("from")?;
    let module = p.ident("TABLENAME")?;
    let mut q = Query {
        select,
        module,
        conds: Vec::new(),
        order_by: Vec::new(),
        descending: false,
        offset: None,
        limit: None,
    };
    if p.peek().is_some_and(|t| t.kw("where")) {
        p.pos += 1;
        let mut join = Join::And;
        loop {
            if u32::try_from(q.conds.len()).unwrap_or(u32::MAX) >= MAX_CONDITIONS {
                return Err(p.err("SEMICOLON"));
            }
            let field = p.ident("COLUMNNAME")?;
            let op = match p.next() {
                Some(Tok::Sym("=")) => Op::Eq,
                Some(Tok::Sym("!=")) => Op::Ne,
                Some(Tok::Sym("<")) => Op::Lt,
                Some(Tok::Sym(">")) => Op::Gt,
                Some(Tok::Sym("<=")) => Op::Le,
                Some(Tok::Sym(">=")) => Op::Ge,
                Some(t) if t.kw("like") => Op::Like,
                Some(t) if t.kw("in") => Op::In,
                _ => {
                    p.pos -= 1;
                    return Err(p.err("EQ, NE, LT, GT, LTE, GTE, LIKE, IN"));
                }
            };
            let values = if op == Op::In {
                if !p.sym("(") {
                    return Err(p.err("PARENOPEN"));
                }
                let mut v = vec![p.value()?];
                while p.sym(",") {
                    if u32::try_from(v.len()).unwrap_or(u32::MAX) >= MAX_IN_VALUES {
                        return Err(p.err("PARENCLOSE"));
                    }
                    v.push(p.value()?);
                }
                if !p.sym(")") {
                    return Err(p.err("PARENCLOSE"));
                }
                v
            } else {
                vec![p.value()?]
            };
            q.conds.push((join, Cond { field, op, values }));
            if p.peek().is_some_and(|t| t.kw("and")) {
                join = Join::And;
            } else if p.peek().is_some_and(|t| t.kw("or")) {
                join = Join::Or;
            } else {
                break;
            }
            p.pos += 1;
        }
    }
    if p.peek().is_some_and(|t| t.kw("order")) {
        p.pos += 1;
        p.expect_kw("by")?;
        q.order_by.push(p.ident("COLUMNNAME")?);
        while p.sym(",") {
            q.order_by.push(p.ident("COLUMNNAME")?);
        }
        if p.peek().is_some_and(|t| t.kw("desc")) {
            q.descending = true;
            p.pos += 1;
        } else if p.peek().is_some_and(|t| t.kw("asc")) {
            p.pos += 1;
        }
    }
    if p.peek().is_some_and(|t| t.kw("limit")) {
        p.pos += 1;
        let first = p.number("NUMBER")?;
        if p.sym(",") {
            q.offset = Some(first);
            q.limit = Some(p.number("NUMBER")?);
        } else {
            q.limit = Some(first);
        }
    }
    if !p.sym(";") {
        return Err(p.err("SEMICOLON"));
    }
    if p.peek().is_some() {
        return Err(p.err("End of Input"));
    }
    Ok(q)
}

/// MySQL `LIKE` with the default case-insensitive collation: `%` any run, `_` one character.
pub fn like(value: &str, pattern: &str) -> bool {
    let v: Vec<char> = value.to_lowercase().chars().collect();
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    // Iterative wildcard match with backtracking to the last `%`.
    let (mut vi, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        match p.get(pi) {
            Some('%') => {
                star = Some((pi, vi));
                pi += 1;
            }
            Some(&c) if c == '_' || Some(&c) == v.get(vi) => {
                vi += 1;
                pi += 1;
            }
            _ => match star {
                Some((sp, sv)) => {
                    pi = sp + 1;
                    vi = sv + 1;
                    star = Some((sp, sv + 1));
                }
                None => return false,
            },
        }
    }
    p.iter().skip(pi).all(|&c| c == '%')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_grammar() {
        let q = parse("select id,lastname from Contacts where lastname like 'B%' and id in ('4x20','4x21') or email != '' order by id desc limit 10, 5;").unwrap();
        assert_eq!(q.module, "Contacts");
        assert_eq!(q.conds.len(), 3);
        assert_eq!(q.conds[1].1.values.len(), 2);
        assert_eq!(q.conds[2].0, Join::Or);
        assert!(q.descending);
        assert_eq!((q.offset, q.limit), (Some(10), Some(5)));
        assert_eq!(
            parse("SELECT count(*) FROM Contacts;").unwrap().select,
            Select::Count
        );
    }

    #[test]
    fn recorded_errors() {
        assert_eq!(
            parse("SELECT id FROM Contacts").unwrap_err(),
            "Syntax Error on line 1: token 'Contacts' Unexpected End of Input(0), expected one of: SEMICOLON"
        );
        assert_eq!(
            parse("SELEC id FROM Contacts;").unwrap_err(),
            "Syntax Error on line 1: token 'SELEC' Unexpected Unknown(SELEC), expected one of: SELECT"
        );
        assert!(parse("SELECT id FROM Contacts WHERE id = ;").is_err());
        assert!(parse("SELECT id FROM Contacts; x").is_err());
        assert!(parse("SELECT id FROM Contacts WHERE lastname = 'x").is_err());
    }

    #[test]
    fn caps() {
        let many = vec!["'1'"; MAX_IN_VALUES as usize + 1].join(",");
        assert!(parse(&format!("SELECT id FROM Contacts WHERE id IN ({many});")).is_err());
        let conds = vec!["id = '1'"; MAX_CONDITIONS as usize + 1].join(" AND ");
        assert!(parse(&format!("SELECT id FROM Contacts WHERE {conds};")).is_err());
        assert!(parse(&"x".repeat(MAX_QUERY_LEN as usize + 1)).is_err());
    }

    #[test]
    fn like_patterns() {
        assert!(like("Bianchi", "b%"));
        assert!(like("Bianchi", "%ANC%"));
        assert!(like("Bianchi", "Bianch_"));
        assert!(!like("Bianchi", "x%"));
        assert!(like("", "%"));
    }
}
