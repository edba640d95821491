// Debian's nginx in front of several Belfry instances, configured with the
// repository's own deploy/nginx files: the upstream blocks of belfry.conf
// (their server lines pointed at the test's instances), its TLS server
// block (on a free port, with a self-signed certificate made by openssl),
// its plain-HTTP block that redirects, and locations.conf included as it
// is. Started on free ports in a private directory, stopped by PID.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, repoRoot } from './server';

export interface RunningNginx {
  /** Plain HTTP: a server block that only includes locations.conf. */
  url: string;
  /** HTTPS with HTTP/2: belfry.conf's own TLS server block. */
  tlsUrl: string;
  /** belfry.conf's own plain-HTTP server block (it only redirects). */
  redirectUrl: string;
  /** The TLS block's access log so far, one line per finished request:
   * `<connection number> <protocol> <method> <path>`. */
  tlsAccessLog(): string;
  /** Stops nginx (SIGTERM by PID) and removes its directory. */
  stop(): Promise<void>;
}

const deployDir = path.join(repoRoot, 'deploy', 'nginx');

/** The `limit_conn_zone` lines of deploy/nginx/belfry.conf, which
 * locations.conf's `limit_conn` needs. */
function zones(site: string): string {
  const lines = site.match(/^limit_conn_zone .*$/gm) ?? [];
  if (lines.length === 0) throw new Error('deploy/nginx/belfry.conf should define a limit_conn_zone');
  return lines.map((line) => `  ${line}`).join('\n');
}

/** The `upstream` blocks of deploy/nginx/belfry.conf, each listing `ports`
 * with the parameters the file gives its servers. */
function upstreams(site: string, ports: number[]): string {
  const blocks = site.match(/^upstream [\s\S]*?^}/gm) ?? [];
  if (blocks.length !== 2) throw new Error('deploy/nginx/belfry.conf should have two upstream blocks');
  return blocks
    .map((block) => {
      const servers = block.match(/^\s*server \S+(.*);$/m);
      if (!servers) throw new Error(`no server line in ${block}`);
      const params = servers[1];
      const lines = ports.map((port) => `    server 127.0.0.1:${port}${params};`).join('\n');
      return block.replace(/^\s*server \S+.*;\n/gm, '').replace(/{/, `{\n${lines}`);
    })
    .join('\n');
}

/** The `server` block of deploy/nginx/belfry.conf (`site`) whose first
 * `listen` names `port`. */
function serverBlock(site: string, port: number): string {
  const listens = new RegExp(`^\\s*listen ${port}[ ;]`, 'm');
  const block = (site.match(/^server {[\s\S]*?^}/gm) ?? []).find((b) => listens.test(b));
  if (!block) throw new Error(`deploy/nginx/belfry.conf should have a server block listening on ${port}`);
  return block;
}

/** The `server` block of deploy/nginx/belfry.conf that listens on 443,
 * moved to `port` on 127.0.0.1, with the certificate in `dir`, the
 * repository's locations.conf and an access log naming each request's
 * connection and protocol. */
function tlsServer(site: string, port: number, dir: string): string {
  const block = serverBlock(site, 443);
  const replaced = block
    .replace(/^\s*listen \[::\]:443 .*;\n/m, '')
    .replace(/^(\s*)listen 443 (.*);$/m, `$1listen 127.0.0.1:${port} $2;`)
    .replace(/^(\s*)ssl_certificate .*;$/m, `$1ssl_certificate ${dir}/cert.pem;`)
    .replace(/^(\s*)ssl_certificate_key .*;$/m, `$1ssl_certificate_key ${dir}/key.pem;`)
    .replace(/^(\s*)include \S*locations\.conf;$/m, `$1include ${deployDir}/locations.conf;`)
    .replace(/{/, `{\n    access_log ${dir}/tls-access.log belfry_connections;`);
  for (const wanted of [`listen 127.0.0.1:${port} `, `${dir}/cert.pem`, `${dir}/key.pem`, `${deployDir}/locations.conf`]) {
    if (!replaced.includes(wanted)) throw new Error(`could not adapt the TLS server block (${wanted}): ${block}`);
  }
  return replaced;
}

/** The `server` block of deploy/nginx/belfry.conf that listens on 80,
 * moved to `port` on 127.0.0.1. */
function redirectServer(site: string, port: number): string {
  return serverBlock(site, 80).replace(/^\s*listen \[::\]:80;\n/m, '').replace(/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${port};`);
}

/** A self-signed certificate for 127.0.0.1, made by Debian's openssl. */
function selfSignedCertificate(dir: string): void {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
}

export async function startNginx(ports: number[]): Promise<RunningNginx> {
  const port = await freePort();
  const tlsPort = await freePort();
  const redirectPort = await freePort();
  const site = readFileSync(path.join(deployDir, 'belfry.conf'), 'utf8');
  const dir = mkdtempSync(path.join(tmpdir(), 'belfry-e2e-nginx-'));
  chmodSync(dir, 0o755);
  selfSignedCertificate(dir);
  // Workers run as nobody when the master is root: give them temp space.
  for (const temp of ['client', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    mkdirSync(path.join(dir, temp));
    chmodSync(path.join(dir, temp), 0o777);
  }
  const conf = `
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  log_format belfry_connections '$connection $server_protocol $request_method $uri';
  client_body_temp_path ${dir}/client;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${upstreams(site, ports)}
${zones(site)}
  server {
    listen 127.0.0.1:${port};
    include ${deployDir}/locations.conf;
  }
${tlsServer(site, tlsPort, dir)}
${redirectServer(site, redirectPort)}
}
`;
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const binary = process.env.BELFRY_NGINX ?? '/usr/sbin/nginx';
  const child = spawn(binary, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${readFileSync(path.join(dir, 'error.log'), 'utf8')}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('nginx did not start');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    tlsUrl: `https://127.0.0.1:${tlsPort}`,
    redirectUrl: `http://127.0.0.1:${redirectPort}`,
    tlsAccessLog: () => {
      try {
        return readFileSync(path.join(dir, 'tls-access.log'), 'utf8');
      } catch {
        return '';
      }
    },
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
