// The JavaScript jco made comes from the very .wasm the Rust host embeds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GENERATED_DIR } from '../src/host.js';
import { DEFAULT_WASM } from '../scripts/paths.js';

test('the transpiled component is the wasm the Rust host embeds, byte for byte', () => {
  const wasm = resolve(process.env.CUSTOMER_WEB_WASM || DEFAULT_WASM);
  const recorded = join(GENERATED_DIR, 'component.sha256');
  assert.ok(existsSync(recorded), `${recorded} is missing: run \`npm run transpile\``);
  const [transpiledFrom, path] = readFileSync(recorded, 'utf8').trim().split(/\s+/);
  const onDisk = createHash('sha256').update(readFileSync(wasm)).digest('hex');
  assert.equal(path, wasm, 'transpiled from another file: run `npm run transpile` again');
  assert.equal(transpiledFrom, onDisk, `${wasm} changed since it was transpiled: run \`npm run transpile\` again`);
  // The Rust test that runs this suite passes the sha256 of the bytes the
  // host has compiled in (customer_web_host::plugin::EMBEDDED_COMPONENT).
  const embedded = process.env.CUSTOMER_WEB_WASM_SHA256;
  if (embedded) assert.equal(onDisk, embedded, 'the file differs from the component the Rust host embeds');
  console.log(`sha256 ${onDisk}  ${wasm}`);
});
