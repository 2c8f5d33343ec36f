//! The documentation as a newcomer meets it: the table of contents of
//! docs/protocol.md matches its headings (and is generated from them), and
//! no document refers to a file that is not in the repository.

use crate::harness::repo_root;
use std::path::{Path, PathBuf};

/// The environment variable that makes the tests rewrite generated text.
const UPDATE_VAR: &str = "DAEMONPROXY_UPDATE_GENERATED";

/// The lines of a Markdown text outside fenced code blocks.
fn prose_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut fenced = false;
    text.lines().filter(move |l| {
        if l.starts_with("```") {
            fenced = !fenced;
            return false;
        }
        !fenced
    })
}

/// GitHub's anchor for a heading: lower case, only letters, digits, `-`,
/// `_` and spaces kept, spaces turned into `-`.
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The table of contents for the `##` and `###` headings of `text`.
fn toc(text: &str) -> String {
    let mut out = String::new();
    for line in prose_lines(text) {
        let (indent, title) = match line.split_once(' ') {
            Some(("##", title)) => ("", title),
            Some(("###", title)) => ("  ", title),
            _ => continue,
        };
        out.push_str(&format!("{indent}- [{title}](#{})\n", anchor(title)));
    }
    out
}

/// docs/protocol.md with its table of contents brought up to date.
fn with_toc(text: &str) -> String {
    let start = text.find("<!-- toc:").expect("the toc marker");
    let start = start + text[start..].find("-->\n").expect("the end of the toc marker") + 4;
    let end = text.find("<!-- /toc -->").expect("the end marker of the toc");
    format!("{}{}{}", &text[..start], toc(&text[end..]), &text[end..])
}

#[test]
fn protocol_reference_has_an_up_to_date_table_of_contents() {
    let path = repo_root().join("docs/protocol.md");
    let text = std::fs::read_to_string(&path).expect("docs/protocol.md");
    let fresh = with_toc(&text);
    if fresh != text && std::env::var_os(UPDATE_VAR).is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).expect("rewrite docs/protocol.md");
        return;
    }
    assert!(
        fresh == text,
        "the table of contents of docs/protocol.md does not match its headings; rewrite it with\n  \
         {UPDATE_VAR}=1 cargo test -p daemonproxy-cli --test e2e docs::"
    );
    // Every entry, and every other in-page link, leads to a heading.
    let anchors: Vec<String> = prose_lines(&text)
        .filter_map(|l| l.split_once(' ').filter(|(h, _)| h.starts_with("##")).map(|(_, t)| anchor(t)))
        .collect();
    assert!(anchors.len() > 40, "{} headings", anchors.len());
    for link in links(&text).into_iter().filter_map(|l| l.strip_prefix('#').map(str::to_owned)) {
        assert!(anchors.contains(&link), "#{link} leads nowhere");
    }
}

#[test]
fn anchors_follow_github() {
    assert_eq!(anchor("10. Differences from daemonproxy 1.1"), "10-differences-from-daemonproxy-11");
    assert_eq!(
        anchor("4.6 Back-pressure, `overflow` and `conn.event_timeout`"),
        "46-back-pressure-overflow-and-connevent_timeout"
    );
    assert_eq!(anchor("Appendix: signal names"), "appendix-signal-names");
}

/// The targets of the Markdown links `[text](target)` of a text.
fn links(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in prose_lines(text) {
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let tail = &rest[i + 2..];
            let Some(end) = tail.find(')') else { break };
            out.push(&tail[..end]);
            rest = &tail[end..];
        }
    }
    out
}

/// Every file under the parts of the repository a newcomer reads, that
/// `keep` accepts.
fn docs_files(keep: fn(&Path) -> bool) -> Vec<PathBuf> {
    let root = repo_root();
    let mut out = vec![root.join("README.md")];
    let mut dirs: Vec<PathBuf> =
        ["docs", "examples", "daemonproxy-cli", "daemonproxy-proto"].iter().map(|d| root.join(d)).collect();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                if !path.ends_with("target") {
                    dirs.push(path);
                }
            } else if keep(&path) {
                out.push(path);
            }
        }
    }
    out
}

/// Relative links in the Markdown files lead to files of the repository.
#[test]
fn markdown_links_lead_to_files_in_the_repository() {
    let markdown = docs_files(|p| p.extension().is_some_and(|e| e == "md"));
    assert!(markdown.len() >= 3);
    for file in markdown {
        let text = std::fs::read_to_string(&file).expect("read");
        for link in links(&text) {
            if link.starts_with('#') || link.contains("://") {
                continue;
            }
            let target = link.split('#').next().unwrap_or(link);
            let resolved = file.parent().expect("a directory").join(target);
            assert!(resolved.exists(), "{}: link to {link}, which is not in the repository", file.display());
        }
    }
}

/// The behavioural specification of the original lives outside the
/// repository; documents and doc comments cite docs/protocol.md instead,
/// as `protocol.md §N`.
#[test]
fn no_document_cites_the_outside_specification() {
    for file in docs_files(|_| true) {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        assert!(!text.contains("PROTOCOL.md"), "{} cites PROTOCOL.md", file.display());
        if text.contains('§') {
            assert!(text.contains("protocol.md §"), "{}: section signs that name no document", file.display());
        }
    }
}

/// The fenced blocks of a Markdown text, each as its lines.
fn code_blocks(text: &str) -> Vec<Vec<&str>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in text.lines() {
        match (&mut current, line.starts_with("```")) {
            (None, true) => current = Some(Vec::new()),
            (Some(_), true) => blocks.extend(current.take()),
            (Some(block), false) => block.push(line),
            (None, false) => {}
        }
    }
    blocks
}

/// The README's first-five-minutes transcript is what the binary prints:
/// the `--check` session line for line, and every line of the demo session
/// that does not depend on the moment (times, pids, the git hash).
#[test]
fn readme_transcript_matches_the_binary() {
    use std::process::{Command, Stdio};
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let blocks = code_blocks(&readme);

    // The --check session: files as `cat` shows them or `printf` writes them.
    let session = blocks.iter().find(|b| b.first() == Some(&"$ cat my.conf")).expect("the --check session");
    let dir = crate::harness::tempdir();
    let conf = dir.path().join("my.conf");
    let mut expected = Vec::new();
    let mut got = Vec::new();
    let mut lines = session.iter().peekable();
    while let Some(line) = lines.next() {
        let Some(command) = line.strip_prefix("$ ") else { panic!("output without a command: {line}") };
        let mut output = Vec::new();
        while let Some(l) = lines.next_if(|l| !l.starts_with("$ ")) {
            output.push(l.to_string());
        }
        if command == "cat my.conf" {
            std::fs::write(&conf, output.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
            continue;
        }
        if let Some(printf) = command.strip_prefix("printf '").and_then(|c| c.strip_suffix("' > my.conf")) {
            std::fs::write(&conf, printf.replace("\\t", "\t").replace("\\n", "\n")).unwrap();
            continue;
        }
        let args = command.strip_prefix("target/debug/daemonproxy ").expect("a daemonproxy command");
        let out = crate::harness::clean_fds(Command::new(crate::harness::bin()).args(args.split(' ')))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run daemonproxy");
        let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        got.push(printed.lines().map(str::to_owned).collect::<Vec<_>>());
        expected.push(output);
    }
    assert_eq!(got, expected);

    // The demo session: the lines that do not depend on the moment.
    let demo = blocks.iter().find(|b| b.first().is_some_and(|l| l.ends_with("-i -c examples/demo.conf"))).unwrap();
    let mut d = crate::harness::Daemon::spawn(
        crate::harness::clean_fds(&mut Command::new(crate::harness::bin()))
            .args(["-i", "-c", "examples/demo.conf"])
            .current_dir(root),
    );
    let mut printed = d.sync();
    // The config is a controller of its own, read alongside stdin: on a busy
    // machine the sync can come back before it ran, and closing stdin then
    // ends the session before it runs. Its last line's echo says it has.
    let last = "service.auto_up\ton-usr1\t1\tSIGUSR1";
    while !printed.iter().any(|l| l == last) {
        printed.push(d.out.next());
    }
    assert_eq!(d.wait(), Some(0));
    printed.extend(d.out.rest_until_eof());
    drop(crate::harness::KillGroups(crate::shutdown::sessions(&printed)));
    let stable = demo.iter().filter(|l| {
        !l.starts_with("$ ")
            && !l.starts_with(' ')
            && !l.starts_with("service.state\t")
            && !l.starts_with('[')
            && !l.contains(" version ")
    });
    let mut checked = 0;
    for line in stable {
        assert!(printed.iter().any(|p| p == line), "README shows {line:?}, the binary printed {printed:#?}");
        checked += 1;
    }
    assert!(checked >= 12, "{checked} lines checked");
}
