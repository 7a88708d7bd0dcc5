// The OpenAI API through the official `openai` client: chat and completions,
// streaming, usage, stop strings, seeds, and the 400/404/405 paths.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startServer, parseSse, greedyReference, chatPromptIds, topK, tokenBytes, assertNoNearTie } from "./helpers.mjs";

let server, client;
before(async () => {
  server = await startServer(["--ctx", "2048"]);
  client = new OpenAI({ baseURL: server.url + "/v1", apiKey: "unused", maxRetries: 0 });
});
after(async () => { await server?.stop(); });

const hello = [{ role: "user", content: "Hello, who are you?" }];

// The server against the model itself, asked through the CLI (no server, no
// batching): prompt ids from the chat template and tokenizer, greedy ids, and
// their logits. Logprobs agree to 1e-4 (measured: under 5e-6, f32 in the
// server's decode against the CLI's prefill, log-softmax in double here).
const TOL = 1e-4;
const near = (got, want, what) => assert.ok(Math.abs(got - want) <= TOL, `${what}: ${got} vs ${want} (|diff| ${Math.abs(got - want)})`);

test("chat completion: shape; usage and text as the model gives them", async () => {
  const r = await client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 12, temperature: 0 });
  assert.equal(r.object, "chat.completion");
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.model, "tiny");
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, "assistant");
  const prompt = await chatPromptIds(hello);
  const ref = await greedyReference(prompt, 12);
  assertNoNearTie(ref);
  const u = r.usage;
  assert.equal(u.prompt_tokens, prompt.length);
  assert.equal(u.completion_tokens, ref.ids.length);
  assert.equal(r.choices[0].finish_reason, ref.finish);
  assert.equal(r.choices[0].message.content, ref.text);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  // the length limit: as many tokens as asked, unless the model ended first
  const short = await client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 3, temperature: 0 });
  assert.equal(short.choices[0].finish_reason, ref.ids.length > 3 ? "length" : ref.finish);
  assert.equal(short.usage.completion_tokens, Math.min(3, ref.ids.length));
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

test("chat logprobs: the log-softmax of the model's logits at each greedy token, and its best 5", async () => {
  const N = 8, K = 5;
  const r = await client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: N, temperature: 0, logprobs: true, top_logprobs: K });
  const prompt = await chatPromptIds(hello);
  assert.equal(r.usage.prompt_tokens, prompt.length);
  const ref = await greedyReference(prompt, N);
  assertNoNearTie(ref);
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, ref.ids.length);
  assert.equal(r.usage.completion_tokens, ref.ids.length);
  content.forEach((t, i) => {
    const row = ref.rows[i];
    const want = topK(row, K);
    assert.deepEqual(Buffer.from(t.bytes), tokenBytes(ref.ids[i]), `token ${i}`);
    near(t.logprob, row[ref.ids[i]], `logprob ${i}`);
    assert.equal(t.top_logprobs.length, K);
    t.top_logprobs.forEach((a, k) => {
      assert.deepEqual(Buffer.from(a.bytes), tokenBytes(want[k].id), `token ${i}, alternative ${k}`);
      near(a.logprob, want[k].logprob, `token ${i}, alternative ${k}`);
    });
  });
  assert.equal(Buffer.concat(content.map((t) => Buffer.from(t.bytes))).toString("utf8"), r.choices[0].message.content);
});

test("completion logprobs for token ids: the same check, and streamed the same", async () => {
  const prompt = [0, 4134, 17, 90210, 3, 77, 5120, 901];
  const N = 8, K = 5;
  const ask = (stream) => client.completions.create({ model: "tiny", prompt, max_tokens: N, temperature: 0, logprobs: K, stream });
  const r = await ask(false);
  const ref = await greedyReference(prompt, N);
  assertNoNearTie(ref);
  const lp = r.choices[0].logprobs;
  assert.equal(r.usage.prompt_tokens, prompt.length);
  assert.equal(r.usage.completion_tokens, ref.ids.length);
  assert.equal(r.choices[0].text, ref.text);
  assert.equal(lp.token_logprobs.length, ref.ids.length);
  let offset = 0;
  lp.token_logprobs.forEach((l, i) => {
    const row = ref.rows[i];
    near(l, row[ref.ids[i]], `logprob ${i}`);
    assert.equal(lp.text_offset[i], offset);
    offset += tokenBytes(ref.ids[i]).length;
    // alternatives are keyed by their text: tokens of the same text share a key
    const want = topK(row, K);
    const got = Object.entries(lp.top_logprobs[i]).sort((a, b) => b[1] - a[1]);
    const texts = new Set(want.map((w) => tokenBytes(w.id).toString("utf8")));
    assert.equal(got.length, texts.size, `alternatives ${i}: ${JSON.stringify(got)}`);
    if (got.length === K) got.forEach(([, v], k) => near(v, want[k].logprob, `token ${i}, alternative ${k}`));
    else for (const [, v] of got) assert.ok(want.some((w) => Math.abs(w.logprob - v) <= TOL), `alternative ${v} of token ${i}`);
  });
  // streamed (the prompt now comes from the prefix cache): the same tokens and logprobs, chunk by chunk
  const chunks = [];
  for await (const c of await ask(true)) chunks.push(c);
  const streamed = chunks.flatMap((c) => c.choices[0]?.logprobs?.token_logprobs ?? []);
  assert.equal(streamed.length, ref.ids.length);
  streamed.forEach((l, i) => near(l, ref.rows[i][ref.ids[i]], `streamed logprob ${i}`));
  assert.deepEqual(chunks.flatMap((c) => c.choices[0]?.logprobs?.text_offset ?? []), lp.text_offset);
  assert.equal(chunks.map((c) => c.choices[0]?.text ?? "").join(""), r.choices[0].text);
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

// n choices: choice i is what a request of n=1 with seed + i gives (the
// prompt is computed once and its cache forked, which changes nothing).
test("n=3 chat: three choices, each the n=1 answer of seed + i; streamed the same, per index", async () => {
  const ask = (extra) => client.chat.completions.create({ model: "tiny", messages: hello, max_tokens: 20, temperature: 1, ...extra });
  const r = await ask({ seed: 500, n: 3 });
  assert.equal(r.choices.length, 3);
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
  const singles = [await ask({ seed: 500 }), await ask({ seed: 501 }), await ask({ seed: 502 })];
  for (let i = 0; i < 3; ++i) {
    assert.equal(r.choices[i].message.content, singles[i].choices[0].message.content, `choice ${i}`);
    assert.equal(r.choices[i].finish_reason, singles[i].choices[0].finish_reason, `choice ${i}`);
  }
  assert.ok(new Set(r.choices.map((c) => c.message.content)).size > 1, "seeds that differ give texts that differ");
  // the prompt once, the completions summed
  assert.equal(r.usage.prompt_tokens, singles[0].usage.prompt_tokens);
  assert.equal(r.usage.completion_tokens, singles.reduce((t, s) => t + s.usage.completion_tokens, 0));

  const stream = await ask({ seed: 500, n: 3, stream: true, stream_options: { include_usage: true } });
  const text = ["", "", ""], finish = [null, null, null], roles = [0, 0, 0];
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  for (const c of chunks.slice(0, -1)) {
    assert.equal(c.choices.length, 1);
    const { index, delta, finish_reason } = c.choices[0];
    assert.ok(index >= 0 && index < 3, `index ${index}`);
    if (delta.role) roles[index] += 1;
    text[index] += delta.content ?? "";
    if (finish_reason) {
      assert.equal(finish[index], null, `one finishing chunk for choice ${index}`);
      finish[index] = finish_reason;
    }
  }
  assert.deepEqual(roles, [1, 1, 1]);
  assert.deepEqual(text, r.choices.map((c) => c.message.content));
  assert.deepEqual(finish, r.choices.map((c) => c.finish_reason));
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.deepEqual(
    { p: last.usage.prompt_tokens, c: last.usage.completion_tokens },
    { p: r.usage.prompt_tokens, c: r.usage.completion_tokens },
  );
});

test("n=2 completions (temperature 0: identical), and streamed per index", async () => {
  const r = await client.completions.create({ model: "tiny", prompt: "The capital of France is", max_tokens: 8, temperature: 0, n: 2 });
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1]);
  assert.equal(r.choices[0].text, r.choices[1].text);
  const one = await client.completions.create({ model: "tiny", prompt: "The capital of France is", max_tokens: 8, temperature: 0 });
  assert.equal(r.choices[0].text, one.choices[0].text);
  const stream = await client.completions.create({ model: "tiny", prompt: "The capital of France is", max_tokens: 8, temperature: 0, n: 2, stream: true });
  const text = ["", ""], finish = [null, null];
  for await (const c of stream) {
    const { index, text: t, finish_reason } = c.choices[0];
    text[index] += t;
    if (finish_reason) finish[index] = finish_reason;
  }
  assert.deepEqual(text, [one.choices[0].text, one.choices[0].text]);
  assert.deepEqual(finish, [one.choices[0].finish_reason, one.choices[0].finish_reason]);
});

test("bad fields: 400 naming the field", async () => {
  const cases = [
    [{ temperature: "hot" }, "temperature"],
    [{ temperature: 5 }, "temperature"],
    [{ max_tokens: 0 }, "max_tokens"],
    [{ max_tokens: -1 }, "max_tokens"],
    [{ n: 0 }, "n"],
    [{ n: 17 }, "n"],
    [{ n: "3" }, "n"],
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

test("any model name is served (the served id comes back); unknown route: 404; wrong method: 405", async () => {
  assert.equal((await client.chat.completions.create({ model: "gpt-4o", messages: hello, max_tokens: 1 })).model, "tiny");
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
