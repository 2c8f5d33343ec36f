//! Shell completions for bash, zsh and fish: the daemon's options (file
//! names after the ones whose value is a FILENAME or PATH), the `ctl`
//! subcommand with its options, and the protocol commands as `ctl`'s first
//! word.

use super::{ctl_options, ctl_words, options, Opt};
use crate::args;

/// The first comment line of every completion file.
fn header(shell: &str) -> String {
    format!(
        "# {shell} completion for daemonproxy. Generated from the option tables of daemonproxy-cli\n\
         # by daemonproxy-cli/src/generated.rs; do not edit. Regenerate:\n\
         # DAEMONPROXY_UPDATE_GENERATED=1 cargo test -p daemonproxy-cli generated\n"
    )
}

/// `-c --config`: every spelling of an option.
fn spellings(opt: &Opt) -> Vec<String> {
    opt.short.map(|c| format!("-{c}")).into_iter().chain([format!("--{}", opt.long)]).collect()
}

/// The spellings of the options that take a value, with `|` between them
/// (a bash `case` pattern), split by whether the value is a path.
fn bash_patterns(opts: &[Opt]) -> (String, String) {
    let join = |path: bool| {
        opts.iter()
            .filter(|o| o.value.is_some() && o.takes_path() == path)
            .flat_map(spellings)
            .collect::<Vec<_>>()
            .join("|")
    };
    (join(true), join(false))
}

/// Every spelling of every option, space-separated.
fn all_spellings(opts: &[Opt]) -> String {
    opts.iter().flat_map(spellings).collect::<Vec<_>>().join(" ")
}

/// The bash completion (`complete -F`).
pub fn bash() -> String {
    let (paths, values) = bash_patterns(&options());
    let (ctl_paths, ctl_values) = bash_patterns(&ctl_options());
    let subcommands: Vec<&str> = args::SUBCOMMANDS.iter().map(|(name, _)| *name).collect();
    format!(
        r#"{header}
_daemonproxy() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}} i
    COMPREPLY=()
    if [[ $COMP_CWORD -gt 1 && ${{COMP_WORDS[1]}} == ctl ]]; then
        case $prev in
        {ctl_paths}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        {ctl_values}) return ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "{ctl_options}" -- "$cur"))
            return
        fi
        # The first word that is not an option or its value is the command.
        for ((i = 2; i < COMP_CWORD; i++)); do
            case ${{COMP_WORDS[i]}} in
            {ctl_paths}|{ctl_values}) ((i++)) ;;
            -*) ;;
            *) return ;;
            esac
        done
        COMPREPLY=($(compgen -W "{ctl_words}" -- "$cur"))
        return
    fi
    case $prev in
    {paths}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    {values}) return ;;
    esac
    if [[ $COMP_CWORD -eq 1 && $cur != -* ]]; then
        COMPREPLY=($(compgen -W "{subcommands}" -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -W "{options}" -- "$cur"))
}}
complete -o filenames -F _daemonproxy daemonproxy
"#,
        header = header("bash"),
        ctl_options = all_spellings(&ctl_options()),
        ctl_words = ctl_words().join(" "),
        subcommands = subcommands.join(" "),
        options = all_spellings(&options()),
    )
}

/// A description for zsh's `_arguments`: `[`, `]`, `:` and `\` escaped,
/// `'` closed and reopened.
fn zsh_text(text: &str) -> String {
    text.replace('\\', "\\\\").replace('[', "\\[").replace(']', "\\]").replace(':', "\\:").replace('\'', "'\\''")
}

/// One `_arguments` spec line per option.
fn zsh_specs(opts: &[Opt]) -> String {
    let mut out = String::new();
    for opt in opts {
        let names = spellings(opt);
        let exclusion = if names.len() > 1 { format!("({})", names.join(" ")) } else { String::new() };
        let value = match &opt.value {
            Some(v) if opt.takes_path() => format!(":{}:_files", zsh_text(v)),
            Some(v) => format!(":{}: ", zsh_text(v)),
            None => String::new(),
        };
        let help = zsh_text(&opt.help);
        let spec = if names.len() > 1 {
            format!("'{exclusion}'{{{}}}'[{help}]{value}'", names.join(","))
        } else {
            format!("'{}[{help}]{value}'", names[0])
        };
        out.push_str(&format!("        {spec} \\\n"));
    }
    out
}

/// The zsh completion (a `#compdef` function file for `$fpath`).
pub fn zsh() -> String {
    let subcommands: Vec<String> =
        args::SUBCOMMANDS.iter().map(|(name, summary)| format!("'{name}:{}'", zsh_text(summary))).collect();
    format!(
        r#"#compdef daemonproxy
{header}
if [[ $words[2] == ctl ]] && (( CURRENT > 2 )); then
    words=("daemonproxy ctl" "${{(@)words[3,-1]}}")
    (( CURRENT-- ))
    _arguments -s -S \
{ctl_specs}        '1:command:({ctl_words})' \
        '*::argument: '
    return
fi
local -a subcommands
subcommands=({subcommands})
_arguments -s \
{specs}        '1:: :{{ _describe subcommand subcommands }}'
"#,
        header = header("zsh"),
        ctl_specs = zsh_specs(&ctl_options()),
        ctl_words = ctl_words().join(" "),
        subcommands = subcommands.join(" "),
        specs = zsh_specs(&options()),
    )
}

/// A fish string: single-quoted, `\` and `'` escaped.
fn fish_text(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// One `complete` line per option, under `condition`.
fn fish_lines(opts: &[Opt], condition: &str) -> String {
    let mut out = String::new();
    for opt in opts {
        let mut line = format!("complete -c daemonproxy -n {}", fish_text(condition));
        if let Some(c) = opt.short {
            line.push_str(&format!(" -s {c}"));
        }
        line.push_str(&format!(" -l {}", opt.long));
        match &opt.value {
            Some(_) if opt.takes_path() => line.push_str(" -r -F"),
            Some(_) => line.push_str(" -x"),
            None => {}
        }
        line.push_str(&format!(" -d {}\n", fish_text(&opt.help)));
        out.push_str(&line);
    }
    out
}

/// The fish completion.
pub fn fish() -> String {
    let main = "not __fish_seen_subcommand_from ctl";
    let ctl = "__fish_seen_subcommand_from ctl";
    let mut out = header("fish");
    out.push_str("\ncomplete -c daemonproxy -f\n");
    for (name, summary) in args::SUBCOMMANDS {
        out.push_str(&format!(
            "complete -c daemonproxy -n __fish_use_subcommand -a {name} -d {}\n",
            fish_text(summary)
        ));
    }
    out.push_str(&fish_lines(&options(), main));
    out.push_str(&fish_lines(&ctl_options(), ctl));
    out.push_str(&format!("complete -c daemonproxy -n {} -a {}\n", fish_text(ctl), fish_text(&ctl_words().join(" "))));
    out
}

/// Runs `script` with `shell -c`, or `None` when the shell is not installed
/// (the completions are still generated and compared; only this check of
/// their behaviour is skipped).
#[cfg(test)]
fn run_shell(shell: &str, script: &str) -> Option<String> {
    let out = match std::process::Command::new(shell).arg("-c").arg(script).stdin(std::process::Stdio::null()).output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("SKIPPED: {shell} is not installed");
            return None;
        }
        Err(e) => panic!("{shell}: {e}"),
    };
    assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).expect("utf-8"))
}

/// What the bash function offers for the words of a command line (the
/// last one being completed).
#[cfg(test)]
fn bash_offers(words: &[&str]) -> Option<Vec<String>> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "{}\nCOMP_WORDS=({}); COMP_CWORD={}; _daemonproxy; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        bash(),
        quoted.join(" "),
        words.len() - 1
    );
    run_shell("bash", &script).map(|out| out.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect())
}

#[test]
fn bash_completes_options_subcommands_and_ctl_commands() {
    let Some(offers) = bash_offers(&["daemonproxy", "--con"]) else { return };
    assert_eq!(offers, ["--config"]);
    assert_eq!(bash_offers(&["daemonproxy", "c"]).unwrap(), ["ctl"]);
    assert_eq!(bash_offers(&["daemonproxy", "-i", "--ch"]).unwrap(), ["--check"]);
    assert_eq!(bash_offers(&["daemonproxy", "--exit-guard", ""]).unwrap(), Vec::<String>::new());
    let files = bash_offers(&["daemonproxy", "-c", "/etc/host"]).unwrap();
    assert!(files.iter().any(|f| f == "/etc/hostname" || f == "/etc/hosts"), "{files:?}");
    let commands = bash_offers(&["daemonproxy", "ctl", "-S", "/run/x", "service.s"]).unwrap();
    assert_eq!(commands, ["service.start", "service.signal"]);
    assert_eq!(bash_offers(&["daemonproxy", "ctl", "st"]).unwrap(), ["status", "start", "stop", "statedump"]);
    assert_eq!(bash_offers(&["daemonproxy", "ctl", "--t"]).unwrap(), ["--timeout"]);
    assert_eq!(bash_offers(&["daemonproxy", "ctl", "service.start", "w"]).unwrap(), Vec::<String>::new());
}

#[test]
fn fish_completes_options_and_ctl_commands() {
    let complete = |line: &str| {
        let script = format!("{}\ncomplete -C '{line}'", fish());
        run_shell("fish", &script)
            .map(|out| out.lines().map(|l| l.split('\t').next().unwrap_or("").to_owned()).collect::<Vec<_>>())
    };
    let Some(offers) = complete("daemonproxy --con") else { return };
    assert_eq!(offers, ["--config"]);
    assert!(complete("daemonproxy ").unwrap().contains(&"ctl".to_owned()));
    let offers = complete("daemonproxy ctl service.s").unwrap();
    assert!(
        offers.contains(&"service.start".to_owned()) && offers.contains(&"service.signal".to_owned()),
        "{offers:?}"
    );
}

#[test]
fn zsh_completion_parses() {
    let script = format!("autoload -Uz compinit\nfunction _daemonproxy_test {{\n{}\n}}\nprint ok", zsh());
    if let Some(out) = run_shell("zsh", &script) {
        assert_eq!(out, "ok\n");
    }
}
