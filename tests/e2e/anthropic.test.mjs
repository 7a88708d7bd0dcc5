// The Anthropic Messages API through the official `@anthropic-ai/sdk` client:
// messages.create, messages.stream (event order, the final message equal to
// its deltas), count_tokens, x-api-key auth, errors in Anthropic's shape, and
// a tool-use round trip. Responses are checked against a JSON schema (ajv).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import Ajv from "ajv";
import { startServer, chatPromptIds, rawRequest } from "./helpers.mjs";

const KEY = "anthropic-key";
let server, client;
before(async () => {
  server = await startServer(["--ctx", "2048", "--api-key", KEY, "--max-body-bytes", "65536"]);
  client = new Anthropic({ baseURL: server.url, apiKey: KEY, maxRetries: 0 });
});
after(async () => { await server?.stop(); });

const hello = [{ role: "user", content: "Hello, who are you?" }];

const ajv = new Ajv({ allErrors: true });
const block = {
  oneOf: [
    { type: "object", required: ["type", "text"], properties: { type: { const: "text" }, text: { type: "string" } } },
    { type: "object", required: ["type", "thinking", "signature"],
      properties: { type: { const: "thinking" }, thinking: { type: "string" }, signature: { type: "string" } } },
    { type: "object", required: ["type", "id", "name", "input"],
      properties: { type: { const: "tool_use" }, id: { type: "string", pattern: "^toolu_" }, name: { type: "string" },
                    input: { type: "object" } } },
  ],
};
const validMessage = ajv.compile({
  type: "object",
  required: ["id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"],
  properties: {
    id: { type: "string", pattern: "^msg_" },
    type: { const: "message" },
    role: { const: "assistant" },
    model: { type: "string" },
    content: { type: "array", items: block },
    stop_reason: { enum: ["end_turn", "max_tokens", "stop_sequence", "tool_use"] },
    stop_sequence: { type: ["string", "null"] },
    usage: {
      type: "object", required: ["input_tokens", "output_tokens"],
      properties: { input_tokens: { type: "integer", minimum: 1 }, output_tokens: { type: "integer", minimum: 0 } },
    },
  },
});
const validError = ajv.compile({
  type: "object",
  required: ["type", "error"],
  properties: {
    type: { const: "error" },
    error: { type: "object", required: ["type", "message"], properties: { type: { type: "string" }, message: { type: "string" } } },
  },
});
const checkMessage = (m) => assert.ok(validMessage(m), JSON.stringify(validMessage.errors) + "\n" + JSON.stringify(m));
const textOf = (m) => m.content.filter((b) => b.type === "text").map((b) => b.text).join("");

test("messages.create: a message with text, usage and stop_reason max_tokens", async () => {
  const m = await client.messages.create({ model: "tiny", max_tokens: 3, messages: hello, temperature: 0 });
  checkMessage(m);
  assert.equal(m.usage.input_tokens, (await chatPromptIds(hello)).length);
  // random weights rarely end a turn in 3 tokens; either way the count and the reason agree
  if (m.stop_reason === "max_tokens") assert.equal(m.usage.output_tokens, 3);
  else assert.ok(m.usage.output_tokens <= 3);
  const longer = await client.messages.create({ model: "tiny", max_tokens: 12, messages: hello, temperature: 0 });
  checkMessage(longer);
  assert.ok(textOf(longer).startsWith(textOf(m)), "greedy: the longer answer continues the shorter");
});

test("messages.create: a system prompt (string or blocks) and stop_sequences", async () => {
  const a = await client.messages.create({ model: "tiny", max_tokens: 4, messages: hello, system: "Be brief.", temperature: 0 });
  const b = await client.messages.create({
    model: "tiny", max_tokens: 4, messages: hello, system: [{ type: "text", text: "Be brief." }], temperature: 0,
  });
  assert.equal(a.usage.input_tokens, b.usage.input_tokens);
  assert.equal(textOf(a), textOf(b));
  assert.ok(a.usage.input_tokens > (await chatPromptIds(hello)).length);
  // a stop sequence taken from the answer itself ends it there
  const full = await client.messages.create({ model: "tiny", max_tokens: 16, messages: hello, temperature: 0 });
  const text = textOf(full);
  const stop = [...text].slice(2, 4).join("");
  assert.ok(stop.length > 0, "an answer of at least 3 characters: " + JSON.stringify(text));
  const cut = await client.messages.create({ model: "tiny", max_tokens: 16, messages: hello, temperature: 0, stop_sequences: ["never-seen", stop] });
  checkMessage(cut);
  assert.equal(cut.stop_reason, "stop_sequence");
  assert.equal(cut.stop_sequence, stop);
  assert.equal(textOf(cut), text.slice(0, text.indexOf(stop)));
});

test("messages.stream: events in order; the final message is its deltas", async () => {
  const stream = client.messages.stream({ model: "tiny", max_tokens: 16, messages: hello, temperature: 0 });
  const events = [];
  for await (const e of stream) events.push(e);
  const final = await stream.finalMessage();
  checkMessage(final);
  assert.equal(events[0].type, "message_start");  // (its message is the SDK's snapshot: content grows)
  assert.equal(events[0].message.usage.input_tokens, (await chatPromptIds(hello)).length);
  assert.equal(events.at(-1).type, "message_stop");
  assert.equal(events.at(-2).type, "message_delta");
  assert.equal(events.at(-2).delta.stop_reason, final.stop_reason);
  assert.equal(events.at(-2).usage.output_tokens, final.usage.output_tokens);
  // blocks open, take deltas and close in turn, indices counting from 0
  let open = -1, next = 0;
  const text = [];
  for (const e of events.slice(1, -2)) {
    if (e.type === "content_block_start") { assert.equal(open, -1); assert.equal(e.index, next++); open = e.index; text[open] = ""; }
    else if (e.type === "content_block_delta") { assert.equal(e.index, open); if (e.delta.type === "text_delta") text[open] += e.delta.text; }
    else if (e.type === "content_block_stop") { assert.equal(e.index, open); open = -1; }
    else assert.fail("unexpected event " + e.type);
  }
  assert.equal(open, -1);
  assert.equal(final.content.length, next);
  final.content.forEach((b, i) => { if (b.type === "text") assert.equal(b.text, text[i]); });
  // the same request without streaming gives the same message (greedy)
  const whole = await client.messages.create({ model: "tiny", max_tokens: 16, messages: hello, temperature: 0 });
  assert.deepEqual(final.content, whole.content);
  assert.deepEqual(final.usage, whole.usage);
  assert.equal(final.stop_reason, whole.stop_reason);
});

test("raw SSE: named events, a ping after message_start, no [DONE]", async () => {
  const r = await fetch(server.url + "/v1/messages", {
    method: "POST",
    headers: { "Content-Type": "application/json", "x-api-key": KEY, "anthropic-version": "2023-06-01" },
    body: JSON.stringify({ model: "tiny", max_tokens: 4, messages: hello, stream: true }),
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /^text\/event-stream/);
  const body = await r.text();
  assert.ok(!body.includes("[DONE]"));
  const payloads = [];
  const events = body.split("\n\n").filter((b) => b).map((b) => {
    const [ev, data] = b.split("\n");
    assert.match(ev, /^event: /);
    const name = ev.slice(7), json = JSON.parse(data.slice(6));
    assert.equal(json.type, name);
    payloads.push(json);
    return name;
  });
  assert.deepEqual(payloads[0].message.content, []);
  assert.equal(payloads[0].message.stop_reason, null);
  assert.deepEqual(events.slice(0, 2), ["message_start", "ping"]);
  assert.deepEqual(events.slice(-2), ["message_delta", "message_stop"]);
});

test("count_tokens: the prompt's tokens, as messages.create counts them", async () => {
  const c = await client.messages.countTokens({ model: "tiny", messages: hello });
  assert.equal(c.input_tokens, (await chatPromptIds(hello)).length);
  const m = await client.messages.create({ model: "tiny", max_tokens: 1, messages: hello, system: "Be brief." });
  const cs = await client.messages.countTokens({ model: "tiny", messages: hello, system: "Be brief." });
  assert.equal(cs.input_tokens, m.usage.input_tokens);
});

test("a bad or missing key: AuthenticationError, 401 authentication_error", async () => {
  const bad = new Anthropic({ baseURL: server.url, apiKey: "wrong-key", maxRetries: 0 });
  await assert.rejects(bad.messages.create({ model: "tiny", max_tokens: 1, messages: hello }), (e) => {
    assert.ok(e instanceof Anthropic.AuthenticationError, String(e));
    assert.equal(e.status, 401);
    assert.equal(e.type, "authentication_error");
    assert.ok(validError(e.error), JSON.stringify(e.error));
    return true;
  });
  // no key at all (the SDK refuses to send none, so by hand)
  const r = await fetch(server.url + "/v1/messages", {
    method: "POST", headers: { "anthropic-version": "2023-06-01" },
    body: JSON.stringify({ model: "tiny", max_tokens: 1, messages: hello }),
  });
  assert.equal(r.status, 401);
  const j = await r.json();
  assert.ok(validError(j), JSON.stringify(j));
  assert.equal(j.error.type, "authentication_error");
  // the OpenAI way of sending the key works here too
  const bearer = new Anthropic({ baseURL: server.url, apiKey: null, authToken: KEY, maxRetries: 0 });
  checkMessage(await bearer.messages.create({ model: "tiny", max_tokens: 1, messages: hello }));
});

test("malformed requests: 400 invalid_request_error naming the field", async () => {
  const cases = [
    [{ model: "tiny", messages: hello }, "max_tokens"],
    [{ model: "tiny", max_tokens: 4, messages: hello, temperature: 5 }, "temperature"],
    [{ model: "tiny", max_tokens: 4, messages: [{ role: "system", content: "x" }] }, "messages[0].role"],
    [{ model: "tiny", max_tokens: 4, messages: hello, tool_choice: { type: "sometimes" } }, "tool_choice.type"],
  ];
  for (const [body, field] of cases) {
    await assert.rejects(client.messages.create(body), (e) => {
      assert.ok(e instanceof Anthropic.BadRequestError, String(e));
      assert.equal(e.status, 400);
      assert.equal(e.type, "invalid_request_error");
      assert.ok(validError(e.error), JSON.stringify(e.error));
      assert.ok(e.error.error.message.includes(field), e.error.error.message);
      return true;
    });
  }
  // not JSON at all, a wrong method and a body too large: still Anthropic's shape
  const raw = async (init, path = "/v1/messages") => {
    const r = await fetch(server.url + path, { method: "POST", ...init, headers: { "x-api-key": KEY, ...(init.headers ?? {}) } });
    const j = await r.json();
    assert.ok(validError(j), JSON.stringify(j));
    return [r.status, j.error.type];
  };
  assert.deepEqual(await raw({ body: "{not json" }), [400, "invalid_request_error"]);
  assert.deepEqual(await raw({ method: "GET" }), [405, "invalid_request_error"]);
  // past --max-body-bytes the transport answers before any route runs, in the shape of the path's API
  const { out } = await rawRequest(server.port, [
    `POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: ${KEY}\r\nContent-Length: 1000000\r\n\r\n` + "a".repeat(70000)]);
  assert.match(out, /^HTTP\/1\.1 413/);
  const tooLarge = JSON.parse(out.slice(out.indexOf("\r\n\r\n") + 4));
  assert.ok(validError(tooLarge), JSON.stringify(tooLarge));
  assert.equal(tooLarge.error.type, "request_too_large");
  assert.deepEqual(await raw({ body: "{}", headers: { "x-api-key": "nope" } }, "/v1/messages/count_tokens"), [401, "authentication_error"]);
});

const weather = {
  name: "get_weather",
  description: "The weather now in a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
};

test("history with tool_use and tool_result blocks is taken", async () => {
  const m = await client.messages.create({
    model: "tiny", max_tokens: 4, tools: [weather],
    messages: [
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: [{ type: "text", text: "Looking." },
                                     { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "sunny, 21 C" }] },
    ],
  });
  checkMessage(m);
});

// The random tiny model writes a call only because a forced tool_choice
// holds it to the tool's grammar; greedy, and room for its long strings.
test("tool use round trip: a forced call, then its result", async () => {
  const ask = [{ role: "user", content: "What is the weather in Paris?" }];
  const first = await client.messages.create({
    model: "tiny", max_tokens: 400, temperature: 0, tools: [weather], tool_choice: { type: "tool", name: "get_weather" },
    messages: ask,
  });
  checkMessage(first);
  assert.equal(first.stop_reason, "tool_use");
  const call = first.content.find((b) => b.type === "tool_use");
  assert.ok(call, JSON.stringify(first.content));
  assert.equal(call.name, "get_weather");
  const validInput = ajv.compile(weather.input_schema);
  assert.ok(validInput(call.input), JSON.stringify(validInput.errors) + " " + JSON.stringify(call.input));
  // streamed, the same call arrives as input_json_delta pieces
  const stream = client.messages.stream({
    model: "tiny", max_tokens: 400, temperature: 0, tools: [weather], tool_choice: { type: "tool", name: "get_weather" },
    messages: ask,
  });
  let json = "";
  for await (const e of stream) if (e.type === "content_block_delta" && e.delta.type === "input_json_delta") json += e.delta.partial_json;
  const streamed = await stream.finalMessage();
  assert.equal(streamed.stop_reason, "tool_use");
  const scall = streamed.content.find((b) => b.type === "tool_use");
  assert.match(scall.id, /^toolu_/);
  assert.equal(scall.name, "get_weather");
  assert.deepEqual(JSON.parse(json), call.input);
  assert.deepEqual(scall.input, call.input);
  const second = await client.messages.create({
    model: "tiny", max_tokens: 8, tools: [weather],
    messages: [...ask, { role: "assistant", content: first.content },
               { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "sunny, 21 C" }] }],
  });
  checkMessage(second);
});
