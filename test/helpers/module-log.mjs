// Loaded with `node --import` into a process under test: appends every module it loads (ES
// modules as resolved URLs, CommonJS as file names) to the file BERTH_TEST_MODULE_LOG names, so a
// test can tell which dependencies the process brought into memory.
import Module, { register } from 'node:module';
import { appendFileSync } from 'node:fs';

const file = process.env.BERTH_TEST_MODULE_LOG;
if (file) {
  const hooks = `
    import { appendFileSync } from 'node:fs';
    let file;
    export function initialize(data) { file = data.file; }
    export async function resolve(specifier, context, next) {
      const r = await next(specifier, context);
      appendFileSync(file, 'esm ' + r.url + '\\n');
      return r;
    }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { file } });
  const load = Module._load;
  Module._load = function (request, parent, isMain) {
    const exports = load.call(this, request, parent, isMain);
    try {
      appendFileSync(file, `cjs ${Module._resolveFilename(request, parent, isMain)}\n`);
    } catch {
      /* a builtin without a file */
    }
    return exports;
  };
}
