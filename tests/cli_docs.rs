//! `pactown completions` and `pactown man`: generated from the CLI definition, so every command
//! is in them; the bash script loads in a real bash and completes subcommands.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use assert_cmd::Command;

const COMMANDS: [&str; 6] = ["up", "down", "status", "logs", "export", "completions"];

fn pactown(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("pactown")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn bash_completion_loads_and_completes_subcommands() {
    let script = pactown(&["completions", "bash"]);
    assert!(script.status.success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pactown.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    // what bash offers after `pactown u` and after `pactown up --eng`
    let probe = format!(
        "source {}\n\
         COMP_WORDS=(pactown u); COMP_CWORD=1; _pactown pactown u pactown; echo \"${{COMPREPLY[*]}}\"\n\
         COMP_WORDS=(pactown up --eng); COMP_CWORD=2; _pactown pactown --eng up; echo \"${{COMPREPLY[*]}}\"\n",
        file.display()
    );
    let o = std::process::Command::new("bash")
        .args(["--norc", "-c", &probe])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && stderr.is_empty(), "{stderr}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].split(' ').any(|w| w == "up"), "{out}");
    assert!(lines[1].split(' ').any(|w| w == "--engine"), "{out}");
}

#[test]
fn every_shell_gets_a_script_naming_the_commands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = pactown(&["completions", shell]);
        assert!(o.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&o.stdout);
        for c in COMMANDS {
            assert!(text.contains(c), "{shell}: no {c}");
        }
    }
    let o = pactown(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("possible values"));
}

#[test]
fn man_prints_the_main_page_and_writes_one_per_command() {
    let o = pactown(&["man"]);
    assert!(o.status.success());
    let page = String::from_utf8_lossy(&o.stdout);
    assert!(page.contains(".TH pactown 1"), "{page}");
    for c in COMMANDS {
        assert!(
            page.contains(&format!("pactown\\-{c}(1)")),
            "no {c} in:\n{page}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("other.1"), "not ours").unwrap();
    let o = pactown(&["man", "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for c in COMMANDS {
        let p = out.join(format!("pactown-{c}.1"));
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(text.contains(&format!(".TH pactown-{c} 1")), "{text}");
    }
    assert!(out.join("pactown.1").is_file());
    assert_eq!(
        std::fs::read_to_string(out.join("other.1")).unwrap(),
        "not ours"
    );
    // a path that is a file is an error naming it, not a panic
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let o = pactown(&["man", "-o", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(file.to_str().unwrap()), "{err}");
}
