/**
 * A reader of the Prometheus / OpenMetrics text format, enough for `mptcp-gateway status` to
 * read our own endpoints (docs/metrics.md): samples with labels, comments skipped. Pure.
 */

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

function parseValue(v: string): number {
  if (v === '+Inf' || v === 'Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  if (v === 'NaN') return NaN;
  const n = Number(v);
  if (v === '' || Number.isNaN(n)) throw new Error(`not a number: <${v}>`);
  return n;
}

/** Parses the label set starting after `{`; returns the labels and the index after `}`. */
function parseLabels(line: string, pos: number, lineNo: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = pos;
  for (;;) {
    while (line[i] === ' ' || line[i] === ',') i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const m = NAME.exec(line.slice(i));
    if (!m) throw new Error(`line ${lineNo}: bad label name at column ${i + 1}`);
    i += m[0].length;
    if (line[i] !== '=' || line[i + 1] !== '"') throw new Error(`line ${lineNo}: expected ="..." at column ${i + 1}`);
    i += 2;
    let v = '';
    for (;;) {
      const c = line[i];
      if (c === undefined) throw new Error(`line ${lineNo}: unterminated label value`);
      if (c === '"') break;
      if (c === '\\') {
        const n = line[i + 1];
        v += n === 'n' ? '\n' : n ?? '';
        i += 2;
        continue;
      }
      v += c;
      i++;
    }
    labels[m[0]] = v;
    i++;
  }
}

/** Every sample of `text`; throws naming the line on malformed input. */
export function parseMetricsText(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trimEnd();
    if (line === '' || line.startsWith('#')) continue;
    const m = NAME.exec(line);
    if (!m) throw new Error(`line ${n + 1}: no metric name`);
    let i = m[0].length;
    let labels: Record<string, string> = {};
    if (line[i] === '{') {
      const r = parseLabels(line, i + 1, n + 1);
      labels = r.labels;
      i = r.end;
    }
    const rest = line.slice(i).trim().split(/\s+/);
    out.push({ name: m[0], labels, value: parseValue(rest[0] ?? '') });
  }
  return out;
}

/** Sum of the samples named `name` whose labels include `match`. */
export function sumOf(samples: readonly MetricSample[], name: string, match: Record<string, string> = {}): number {
  let s = 0;
  for (const x of samples) {
    if (x.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => x.labels[k] === v)) s += x.value;
  }
  return s;
}
