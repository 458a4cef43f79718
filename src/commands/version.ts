import { readFileSync } from 'node:fs';
import type { Command } from './types.js';

const version: Command = {
  name: 'version',
  summary: 'Print the version of flux-monitor',
  usage: 'flux-monitor version',
  async run(_argv, io) {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    io.stdout.write(`flux-monitor ${pkg.version}\n`);
    return 0;
  },
};
export default version;
