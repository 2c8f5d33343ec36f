//! Build script: records the identity shown by `daemonproxy --version`.
//!
//! Exposes, through `cargo:rustc-env`, to be read with `env!`:
//!
//! * `DAEMONPROXY_BUILD_TIMESTAMP`: Unix seconds of the build
//!   (`SOURCE_DATE_EPOCH` when set and valid, else the current time);
//! * `DAEMONPROXY_BUILD_YEAR`: the year (UTC) for the copyright range, never
//!   earlier than 2026 nor than the year of the last commit;
//! * `DAEMONPROXY_GIT_HEAD`: the commit id of `HEAD`, or `unknown`;
//! * `DAEMONPROXY_GIT_DIRTY`: `1` when `git status --porcelain` lists
//!   anything, else `0`.
//!
//! Git is optional: without it (or outside a repository) the build still
//! succeeds and reports `unknown`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

/// First year of the project, the start of the copyright range.
const FIRST_YEAR: i64 = 2026;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());

    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=build.rs");

    let timestamp = build_timestamp();
    let head = git(&manifest_dir, &["rev-parse", "--verify", "HEAD"])
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()));
    let dirty = head.is_some()
        && git(&manifest_dir, &["--no-optional-locks", "status", "--porcelain"]).is_some_and(|s| !s.is_empty());
    let commit_year =
        git(&manifest_dir, &["log", "-1", "--format=%ct"]).and_then(|s| s.parse::<i64>().ok()).map(year_of);
    let year =
        [Some(FIRST_YEAR), Some(year_of(timestamp)), commit_year].into_iter().flatten().max().unwrap_or(FIRST_YEAR);

    if head.is_some() {
        rerun_on_git_changes(&manifest_dir);
    }

    println!("cargo:rustc-env=DAEMONPROXY_BUILD_TIMESTAMP={timestamp}");
    println!("cargo:rustc-env=DAEMONPROXY_BUILD_YEAR={year}");
    println!("cargo:rustc-env=DAEMONPROXY_GIT_HEAD={}", head.as_deref().unwrap_or("unknown"));
    println!("cargo:rustc-env=DAEMONPROXY_GIT_DIRTY={}", if dirty { 1 } else { 0 });
}

/// `SOURCE_DATE_EPOCH` if set to a valid integer, else the current time.
fn build_timestamp() -> i64 {
    if let Some(value) = std::env::var_os("SOURCE_DATE_EPOCH") {
        match value.to_str().and_then(|s| s.trim().parse::<i64>().ok()) {
            Some(secs) => return secs,
            None => println!("cargo:warning=ignoring invalid SOURCE_DATE_EPOCH {value:?}"),
        }
    }
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// Runs `git -C DIR ARGS...`; its trimmed stdout on success, `None` otherwise
/// (git missing, not a repository, any failure).
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output =
        Command::new("git").arg("-C").arg(dir).args(args).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    if !output.status.success() {
        return None;
    }
    Some(String::from_utf8(output.stdout).ok()?.trim().to_owned())
}

/// Asks cargo to rerun this script when the commit or the working tree may
/// have changed: git's HEAD, the branch it points to, packed refs, the index,
/// and the sources of the workspace's crates.
fn rerun_on_git_changes(dir: &Path) {
    let mut paths = Vec::new();
    let mut git_path = |name: &str| {
        if let Some(p) = git(dir, &["rev-parse", "--git-path", name]) {
            let p = PathBuf::from(p);
            paths.push(if p.is_absolute() { p } else { dir.join(p) });
        }
    };
    git_path("HEAD");
    git_path("packed-refs");
    git_path("index");
    if let Some(reference) = git(dir, &["rev-parse", "--symbolic-full-name", "HEAD"]) {
        if reference.starts_with("refs/") {
            git_path(&reference);
        }
    }
    paths.push(dir.join("src"));
    if let Some(root) = dir.parent() {
        for krate in ["daemonproxy-proto", "daemonproxy-core"] {
            paths.push(root.join(krate).join("src"));
        }
    }
    for path in paths.into_iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// The (proleptic Gregorian, UTC) year containing Unix time `secs`.
fn year_of(secs: i64) -> i64 {
    // Howard Hinnant's civil_from_days.
    let days = secs.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}
