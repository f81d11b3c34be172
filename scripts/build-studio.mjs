#!/usr/bin/env node
// Builds the studio/console (studio/ → studio/dist) with Vite, but only when studio/dist/index.html
// is missing or older than any of its sources; runs as `prestart`. Prints one line saying what it did.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const studio = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'studio');
const configFile = path.join(studio, 'vite.config.ts');
const output = path.join(studio, 'dist', 'index.html');
const sources = [path.join(studio, 'src'), path.join(studio, 'index.html'), configFile];

const rel = (p) => path.relative(process.cwd(), p) || '.';

/** The newest file under the given paths: { file, mtimeMs }, or undefined if there is none. */
function newest(paths) {
  let best;
  const visit = (p) => {
    let stat;
    try {
      stat = fs.statSync(p);
    } catch (err) {
      if (err.code === 'ENOENT') return;
      throw err;
    }
    if (stat.isDirectory()) {
      for (const entry of fs.readdirSync(p)) visit(path.join(p, entry));
    } else if (!best || stat.mtimeMs > best.mtimeMs) {
      best = { file: p, mtimeMs: stat.mtimeMs };
    }
  };
  paths.forEach(visit);
  return best;
}

function fail(message) {
  console.error(`build-studio: ${message}`);
  process.exit(1);
}

const source = newest(sources);
if (!source) fail(`no studio sources found under ${rel(studio)}`);

let builtAt;
try {
  builtAt = fs.statSync(output).mtimeMs;
} catch {
  builtAt = undefined;
}

if (builtAt !== undefined && builtAt >= source.mtimeMs) {
  console.log(`build-studio: ${rel(path.dirname(output))} is up to date, nothing to do`);
  process.exit(0);
}

const reason = builtAt === undefined ? `${rel(output)} is missing` : `${rel(source.file)} changed`;

// Vite is a dev dependency: import it only when there is something to build, so an install
// without dev dependencies can still start from a prebuilt studio/dist.
let build;
try {
  ({ build } = await import('vite'));
} catch (err) {
  fail(`cannot build the studio (${reason}): vite is not installed (${err.message}); run \`npm install\` with dev dependencies`);
}

const started = Date.now();
try {
  await build({ configFile, logLevel: 'error' });
} catch (err) {
  fail(`studio build failed (${reason}): ${err?.message ?? err}`);
}
console.log(`build-studio: built ${rel(path.dirname(output))} in ${((Date.now() - started) / 1000).toFixed(1)}s (${reason})`);
