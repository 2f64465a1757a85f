/**
 * `pgpulse top`: a live view of a running sidecar. Plain ANSI (alternate screen, cursor home,
 * SGR colours) so it works over SSH in any terminal; keys switch views. `--once` prints one frame
 * without escape codes for scripts and tests.
 */
import { parseDuration } from '../config';
import { parseFlags, UsageError } from '../cli/support';
import { EndpointError, probeSidecar, sidecarEndpoint } from '../cli/sidecar-address';
import { fetchSnapshot, type Snapshot } from './data';
import { render, VIEWS, type View } from './render';

const wantsColor = (stream: NodeJS.WriteStream) => Boolean(stream.isTTY) && !process.env.NO_COLOR;

export async function runTop(
  argv: string[],
  stdout: NodeJS.WriteStream = process.stdout,
  stdin: NodeJS.ReadStream = process.stdin
): Promise<number> {
  let f: ReturnType<typeof parseFlags>;
  let intervalMs = 2000;
  let view: View = 'overview';
  let width: number | undefined;
  try {
    f = parseFlags(argv, ['sidecar', 'target', 'view', 'interval', 'width'], ['once']);
    if (f.positional.length) {
      throw new UsageError(`unexpected argument "${f.positional[0]}"`);
    }
    const v = f.values.get('view');
    if (v !== undefined) {
      if (!(VIEWS as readonly string[]).includes(v)) {
        throw new UsageError(`--view must be one of ${VIEWS.join(', ')}`);
      }
      view = v as View;
    }
    if (f.values.has('interval')) {
      intervalMs = Math.max(500, parseDuration(f.values.get('interval') as string));
    }
    if (f.values.has('width')) {
      width = Number(f.values.get('width'));
      if (!Number.isInteger(width) || width < 20) {
        throw new UsageError('--width must be a whole number ≥ 20');
      }
    }
  } catch (e) {
    process.stderr.write(`pgpulse top: ${(e as Error).message}\n`);
    return 2;
  }
  let ep;
  try {
    ep = sidecarEndpoint(process.env, f.values.get('sidecar'));
  } catch (e) {
    process.stderr.write(`pgpulse top: ${(e as EndpointError).message}\n`);
    return 2;
  }
  const probe = await probeSidecar(ep);
  if (!probe.ok) {
    process.stderr.write(
      `pgpulse top: ${probe.why}.\nStart a sidecar (pgpulse demo, or pgpulse serve) or point at one: --sidecar HOST:PORT, PGPULSE_TOKEN or PGPULSE_TOKEN_FILE.\n`
    );
    return 1;
  }
  let target = f.values.get('target');
  if (target && !probe.targets.includes(target)) {
    process.stderr.write(`pgpulse top: the sidecar has no target "${target}": it has ${probe.targets.join(', ')}\n`);
    return 2;
  }
  const frameWidth = () => width ?? (stdout.isTTY ? stdout.columns : 100) ?? 100;

  if (f.bool.has('once') || !stdout.isTTY || !stdin.isTTY) {
    const snap = await fetchSnapshot(ep, target);
    stdout.write(render(snap, { view, width: frameWidth(), color: wantsColor(stdout) }));
    return snap.errors.length ? 1 : 0;
  }

  // interactive: alternate screen, hidden cursor, raw keys; everything restored on the way out
  let snap: Snapshot | undefined;
  let lastError = '';
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    const rows = stdout.rows ?? 24;
    const text = snap ? render(snap, { view, width: frameWidth(), color: wantsColor(stdout) }) : 'loading…\n';
    const lines = text.split('\n').slice(0, rows - (lastError ? 2 : 1));
    stdout.write('\x1b[H\x1b[2J' + lines.join('\n') + (lastError ? `\n${lastError.slice(0, frameWidth())}` : ''));
  };
  const refresh = async () => {
    try {
      snap = await fetchSnapshot(ep, target);
      target = snap.target;
      lastError = '';
    } catch (e) {
      lastError = `sidecar unreachable: ${(e as Error).message} (retrying)`;
    }
    draw();
  };
  return new Promise<number>((resolveExit) => {
    const quit = (code: number) => {
      clearInterval(timer);
      stdin.setRawMode?.(false);
      stdin.pause();
      stdout.write('\x1b[?25h\x1b[?1049l');
      resolveExit(code);
    };
    stdout.write('\x1b[?1049h\x1b[?25l');
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    stdin.on('data', (key: string) => {
      if (key === 'q' || key === '\u0003' || key === '\u001b') {
        quit(0);
      } else if (/^[1-5]$/.test(key)) {
        view = VIEWS[Number(key) - 1];
        draw();
      } else if (key === '\t') {
        view = VIEWS[(VIEWS.indexOf(view) + 1) % VIEWS.length];
        draw();
      } else if (key === 't' && snap && snap.targets.length > 1) {
        target = snap.targets[(snap.targets.indexOf(snap.target) + 1) % snap.targets.length];
        void refresh();
      } else if (key === 'r') {
        void refresh();
      }
    });
    stdout.on('resize', draw);
    process.once('SIGTERM', () => quit(0));
    process.once('SIGHUP', () => quit(0));
    void refresh();
    timer = setInterval(() => void refresh(), intervalMs);
  });
}
