//! The manual page and the shell completions, generated from the option
//! tables that `--help` is rendered from ([`args::command`],
//! [`args::SUBCOMMANDS`]) and from `ctl`'s ([`ctl::command`]), so that
//! they cannot drift from the program: the test below regenerates every
//! checked-in file and fails on any difference, and
//! `DAEMONPROXY_UPDATE_GENERATED=1 cargo test -p daemonproxy-cli generated`
//! rewrites them.

mod completions;
mod man;

use crate::{args, ctl};
use clap::Arg;
use std::path::{Path, PathBuf};

/// The environment variable that makes the drift test rewrite the files.
const UPDATE_VAR: &str = "DAEMONPROXY_UPDATE_GENERATED";

/// One option, as every generator needs it.
struct Opt {
    short: Option<char>,
    long: String,
    /// The value's name (`FILENAME`), if the option takes one.
    value: Option<String>,
    /// The one-line help of `--help`.
    help: String,
    /// The manual page's paragraph.
    long_help: String,
}

impl Opt {
    fn from_arg(arg: &Arg) -> Opt {
        let text = |s: Option<&clap::builder::StyledStr>| s.map(ToString::to_string).unwrap_or_default();
        Opt {
            short: arg.get_short(),
            long: arg.get_long().expect("every option has a long name").to_owned(),
            value: arg.get_value_names().and_then(|v| v.first()).map(ToString::to_string),
            help: text(arg.get_help()),
            long_help: text(arg.get_long_help().or(arg.get_help())),
        }
    }

    /// Whether the value names a file (completed with file names).
    fn takes_path(&self) -> bool {
        matches!(self.value.as_deref(), Some("FILENAME" | "PATH"))
    }
}

/// The daemon's options, in `--help` order.
fn options() -> Vec<Opt> {
    args::command().get_arguments().map(Opt::from_arg).collect()
}

/// `ctl`'s options (not its positional COMMAND words).
fn ctl_options() -> Vec<Opt> {
    ctl::command().get_arguments().filter(|a| !a.is_positional()).map(Opt::from_arg).collect()
}

/// The words `ctl` accepts as its first positional argument: its own verbs
/// and every protocol command.
fn ctl_words() -> Vec<String> {
    let verbs = ctl::command().get_subcommands().map(|c| c.get_name().to_owned()).collect::<Vec<_>>();
    let commands = daemonproxy_proto::CommandKind::ALL.iter().map(|k| k.name().to_owned());
    verbs.into_iter().chain(commands).collect()
}

/// Every generated file: its path from the workspace root and its text.
fn files() -> Vec<(&'static str, String)> {
    vec![
        (args::MAN_PAGE, man::page()),
        ("completions/daemonproxy.bash", completions::bash()),
        ("completions/_daemonproxy", completions::zsh()),
        ("completions/daemonproxy.fish", completions::fish()),
    ]
}

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_owned()
}

/// The first line where two texts differ, for a readable failure.
fn first_difference(old: &str, new: &str) -> String {
    let (mut old_lines, mut new_lines) = (old.lines(), new.lines());
    for number in 1.. {
        match (old_lines.next(), new_lines.next()) {
            (None, None) => break,
            (a, b) if a != b => {
                return format!("line {number}:\n  checked in: {a:?}\n  generated:  {b:?}");
            }
            _ => {}
        }
    }
    "only in line endings".to_owned()
}

#[test]
fn checked_in_files_are_up_to_date() {
    let update = std::env::var_os(UPDATE_VAR).is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (path, text) in files() {
        let full = root().join(path);
        let old = std::fs::read_to_string(&full).unwrap_or_default();
        if old == text {
            continue;
        }
        if update {
            std::fs::create_dir_all(full.parent().expect("a directory")).expect("create the directory");
            std::fs::write(&full, &text).unwrap_or_else(|e| panic!("write {path}: {e}"));
        } else {
            stale.push(format!("{path}: {}", first_difference(&old, &text)));
        }
    }
    assert!(
        stale.is_empty(),
        "generated files differ from the option tables; regenerate them with\n  \
         {UPDATE_VAR}=1 cargo test -p daemonproxy-cli generated\n{}",
        stale.join("\n")
    );
}

#[test]
fn every_option_has_a_manual_paragraph() {
    for opt in options().iter().chain(&ctl_options()) {
        assert!(!opt.help.is_empty(), "--{}", opt.long);
        assert!(opt.long_help.len() > opt.help.len() || opt.long_help == opt.help, "--{}", opt.long);
    }
    for opt in options() {
        assert_ne!(opt.long_help, opt.help, "--{} needs a long_help for the manual page", opt.long);
    }
}

#[test]
fn difference_report() {
    assert_eq!(first_difference("a\nb\n", "a\nc\n"), "line 2:\n  checked in: Some(\"b\")\n  generated:  Some(\"c\")");
    assert_eq!(first_difference("a\n", "a\nb\n"), "line 2:\n  checked in: None\n  generated:  Some(\"b\")");
    assert_eq!(first_difference("a\n", "a\r\n"), "only in line endings");
}
