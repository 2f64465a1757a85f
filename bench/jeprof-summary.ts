/**
 * Who holds a process's native (malloc) memory: reads one heap profile jemalloc wrote
 * (MALLOC_CONF=prof:true,lg_prof_interval:…; memory-breakdown's 'pgpulse.js serve (jemalloc heap
 * profile)' variant), scales its samples to estimated live bytes as jeprof does, symbolizes each
 * stack with `nm` against the profile's own memory map (node's binary has its symbols), and sums
 * the bytes by the first frame a rule below recognises.
 *
 *   node --import tsx bench/jeprof-summary.ts <file.heap> [top stacks, default 25]
 *
 * JavaScript frames are JIT code without symbols: a Buffer or typed array allocated from JS shows
 * only as V8's array-buffer allocator, whoever asked for it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

interface Mapping {
  start: bigint;
  end: bigint;
  offset: bigint;
  path: string;
}

interface Sym {
  addr: bigint;
  name: string;
}

/**
 * [holder, pattern over a frame's symbol, where]: the first rule that matches decides. 'any': any
 * frame of the stack (these symbols appear only on their own allocation paths); 'first': only the
 * frame that called malloc (the generic V8 / Node / libuv buckets, whose frames are below every
 * allocation made from JavaScript).
 */
const RULES: Array<[string, RegExp, 'any' | 'first']> = [
  ['SQLite page cache (pcache1)', /pcache1|sqlite3PcacheFetch|sqlite3PagerGet/, 'any'],
  [
    'SQLite prepared statements (parse, VDBE)',
    /sqlite3VdbeCreate|sqlite3Prepare|sqlite3LockAndPrepare|sqlite3RunParser|sqlite3VdbeMakeReady|yy_reduce/,
    'any',
  ],
  ['SQLite schema', /sqlite3InitOne|sqlite3InitCallback|sqlite3ReadSchema/, 'any'],
  ['SQLite connection (open, lookaside)', /openDatabase|setupLookaside|sqlite3_open/, 'any'],
  ['SQLite other', /sqlite3/i, 'any'],
  ['better-sqlite3 addon', /Statement::|Database::|StatementIterator/, 'any'],
  ['V8 zones (compilers, parser)', /v8::internal::Zone::|AccountingAllocator/, 'any'],
  [
    'V8 array-buffer backing stores (Buffers, typed arrays)',
    /BackingStore|ArrayBufferAllocator|ArrayBuffer::Allocator/,
    'any',
  ],
  ['V8 heap page metadata', /MemoryAllocator::AllocatePage|MemoryAllocator::Allocate/, 'any'],
  ['OpenSSL (root certificates, providers)', /CRYPTO_|ossl_|OPENSSL_/, 'any'],
  ['V8 other (isolate, string table, code cache)', /v8::|v8impl::/, 'first'],
  ['libuv', /\buv_|uv__/, 'first'],
  ['Node other', /node::|llhttp|ares_|nghttp2/, 'first'],
];

function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ \d+\s+(\/\S+)/.exec(line);
    if (m) {
      out.push({ start: BigInt('0x' + m[1]), end: BigInt('0x' + m[2]), offset: BigInt('0x' + m[3]), path: m[4] });
    }
  }
  return out;
}

const symCache = new Map<string, Sym[]>();

function symbols(path: string): Sym[] {
  let syms = symCache.get(path);
  if (syms) {
    return syms;
  }
  syms = [];
  for (const args of [
    ['-n', '-C', '--defined-only'],
    ['-n', '-C', '-D', '--defined-only'],
  ]) {
    let text = '';
    try {
      text = execFileSync('nm', [...args, path], {
        encoding: 'utf8',
        maxBuffer: 1 << 30,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const m = /^([0-9a-f]+) [tTwWiI] (.+)$/.exec(line);
      if (m) {
        syms.push({ addr: BigInt('0x' + m[1]), name: m[2] });
      }
    }
    if (syms.length) {
      break;
    }
  }
  syms.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
  symCache.set(path, syms);
  return syms;
}

/** the ELF type: an executable's symbols are at their run-time addresses, a shared object's at file offsets */
function isExecutable(path: string): boolean {
  try {
    const head = readFileSync(path).subarray(16, 18);
    return head.readUInt16LE(0) === 2;
  } catch {
    return false;
  }
}

const execCache = new Map<string, boolean>();

function symbolize(addr: bigint, maps: Mapping[]): string {
  const m = maps.find((x) => addr >= x.start && addr < x.end);
  if (!m) {
    return `0x${addr.toString(16)} (JIT or unmapped)`;
  }
  let exec = execCache.get(m.path);
  if (exec === undefined) {
    exec = isExecutable(m.path);
    execCache.set(m.path, exec);
  }
  const at = exec ? addr : addr - m.start + m.offset;
  const syms = symbols(m.path);
  let lo = 0;
  let hi = syms.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (syms[mid].addr <= at) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  const lib = m.path.split('/').pop()!;
  return found < 0 ? `${lib}+0x${at.toString(16)}` : `${syms[found].name.replace(/\(.*$/, '')} [${lib}]`;
}

function main(): void {
  const file = process.argv[2];
  const top = Number(process.argv[3] ?? 25);
  if (!file) {
    throw new Error('usage: node --import tsx bench/jeprof-summary.ts <file.heap> [top stacks]');
  }
  const text = readFileSync(file, 'utf8');
  const header = /^heap_v2\/(\d+)/.exec(text);
  if (!header) {
    throw new Error(`${file}: not a jemalloc heap_v2 profile (its first line is not heap_v2/<sample period>)`);
  }
  const period = Number(header[1]);
  const [body, mapsText = ''] = text.split('MAPPED_LIBRARIES:');
  const maps = parseMaps(mapsText);
  const stacks: Array<{ frames: string[]; bytes: number; objects: number }> = [];
  let current: bigint[] | undefined;
  for (const line of body.split('\n')) {
    if (line.startsWith('@')) {
      current = line
        .slice(1)
        .trim()
        .split(/\s+/)
        .map((a) => BigInt(a));
    } else if (current && /^\s+t\*:/.test(line)) {
      const m = /t\*: (\d+): (\d+)/.exec(line)!;
      const n = Number(m[1]);
      const bytes = Number(m[2]);
      if (n > 0) {
        // each object was sampled with probability 1 - exp(-size / period): scale back (as jeprof does)
        const scale = 1 / (1 - Math.exp(-bytes / n / period));
        // a return address points after the call: look one byte back for the caller's symbol
        const frames = current.map((a, i) => symbolize(i === 0 ? a : a - 1n, maps));
        stacks.push({ frames: frames.filter((f) => !/libjemalloc/.test(f)), bytes: bytes * scale, objects: n * scale });
      }
      current = undefined;
    }
  }
  const total = stacks.reduce((s, x) => s + x.bytes, 0);
  const byCategory = new Map<string, number>();
  const categoryOf = (frames: string[]) => {
    for (const [name, re, where] of RULES) {
      if (where === 'any' ? frames.some((f) => re.test(f)) : frames.length > 0 && re.test(frames[0])) {
        return name;
      }
    }
    return 'unrecognised';
  };
  for (const s of stacks) {
    const c = categoryOf(s.frames);
    byCategory.set(c, (byCategory.get(c) ?? 0) + s.bytes);
  }
  const mb = (b: number) => (b / 1048576).toFixed(2);
  const out: string[] = [];
  out.push(`${file}: sample period ${period} B, ${stacks.length} stacks, est. live ${mb(total)} MB`);
  out.push('');
  out.push('| holder | est. live MB |');
  out.push('|---|---:|');
  for (const [c, b] of [...byCategory].sort((a, b) => b[1] - a[1])) {
    out.push(`| ${c} | ${mb(b)} |`);
  }
  out.push('');
  out.push(`Top ${top} stacks (first 8 frames from the allocation outward):`);
  for (const s of stacks.sort((a, b) => b.bytes - a.bytes).slice(0, top)) {
    out.push(
      `- ${mb(s.bytes)} MB, ${Math.round(s.objects)} objects [${categoryOf(s.frames)}]: ${s.frames.slice(0, 8).join(' ← ')}`
    );
  }
  process.stdout.write(out.join('\n') + '\n');
}

main();
