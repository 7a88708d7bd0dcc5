// Defaults that meet clients where they are (issue 16): any model name is
// served (--strict-model-name restores the 404), max_tokens past the context
// is cut and ends with "length", llama-server's /tokenize and /detokenize, an
// automatic --ctx, and --log-level's request lines (never a prompt's text
// below debug). States are waited for, never slept on.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import OpenAI from "openai";
import { startServer, metric, waitFor, binary, tinyModel } from "./helpers.mjs";

const EOS = 1;
let plain, small, strict, debug, quiet;
before(async () => {
  [plain, small, strict, debug, quiet] = await Promise.all([
    startServer([]),
    startServer(["--ctx", "32"]),
    startServer(["--strict-model-name", "--api-key", "k1", "--ctx", "256"]),
    startServer(["--log-level", "debug", "--ctx", "256"]),
    startServer(["--log-level", "error", "--ctx", "256"]),
  ]);
});
after(async () => { await Promise.all([plain, small, strict, debug, quiet].map((s) => s?.stop())); });

const client = (s, apiKey = "unused") => new OpenAI({ baseURL: s.url + "/v1", apiKey, maxRetries: 0 });
const hello = [{ role: "user", content: "hi" }];
const post = (s, route, body, key) => fetch(s.url + route, {
  method: "POST",
  headers: { "Content-Type": "application/json", ...(key ? { Authorization: `Bearer ${key}` } : {}) },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

test("any model name is served by default; responses carry the served id", async () => {
  const c = client(plain);
  const r = await c.chat.completions.create({ model: "gpt-4o", messages: hello, max_tokens: 2 });
  assert.equal(r.model, "tiny");
  const t = await c.completions.create({ model: "llama3:latest", prompt: "a", max_tokens: 2 });
  assert.equal(t.model, "tiny");
  assert.equal((await c.models.retrieve("gpt-4o")).id, "tiny");
});

test("--strict-model-name: another name gets 404 model_not_found", async () => {
  const c = client(strict, "k1");
  await assert.rejects(c.chat.completions.create({ model: "gpt-4o", messages: hello, max_tokens: 1 }),
    (e) => e.status === 404 && e.code === "model_not_found" && e.param === "model");
  await assert.rejects(c.models.retrieve("gpt-4o"), (e) => e.status === 404);
  assert.equal((await c.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 1 })).model, "tiny");
});

test("max_tokens past the context is cut to the room left and ends with 'length'", async () => {
  const c = client(small);  // --ctx 32
  const prompt = [0, 5, 9, 100];
  const banEos = { [EOS]: -100 };
  const r = await c.completions.create({ model: "tiny", prompt, max_tokens: 1e9, temperature: 0, logit_bias: banEos });
  assert.equal(r.choices[0].finish_reason, "length");
  assert.equal(r.usage.prompt_tokens + r.usage.completion_tokens, 32);
  const ch = await c.chat.completions.create({ model: "tiny", messages: hello, max_completion_tokens: 100000, temperature: 0, logit_bias: banEos });
  assert.equal(ch.choices[0].finish_reason, "length");
  assert.equal(ch.usage.prompt_tokens + ch.usage.completion_tokens, 32);
  // a prompt that alone fills the context is still refused
  await assert.rejects(c.completions.create({ model: "tiny", prompt: Array(40).fill(5), max_tokens: 1 }),
    (e) => e.status === 400 && e.code === "context_length_exceeded");
});

test("/tokenize and /detokenize: ids and text both ways, 400 naming the field, keys and metrics as elsewhere", async () => {
  const tok = await (await post(plain, "/tokenize", { content: "Hello world" })).json();
  assert.ok(tok.tokens.length > 0 && tok.tokens.every(Number.isInteger), JSON.stringify(tok));
  const special = await (await post(plain, "/tokenize", { content: "Hello world", add_special: true })).json();
  assert.deepEqual(special.tokens, [0, ...tok.tokens]);
  const detok = await post(plain, "/detokenize", { tokens: tok.tokens });
  assert.equal(detok.status, 200);
  assert.deepEqual(await detok.json(), { content: "Hello world" });

  for (const [route, body, param] of [
    ["/tokenize", {}, "content"], ["/tokenize", { content: 5 }, "content"], ["/tokenize", "{nope", null],
    ["/detokenize", { tokens: "1" }, "tokens"], ["/detokenize", { tokens: [1, 999999] }, "tokens[1]"],
    ["/detokenize", { tokens: [-1] }, "tokens[0]"],
  ]) {
    const r = await post(plain, route, body);
    assert.equal(r.status, 400, `${route} ${JSON.stringify(body)}`);
    const e = (await r.json()).error;
    assert.equal(e.type, "invalid_request_error");
    if (param) assert.equal(e.param, param);
  }
  assert.ok(await metric(plain.url, 'dsv3_http_requests_total{route="/tokenize",status="200"}') >= 2);
  assert.ok(await metric(plain.url, 'dsv3_http_requests_total{route="/detokenize",status="400"}') >= 3);
  // behind the API key like the API
  assert.equal((await post(strict, "/tokenize", { content: "a" })).status, 401);
  assert.equal((await post(strict, "/detokenize", { tokens: [5] }, "wrong")).status, 401);
  assert.equal((await post(strict, "/tokenize", { content: "a" }, "k1")).status, 200);
  assert.equal((await post(plain, "/tokenize", { content: "a" }).then((r) => r.status)), 200);
  assert.equal((await fetch(plain.url + "/tokenize")).status, 405);
});

test("--ctx: automatic by default (model positions, free memory, 32768), printed at start; explicit as given", async () => {
  const m = plain.stderr().match(/serving 'tiny' \(context (\d+),/);
  assert.ok(m, plain.stderr());
  const ctx = Number(m[1]);
  assert.ok(ctx >= 16 && ctx <= 32768, String(ctx));
  const avail = Number(fs.readFileSync("/proc/meminfo", "utf8").match(/MemAvailable:\s+(\d+) kB/)[1]) * 1024;
  const perToken = 3 * (32 + 16) * 4;  // tiny: 3 layers of kv_lora 32 + rope 16, f32
  if (avail > 4 * 8 * 32768 * perToken) assert.equal(ctx, 32768);
  const list = await (await fetch(plain.url + "/v1/models")).json();
  assert.equal(list.data[0].context_length, ctx);
  assert.match(plain.stderr(), /INFO backend cpu, CPU kernels \S+, \d+ threads, .* weights mapped \(\d+ bytes\), context \d+ \(auto\)/);
  assert.match(small.stderr(), /serving 'tiny' \(context 32,/);
  for (const bad of ["8", "-1"]) {
    const r = spawnSync(binary, ["serve", "--model", tinyModel, "--ctx", bad], { encoding: "utf8" });
    assert.equal(r.status, 2, r.stderr);
  }
});

test("--log-level: a line per finished request at info (no prompt text), bodies at debug, none at error", async () => {
  const secret = "zebra-quartz-7781";
  const ask = (s) => client(s).chat.completions.create({ model: "tiny", messages: [{ role: "user", content: secret }], max_tokens: 3 });
  await ask(plain);
  await waitFor(() => /POST \/v1\/chat\/completions 200 prompt_tokens=\d+ completion_tokens=\d+ ttft_ms=[\d.]+ total_ms=[\d.]+/.test(plain.stderr()),
    "the request's info line");
  assert.match(plain.stderr(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO POST/m);
  await post(plain, "/v1/chat/completions", { model: "tiny", messages: [{ role: "user", content: secret }], max_tokens: 0 });
  await waitFor(() => /POST \/v1\/chat\/completions 400 total_ms=/.test(plain.stderr()), "the 400's info line");
  assert.ok(!plain.stderr().includes(secret), "the prompt's text reached the info log");

  await ask(debug);
  await waitFor(() => debug.stderr().includes(secret), "the body at debug");
  assert.match(debug.stderr(), /DEBUG POST \/v1\/chat\/completions body \(\d+ bytes\): \{/);
  await waitFor(() => /POST \/v1\/chat\/completions 200 prompt_tokens=/.test(debug.stderr()), "the request line at debug");

  await ask(quiet);
  await quiet.stop();
  await waitFor(() => quiet.stderr().includes("dsv3: stopped"), "the quiet server's last words");
  assert.doesNotMatch(quiet.stderr(), /POST \/v1|INFO/);
});
