import { invalid } from './errors';

export function checkPort(what: string, port: unknown, allowZero: boolean): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw invalid(`${what} must be an integer ${allowZero ? 0 : 1}..65535, got ${String(port)}`);
  }
  return port;
}
