#!/usr/bin/env node
// Load benchmark for `dsv3 serve` (not part of CI): N concurrent streaming
// clients, each sending requests back to back. Reports aggregate completion
// tokens/s and time-to-first-token p50/p99 per concurrency level, as JSON.
//
//   node bench/serve_bench.mjs --serve tests/data/reference/models/tiny [--clients 1,4,16]
//   node bench/serve_bench.mjs --url http://127.0.0.1:8080 --model tiny [--api-key K]
//
// Options: --max-tokens 128, --requests 4 (per client per level), --prompt TEXT,
// --serve-args "--max-sequences 16" (extra flags when --serve starts the server),
// --binary build/dsv3.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const clientsList = (args.clients ?? "1,4,16").split(",").map(Number);
const maxTokens = Number(args["max-tokens"] ?? 128);
const requests = Number(args.requests ?? 4);
const prompt = args.prompt ?? "Write a long story about a lighthouse keeper.";
const headers = { "Content-Type": "application/json", ...(args["api-key"] ? { Authorization: `Bearer ${args["api-key"]}` } : {}) };

async function startServer() {
  const binary = args.binary ?? path.join(root, "build/dsv3");
  const extra = (args["serve-args"] ?? "--max-sequences 16").split(" ").filter(Boolean);
  const proc = spawn(binary, ["serve", "--model", args.serve, "--port", "0", ...extra], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  const url = await new Promise((resolve, reject) => {
    proc.stderr.on("data", (d) => {
      err += d;
      const m = err.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    proc.on("exit", (c) => reject(new Error(`server exited ${c}: ${err}`)));
  });
  return { url, proc };
}

const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

// One streamed request: seconds to the first content chunk and completion tokens (from usage).
async function one(url, model, seed) {
  const t0 = performance.now();
  const r = await fetch(url + "/v1/chat/completions", {
    method: "POST", headers,
    body: JSON.stringify({ model, messages: [{ role: "user", content: prompt }], max_tokens: maxTokens, temperature: 0.8, seed,
      stream: true, stream_options: { include_usage: true } }),
  });
  if (!r.ok) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = "", ttft = null, tokens = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
      const ev = JSON.parse(line.slice(6));
      if (ttft === null && ev.choices?.[0]?.delta?.content) ttft = (performance.now() - t0) / 1000;
      if (ev.usage) tokens = ev.usage.completion_tokens;
    }
  }
  return { ttft, tokens };
}

async function level(url, model, clients) {
  const ttfts = [];
  let tokens = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let k = 0; k < requests; k++) {
      const r = await one(url, model, c * 1000 + k);
      if (r.ttft !== null) ttfts.push(r.ttft);
      tokens += r.tokens;
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  return {
    clients, requests: clients * requests, completion_tokens: tokens, seconds: +secs.toFixed(3),
    tokens_per_second: +(tokens / secs).toFixed(1),
    ttft_p50_ms: +(pct(ttfts, 50) * 1000).toFixed(1), ttft_p99_ms: +(pct(ttfts, 99) * 1000).toFixed(1),
  };
}

const server = args.serve ? await startServer() : null;
const url = server?.url ?? args.url ?? "http://127.0.0.1:8080";
try {
  const model = args.model ?? (await (await fetch(url + "/v1/models", { headers })).json()).data[0].id;
  await one(url, model, 0);  // warm-up
  const results = [];
  for (const c of clientsList) results.push(await level(url, model, c));
  const base = results.find((r) => r.clients === 1);
  const top = results.at(-1);
  console.log(JSON.stringify({
    url, model, max_tokens: maxTokens, requests_per_client: requests, results,
    throughput_ratio: base ? +(top.tokens_per_second / base.tokens_per_second).toFixed(2) : null,
    throughput_ratio_of: base ? `${top.clients} clients / 1 client` : null,
  }, null, 2));
} finally {
  server?.proc.kill("SIGTERM");
}
