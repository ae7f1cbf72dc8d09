//! The crash test: this test binary re-invoked as a child that inserts one op, says so on stdout,
//! and waits to be SIGKILLed.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use keyward_store::{InsertOutcome, OpRecord, OpStatus, Store};

use crate::harness::TestDb;
use crate::ops::{CHAIN, ep, op, sender};

/// Env var that turns `child::insert_then_wait` into the child (the database URL).
pub(crate) const CHILD_URL_VAR: &str = "KEYWARD_STORE_TEST_CHILD_URL";
/// The line the child prints once the insert has returned.
const MARKER: &str = "KEYWARD-STORE-CHILD-INSERTED";

/// The op the child inserts.
fn child_op() -> OpRecord {
    op(sender(60), 0, 5, 5, 5)
}

/// The child's entry point; passes at once unless the crash test's parent set [`CHILD_URL_VAR`].
#[tokio::test]
async fn insert_then_wait() {
    let Ok(url) = std::env::var(CHILD_URL_VAR) else { return };
    child_side(&url).await;
}

/// Child side: insert, announce, wait forever (until killed).
async fn child_side(url: &str) {
    let store = Store::open(url).await.expect("child: open");
    let outcome = store.insert_user_op(&child_op(), 4).await.expect("child: insert");
    assert_eq!(outcome, InsertOutcome::Inserted);
    let mut out = std::io::stdout().lock();
    writeln!(out, "\n{MARKER}").expect("child: write marker");
    out.flush().expect("child: flush");
    drop(out);
    tokio::time::sleep(Duration::from_secs(600)).await;
    panic!("child: was not killed");
}

/// Parent side: spawn the child, SIGKILL it as soon as it reports the insert, reopen and check.
pub(crate) async fn run_and_kill(db: &TestDb) {
    let exe = std::env::current_exe().expect("current test binary");
    let mut child = Command::new(exe)
        .args(["--exact", "child::insert_then_wait", "--nocapture", "--test-threads=1"])
        .env(CHILD_URL_VAR, &db.url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let seen = BufReader::new(stdout).lines().map_while(Result::ok).any(|l| l.contains(MARKER));
        let _ = tx.send(seen);
    });
    let seen = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(120)).unwrap_or(false))
        .await
        .expect("join");
    child.kill().expect("SIGKILL child"); // std's kill() is SIGKILL on Unix
    let status = child.wait().expect("wait child");
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(seen, "child never reported the insert (status {status:?}); stderr:\n{err}");
    assert_eq!(status.signal(), Some(9), "child must die by SIGKILL, not exit: {status:?}");

    let store = db.open().await;
    let got = store.get_user_op(CHAIN, ep(), child_op().hash).await.unwrap().expect("op survived SIGKILL");
    assert_eq!(got.status, OpStatus::Pending);
    assert_eq!(got, child_op());
}
