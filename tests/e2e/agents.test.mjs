// Serving agents through the official `openai` client on the tiny model
// (random weights): tool calls and JSON that hold to their schemas, checked
// with ajv. With random weights only the grammar makes these pass.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { startServer, tinyModel } from "./helpers.mjs";

let server, client;
before(async () => {
  server = await startServer(["--ctx", "2048"]);
  client = new OpenAI({ baseURL: server.url + "/v1", apiKey: "unused", maxRetries: 0 });
});
after(async () => { await server?.stop(); });

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const check = (schema, value, what) => {
  const validate = ajv.compile(schema);
  assert.ok(validate(value), `${what}: ${JSON.stringify(value)} fails ${JSON.stringify(validate.errors)}`);
};

const weather = {
  type: "object",
  properties: {
    city: { type: "string", minLength: 1, maxLength: 16 },
    days: { type: "integer", minimum: 1, maximum: 7 },
    unit: { enum: ["celsius", "fahrenheit"] },
  },
  required: ["city", "days", "unit"],
  additionalProperties: false,
};
const search = {
  type: "object",
  properties: {
    query: { type: "string", maxLength: 24 },
    tags: { type: "array", items: { type: "string", maxLength: 6 }, maxItems: 3 },
    exact: { type: "boolean" },
  },
  required: ["query", "exact"],
  additionalProperties: false,
};
const tools = [
  { type: "function", function: { name: "get_weather", description: "Weather for a city", parameters: weather } },
  { type: "function", function: { name: "search_web", description: "Search the web", parameters: search } },
];
const schemaOf = { get_weather: weather, search_web: search };
const ask = [{ role: "user", content: "What is the weather in Paris for three days?" }];
const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);

function checkCalls(calls, what) {
  assert.ok(Array.isArray(calls) && calls.length >= 1, `${what}: no tool_calls`);
  for (const c of calls) {
    assert.equal(c.type, "function", what);
    assert.match(c.id, /^call_/, what);
    assert.ok(c.function.name in schemaOf, `${what}: unknown tool ${c.function.name}`);
    check(schemaOf[c.function.name], JSON.parse(c.function.arguments), `${what} ${c.function.name}`);
  }
}

test("tool_choice required: every answer is tool calls that validate, over 20 seeds; several when parallel", async () => {
  let several = 0;
  for (const seed of SEEDS) {
    const r = await client.chat.completions.create({ model: "tiny", messages: ask, tools, tool_choice: "required", seed, max_tokens: 300 });
    const c = r.choices[0];
    assert.equal(c.finish_reason, "tool_calls", `seed ${seed}`);
    checkCalls(c.message.tool_calls, `seed ${seed}`);
    if (c.message.tool_calls.length > 1) ++several;
  }
  assert.ok(several >= 1, "parallel_tool_calls allows several calls: none of 20 answers had more than one");
});

test("tool_choice required, streamed: the name first, then argument pieces, per index; they validate", async () => {
  for (const seed of SEEDS) {
    const stream = await client.chat.completions.create({ model: "tiny", messages: ask, tools, tool_choice: "required", seed, max_tokens: 300, stream: true });
    const calls = [];
    let finish = null;
    for await (const chunk of stream) {
      const ch = chunk.choices[0];
      if (ch.finish_reason) finish = ch.finish_reason;
      for (const d of ch.delta?.tool_calls ?? []) {
        if (!calls[d.index]) {
          assert.ok(d.id && d.function?.name, `seed ${seed}: the first delta of call ${d.index} has its id and name`);
          calls[d.index] = { id: d.id, type: d.type, function: { name: d.function.name, arguments: "" } };
        } else {
          assert.equal(d.id, undefined, "the id comes once");
        }
        calls[d.index].function.arguments += d.function?.arguments ?? "";
      }
    }
    assert.equal(finish, "tool_calls", `seed ${seed}`);
    checkCalls(calls, `stream seed ${seed}`);
  }
});

test("a named tool, parallel_tool_calls false: exactly one call of that tool", async () => {
  for (const seed of SEEDS.slice(0, 8)) {
    const r = await client.chat.completions.create({
      model: "tiny", messages: ask, tools, seed, max_tokens: 300, parallel_tool_calls: false,
      tool_choice: { type: "function", function: { name: "search_web" } },
    });
    const calls = r.choices[0].message.tool_calls;
    assert.equal(calls.length, 1, `seed ${seed}`);
    assert.equal(calls[0].function.name, "search_web");
    checkCalls(calls, `named seed ${seed}`);
  }
});

test("tool_choice auto: calls, when the model makes them, always parse; else text", async () => {
  for (const seed of SEEDS.slice(0, 6)) {
    const r = await client.chat.completions.create({ model: "tiny", messages: ask, tools, seed, max_tokens: 40 });
    const m = r.choices[0].message;
    if (m.tool_calls) for (const c of m.tool_calls) JSON.parse(c.function.arguments);
    else assert.equal(typeof m.content, "string");
  }
});

test("a tool round trip: the assistant's calls and the tool's result render into the next prompt", async () => {
  const first = await client.chat.completions.create({ model: "tiny", messages: ask, tools, tool_choice: "required", seed: 4, max_tokens: 300 });
  const msg = first.choices[0].message;
  const follow = [...ask, msg, ...msg.tool_calls.map((c) => ({ role: "tool", tool_call_id: c.id, content: '{"temp": 21}' }))];
  const r = await client.chat.completions.create({ model: "tiny", messages: follow, tools, max_tokens: 8, seed: 1 });
  assert.ok(r.usage.prompt_tokens > first.usage.prompt_tokens + 10, "the calls and results are in the prompt");
  assert.ok(["stop", "length", "tool_calls"].includes(r.choices[0].finish_reason));
});

const schemas = [
  { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"], additionalProperties: false },
  { type: "object", properties: { n: { type: "integer", minimum: -50, maximum: 50 }, x: { type: "number", minimum: 0, maximum: 1 } }, required: ["n", "x"], additionalProperties: false },
  { type: "array", items: { type: "string", maxLength: 5 }, minItems: 1, maxItems: 4 },
  { type: "object", properties: { color: { enum: ["red", "green", "blue"] }, hex: { type: "string", pattern: "^#[0-9a-f]{6}$" } }, required: ["color", "hex"], additionalProperties: false },
  { type: "object", properties: { day: { type: "string", format: "date" }, id: { type: "string", format: "uuid" } }, required: ["day", "id"], additionalProperties: false },
  { anyOf: [{ type: "object", properties: { a: { type: "null" } }, required: ["a"], additionalProperties: false }, { type: "string", maxLength: 8 }] },
  { type: "object", properties: { kind: { const: "point" }, xy: { type: "array", items: { type: "integer", minimum: 0, maximum: 9 }, minItems: 2, maxItems: 2 } }, required: ["kind", "xy"], additionalProperties: false },
  {
    type: "object", properties: { root: { $ref: "#/$defs/node" } }, required: ["root"], additionalProperties: false,
    $defs: { node: { type: "object", properties: { v: { type: "integer", minimum: 0, maximum: 99 }, kids: { type: "array", items: { $ref: "#/$defs/node" }, maxItems: 2 } }, required: ["v", "kids"], additionalProperties: false } },
  },
  { type: "object", properties: { name: { type: "string", minLength: 2, maxLength: 10 }, tags: { type: "array", items: { enum: ["a", "b"] }, maxItems: 3 }, score: { type: ["number", "null"], maximum: 10, minimum: -10 } }, required: ["name", "tags", "score"], additionalProperties: false },
  { type: "object", properties: { email: { type: "string", format: "email" }, age: { type: "integer", exclusiveMinimum: 17, maximum: 120 } }, required: ["email", "age"], additionalProperties: false },
];

test("response_format json_schema: 10 schemas x 5 seeds, every answer validates", async () => {
  for (const [i, schema] of schemas.entries()) {
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = await client.chat.completions.create({
        model: "tiny", messages: [{ role: "user", content: "Answer in JSON." }], seed, max_tokens: 400,
        response_format: { type: "json_schema", json_schema: { name: `s${i}`, schema, strict: true } },
      });
      const text = r.choices[0].message.content;
      let value;
      assert.doesNotThrow(() => { value = JSON.parse(text); }, `schema ${i} seed ${seed}: ${text}`);
      check(schema, value, `schema ${i} seed ${seed}`);
    }
  }
});

test("response_format json_object: answers parse as objects, streamed or not", async () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const r = await client.chat.completions.create({ model: "tiny", messages: ask, seed, max_tokens: 120, response_format: { type: "json_object" } });
    const v = JSON.parse(r.choices[0].message.content);
    assert.equal(typeof v, "object");
    assert.ok(!Array.isArray(v) && v !== null);
    const stream = await client.chat.completions.create({ model: "tiny", messages: ask, seed, max_tokens: 120, stream: true, response_format: { type: "json_object" } });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    assert.equal(text, r.choices[0].message.content, "the same seed streams the same JSON");
  }
});

test("bad agent fields: 400 naming the field", async () => {
  const bad = [
    [{ tools: "x" }, "tools"],
    [{ tools: [{ type: "function", function: { name: "has space" } }] }, "tools[0].function.name"],
    [{ tools, tool_choice: "sometimes" }, "tool_choice"],
    [{ tools, tool_choice: { type: "function", function: { name: "nope" } } }, "tool_choice"],
    [{ tool_choice: "required" }, "tool_choice"],
    [{ tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: { a: { type: "number", multipleOf: 3 } } } } }], tool_choice: "required" }, "tools"],
    [{ response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object", patternProperties: {} } } } }, "response_format.json_schema.schema"],
    [{ response_format: { type: "yaml" } }, "response_format.type"],
    [{ parallel_tool_calls: "yes", tools }, "parallel_tool_calls"],
    [{ chat_template_kwargs: [1] }, "chat_template_kwargs"],
  ];
  for (const [extra, param] of bad) {
    const res = await fetch(server.url + "/v1/chat/completions", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny", messages: ask, max_tokens: 4, ...extra }),
    });
    assert.equal(res.status, 400, JSON.stringify(extra));
    const body = await res.json();
    assert.equal(body.error.param, param, JSON.stringify(body));
    if (extra.tools?.[0]?.function?.name === "f") assert.match(body.error.message, /multipleOf/);
    if (extra.response_format?.json_schema) assert.match(body.error.message, /patternProperties/);
  }
});

test("reasoning: a template that opens <think> puts the answer in reasoning_content; chat_template_kwargs and the server default reach it", async () => {
  // the tiny model's template, made to open <think> when `thinking` is set (as V3.1's does)
  const config = JSON.parse(fs.readFileSync(path.join(tinyModel, "tokenizer_config.json"), "utf8"));
  const thinking = config.chat_template.replace("{{'<｜Assistant｜>'}}{% endif %}", "{{'<｜Assistant｜>'}}{% if thinking %}<think>\n{% endif %}{% endif %}");
  assert.notEqual(thinking, config.chat_template, "the template's generation prompt was found");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dsv3-think-"));
  const file = path.join(dir, "think.jinja");
  fs.writeFileSync(file, thinking);
  const s2 = await startServer(["--ctx", "1024", "--chat-template", file, "--chat-template-kwargs", '{"thinking": true}']);
  try {
    const c2 = new OpenAI({ baseURL: s2.url + "/v1", apiKey: "unused", maxRetries: 0 });
    const noEos = { 1: -100 };  // random weights: keep it talking
    const base = { model: "tiny", messages: ask, max_tokens: 16, seed: 9, logit_bias: noEos };
    const r = await c2.chat.completions.create(base);
    const m = r.choices[0].message;
    assert.ok(m.reasoning_content && m.reasoning_content.length > 0, "the server's default opens <think>: the answer is reasoning");
    assert.ok(!m.content, `no </think>: no content, got ${JSON.stringify(m.content)}`);
    let reasoning = "", content = "";
    for await (const chunk of await c2.chat.completions.create({ ...base, stream: true })) {
      reasoning += chunk.choices[0]?.delta?.reasoning_content ?? "";
      content += chunk.choices[0]?.delta?.content ?? "";
    }
    assert.equal(reasoning, m.reasoning_content, "streamed reasoning equals the whole answer's");
    assert.equal(content, "");
    const off = await c2.chat.completions.create({ ...base, chat_template_kwargs: { thinking: false } });
    assert.equal(off.choices[0].message.reasoning_content, undefined, "thinking off: no reasoning");
    assert.ok(off.choices[0].message.content.length > 0);
    assert.ok(off.usage.prompt_tokens < r.usage.prompt_tokens, "the request's kwargs replace the server's: no <think> in the prompt");
  } finally {
    await s2.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the other common fields: unknown ones are ignored, known ones checked for their type", async () => {
  const r = await client.chat.completions.create({
    model: "tiny", messages: ask, user: "u-1", store: false, metadata: { a: "b" }, service_tier: "auto",
    seed: 5, stop: ["zz", "qq"], max_completion_tokens: 3, some_future_field: { x: 1 },
  });
  assert.ok(r.usage.completion_tokens <= 3, "max_completion_tokens holds");
  for (const [extra, param] of [[{ user: 5 }, "user"], [{ metadata: "x" }, "metadata"], [{ store: "no" }, "store"]]) {
    await assert.rejects(client.chat.completions.create({ model: "tiny", messages: ask, max_tokens: 2, ...extra }),
      (e) => e.status === 400 && e.param === param);
  }
});
