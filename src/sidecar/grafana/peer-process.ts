/**
 * Which process is on the other end of a loopback TCP connection (Linux /proc): local mode accepts
 * Shutdown only from the process that started the plugin (Grafana), not from any local user who
 * finds the port. Anything that cannot be checked (no /proc, another OS) counts as "not it": a
 * refused Shutdown only means Grafana's SIGKILL ends the plugin instead.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

function hexPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, '0');
}

/** the socket inode of the connection whose local end is peerPort and remote end serverPort */
async function socketInode(peerPort: number, serverPort: number): Promise<string | undefined> {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) {
        continue;
      }
      const local = cols[1].split(':').pop();
      const remote = cols[2].split(':').pop();
      if (local === hexPort(peerPort) && remote === hexPort(serverPort) && cols[9] !== '0') {
        return cols[9];
      }
    }
  }
  return undefined;
}

/** true when the peer ("127.0.0.1:54321", as grpc-js getPeer() says) is a socket of process pid */
export async function peerIsProcess(peer: string, serverPort: number, pid: number): Promise<boolean> {
  const port = Number(/:(\d+)$/.exec(peer)?.[1]);
  if (
    !Number.isInteger(port) ||
    port <= 0 ||
    !/^(ipv4:)?127\.|^(ipv6:)?\[?::1\]?|^(ipv6:)?\[?::ffff:127\./.test(peer)
  ) {
    return false;
  }
  const inode = await socketInode(port, serverPort);
  if (!inode) {
    return false;
  }
  const want = `socket:[${inode}]`;
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) === want) {
      return true;
    }
  }
  return false;
}
