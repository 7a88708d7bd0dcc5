// The OpenAI API through the official `openai` client: chat and completions,
// streaming, usage, stop strings, seeds, and the 400/404/405 paths.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startServer, parseSse } from "./helpers.mjs";

let server, client;
before(async () => {
  server = await startServer(["--ctx", "2048"]);
  client = new OpenAI({ baseURL: server.url + "/v1", apiKey: "unused", maxRetries: 0 });
});
after(async () => { await server?.stop(); });

const hello = [{ role: "user", content: "Hello, who are you?" }];

test("chat completion: shape, usage, length limit", async () => {
  const r = await client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 12 });
  assert.equal(r.object, "chat.completion");
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.model, "tiny");
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(typeof r.choices[0].message.content, "string");
  assert.ok(["stop", "length"].includes(r.choices[0].finish_reason));
  const u = r.usage;
  assert.ok(u.prompt_tokens > 5);
  assert.ok(u.completion_tokens >= 1 && u.completion_tokens <= 12);
  if (r.choices[0].finish_reason === "length") assert.equal(u.completion_tokens, 12);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
});

test("streaming chat: role first, deltas, finish chunk, usage chunk, [DONE]", async () => {
  const stream = await client.chat.completions.create({
    model: "tiny", messages: hello, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.ok(chunks.length >= 3);
  assert.equal(chunks[0].choices[0].delta.role, "assistant");
  const ids = new Set(chunks.map((c) => c.id));
  assert.equal(ids.size, 1);
  for (const c of chunks) assert.equal(c.object, "chat.completion.chunk");
  const finishes = chunks.filter((c) => c.choices[0]?.finish_reason);
  assert.equal(finishes.length, 1);
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
  // the same request without streaming gives the same text (greedy)
  const whole = await client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 16, temperature: 0 });
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(last.usage.completion_tokens, whole.usage.completion_tokens);
});

test("raw SSE framing ends with data: [DONE]", async () => {
  const r = await fetch(server.url + "/v1/chat/completions", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model: "tiny", messages: hello, max_tokens: 5, stream: true }),
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /^text\/event-stream/);
  const { events, done } = parseSse(await r.text());
  assert.ok(done);
  assert.ok(events.length >= 2);
  assert.ok(events.every((e) => e.usage === undefined));  // no usage chunk unless asked
});

test("completions: a string prompt and token ids", async () => {
  const a = await client.completions.create({ model: "tiny", prompt: "The capital of France is", max_tokens: 8, temperature: 0 });
  assert.equal(a.object, "text_completion");
  assert.match(a.id, /^cmpl-/);
  assert.equal(typeof a.choices[0].text, "string");
  assert.equal(a.usage.completion_tokens, 8);
  const b = await client.completions.create({ model: "tiny", prompt: [0, 5, 9, 100], max_tokens: 6, temperature: 0 });
  assert.equal(b.usage.prompt_tokens, 4);
  assert.equal(b.usage.completion_tokens, 6);
  const s = await client.completions.create({ model: "tiny", prompt: [0, 5, 9, 100], max_tokens: 6, temperature: 0, stream: true });
  let text = "";
  for await (const c of s) text += c.choices[0]?.text ?? "";
  assert.equal(text, b.choices[0].text);
});

test("logprobs: one entry per token, top alternatives sorted", async () => {
  const r = await client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3 });
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, r.usage.completion_tokens);
  for (const t of content) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 3);
    assert.ok(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob);
    assert.equal(t.top_logprobs[0].logprob, t.logprob);  // greedy picks the best
  }
});

test("models list", async () => {
  const list = await client.models.list();
  const ids = [];
  for await (const m of list) ids.push(m.id);
  assert.deepEqual(ids, ["tiny"]);
  const one = await client.models.retrieve("tiny");
  assert.equal(one.id, "tiny");
});

test("stop strings end the answer before them", async () => {
  const base = await client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 40, temperature: 0 });
  const text = base.choices[0].message.content;
  const chars = [...text];
  assert.ok(chars.length >= 12, "need some text to pick a stop string from: " + text);
  const stop = chars.slice(6, 9).join("");
  const expected = text.slice(0, text.indexOf(stop));
  const r = await client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 40, temperature: 0, stop: [stop, "\u0000never"] });
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.equal(r.choices[0].message.content, expected);
  // streamed, the stop string never shows either
  const s = await client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 40, temperature: 0, stop, stream: true });
  let streamed = "";
  let finish = null;
  for await (const c of s) { streamed += c.choices[0]?.delta?.content ?? ""; finish = c.choices[0]?.finish_reason ?? finish; }
  assert.equal(streamed, expected);
  assert.equal(finish, "stop");
});

test("same seed and temperature give the same text; another seed differs", async () => {
  const ask = (seed) => client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 24, temperature: 1, seed });
  const [a, b, c] = [await ask(1234), await ask(1234), await ask(99)];
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  assert.notEqual(a.choices[0].message.content, c.choices[0].message.content);
});

test("bad fields: 400 naming the field", async () => {
  const cases = [
    [{ temperature: "hot" }, "temperature"],
    [{ temperature: 5 }, "temperature"],
    [{ max_tokens: 0 }, "max_tokens"],
    [{ max_tokens: 1e9 }, "max_tokens"],
    [{ n: 3 }, "n"],
    [{ top_p: 2 }, "top_p"],
    [{ stop: 7 }, "stop"],
    [{ logit_bias: { banana: 1 } }, "logit_bias"],
    [{ messages: "hi" }, "messages"],
    [{ messages: [{ role: "user" }] }, "messages[0].content"],
    [{ messages: [{ role: "user", content: Array.from({ length: 2500 }, (_, i) => `w${i}`).join(" ") }] }, "messages"],
  ];
  for (const [extra, param] of cases) {
    await assert.rejects(
      client.chat.completions.create({ model: "tiny", messages: hello, ...extra }),
      (e) => {
        assert.equal(e.status, 400, JSON.stringify(extra));
        assert.equal(e.error?.param ?? e.param, param, JSON.stringify(extra));
        assert.equal(e.type, "invalid_request_error");
        return true;
      },
    );
  }
  await assert.rejects(client.completions.create({ model: "tiny", prompt: [1, 999999] }), (e) => e.status === 400 && e.param === "prompt[1]");
});

test("unknown model and unknown route: 404; wrong method: 405", async () => {
  await assert.rejects(client.chat.completions.create({ model: "gpt-4o", messages: hello }),
    (e) => e.status === 404 && e.code === "model_not_found" && e.param === "model");
  const r = await fetch(server.url + "/v1/nothing");
  assert.equal(r.status, 404);
  assert.ok((await r.json()).error.message);
  const m = await fetch(server.url + "/v1/chat/completions");
  assert.equal(m.status, 405);
  assert.equal(m.headers.get("allow"), "POST");
  const bad = await fetch(server.url + "/v1/chat/completions", { method: "POST", body: "{not json" });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.code, "invalid_json");
});

test("health and metrics", async () => {
  const h = await (await fetch(server.url + "/health")).json();
  assert.equal(h.status, "ok");
  const m = await (await fetch(server.url + "/metrics")).text();
  for (const name of ["dsv3_http_requests_total", "dsv3_completion_tokens_total", "dsv3_time_to_first_token_seconds_bucket",
    "dsv3_request_duration_seconds_bucket", "dsv3_queue_depth", "dsv3_active_sequences", "dsv3_cache_usage_ratio"])
    assert.ok(m.includes(name), name);
  assert.match(m, /dsv3_http_requests_total\{route="\/v1\/chat\/completions",status="200"\} \d+/);
  assert.match(m, /dsv3_http_requests_total\{route="\/v1\/chat\/completions",status="400"\} \d+/);
});
