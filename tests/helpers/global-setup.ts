import { isRoot, sweepStale } from '@mptcp-proxy/lab';

/** Before each jest run: delete the namespaces a killed run left behind (not a live run's). */
export default async function globalSetup(): Promise<void> {
  if (isRoot()) sweepStale();
}
