/**
 * The client against a live recserve server (started by tests/client/test_typescript.py,
 * which passes its URL and an admin key in RECSERVE_URL and RECSERVE_API_KEY).
 *
 * A small shop with three taste blocks: users like items of their own block, so the
 * right recommendations and similar items are those of the same block.
 */

import assert from "node:assert/strict";
import { before, test } from "node:test";

import {
  type FeedbackCreate,
  type ItemCreate,
  type ListResponse,
  RecserveClient,
  RecserveError,
} from "../src/index.js";

const baseUrl = required("RECSERVE_URL");
const client = new RecserveClient({ baseUrl, apiKey: required("RECSERVE_API_KEY") });

const BLOCKS = 3;
const ITEMS_PER_BLOCK = 8;
const USERS_PER_BLOCK = 6;
const LIKED = 4;
const START = 1_700_000_000;
const MODEL_REF = /^[A-Za-z0-9_.-]+\/v\d+$/; // "name/version" of the model that answered

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run through tests/client/test_typescript.py)`);
  return value;
}

const itemId = (i: number): string => `i${String(i).padStart(2, "0")}`;
const userId = (u: number): string => `u${String(u).padStart(2, "0")}`;
const blockOf = (item: string): number => Math.floor(Number(item.slice(1)) / ITEMS_PER_BLOCK);
const ids = (list: ListResponse): string[] => list.items.map((entry) => entry.item_id);

function shopItems(): ItemCreate[] {
  return Array.from({ length: BLOCKS * ITEMS_PER_BLOCK }, (_, i) => ({
    item_id: itemId(i),
    title: `item ${i}`,
    categories: [`block-${Math.floor(i / ITEMS_PER_BLOCK)}`],
    attributes: { price: 5 + i },
  }));
}

function shopEvents(): FeedbackCreate[] {
  const events: FeedbackCreate[] = [];
  for (let u = 0; u < BLOCKS * USERS_PER_BLOCK; u++) {
    const block = Math.floor(u / USERS_PER_BLOCK);
    for (let k = 0; k < LIKED; k++) {
      const item = itemId(block * ITEMS_PER_BLOCK + ((u + k) % ITEMS_PER_BLOCK));
      events.push({
        event_id: `e-${u}-${k}`,
        user_id: userId(u),
        item_id: item,
        type: "like",
        timestamp: START + 60 * events.length,
      });
    }
  }
  return events;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilServed(scenarios: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const served = (await client.scenarios()).data.filter((s) => s.serving !== null);
    if (scenarios.every((name) => served.some((s) => s.scenario === name))) return;
    assert.ok(Date.now() < deadline, `scenarios not served in time: ${scenarios.join(", ")}`);
    await sleep(200);
  }
}

before(async () => {
  const items = shopItems();
  assert.deepEqual(await client.upsertItems(items), { accepted: items.length, duplicates: 0 });
  const events = shopEvents();
  assert.deepEqual(await client.sendFeedback(events), { accepted: events.length, duplicates: 0 });

  let job = await client.train({ models: ["popular", "item_knn"], promote: "always" });
  const deadline = Date.now() + 240_000;
  while (job.status === "queued" || job.status === "running") {
    assert.ok(Date.now() < deadline, "the training job did not finish in time");
    await sleep(250);
    job = await client.job(job.job_id);
  }
  assert.equal(job.status, "succeeded", job.error ?? "");
  await waitUntilServed(["recommended", "similar_items", "popular"], 60_000);
});

test("events sent again with their event ids are counted as duplicates", async () => {
  const events = shopEvents().slice(0, 5);
  assert.deepEqual(await client.sendFeedback(events), { accepted: 0, duplicates: 5 });
});

test("recommendations come from the user's own block and leave out what they liked", async () => {
  const list = await client.recommend("u00", { n: 3 });
  assert.equal(list.user_id, "u00");
  assert.match(list.model, MODEL_REF);
  assert.ok(list.recommendation_id.length > 0);
  assert.equal(list.items.length, 3);
  const liked = new Set(["i00", "i01", "i02", "i03"]);
  for (const item of ids(list)) {
    assert.equal(blockOf(item), 0, `${item} is not in block 0`);
    assert.ok(!liked.has(item), `${item} was liked already`);
  }
});

test("similar items are of the same block", async () => {
  const list = await client.similar("i09", { n: 3, explain: true });
  assert.equal(list.item_id, "i09");
  assert.equal(list.items.length, 3);
  for (const entry of list.items) {
    assert.equal(blockOf(entry.item_id), 1, `${entry.item_id} is not in block 1`);
    assert.notEqual(entry.item_id, "i09");
    assert.equal(typeof entry.score, "number");
  }
});

test("popular lists the most liked items first", async () => {
  const list = await client.popular({ n: 5 });
  assert.match(list.model, MODEL_REF);
  assert.equal(list.items.length, 5);
  const scores = list.items.map((entry) => entry.score);
  assert.deepEqual(
    scores,
    [...scores].sort((a, b) => b - a),
  );
  const unseen = await client.popular({ n: 30, user_id: "u00" });
  assert.ok(!ids(unseen).includes("i00"), "popular for u00 still lists an item u00 liked");
});

test("search finds an item by its title words", async () => {
  const found = await client.search("item 7", { n: 3, mode: "words" });
  const first = found.items[0];
  assert.ok(first, "search found nothing");
  assert.equal(first.item_id, "i07");
  assert.equal(first.title, "item 7");
  const error = await rejected(client.search(" "));
  assert.equal(error.code, "invalid_query");
});

test("an item reads back with its fields", async () => {
  const item = await client.getItem("i05");
  assert.equal(item.title, "item 5");
  assert.deepEqual(item.categories, ["block-0"]);
});

async function rejected(call: Promise<unknown>): Promise<RecserveError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof RecserveError, `not a RecserveError: ${String(error)}`);
    return error;
  }
  assert.fail("the call succeeded");
}

test("bad input gives a typed error with the API's code", async () => {
  const outOfRange = await rejected(client.recommend("u00", { n: 0 }));
  assert.equal(outOfRange.status, 422);
  assert.equal(outOfRange.code, "validation_error");
  assert.ok(outOfRange.requestId, "no request id");

  const badEvent = await rejected(
    client.sendFeedback([{ user_id: "u00", item_id: "i00", type: "no-such-type" }]),
  );
  assert.equal(badEvent.status, 422);
  assert.equal(badEvent.code, "unknown_feedback_type");

  const unknown = await rejected(client.similar("no-such-item"));
  assert.equal(unknown.status, 404);
  assert.equal(unknown.code, "item_not_found");

  const anonymous = new RecserveClient({ baseUrl });
  const noKey = await rejected(anonymous.popular());
  assert.equal(noKey.status, 401);
  assert.equal(noKey.code, "missing_api_key");
});

/** Never called: it compiles only because the generated types refuse what they should. */
export function typesRefuseWrongCalls(): void {
  // @ts-expect-error n is a number
  void client.recommend("u00", { n: "5" });
  // @ts-expect-error no such option
  void client.popular({ limit: 5 });
  // @ts-expect-error an event needs a type
  void client.sendFeedback([{ user_id: "u00", item_id: "i00" }]);
  // @ts-expect-error no such path
  void client.api.GET("/v1/no-such-path");
}
