/**
 * Starting PyTorch's side from Node: torchrun with two local processes (the distributed check) or
 * one python process (the checkpoint round trip). Which python: findTorch of the trajectory check
 * (--python, $BENCH_TORCH_PYTHON, python3, /usr/bin/python3).
 *
 * torchrun is started as `<python> bench/peer/torchrun.py`, which is torchrun's own main run by
 * the python that imports torch (with a repair for Debian 12's PyTorch 1.13 on Python 3.11, see
 * that file), not the `torchrun` found on PATH, which may belong to another python. Rendezvous:
 * torchrun's default static one on 127.0.0.1 at a port free when looked up, not --standalone,
 * whose port is always 29400 and would join two runs started together into one job.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { BENCH_DIR } from '../trajectory/torch.js';

export const PEER_DIR = path.join(BENCH_DIR, 'peer');

/** A TCP port free on 127.0.0.1 at the time of asking. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface PeerRun {
  python: string;
  /** The arguments after the python executable. */
  args: string[];
  /** The line prefix on stdout that names the result file. */
  resultPrefix: string;
  /** Show the child's stderr here as it comes (default false: kept for the error message). */
  showProgress?: boolean;
  /** Kill the run after this long (default 180 s). */
  timeoutMs?: number;
  /** Environment variables to add. */
  env?: Record<string, string>;
}

/** Runs a peer script; resolves with the file its result line names, or rejects with its stderr's last lines. */
export function runPeer(o: PeerRun): Promise<string> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that a timeout stops torchrun's workers too; no __pycache__ left in bench/peer.
    const child = spawn(o.python, o.args, { cwd: PEER_DIR, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...o.env } });
    let stdout = '', stderr = '';
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${(o.timeoutMs ?? 180_000) / 1000} s)`;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
    }, o.timeoutMs ?? 180_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (o.showProgress) process.stderr.write(d);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(o.resultPrefix));
      if (code === 0 && line) return resolve(line.slice(o.resultPrefix.length).trim());
      const tail = stderr.trim().split('\n').slice(-12).join('\n');
      const script = o.args.find((a) => a.endsWith('.py') && !a.endsWith('torchrun.py')) ?? o.args[0];
      reject(new Error(`${path.basename(script ?? 'python')} ${signal ? `was killed (${signal})` : `exited with code ${code}${code === 0 ? ' without a result line' : ''}`}${tail ? `:\n${tail}` : ''}`));
    });
  });
}

/**
 * The environment of a local torchrun: gloo connects the processes over the loopback interface
 * (Linux's `lo`), so that it does not depend on the machine's hostname resolving to an address
 * (in some containers it does not). A GLOO_SOCKET_IFNAME already set is kept.
 */
export function localGlooEnv(): Record<string, string> {
  return process.env.GLOO_SOCKET_IFNAME || process.platform !== 'linux' ? {} : { GLOO_SOCKET_IFNAME: 'lo' };
}

/** The torchrun command line (after the python) for `nproc` local processes running `script`. */
export function torchrunArgs(nproc: number, port: number, script: string, scriptArgs: string[]): string[] {
  return [path.join(PEER_DIR, 'torchrun.py'), '--nnodes=1', `--nproc_per_node=${nproc}`, '--master_addr=127.0.0.1', `--master_port=${port}`, path.join(PEER_DIR, script), ...scriptArgs];
}
