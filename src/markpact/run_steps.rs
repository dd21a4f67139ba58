//! What a run block does before it starts the service: the install and compile commands READMEs
//! written for a plain shell put in front of the server (`npm install && npm start`,
//! `pip install -r requirements.txt`, `go run .`, `cargo run --release`,
//! `go build -o bin/x . && ./bin/x`). Pure text analysis: the script is split into simple
//! commands at the top-level operators (`&&`, `||`, `;`, `|`, `&`, newlines; quotes, `$(…)` and
//! backslash continuations respected), and each command is classified by its first words.
//!
//! The image build runs the [`StepKind::Install`] and [`StepKind::Compile`] steps (with the
//! `cd`/`export` steps between them, so they run in the same folder with the same variables);
//! at start the shims of `crate::image::shim` skip what already ran and `exec` the binaries
//! built for `go run` / `cargo run`.

/// One simple command of a run script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 0-based line of the run block's body where the command starts.
    pub line: usize,
    /// The command's text, verbatim (continuations joined).
    pub text: String,
    /// What it is.
    pub kind: StepKind,
}

/// The kinds of commands the image build cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// `cd DIR`: changes the folder of the following steps.
    Cd,
    /// `export NAME=VALUE`: sets a variable for the following steps.
    Export,
    /// Installs packages (`pip install`, `python -m pip install`, `npm install`/`ci`/`i`, `npm run
    /// build`, `go mod download`): belongs in the image, ideally in a deps block.
    Install(Tool),
    /// Compiles (`go build`, `go run`, `cargo build`, `cargo run`).
    Compile(Tool),
    /// Anything else (the server itself, `echo`, …).
    Other,
}

/// The tool a step runs; each has a shim of the same name in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tool {
    /// `pip`.
    Pip,
    /// `pip3`.
    Pip3,
    /// `python -m pip`.
    Python,
    /// `python3 -m pip`.
    Python3,
    /// `npm`.
    Npm,
    /// `go`.
    Go,
    /// `cargo`.
    Cargo,
}

impl Tool {
    /// The command name (and shim file name).
    #[must_use]
    pub fn command(self) -> &'static str {
        match self {
            Tool::Pip => "pip",
            Tool::Pip3 => "pip3",
            Tool::Python => "python",
            Tool::Python3 => "python3",
            Tool::Npm => "npm",
            Tool::Go => "go",
            Tool::Cargo => "cargo",
        }
    }
}

impl Step {
    /// True for the install and compile steps the image build runs.
    #[must_use]
    pub fn is_prepared(&self) -> bool {
        matches!(self.kind, StepKind::Install(_) | StepKind::Compile(_))
    }
}

/// The simple commands of a script, in order.
#[must_use]
pub fn steps(script: &str) -> Vec<Step> {
    split(script)
        .into_iter()
        .filter_map(|(line, text)| {
            let text = text.trim().to_string();
            if text.is_empty() {
                return None;
            }
            let kind = classify(&text);
            Some(Step { line, text, kind })
        })
        .collect()
}

/// The steps the image build runs: every install/compile step and the `cd`/`export` steps
/// before the last of them. Empty when the script has no install or compile step.
#[must_use]
pub fn prepared(script: &str) -> Vec<Step> {
    let all = steps(script);
    let Some(last) = all.iter().rposition(Step::is_prepared) else {
        return Vec::new();
    };
    all.into_iter()
        .take(last + 1)
        .filter(|s| s.is_prepared() || matches!(s.kind, StepKind::Cd | StepKind::Export))
        .collect()
}

/// Words of a command for classification: whitespace-separated, quotes removed (no expansion).
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut has = false;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                has = true;
            }
            None if c.is_whitespace() => {
                if has || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                has = false;
            }
            None => cur.push(c),
        }
    }
    if has || !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

fn classify(text: &str) -> StepKind {
    let all = words(text);
    let mut w: Vec<&str> = all.iter().map(String::as_str).collect();
    // leading `VAR=value` assignments and `exec`/`command`/`time` prefixes
    while let Some(first) = w.first() {
        if is_assignment(first)
            || matches!(
                *first,
                "exec" | "command" | "time" | "nohup" | "then" | "do" | "else" | "{"
            )
        {
            w.remove(0);
        } else {
            break;
        }
    }
    let Some((&cmd, rest)) = w.split_first() else {
        return StepKind::Other;
    };
    let cmd = cmd.rsplit('/').next().unwrap_or(cmd);
    let first = rest.first().copied().unwrap_or("");
    let second = rest.get(1).copied().unwrap_or("");
    match cmd {
        "cd" | "pushd" => StepKind::Cd,
        "export" => StepKind::Export,
        "pip" if first == "install" => StepKind::Install(Tool::Pip),
        "pip3" if first == "install" => StepKind::Install(Tool::Pip3),
        "python" | "python3"
            if first == "-m" && matches!(second, "pip" | "pip3") && rest.contains(&"install") =>
        {
            StepKind::Install(if cmd == "python" {
                Tool::Python
            } else {
                Tool::Python3
            })
        }
        "npm" => match first {
            "install" | "i" | "ci" | "add" | "isntall" | "clean-install" | "install-clean" => {
                StepKind::Install(Tool::Npm)
            }
            "run" | "run-script" if second == "build" => StepKind::Install(Tool::Npm),
            _ => StepKind::Other,
        },
        "go" => match first {
            "build" | "run" | "install" => StepKind::Compile(Tool::Go),
            "mod" if matches!(second, "download" | "tidy" | "vendor" | "verify") => {
                StepKind::Install(Tool::Go)
            }
            _ => StepKind::Other,
        },
        "cargo" => match first {
            "build" | "run" | "b" | "r" | "fetch" => StepKind::Compile(Tool::Cargo),
            _ => StepKind::Other,
        },
        _ => StepKind::Other,
    }
}

/// Splits a script into simple commands at top-level operators and newlines; each with the
/// 0-based body line it starts on. `#` comments (at a word start, outside quotes) are dropped.
fn split(script: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start_line = 0usize;
    let mut line = 0usize;
    let mut quote: Option<char> = None;
    let mut depth = 0usize; // $( … ) and ( … ) nesting
    let mut chars = script.chars().peekable();
    let push = |cur: &mut String, start: usize, out: &mut Vec<(usize, String)>| {
        if !cur.trim().is_empty() {
            out.push((start, std::mem::take(cur)));
        }
        cur.clear();
    };
    while let Some(c) = chars.next() {
        if cur.trim().is_empty() {
            start_line = line;
        }
        match quote {
            Some(q) => {
                cur.push(c);
                if c == '\n' {
                    line += 1;
                }
                if c == '\\' && q == '"' {
                    if let Some(n) = chars.next() {
                        if n == '\n' {
                            line += 1;
                        }
                        cur.push(n);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\\' => match chars.next() {
                    Some('\n') => {
                        line += 1;
                        cur.push(' ');
                    }
                    Some(n) => {
                        cur.push(c);
                        cur.push(n);
                    }
                    None => cur.push(c),
                },
                '\'' | '"' | '`' => {
                    quote = Some(c);
                    cur.push(c);
                }
                '(' => {
                    depth += 1;
                    cur.push(c);
                }
                ')' => {
                    depth = depth.saturating_sub(1);
                    cur.push(c);
                }
                '#' if depth == 0 && (cur.is_empty() || cur.ends_with(char::is_whitespace)) => {
                    // comment to the end of the line
                    for n in chars.by_ref() {
                        if n == '\n' {
                            line += 1;
                            break;
                        }
                    }
                    push(&mut cur, start_line, &mut out);
                }
                '\n' if depth == 0 => {
                    push(&mut cur, start_line, &mut out);
                    line += 1;
                }
                '\n' => {
                    line += 1;
                    cur.push(' ');
                }
                ';' | '&' | '|' if depth == 0 => {
                    if chars.peek() == Some(&c) {
                        chars.next();
                    }
                    push(&mut cur, start_line, &mut out);
                }
                c => cur.push(c),
            },
        }
    }
    push(&mut cur, start_line, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(script: &str) -> Vec<(String, StepKind)> {
        steps(script)
            .into_iter()
            .map(|s| (s.text, s.kind))
            .collect()
    }

    #[test]
    fn splits_at_operators_outside_quotes() {
        let k = kinds("npm install && npm start\necho 'a && b'; go run . --port \"$PORT\" &\n");
        assert_eq!(
            k,
            vec![
                ("npm install".to_string(), StepKind::Install(Tool::Npm)),
                ("npm start".to_string(), StepKind::Other),
                ("echo 'a && b'".to_string(), StepKind::Other),
                (
                    "go run . --port \"$PORT\"".to_string(),
                    StepKind::Compile(Tool::Go)
                ),
            ]
        );
    }

    #[test]
    fn recognises_the_patterns_readmes_use() {
        for (script, kind) in [
            (
                "pip install -r requirements.txt",
                StepKind::Install(Tool::Pip),
            ),
            (
                "pip3 install fastapi uvicorn",
                StepKind::Install(Tool::Pip3),
            ),
            (
                "python -m pip install -q flask",
                StepKind::Install(Tool::Python),
            ),
            ("python3 -m pip install x", StepKind::Install(Tool::Python3)),
            ("npm ci", StepKind::Install(Tool::Npm)),
            ("npm i", StepKind::Install(Tool::Npm)),
            ("npm run build", StepKind::Install(Tool::Npm)),
            ("go run ./cmd/api", StepKind::Compile(Tool::Go)),
            ("exec go run main.go", StepKind::Compile(Tool::Go)),
            ("then go run .", StepKind::Compile(Tool::Go)),
            (
                "CGO_ENABLED=0 go build -o bin/x .",
                StepKind::Compile(Tool::Go),
            ),
            ("go mod download", StepKind::Install(Tool::Go)),
            ("cargo run --release", StepKind::Compile(Tool::Cargo)),
            ("cd backend", StepKind::Cd),
            ("export X=1", StepKind::Export),
            ("npm start", StepKind::Other),
            ("uvicorn main:app --reload", StepKind::Other),
            ("python3 -m http.server", StepKind::Other),
            ("./bin/x", StepKind::Other),
        ] {
            assert_eq!(classify(script), kind, "{script}");
        }
    }

    #[test]
    fn continuations_comments_and_lines() {
        let s = steps("# set up\npip install \\\n  flask\nuvicorn x # dev server\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].line, 1);
        assert_eq!(s[0].text, "pip install    flask");
        assert_eq!(s[1].line, 3);
        assert_eq!(s[1].text, "uvicorn x");
    }

    #[test]
    fn prepared_keeps_cd_and_export_before_the_last_install() {
        let p: Vec<String> = prepared(
            "export A=1\ncd web && npm ci && npm run build\ncd ..\nexport B=2\nnpm start\n",
        )
        .into_iter()
        .map(|s| s.text)
        .collect();
        assert_eq!(p, ["export A=1", "cd web", "npm ci", "npm run build"]);
        assert!(prepared("python3 main.py\n").is_empty());
        // `$(…)` and subshell bodies are not split
        assert_eq!(
            kinds("echo $(npm install; true)").len(),
            1,
            "command substitution split"
        );
    }
}
