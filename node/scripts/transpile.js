// Transpiles the customer-web component into ES modules with jco, into
// generated/ (not committed), and records the sha256 of the .wasm it read
// beside them (generated/component.sha256, in `sha256sum` format), so a test
// can tell which bytes the JavaScript came from.
//
// The component is $CUSTOMER_WEB_WASM, by default the file the Rust host
// embeds: ../target/guest/wasm32-wasip2/release/customer_web_component.wasm
// (built by `cargo build -p customer-web-artifacts`).

import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_WASM, OUT_DIR } from './paths.js';

const here = dirname(dirname(fileURLToPath(import.meta.url)));

const wasm = resolve(process.env.CUSTOMER_WEB_WASM || DEFAULT_WASM);
let bytes;
try {
  bytes = readFileSync(wasm);
} catch (e) {
  console.error(`cannot read the component ${wasm}: ${e.message}\n` +
    'build it with `cargo build -p customer-web-artifacts`, or set CUSTOMER_WEB_WASM');
  process.exit(1);
}
const sha256 = createHash('sha256').update(bytes).digest('hex');

// jco's command line, from the locked package (no npx, no network).
const jco = join(here, 'node_modules/@bytecodealliance/jco/dist/jco.js');
rmSync(OUT_DIR, { recursive: true, force: true });
mkdirSync(OUT_DIR, { recursive: true });
execFileSync(process.execPath, [
  jco, 'transpile', wasm,
  '--out-dir', OUT_DIR,
  '--name', 'customer_web',
  // `instantiate(getCoreModule, imports)`: every instance gets its own
  // capabilities, instead of one module-wide set of imports.
  '--instantiation', 'async',
  '--quiet',
], { stdio: 'inherit' });
writeFileSync(join(OUT_DIR, 'component.sha256'), `${sha256}  ${wasm}\n`);
console.log(`transpiled ${wasm}\nsha256 ${sha256}\ninto ${OUT_DIR}`);
