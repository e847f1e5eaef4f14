// Evaluates a list of cases with the reference jsonata (2.0.6) and prints the
// results as JSON: {"value": v} | {"undefined": true} | {"error": code}.
// Input on stdin: [{"expr": "...", "input": any, "bindings": {...}}].
const jsonata = require('jsonata');

async function run(c) {
  try {
    const e = jsonata(c.expr);
    const v = await e.evaluate(c.input, c.bindings || {});
    if (v === undefined) return { undefined: true };
    if (typeof v === 'function' || (v && v._jsonata_lambda)) return { function: true };
    return { value: JSON.parse(JSON.stringify(v)) };
  } catch (err) {
    return { error: err.code || String(err.message || err) };
  }
}

let text = '';
process.stdin.on('data', (d) => (text += d));
process.stdin.on('end', async () => {
  const cases = JSON.parse(text);
  const out = [];
  for (const c of cases) out.push(await run(c));
  process.stdout.write(JSON.stringify(out));
});
