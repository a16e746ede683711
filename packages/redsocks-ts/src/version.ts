/** The package's version, from its package.json (src/ and dist/ both sit one level below it). */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const VERSION: string = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
