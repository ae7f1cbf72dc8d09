//! Running `keyward dev` as a child process, as a user would.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) struct Dev {
    pub child: Child,
    pub url: String,
    pub banner: String,
}

impl Dev {
    pub(crate) fn start(extra: &[&str]) -> Self {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(["dev", "--port", &port.to_string()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("KEYWARD_TEST_LOGS").is_some() { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut banner = String::new();
        let mut reader = BufReader::new(stdout);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !banner.contains("Ready.") {
            assert!(Instant::now() < deadline, "no banner: {banner}");
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                panic!("keyward dev exited early: {banner}");
            }
            banner.push_str(&line);
        }
        // Keep draining stdout so the child never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        Self { child, url: format!("http://127.0.0.1:{port}"), banner }
    }

    pub(crate) fn interrupt(self) -> std::process::ExitStatus {
        self.signal("-INT")
    }

    /// Sends `signal` (as `kill` names it) and waits up to 10 s for the exit.
    pub(crate) fn signal(mut self, signal: &str) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "keyward dev did not stop on {signal}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dev {
    /// Kills the process with SIGKILL (no chance to clean up) and waits for it.
    pub(crate) fn kill9(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
        let _ = self.child.wait();
    }
}
