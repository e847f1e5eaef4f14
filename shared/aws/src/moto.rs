//! A moto server (PyPI `moto[server]==5.2.5`) on a free 127.0.0.1 port,
//! started by `infra/local-aws`: the local stand-in for DynamoDB, SQS and
//! Lambda in tests and benchmarks. It stops when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts one; panics if python3 or moto is missing (tests).
    pub fn start() -> Moto {
        Moto::try_start().unwrap_or_else(|e| panic!("{e} (run scripts/setup-test-deps)"))
    }

    /// Starts one, or says why it could not. moto binds a port of its own
    /// choosing and says which on stderr: a port picked here and handed
    /// over could be taken by another server in the second or two moto
    /// takes to start, and this would wait on that server.
    pub fn try_start() -> Result<Moto, String> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/local-aws");
        let mut child = Command::new("bash")
            .args([script, "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("infra/local-aws cannot start moto server: {e}"))?;
        let Some(stderr) = child.stderr.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("moto server's stderr is not piped".into());
        };
        let (said, port) = std::sync::mpsc::channel();
        // Read to the end: moto logs every request on stderr.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
                if let Some(p) = String::from_utf8_lossy(&line)
                    .split_once("Running on http://127.0.0.1:")
                    .and_then(|(_, p)| p.trim().parse::<u16>().ok())
                {
                    let _ = said.send(p);
                }
            }
        });
        let Ok(port) = port.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("moto server did not start (pip install 'moto[server]==5.2.5')".into());
        };
        Ok(Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        })
    }

    /// Its address, `127.0.0.1:<port>`.
    pub fn addr(&self) -> &str {
        self.endpoint.trim_start_matches("http://")
    }

    /// The environment that points a `stepwise` process at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    pub fn clients(&self) -> crate::Clients {
        crate::Clients::from_endpoint(&self.endpoint)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
