//! The manual page `daemonproxy(8)`: a roff template for the prose, with
//! the options and subcommands filled in from the tables.

use super::{ctl_options, options, Opt};
use crate::args;

/// The page's prose, with `@NAME@` placeholders.
const TEMPLATE: &str = include_str!("daemonproxy.8.in");

/// The whole page.
pub fn page() -> String {
    let header = "\
.\\\" daemonproxy(8). Generated from the option tables of daemonproxy-cli by
.\\\" daemonproxy-cli/src/generated.rs and generated/daemonproxy.8.in; do not edit.
.\\\" Regenerate: DAEMONPROXY_UPDATE_GENERATED=1 cargo test -p daemonproxy-cli generated
";
    let subcommands: String = args::SUBCOMMANDS
        .iter()
        .map(|(name, summary)| format!(".TP\n.BR \"daemonproxy {name}\" \" ...\"\n{}\n", roff(summary)))
        .collect();
    let body = TEMPLATE
        .replace("@VERSION@", args::VERSION)
        .replace("@PROTOCOL_DOC@", args::PROTOCOL_DOC)
        .replace("@OPTIONS@\n", &option_list(&options()))
        .replace("@SUBCOMMANDS@\n", &subcommands)
        .replace("@CTL_OPTIONS@\n", &option_list(&ctl_options()));
    assert!(!body.contains('@'), "a placeholder was left in the template");
    format!("{header}{body}")
}

/// One `.TP` paragraph per option: its names, its value, its long help.
fn option_list(opts: &[Opt]) -> String {
    let mut out = String::new();
    for opt in opts {
        out.push_str(".TP\n");
        if let Some(c) = opt.short {
            out.push_str(&format!("\\fB\\-{c}\\fR, "));
        }
        out.push_str(&format!("\\fB\\-\\-{}\\fR", roff(&opt.long)));
        if let Some(value) = &opt.value {
            out.push_str(&format!(" \\fI{}\\fR", roff(value)));
        }
        out.push('\n');
        out.push_str(&roff(&opt.long_help));
        out.push('\n');
    }
    out
}

/// Text for roff input: backslashes and hyphens escaped, `code` in bold,
/// one sentence per line (so that roff knows where sentences end), and no
/// control character at the start of a line.
fn roff(text: &str) -> String {
    let mut out = String::new();
    let mut code = false;
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            '`' => {
                out.push_str(if code { "\\fR" } else { "\\fB" });
                code = !code;
            }
            _ => out.push(c),
        }
    }
    let lines = out.replace(". ", ".\n");
    let safe = |line: &str| if line.starts_with(['.', '\'']) { format!("\\&{line}") } else { line.to_owned() };
    lines.split('\n').map(safe).collect::<Vec<_>>().join("\n")
}

#[test]
fn roff_escapes() {
    assert_eq!(roff("a-b \\ `x.y` z"), "a\\-b \\e \\fBx.y\\fR z");
    assert_eq!(roff(".x"), "\\&.x");
    assert_eq!(roff("'x"), "\\&'x");
    assert_eq!(roff("One. Two. .three"), "One.\nTwo.\n\\&.three");
}

/// `man --warnings -l` formats the page without a word on stderr (skipped
/// where man is not installed).
#[test]
fn page_renders_without_warnings() {
    let dir = std::env::temp_dir().join(format!("daemonproxy-man-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let file = dir.join("daemonproxy.8");
    std::fs::write(&file, page()).expect("write the page");
    let out = std::process::Command::new("man")
        .args(["--warnings", "-l"])
        .arg(&file)
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .stdin(std::process::Stdio::null())
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let out = match out {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return eprintln!("SKIPPED: man is not installed"),
        Err(e) => panic!("man: {e}"),
    };
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "warnings from man");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DAEMONPROXY(8)") && text.contains("--check"), "{text}");
}
