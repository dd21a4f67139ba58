//! The restricted static expander and the default-port guess (spec §10).

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME-word}` in `script` with `lookup`
/// (`None` = unset). `\$` is a literal dollar and nothing expands inside single quotes; all
/// other text is kept as written. Returns `None` when the script uses anything else (`$(…)`,
/// backticks, `${#x}`, `${x:=y}`, nested defaults, special parameters), i.e. when its value is
/// not statically known.
#[must_use]
pub fn expand_static(script: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::with_capacity(script.len());
    let mut chars = script.char_indices().peekable();
    let mut in_double = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' if !in_double => {
                out.push('\'');
                let rest = script.get(i + 1..)?;
                let close = rest.find('\'')?;
                out.push_str(rest.get(..=close)?);
                let end = i + 1 + close;
                while chars.peek().is_some_and(|&(j, _)| j <= end) {
                    chars.next();
                }
            }
            '"' => {
                in_double = !in_double;
                out.push('"');
            }
            '`' => return None,
            '\\' => match chars.peek() {
                Some(&(_, '$')) => {
                    chars.next();
                    out.push('$');
                }
                Some(&(_, next)) => {
                    chars.next();
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '$' => match chars.peek().map(|&(_, n)| n) {
                Some('{') => {
                    let rest = script.get(i + 2..)?;
                    let close = rest.find('}')?;
                    let inner = rest.get(..close)?;
                    out.push_str(&expand_braced(inner, lookup)?);
                    let end = i + 2 + close;
                    while chars.peek().is_some_and(|&(j, _)| j <= end) {
                        chars.next();
                    }
                }
                Some(n) if is_name_start(n) => {
                    let rest = script.get(i + 1..)?;
                    let len = rest
                        .find(|ch: char| !is_name_char(ch))
                        .unwrap_or(rest.len());
                    let name = rest.get(..len)?;
                    out.push_str(&lookup(name).unwrap_or_default());
                    while chars.peek().is_some_and(|&(j, _)| j <= i + len) {
                        chars.next();
                    }
                }
                // `$(`, `$1`, `$@`, `$?`, `$$`, `$#`, `$!`, `$-`, `$*`: not static.
                Some(n) if n == '(' || n.is_ascii_digit() || "@?$#!-*".contains(n) => return None,
                _ => out.push('$'),
            },
            _ => out.push(c),
        }
    }
    if in_double {
        return None;
    }
    Some(out)
}

fn expand_braced(inner: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let name_len = inner
        .find(|ch: char| !is_name_char(ch))
        .unwrap_or(inner.len());
    let name = inner.get(..name_len)?;
    if !name.starts_with(is_name_start) {
        return None;
    }
    let op = inner.get(name_len..)?;
    if op.is_empty() {
        return Some(lookup(name).unwrap_or_default());
    }
    let (word, empty_counts) = if let Some(w) = op.strip_prefix(":-") {
        (w, true)
    } else if let Some(w) = op.strip_prefix('-') {
        (w, false)
    } else {
        return None;
    };
    if word.contains(['$', '`', '\\', '\'', '"', '{']) {
        return None;
    }
    match lookup(name) {
        Some(v) if !(empty_counts && v.is_empty()) => Some(v),
        _ => Some(word.to_string()),
    }
}

/// Default-port guess (§10): the first of `--port ${MARKPACT_PORT:-N}`, `--port N`, `:N`,
/// `PORT=N` / `PORT:-N` found in the script, tried in that order.
#[must_use]
pub fn guess_port(run: &str) -> Option<u16> {
    fn after_port(r: &str) -> Option<&str> {
        Some(r.strip_prefix(['=', ' ', '\t'])?.trim_start())
    }
    after_each(run, "--port", |r| {
        port_at(after_port(r)?.strip_prefix("${MARKPACT_PORT:-")?)
    })
    .or_else(|| after_each(run, "--port", |r| port_at(after_port(r)?)))
    .or_else(|| after_each(run, ":", port_at))
    .or_else(|| {
        after_each(run, "PORT", |r| {
            port_at(r.strip_prefix('=').or_else(|| r.strip_prefix(":-"))?)
        })
    })
}

/// Applies `f` to the text after each occurrence of `needle`, returning the first hit.
fn after_each(s: &str, needle: &str, f: impl Fn(&str) -> Option<u16>) -> Option<u16> {
    s.match_indices(needle)
        .find_map(|(i, _)| f(s.get(i + needle.len()..)?))
}

/// A port number at the start of `s` (digits not followed by another digit).
fn port_at(s: &str) -> Option<u16> {
    let len = s.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 || len > 5 {
        return None;
    }
    s.get(..len)?.parse::<u16>().ok().filter(|&p| p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn expands() {
        let e = env(&[("A", "1"), ("E", "")]);
        assert_eq!(
            expand_static("x $A ${A} ${B:-7} ${E:-7} ${E-7} ${B-7}", &e).unwrap(),
            "x 1 1 7 7  7"
        );
        assert_eq!(
            expand_static("'$A' \"$A's\" \\$A $ end$", &e).unwrap(),
            "'$A' \"1's\" $A $ end$"
        );
        assert_eq!(expand_static("$Bx-", &e).unwrap(), "-");
        for not_static in [
            "$(date)",
            "`date`",
            "${#A}",
            "${A:=1}",
            "${A:-${B}}",
            "$1",
            "'open",
            "\"open",
            "${A",
        ] {
            assert_eq!(expand_static(not_static, &e), None, "{not_static}");
        }
    }

    #[test]
    fn guesses_port() {
        assert_eq!(
            guess_port("uvicorn m:app --port ${MARKPACT_PORT:-8001}"),
            Some(8001)
        );
        assert_eq!(guess_port("x --port 9000 :1234"), Some(9000));
        assert_eq!(guess_port("php -S 0.0.0.0:8080"), Some(8080));
        assert_eq!(guess_port("PORT=3000 node s.js"), Some(3000));
        assert_eq!(guess_port("node s.js ${PORT:-3001}"), Some(3001));
        assert_eq!(guess_port("go run ."), None);
        assert_eq!(guess_port("x :99999"), None);
    }
}
