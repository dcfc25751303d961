//! The entries of the second-order catalogs (`matdiff-rewrite/tests/second_order/*.txt` and
//! `tests/kronecker/*.txt`): one `key: value` per line, `#` comments.

/// One entry: a function, its variable, the kind of result and the literature's form of it.
#[derive(Default, Debug)]
pub struct Entry {
    /// The entry's name (its file stem).
    pub name: String,
    /// Where the literature form comes from.
    pub source: String,
    /// `hessian`, `hvp` or `jacobian`.
    pub kind: String,
    /// The function.
    pub expr: String,
    /// The variable.
    pub wrt: String,
    /// Declarations (`--let`), one per `let:` line.
    pub decls: Vec<String>,
    /// The literature's form of the result.
    pub literature: String,
}

/// Parses an entry; every key but `let` is required.
///
/// ```
/// let e = matdiff_testkit::second_order_catalog::parse_entry(
///     "name: q\nsource: Cookbook\nkind: hessian\nexpr: x'*A*x\nwrt: x\nliterature: A + A'",
/// )
/// .unwrap();
/// assert_eq!(e.literature, "A + A'");
/// ```
pub fn parse_entry(text: &str) -> Result<Entry, String> {
    let mut e = Entry::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| format!("line {}: expected 'key: value'", n + 1))?;
        let value = value.trim().to_string();
        match key.trim() {
            "name" => e.name = value,
            "source" => e.source = value,
            "kind" => e.kind = value,
            "expr" => e.expr = value,
            "wrt" => e.wrt = value,
            "let" => e.decls.push(value),
            "literature" => e.literature = value,
            other => return Err(format!("line {}: unknown key '{other}'", n + 1)),
        }
    }
    for (key, value) in [
        ("name", &e.name),
        ("source", &e.source),
        ("kind", &e.kind),
        ("expr", &e.expr),
        ("wrt", &e.wrt),
        ("literature", &e.literature),
    ] {
        if value.is_empty() {
            return Err(format!("missing '{key}:'"));
        }
    }
    Ok(e)
}
