/**
 * The one "wait until" of the tests, the benches and the lab: polls `fn` until it returns
 * something truthy (that value is returned) and fails after `ms`, naming `what`.
 * Prefer an event when there is one; this is for state only a poll can see (a file, /proc,
 * a namespace's sockets, another process).
 */
export async function waitFor<T>(fn: () => T | Promise<T>, ms = 5000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
