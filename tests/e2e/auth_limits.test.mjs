// API keys (401) and per-key rate limits (429 with Retry-After).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { startServer } from "./helpers.mjs";

let server, keyFile;
before(async () => {
  keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dsv3-keys-")), "keys");
  fs.writeFileSync(keyFile, "# keys\nfile-key-1\nfile-key-2\n");
  server = await startServer(["--api-key", "cli-key", "--api-key-file", keyFile, "--rate-limit-rpm", "3"]);
});
after(async () => { await server?.stop(); fs.rmSync(path.dirname(keyFile), { recursive: true, force: true }); });

const client = (apiKey) => new OpenAI({ baseURL: server.url + "/v1", apiKey, maxRetries: 0 });
const ask = (c) => c.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 2 });

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

test("rate limit per key: 429 with Retry-After; other keys unaffected", async () => {
  const c = client("file-key-2");
  for (let i = 0; i < 3; i++) await ask(c);
  const r = await fetch(server.url + "/v1/chat/completions", {
    method: "POST",
    headers: { Authorization: "Bearer file-key-2", "Content-Type": "application/json" },
    body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 2 }),
  });
  assert.equal(r.status, 429);
  const retry = Number(r.headers.get("retry-after"));
  assert.ok(retry >= 1 && retry <= 20, "Retry-After " + retry);
  const body = await r.json();
  assert.equal(body.error.type, "rate_limit_error");
  await assert.rejects(ask(c), (e) => e.status === 429);
  const other = await ask(client("file-key-1"));
  assert.equal(other.object, "chat.completion");
  const m = await (await fetch(server.url + "/metrics")).text();
  assert.match(m, /dsv3_rate_limited_total\{limit="requests"\} [2-9]/);
});
