// Times jsonata 2.0.6 per evaluation: stdin {"input": any, "iterations": n,
// "expressions": [..]} → stdout [nanoseconds per evaluation, ...].
const jsonata = require('jsonata');

let text = '';
process.stdin.on('data', (d) => (text += d));
process.stdin.on('end', async () => {
  const { input, iterations, expressions } = JSON.parse(text);
  const out = [];
  for (const src of expressions) {
    const e = jsonata(src);
    for (let i = 0; i < Math.min(5000, iterations); i++) await e.evaluate(input); // warm-up
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await e.evaluate(input);
    out.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  process.stdout.write(JSON.stringify(out));
});
