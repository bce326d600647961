// Where the component and its transpiled form are.

import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));

/** The component the Rust host embeds (customer_web_wasm_cargo::COMPONENT's `.wasm`). */
export const DEFAULT_WASM = resolve(here, '../target/guest/wasm32-wasip2/release/customer_web_component.wasm');
/** The output of `npm run transpile` (not committed). */
export const OUT_DIR = join(here, 'generated');
