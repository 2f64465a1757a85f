/**
 * Statement texts without secrets. pg_stat_statements replaces the constants of plannable
 * statements (SELECT, INSERT, UPDATE, DELETE, MERGE) with $n, but keeps utility statements
 * verbatim: `ALTER ROLE app PASSWORD 'pw'` would reach every Grafana Viewer. Every text pgpulse
 * stores or serves goes through scrubStatement first. What it removes (replaced by '<redacted>'):
 *
 * - every string literal and dollar-quoted body of a utility statement (anything that is not
 *   SELECT / INSERT / UPDATE / DELETE / MERGE / WITH / VALUES / TABLE): passwords of CREATE/ALTER
 *   ROLE|USER|GROUP ([ENCRYPTED] PASSWORD), OPTIONS of CREATE/ALTER SERVER and USER MAPPING
 *   (postgres_fdw, dblink_fdw), CREATE/ALTER SUBSCRIPTION … CONNECTION, SET / ALTER SYSTEM /
 *   ALTER DATABASE … SET values, DO blocks and function bodies, COPY … PROGRAM commands;
 * - in any statement, the literal arguments of functions that take keys or connection strings:
 *   pgcrypto (pgp_sym_*, pgp_pub_*, encrypt*, decrypt*, hmac, crypt), dblink*, set_config;
 * - in any literal or comment: conninfo `password=…` and URI credentials `scheme://user:pw@`.
 *
 * It fails closed: a literal, dollar body or comment that does not end (a text cut at 8000
 * characters) is redacted to the end. It is a tokenizer, not the parser: libpg-query's ~100 MB of
 * WebAssembly is too much to load for every sidecar, and a tokenizer cannot fail on a truncated text.
 */

export const REDACTED = "'<redacted>'";

type Kind = 'str' | 'dollar' | 'comment' | 'ident' | 'word' | 'space' | 'other';
interface Tok {
  kind: Kind;
  text: string;
  /** a literal, body or comment that runs to the end of the text */
  open?: boolean;
}

const WORD = /[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/y;
const DOLLAR_TAG = /\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;

function tokenize(sql: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    const start = i;
    if (/\s/.test(c)) {
      while (i < n && /\s/.test(sql[i])) {
        i++;
      }
      out.push({ kind: 'space', text: sql.slice(start, i) });
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end;
      out.push({ kind: 'comment', text: sql.slice(start, i) });
    } else if (c === '/' && sql[i + 1] === '*') {
      // block comments nest in PostgreSQL
      let depth = 0;
      while (i < n) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
          if (depth === 0) {
            break;
          }
        } else {
          i++;
        }
      }
      out.push({ kind: 'comment', text: sql.slice(start, i), open: depth > 0 });
    } else if (c === "'" || (/[EeBbXxNn]/.test(c) && sql[i + 1] === "'" && !/[A-Za-z0-9_$]/.test(sql[i - 1] ?? ''))) {
      // 'x' with '' for a quote; E'x' also takes backslash escapes
      const escapes = c === 'E' || c === 'e';
      i = c === "'" ? i + 1 : i + 2;
      let closed = false;
      while (i < n) {
        if (escapes && sql[i] === '\\') {
          i += 2;
        } else if (sql[i] === "'") {
          if (sql[i + 1] === "'") {
            i += 2;
          } else {
            i++;
            closed = true;
            break;
          }
        } else {
          i++;
        }
      }
      out.push({ kind: 'str', text: sql.slice(start, Math.min(i, n)), open: !closed });
    } else if (c === '"') {
      i++;
      while (i < n) {
        if (sql[i] === '"') {
          if (sql[i + 1] === '"') {
            i += 2;
            continue;
          }
          i++;
          break;
        }
        i++;
      }
      out.push({ kind: 'ident', text: sql.slice(start, i) });
    } else if (
      c === '$' &&
      ((DOLLAR_TAG.lastIndex = i), DOLLAR_TAG.test(sql)) &&
      !/[A-Za-z0-9_]/.test(sql[i - 1] ?? '')
    ) {
      const tag = sql.slice(i, DOLLAR_TAG.lastIndex);
      const end = sql.indexOf(tag, DOLLAR_TAG.lastIndex);
      i = end < 0 ? n : end + tag.length;
      out.push({ kind: 'dollar', text: sql.slice(start, i), open: end < 0 });
    } else if (((WORD.lastIndex = i), WORD.test(sql))) {
      i = WORD.lastIndex;
      out.push({ kind: 'word', text: sql.slice(start, i) });
    } else {
      i++;
      out.push({ kind: 'other', text: c });
    }
  }
  return out;
}

/** statements whose constants pg_stat_statements replaces with $n */
const PLANNABLE = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'WITH', 'VALUES', 'TABLE']);

/** functions whose literal arguments are keys, passwords or connection strings */
const SECRET_ARGS =
  /^(pgp_sym_encrypt(_bytea)?|pgp_sym_decrypt(_bytea)?|pgp_pub_encrypt(_bytea)?|pgp_pub_decrypt(_bytea)?|encrypt(_iv)?|decrypt(_iv)?|hmac|crypt|dblink(_connect(_u)?|_exec|_send_query|_open|_fetch)?|set_config)$/i;

/** conninfo password=… (quoted or not) and URI user:password@ */
const CONNINFO_PASSWORD = /(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'"]+)/gi;
const URI_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@'"]*:)([^\s@'"]*)@/gi;
const SECRET_WORDS = /password|passwd|secret|:\/\//i;

function redactPatterns(text: string): string {
  return text.replace(CONNINFO_PASSWORD, '$1<redacted>').replace(URI_CREDENTIALS, '$1<redacted>@');
}

/** Statement text with secrets replaced by '<redacted>' (see the module comment for the list). */
export function scrubStatement(sql: string): string {
  // fast path: nothing that can hold a secret (normalized DML has only $n parameters)
  if (!sql.includes("'") && !/\$[A-Za-z_]*\$/.test(sql) && !SECRET_WORDS.test(sql)) {
    return sql;
  }
  const toks = tokenize(sql);
  let out = '';
  let utility: boolean | null = null; // decided by the first word of each statement
  let secretCall = -1; // paren depth inside a secret-taking call, -1 when outside
  let depth = 0;
  let prevWord = '';
  for (let k = 0; k < toks.length; k++) {
    const t = toks[k];
    if (t.kind === 'word' && utility === null) {
      utility = !PLANNABLE.has(t.text.toUpperCase());
    }
    if (t.kind === 'other' && t.text === ';' && depth === 0) {
      utility = null;
    }
    if (t.kind === 'other' && t.text === '(') {
      if (secretCall < 0 && SECRET_ARGS.test(prevWord)) {
        secretCall = depth;
      }
      depth++;
    } else if (t.kind === 'other' && t.text === ')') {
      depth = Math.max(0, depth - 1);
      if (depth === secretCall) {
        secretCall = -1;
      }
    }
    if (t.kind === 'word') {
      prevWord = t.text;
    } else if (t.kind !== 'space' && t.kind !== 'comment') {
      prevWord = '';
    }
    if (t.kind === 'str' || t.kind === 'dollar') {
      if (t.open || utility !== false || secretCall >= 0 || SECRET_WORDS.test(t.text)) {
        out += REDACTED;
        continue;
      }
    } else if (t.kind === 'comment') {
      out += t.open ? '/* <redacted> */' : redactPatterns(t.text);
      continue;
    }
    out += t.text;
  }
  return out;
}

/**
 * A statement as the client sent it (pg_stat_activity.query), shown the way pg_stat_statements
 * shows statements: every constant — string, dollar-quoted body, number — replaced by $n. Texts as
 * sent carry the application's data (an e-mail in a WHERE, a card number in an INSERT), and Grafana
 * Viewers read them; the shape of the statement is what a DBA needs. Comments keep only what
 * scrubStatement keeps of them. Fails closed like scrubStatement: an open literal ends the text.
 */
export function normalizeSentText(sql: string): string {
  const toks = tokenize(sql);
  let out = '';
  // numbered after the parameters the text already has, as pg_stat_statements numbers them
  let n = Math.max(0, ...[...sql.matchAll(/\$([0-9]+)/g)].map((m) => Number(m[1])));
  const param = () => `$${++n}`;
  for (let k = 0; k < toks.length; k++) {
    const t = toks[k];
    if (t.kind === 'str' || t.kind === 'dollar') {
      out += param();
      if (t.open) {
        break;
      }
      continue;
    }
    if (t.kind === 'comment') {
      out += t.open ? '/* <redacted> */' : redactPatterns(t.text);
      continue;
    }
    if (t.kind === 'other' && /[0-9]/.test(t.text)) {
      const prev = toks[k - 1];
      // $1 (a parameter) and digits glued to an identifier are not constants
      if (prev && ((prev.kind === 'other' && prev.text === '$') || prev.kind === 'word' || prev.kind === 'ident')) {
        out += t.text;
        continue;
      }
      // the whole numeric constant: digits, one decimal point, an exponent
      while (k + 1 < toks.length && toks[k + 1].kind === 'other' && /[0-9.]/.test(toks[k + 1].text)) {
        k++;
      }
      const next = toks[k + 1];
      if (next && next.kind === 'word' && /^[eE][0-9]*$/.test(next.text)) {
        k++;
        if (next.text.length === 1 && toks[k + 1]?.kind === 'other' && /[+-]/.test(toks[k + 1].text)) {
          k++;
          while (k + 1 < toks.length && toks[k + 1].kind === 'other' && /[0-9]/.test(toks[k + 1].text)) {
            k++;
          }
        }
      }
      out += param();
      continue;
    }
    if (
      t.kind === 'other' &&
      t.text === '.' &&
      /[0-9]/.test(toks[k + 1]?.text ?? '') &&
      toks[k + 1]?.kind === 'other' &&
      !(
        toks[k - 1] &&
        (toks[k - 1].kind === 'word' ||
          toks[k - 1].kind === 'ident' ||
          (toks[k - 1].kind === 'other' && /[0-9)\]]/.test(toks[k - 1].text)))
      )
    ) {
      // .5
      k++;
      while (k + 1 < toks.length && toks[k + 1].kind === 'other' && /[0-9]/.test(toks[k + 1].text)) {
        k++;
      }
      out += param();
      continue;
    }
    out += t.text;
  }
  return out;
}
