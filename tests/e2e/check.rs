//! `daemonproxy --check -c FILE`: every problem of a config file as
//! `FILE:LINE: message`, nothing run, exit 0 with a summary or 1.

use crate::cli::run;
use crate::harness::*;
use std::path::Path;

fn p(path: &Path) -> String {
    path.to_str().expect("utf-8 path").to_owned()
}

#[test]
fn every_example_config_passes() {
    let root = repo_root();
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("examples")).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "conf") {
            let r = run(&["--check", "-c", &p(&path)], b"");
            assert_eq!((r.status, r.stderr.as_str()), (Some(0), ""), "{}", path.display());
            let summary = format!("{}: OK (", path.display());
            assert!(r.stdout.starts_with(&summary) && r.stdout.ends_with(" commands)\n"), "{:?}", r.stdout);
            assert_eq!(r.stdout.lines().count(), 1);
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked} example configs");
}

#[test]
fn several_problems_each_with_file_and_line() {
    let dir = tempdir();
    let conf = write_file(
        dir.path(),
        "bad.conf",
        "# a comment\n\
         service.args\tweb\tsleep\t100\n\
         servce.fds\tweb\tnull\n\
         service.signal\tweb\tFOO\n\
         \n\
         service.auto_up\tweb\t0\talways\n\
         service.start\tapp\n\
         fd.open\tlog\tappend,bogus\t/tmp/x\n\
         echo\tfine\n",
    );
    let name = p(&conf);
    let r = run(&["--check", "-c", &name], b"");
    assert_eq!(r.status, Some(1));
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        format!(
            "{name}:3: Unknown command: servce.fds (did you mean service.fds?)\n\
             {name}:4: service.signal: Invalid signal argument\n\
             {name}:6: service.auto_up: invalid interval\n\
             {name}:7: service.start: No such service \"app\"\n\
             {name}:8: fd.open: unknown flag \"bogus\"\n\
             {name}: 5 problems (7 commands)\n"
        )
    );
}

/// The most common mistake: spaces where TABs belong, as in a line copied
/// from an aligned example.
#[test]
fn spaces_instead_of_tabs_get_a_hint() {
    let dir = tempdir();
    let conf = write_file(
        dir.path(),
        "spaces.conf",
        "service.args    ticker  sh  -c  echo tick\n\
         service.args\tweb\tsleep 100\n\
         service.auto_up\tweb\t5 always\n\
         service.args\tok\tsh\t-c\techo a b\n",
    );
    let name = p(&conf);
    let r = run(&["--check", "-c", &name], b"");
    let hint = "(hint: fields are separated by TABs, not spaces)";
    assert_eq!(r.status, Some(1));
    assert_eq!(
        r.stderr,
        format!(
            "{name}:1: Unknown command: service.args    ticker  sh  -c  echo tick {hint}\n\
             {name}:2: service.args: no program \"sleep 100\" {hint}\n\
             {name}:3: service.auto_up: Expected integer {hint}\n\
             {name}: 3 problems (4 commands)\n"
        )
    );
}

#[test]
fn a_file_that_cannot_be_checked() {
    let dir = tempdir();
    let missing = p(&dir.path().join("missing.conf"));
    let r = run(&["--check", "-c", &missing], b"");
    assert_eq!(r.status, Some(2));
    assert_eq!(r.stderr, format!("fatal: Cannot stat configfile \"{missing}\": No such file or directory\n"));
    let dir_name = p(dir.path());
    let r = run(&["--check", "-c", &dir_name], b"");
    assert_eq!((r.status, r.stderr), (Some(2), format!("fatal: Config file \"{dir_name}\" is a directory\n")));
    let r = run(&["--check", "-i"], b"");
    assert_eq!((r.status, r.stderr.as_str()), (Some(2), "fatal: --check requires -c FILENAME\n"));
}

#[test]
fn stdin_is_checked_with_dash() {
    let r = run(&["--check", "-c", "-"], b"echo\thello\nbogus\n");
    assert_eq!((r.status, r.stderr.as_str()), (Some(1), "-:2: Unknown command: bogus\n-: 1 problem (2 commands)\n"));
    let r = run(&["-c", "-", "--check"], b"echo\thello\n");
    assert_eq!((r.status, r.stdout.as_str(), r.stderr.as_str()), (Some(0), "-: OK (1 command)\n", ""));
}

/// `--check` runs nothing, wherever it is on the command line: no control
/// socket, no interactive session (no banner), no exec-on-exit, and the
/// terminate guard does not turn problems or option errors into "attempting
/// to continue".
#[test]
fn check_runs_nothing() {
    let dir = tempdir();
    let sock = dir.path().join("ctl.sock");
    let marker = dir.path().join("ran");
    let conf = write_file(
        dir.path(),
        "run.conf",
        &format!("service.args\tx\tsh\t-c\ttouch {}\nservice.start\tx\nbogus\n", p(&marker)),
    );
    let exec = format!("sh\t-c\ttouch {}", p(&marker));
    let args = ["--exit-guard", "5", "-E", &exec, "-i", "-S", &p(&sock), "-c", &p(&conf), "--check"];
    let r = run(&args, b"echo\tnot-read\n");
    assert_eq!(r.status, Some(1), "{}", r.stderr);
    assert_eq!(r.stdout, "", "no banner, no event");
    assert_eq!(r.stderr, format!("{0}:3: Unknown command: bogus\n{0}: 1 problem (3 commands)\n", p(&conf)));
    assert!(!sock.exists() && !marker.exists());
    let r = run(&["--exit-guard", "5", "-E", &exec, "--check", "--bogus", "-c", &p(&conf)], b"");
    assert_eq!((r.status, r.stderr.as_str()), (Some(2), "fatal: Unknown option --bogus  (see --help)\n"));
    assert!(!marker.exists());
}
