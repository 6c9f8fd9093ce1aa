//! What the bench binaries share: running the PostgreSQL client tools (`psql`,
//! `pgbench`) whose figures they print beside Recoup's.

use std::process::Command;

use anyhow::{Context, Result, bail};

/// Runs a command; its standard output, or its standard error as the failure.
pub fn run(args: &[&str]) -> Result<String> {
    let Some((program, rest)) = args.split_first() else {
        bail!("no command to run");
    };
    let out = Command::new(program)
        .args(rest)
        .output()
        .with_context(|| format!("running {program}"))?;
    if !out.status.success() {
        bail!("{program} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs SQL through `psql` on the database at `url`, stopping at the first error.
pub fn psql(url: &str, sql: &str) -> Result<()> {
    run(&["psql", url, "-v", "ON_ERROR_STOP=1", "-qc", sql]).map(|_| ())
}
