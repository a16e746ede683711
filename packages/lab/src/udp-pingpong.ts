/**
 * A UDP ping-pong client for the lab (a game or a call in miniature): one datagram every
 * `interval` ms to an echo server for `duration` ms, each carrying its sequence number. Prints
 * "sending" when the first datagram leaves (the time origin), then one JSON line: sent, received,
 * lost, the longest stretch without any answer after the first one (maxGapMs, counting the end of
 * sending as an answer time) and when it began (gapStartMs, from the first send), when the first
 * answer came (firstAnswerMs) and the median round trip.
 *   tsx udp-pingpong.ts HOST PORT INTERVAL_MS DURATION_MS
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';

const [host, port, interval, duration] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4] ?? 20), Number(process.argv[5] ?? 5000)];
const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
const sentAt = new Map<number, number>();
const rtts: number[] = [];
const arrivals: number[] = [];
let seq = 0;
process.stdout.write('sending\n');
const t0 = performance.now();

sock.on('message', (msg) => {
  const now = performance.now();
  const n = msg.readUInt32BE(0);
  const at = sentAt.get(n);
  if (at === undefined) return; // a duplicate
  sentAt.delete(n);
  rtts.push(now - at);
  arrivals.push(now - t0);
});

const timer = setInterval(() => {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(seq, 0);
  sentAt.set(seq++, performance.now());
  sock.send(b, port, host);
}, interval);

setTimeout(() => {
  clearInterval(timer);
  // answers to the last datagrams may still be on their way
  setTimeout(() => {
    // gaps between answers, and from the last answer to the end of sending (answers that never
    // came back); the wait for the first answer (the association opening) is firstAnswerMs
    let maxGap = arrivals.length > 0 ? 0 : duration;
    let gapStart = 0;
    const ends = [...arrivals, Math.max(duration, arrivals[arrivals.length - 1] ?? 0)];
    for (let i = 1; i < ends.length; i++) {
      const g = ends[i]! - ends[i - 1]!;
      if (g > maxGap) {
        maxGap = g;
        gapStart = ends[i - 1]!;
      }
    }
    const sorted = [...rtts].sort((a, b) => a - b);
    const out = {
      sent: seq,
      received: rtts.length,
      lost: seq - rtts.length,
      maxGapMs: Math.round(maxGap),
      gapStartMs: Math.round(gapStart),
      firstAnswerMs: arrivals.length > 0 ? Math.round(arrivals[0]!) : null,
      rttP50Ms: sorted.length ? Math.round(sorted[Math.floor(sorted.length / 2)]! * 10) / 10 : null,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    sock.close();
  }, 1000);
}, duration);
