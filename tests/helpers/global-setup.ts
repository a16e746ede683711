import { sweepStale, isRoot } from './netns';

export default async function globalSetup(): Promise<void> {
  if (isRoot()) sweepStale();
}
