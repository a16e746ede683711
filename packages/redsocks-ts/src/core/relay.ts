/**
 * The one place the core hands a connected pair to a relay. Half-close travels both ways
 * (FIN after the peer's EOF and our buffer drained); backpressure pauses the reader while
 * the writer's kernel buffer is full, so a slow side never grows memory without bound.
 */
import type * as net from 'node:net';

export interface RelayHooks {
  /** Any byte moved (idle tracking). */
  onActivity(): void;
  /** `side` sent EOF (we shut the other side's write half). */
  onEof(side: 'client' | 'relay'): void;
  /** Both directions finished or one side failed; called once. */
  onDone(err?: Error & { code?: string }, side?: 'client' | 'relay'): void;
}

export interface RelayHandle {
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** Direction finished flags. */
  readonly upDone: boolean;
  readonly downDone: boolean;
  destroy(): void;
}

/**
 * Starts both directions. `upStarted` = the client->upstream direction already runs
 * (startRelayUp was called first, for optimistic connect).
 */
export function startRelay(client: net.Socket, upstream: net.Socket, hooks: RelayHooks, up?: Direction): RelayHandle {
  let finished = false;
  const done = (err?: Error, side?: 'client' | 'relay'): void => {
    if (finished) return;
    finished = true;
    hooks.onDone(err, side);
  };
  const check = (): void => {
    if (upDir.done && downDir.done) done();
  };
  const upDir = up ?? pump(client, upstream, hooks, 'client');
  upDir.onFinish = check;
  const downDir = pump(upstream, client, hooks, 'relay');
  downDir.onFinish = check;
  client.on('error', (e) => done(e, 'client'));
  upstream.on('error', (e) => done(e, 'relay'));
  client.on('close', () => {
    if (!(upDir.done && downDir.done)) done(Object.assign(new Error('client closed'), { code: 'ECLOSED' }), 'client');
  });
  upstream.on('close', () => {
    if (!(upDir.done && downDir.done)) done(Object.assign(new Error('relay closed'), { code: 'ECLOSED' }), 'relay');
  });
  check();
  return {
    get bytesUp() {
      return upDir.bytes;
    },
    get bytesDown() {
      return downDir.bytes;
    },
    get upDone() {
      return upDir.done;
    },
    get downDone() {
      return downDir.done;
    },
    destroy() {
      finished = true;
      client.destroy();
      upstream.destroy();
    },
  };
}

export interface Direction {
  bytes: number;
  done: boolean;
  onFinish?: () => void;
}

/** Starts one direction: src -> dst with backpressure, FIN forwarded after EOF. */
export function pump(
  src: net.Socket,
  dst: net.Socket,
  hooks: Pick<RelayHooks, 'onActivity' | 'onEof'>,
  side: 'client' | 'relay',
  alreadyEnded = false,
): Direction {
  const dir: Direction = { bytes: 0, done: false };
  const finish = (): void => {
    if (dir.done) return;
    hooks.onEof(side);
    // FIN once everything queued so far is flushed
    dst.end(() => {
      dir.done = true;
      dir.onFinish?.();
    });
  };
  if (alreadyEnded) {
    finish();
    return dir;
  }
  src.on('data', (chunk: Buffer) => {
    dir.bytes += chunk.length;
    hooks.onActivity();
    if (!dst.write(chunk)) src.pause();
  });
  dst.on('drain', () => src.resume());
  src.on('end', finish);
  src.resume();
  return dir;
}
