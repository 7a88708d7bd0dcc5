// API keys (401) and per-key rate limits (429 with Retry-After), requests and
// tokens per minute, over HTTP and WebSocket. The limits refill with the
// server's clock: every check here holds however long the test takes, either
// by bounds that take the measured time into account or by a debt that takes
// many minutes to pay.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import WebSocket from "ws";
import { startServer, metric, waitFor, chatPromptIds, deadlineMs } from "./helpers.mjs";

const RPM = 3, TPM = 6;
let server, tpmServer, keyFile;
before(async () => {
  keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dsv3-keys-")), "keys");
  fs.writeFileSync(keyFile, "# keys\nfile-key-1\nfile-key-2\n");
  [server, tpmServer] = await Promise.all([
    startServer(["--api-key", "cli-key", "--api-key-file", keyFile, "--rate-limit-rpm", String(RPM)]),
    startServer(["--ctx", "4096", "--api-key", "key-a", "--api-key", "key-b", "--api-key", "key-c", "--api-key", "key-d", "--rate-limit-tpm", String(TPM)]),
  ]);
});
after(async () => {
  await Promise.all([server?.stop(), tpmServer?.stop()]);
  fs.rmSync(path.dirname(keyFile), { recursive: true, force: true });
});

const client = (apiKey) => new OpenAI({ baseURL: server.url + "/v1", apiKey, maxRetries: 0 });
const ask = (c) => c.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 2 });
const post = (s, key, route, body) => fetch(s.url + route, {
  method: "POST", headers: { Authorization: "Bearer " + key, "Content-Type": "application/json" },
  body: JSON.stringify({ model: "tiny", ...body }), signal: AbortSignal.timeout(deadlineMs),
});

test("missing or wrong key: 401 with an OpenAI error", async () => {
  const r = await fetch(server.url + "/v1/models");
  assert.equal(r.status, 401);
  const body = await r.json();
  assert.equal(body.error.type, "authentication_error");
  assert.equal(body.error.code, "invalid_api_key");
  await assert.rejects(ask(client("wrong-key")), (e) => e.status === 401 && e.code === "invalid_api_key");
  await assert.rejects(ask(client("cli-ke")), (e) => e.status === 401);  // a prefix is not the key
  // health and the page stay open for load balancers and browsers
  assert.equal((await fetch(server.url + "/health")).status, 200);
  assert.equal((await fetch(server.url + "/")).status, 200);
});

test("keys from the flag and the file work", async () => {
  for (const k of ["cli-key", "file-key-1", "file-key-2"]) {
    const list = await client(k).models.list();
    assert.equal(list.data[0].id, "tiny");
  }
});

test("requests per minute per key: a burst of exactly the limit, then 429 with Retry-After; other keys unaffected", async () => {
  const limited = 'dsv3_rate_limited_total{limit="requests"}';
  const before429 = await metric(server.url, limited);
  // a new key's bucket holds RPM requests and refills one every 60/RPM s:
  // however slow this run, it lets in RPM, plus one per refill that passed
  const t0 = Date.now();
  let admitted = 0, refused = null;
  for (let i = 0; i < 20 && !refused; i++) {
    const r = await post(server, "file-key-2", "/v1/chat/completions", { messages: [{ role: "user", content: "hi" }], max_tokens: 2 });
    if (r.status === 429) refused = r;
    else { assert.equal(r.status, 200); admitted++; }
  }
  const elapsed = (Date.now() - t0) / 1000;
  assert.ok(refused, "never refused");
  assert.ok(admitted >= RPM && admitted <= RPM + Math.floor(elapsed * RPM / 60), `${admitted} admitted in ${elapsed} s`);
  const retry = Number(refused.headers.get("retry-after"));
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60 / RPM, "Retry-After " + retry);
  const body = await refused.json();
  assert.equal(body.error.type, "rate_limit_error");
  assert.equal(body.error.code, "rate_limit_exceeded");
  assert.match(body.error.message, new RegExp(`requests per minute; retry in ${retry} s`));
  assert.equal(await metric(server.url, limited), before429 + 1);
  const other = await ask(client("file-key-1"));
  assert.equal(other.object, "chat.completion");
});

// The seconds until a tokens-per-minute bucket that holds TPM, after `spent`
// tokens, is back to one token: what Retry-After says, less the time since.
const owed = (spent) => (1 - (TPM - spent)) / (TPM / 60);
function assertRetry(retry, spent, elapsed, what) {
  const most = Math.ceil(owed(spent)), least = Math.floor(owed(spent) - elapsed);
  assert.ok(retry >= least && retry <= most, `${what}: retry in ${retry} s, expected ${least}..${most} s (${spent} tokens spent, ${elapsed} s since)`);
}

test("tokens per minute: prompt and completion tokens are charged; a debt refuses with a Retry-After that pays it", async () => {
  const limited = 'dsv3_rate_limited_total{limit="tokens"}';
  const before429 = await metric(tpmServer.url, limited);
  const prompt = Array.from({ length: 100 }, (_, i) => 1000 + 37 * i);
  const t0 = Date.now();
  // admitted while the bucket holds anything, however large the prompt
  const r = await post(tpmServer, "key-a", "/v1/completions", { prompt, max_tokens: 5, temperature: 0 });
  assert.equal(r.status, 200);
  const { usage } = await r.json();
  assert.equal(usage.prompt_tokens, 100);
  assert.equal(usage.completion_tokens, 5);
  // 105 tokens spent of 6: refused until the debt is paid, 1000 s at 6 a minute
  const refused = await post(tpmServer, "key-a", "/v1/completions", { prompt: [1, 2], max_tokens: 1 });
  const elapsed = (Date.now() - t0) / 1000;
  assert.equal(refused.status, 429);
  assertRetry(Number(refused.headers.get("retry-after")), 105, elapsed, "HTTP");
  const body = await refused.json();
  assert.equal(body.error.type, "rate_limit_error");
  assert.match(body.error.message, /tokens per minute/);
  assert.equal(await metric(tpmServer.url, limited), before429 + 1);
  // another key has its own bucket
  assert.equal((await post(tpmServer, "key-b", "/v1/completions", { prompt: [1, 2], max_tokens: 1 })).status, 200);
});

// A WebSocket to the tokens-per-minute server: next() resolves to the next message.
async function wsConnect(key) {
  const ws = new WebSocket(`ws://127.0.0.1:${tpmServer.port}/ws`, { headers: { Authorization: "Bearer " + key } });
  const queue = [], waiters = [];
  ws.on("message", (d) => { const m = JSON.parse(d.toString()); const w = waiters.shift(); if (w) w(m); else queue.push(m); });
  const next = () => queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no message within the deadline")), deadlineMs);
    waiters.push((m) => { clearTimeout(t); resolve(m); });
  });
  await new Promise((resolve, reject) => { ws.on("open", resolve); ws.on("error", reject); });
  return { ws, next };
}
async function wsUntil(next, types) {
  for (let i = 0; i < 20000; i++) {
    const m = await next();
    if (types.includes(m.type)) return m;
  }
  throw new Error("no " + types.join(" or "));
}

const longMessages = [{ role: "user", content: Array.from({ length: 60 }, (_, i) => `word${i}`).join(" ") }];

test("429 over WebSocket: an error message, as over HTTP; the connection stays usable; both share the bucket", async () => {
  const ws429 = 'dsv3_http_requests_total{route="/ws",status="429"}';
  const before429 = await metric(tpmServer.url, ws429);
  const { ws, next } = await wsConnect("key-c");
  const t0 = Date.now();
  ws.send(JSON.stringify({ model: "tiny", messages: longMessages, max_tokens: 5, temperature: 0 }));
  const done = await wsUntil(next, ["done", "error"]);
  assert.equal(done.type, "done", JSON.stringify(done));
  const spent = done.usage.prompt_tokens + done.usage.completion_tokens;
  assert.equal(done.usage.prompt_tokens, (await chatPromptIds(longMessages)).length);
  for (let i = 0; i < 2; i++) {
    // refused, and refused again: not left "busy"
    ws.send(JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 1 }));
    const m = await next();
    const elapsed = (Date.now() - t0) / 1000;
    assert.equal(m.type, "error", JSON.stringify(m));
    assert.equal(m.error.type, "rate_limit_error");
    assert.equal(m.error.code, "rate_limit_exceeded");
    const retry = Number(m.error.message.match(/tokens per minute; retry in (\d+) s/)?.[1]);
    assertRetry(retry, spent, elapsed, "WebSocket");
  }
  assert.equal(await metric(tpmServer.url, ws429), before429 + 2);
  // what the WebSocket spent, HTTP owes too
  const http = await post(tpmServer, "key-c", "/v1/completions", { prompt: [1, 2], max_tokens: 1 });
  assert.equal(http.status, 429);
  assertRetry(Number(http.headers.get("retry-after")), spent, (Date.now() - t0) / 1000, "HTTP after WebSocket");
  ws.close();
});

test("a WebSocket closed mid-generation is charged what it generated", async () => {
  const ws499 = 'dsv3_http_requests_total{route="/ws",status="499"}';
  const before499 = await metric(tpmServer.url, ws499);
  const beforeTokens = await metric(tpmServer.url, "dsv3_completion_tokens_total");
  const prompt = (await chatPromptIds(longMessages)).length;
  // a key of its own, whose full bucket lets a long generation start
  const key = "key-d";
  const { ws, next } = await wsConnect(key);
  const t0 = Date.now();
  ws.send(JSON.stringify({ model: "tiny", messages: longMessages, max_tokens: 4000, temperature: 0 }));
  const first = await next();
  assert.equal(first.choices?.[0].delta.role, "assistant", JSON.stringify(first));
  for (let i = 0; i < 3; i++) assert.equal((await next()).object, "chat.completion.chunk");
  ws.terminate();
  // counted last, after its tokens are charged
  await waitFor(async () => await metric(tpmServer.url, ws499) === before499 + 1, "the server to see the connection go");
  const generated = await metric(tpmServer.url, "dsv3_completion_tokens_total") - beforeTokens;
  assert.ok(generated >= 3, `${generated} tokens counted`);
  const r = await post(tpmServer, key, "/v1/completions", { prompt: [1, 2], max_tokens: 1 });
  assert.equal(r.status, 429);
  assertRetry(Number(r.headers.get("retry-after")), prompt + generated, (Date.now() - t0) / 1000, "after the close");
});
