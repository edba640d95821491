//! Debian's nginx in front of the instances a bench starts, configured with
//! the repository's deploy/nginx files, as end2end/tests/support/nginx.ts
//! does for the browser tests: belfry.conf's upstream blocks (their server
//! lines pointed at the bench's instances, and its `limit_conn_zone`) and
//! locations.conf without its per-address `limit_conn`: every reader of a
//! bench comes from 127.0.0.1.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nginx; stopped (SIGKILL) and its directory removed on drop.
pub struct Nginx {
    pub port: u16,
    child: Child,
    dir: PathBuf,
}

impl Nginx {
    /// The master's PID and its workers'.
    pub fn pids(&self) -> Vec<u32> {
        let master = self.child.id();
        let mut pids = vec![master];
        let children = std::fs::read_to_string(format!("/proc/{master}/task/{master}/children"))
            .unwrap_or_default();
        pids.extend(
            children
                .split_whitespace()
                .filter_map(|pid| pid.parse::<u32>().ok()),
        );
        pids
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// belfry.conf's upstream blocks, each listing `ports` with the parameters
/// the file gives its servers.
fn upstreams(ports: &[u16]) -> String {
    let site = std::fs::read_to_string(format!(
        "{}/deploy/nginx/belfry.conf",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("deploy/nginx/belfry.conf");
    let mut out = String::new();
    let mut block: Option<String> = None;
    let mut servers_listed = false;
    for line in site.lines() {
        if line.starts_with("limit_conn_zone ") {
            out.push_str(line);
            out.push('\n');
        } else if line.starts_with("upstream ") {
            block = Some(format!("{line}\n"));
            servers_listed = false;
        } else if let Some(current) = block.as_mut() {
            if let Some(server) = line.trim().strip_prefix("server ") {
                // The file's instances give way to the bench's, each with
                // the parameters the file's first server line has.
                if !std::mem::replace(&mut servers_listed, true) {
                    let params = server.split_once(' ').map_or("", |(_, rest)| rest);
                    let params = params.trim_end_matches(';');
                    for port in ports {
                        current.push_str(&format!("    server 127.0.0.1:{port} {params};\n"));
                    }
                }
            } else if line.starts_with('}') {
                current.push_str("}\n");
                out.push_str(current);
                block = None;
            } else {
                current.push_str(line);
                current.push('\n');
            }
        }
    }
    out
}

/// Starts nginx on a free port in front of `ports`.
pub fn start(ports: &[u16], free_port: u16) -> Nginx {
    let dir = std::env::temp_dir().join(format!("belfry-bench-nginx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory for nginx");
    for temp in ["client", "proxy", "fastcgi", "uwsgi", "scgi"] {
        std::fs::create_dir_all(dir.join(temp)).expect("nginx temp directories");
    }
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("777")
        .arg(&dir)
        .status();
    let d = dir.display();
    let locations = std::fs::read_to_string(format!(
        "{}/deploy/nginx/locations.conf",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("deploy/nginx/locations.conf");
    let locations: String = locations
        .lines()
        .filter(|line| !line.trim_start().starts_with("limit_conn "))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(dir.join("locations.conf"), locations).expect("locations.conf written");
    let locations = dir.join("locations.conf");
    let locations = locations.display();
    let conf = format!(
        "daemon off;\nworker_processes auto;\nworker_rlimit_nofile 100000;\npid {d}/nginx.pid;\nerror_log {d}/error.log error;\n\
         events {{ worker_connections 40000; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/client;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{}\n  server {{\n    listen 127.0.0.1:{free_port};\n    \
         include {locations};\n  }}\n}}\n",
        upstreams(ports)
    );
    std::fs::write(dir.join("nginx.conf"), conf).expect("nginx.conf written");
    let binary = std::env::var("BELFRY_NGINX").unwrap_or_else(|_| "/usr/sbin/nginx".into());
    let child = Command::new(binary)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx starts (Debian package nginx)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", free_port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Nginx {
        port: free_port,
        child,
        dir,
    }
}
