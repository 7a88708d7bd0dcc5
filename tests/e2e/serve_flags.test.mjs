// The serve flags that shape the engine and the API, each seen taking effect:
// --model-name (the id clients use), --prefill-chunk (prompt tokens per engine
// step: more steps, the same answer), --max-queue (requests waiting for a
// sequence; more get 503). States are waited for, never slept on.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import WebSocket from "ws";
import { startServer, parseSse, metric, waitFor, deadlineMs } from "./helpers.mjs";

const CHUNK = 4;
let flagged, plain;
before(async () => {
  [flagged, plain] = await Promise.all([
    startServer(["--ctx", "16384", "--model-name", "my-model", "--strict-model-name", "--prefill-chunk", String(CHUNK), "--max-sequences", "1", "--max-queue", "1"]),
    startServer(["--ctx", "2048"]),
  ]);
});
after(async () => { await Promise.all([flagged?.stop(), plain?.stop()]); });

const health = async (s) => (await fetch(s.url + "/health")).json();
const post = (s, route, body, signal = AbortSignal.timeout(deadlineMs)) => fetch(s.url + route, {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal,
});

test("--model-name (with --strict-model-name): the id /v1/models lists, requests name and responses carry", async () => {
  assert.match(flagged.stderr(), /serving 'my-model'/);
  const client = new OpenAI({ baseURL: flagged.url + "/v1", apiKey: "unused", maxRetries: 0 });
  const ids = [];
  for await (const m of await client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, ["my-model"]);
  assert.equal((await client.models.retrieve("my-model")).id, "my-model");
  await assert.rejects(client.models.retrieve("tiny"), (e) => e.status === 404);
  await assert.rejects(client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 1 }),
    (e) => e.status === 404 && e.code === "model_not_found");
  const r = await client.chat.completions.create({ model: "my-model", messages: [{ role: "user", content: "hi" }], max_tokens: 2 });
  assert.equal(r.model, "my-model");
  assert.equal((await health(flagged)).model, "my-model");
  // and without the flag, the directory's name
  assert.equal((await health(plain)).model, "tiny");
});

test("--prefill-chunk: a prompt takes one engine step per chunk, and gives the same greedy tokens and logprobs", async () => {
  const prompt = Array.from({ length: 37 }, (_, i) => 3 + 211 * i);  // in no prefix cache yet
  const N = 6;
  const run = async (s, model) => {
    await waitFor(async () => { const h = await health(s); return h.active === 0 && h.queued === 0; }, "an idle server");
    const steps = await metric(s.url, "dsv3_engine_steps_total");
    const r = await (await post(s, "/v1/completions", { model, prompt, max_tokens: N, temperature: 0, logprobs: 3 })).json();
    assert.equal(r.usage.completion_tokens, N, JSON.stringify(r));
    assert.equal(r.usage.prompt_tokens_details.cached_tokens, 0);
    return { r, steps: await metric(s.url, "dsv3_engine_steps_total") - steps };
  };
  const chunked = await run(flagged, "my-model"), whole = await run(plain, "tiny");
  // the prompt's chunks, the last of which yields the first token, then one
  // step per further token. The count may lag the reply by the last step, and
  // a wake-up for a connection closing may add one or two.
  const expect = (chunk) => Math.ceil(prompt.length / chunk) + N - 1;
  const within = (steps, chunk) => steps >= expect(chunk) - 1 && steps <= expect(chunk) + 2;
  assert.ok(within(chunked.steps, CHUNK), `${chunked.steps} steps with --prefill-chunk ${CHUNK}, expected ${expect(CHUNK)}`);
  assert.ok(within(whole.steps, 256), `${whole.steps} steps with the default chunk, expected ${expect(256)}`);
  const a = chunked.r.choices[0], b = whole.r.choices[0];
  assert.equal(a.text, b.text);
  assert.deepEqual(a.logprobs.tokens, b.logprobs.tokens);
  a.logprobs.token_logprobs.forEach((l, i) => assert.ok(Math.abs(l - b.logprobs.token_logprobs[i]) <= 1e-4, `logprob ${i}: ${l} vs ${b.logprobs.token_logprobs[i]}`));
});

test("--max-queue: with one sequence and a queue of one, a third request gets 503 queue_full; the queued one then runs", async () => {
  const s = flagged;
  const route503 = 'dsv3_http_requests_total{route="/v1/chat/completions",status="503"}';
  const before503 = await metric(s.url, route503);
  const ask = (extra) => ({ model: "my-model", messages: [{ role: "user", content: "Tell me a story" }], temperature: 0, stream: true, ...extra });
  // the one sequence: a generation far longer than this test (checked below)
  const ac = new AbortController();
  const running = await post(s, "/v1/chat/completions", ask({ max_tokens: 16000 }), AbortSignal.any([ac.signal, AbortSignal.timeout(deadlineMs)]));
  assert.equal(running.status, 200);
  await waitFor(async () => { const h = await health(s); return h.active === 1 && h.queued === 0; }, "the first request to run");
  // the queue's one place
  const queuedReply = post(s, "/v1/chat/completions", ask({ max_tokens: 4, stream_options: { include_usage: true } }));
  await waitFor(async () => (await health(s)).queued === 1, "the second request to queue");
  // no place left: 503 at once, as JSON and over the WebSocket alike
  const full = await post(s, "/v1/chat/completions", ask({ max_tokens: 4 }));
  assert.equal(full.status, 503);
  const body = await full.json();
  assert.equal(body.error.code, "queue_full");
  assert.equal(body.error.type, "server_error");
  const h = await health(s);
  assert.equal(h.active, 1);
  assert.equal(h.queued, 1);
  assert.equal(await metric(s.url, route503), before503 + 1);
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`);
  const refusal = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no answer over the WebSocket")), deadlineMs);
    ws.on("message", (d) => { const m = JSON.parse(d.toString()); if (m.type === "error") { clearTimeout(t); resolve(m); } });
    ws.on("error", reject);
  });
  ws.on("open", () => ws.send(JSON.stringify(ask({ max_tokens: 4 }))));
  const m = await refusal;
  assert.equal(m.error.code, "queue_full");
  ws.close();
  // the first was still running: the queue was full, not the first done
  const h1 = await health(s);
  assert.equal(h1.active, 1);
  assert.equal(h1.queued, 1);
  // the first leaves; the queued one runs to its end
  ac.abort();
  const queued = await queuedReply;
  assert.equal(queued.status, 200);
  const { events, done } = parseSse(await queued.text());
  assert.ok(done);
  assert.equal(events.at(-1).usage.completion_tokens, 4);
  await waitFor(async () => { const h2 = await health(s); return h2.active === 0 && h2.queued === 0; }, "an idle server");
  // and there is room again
  const again = await post(s, "/v1/chat/completions", ask({ max_tokens: 2, stream: false }));
  assert.equal(again.status, 200);
});
