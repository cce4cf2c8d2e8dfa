// Calls every operation of Trophy's Node SDK (@trophyso/node, pinned in package.json) against
// a Podium gateway and exits non-zero naming each operation whose answer the SDK could not
// parse or that failed otherwise. Plain Node (CommonJS), no build step.
//
//   PODIUM_BASE_URL  the gateway's application base, e.g. http://127.0.0.1:8080/v1
//   PODIUM_API_KEY   an API key the gateway accepts
//   PODIUM_RULES     the rules the gateway runs: the scenario below is written for
//                    tests/rules/node.toml (the metric, achievements, points and boards)
//
// The writes are chosen so the answers carry every optional part the SDK parses (boards,
// points with a level change, a streak, achievements); every user is in UTC, so all are in
// the same day and the same weekly run; the reads wait (bounded) until the writes show in
// the views. The last line of stdout is a JSON object: each operation's
// answer, for tests/integration/gateway/test_node_sdk.py to check figures against.
//
// Operations Podium does not serve (Trophy's admin streak operations: restore and freezes,
// which edit a streak behind the log's back) must answer 404; any other answer fails too.
"use strict";

const { TrophyApiClient, TrophyApiError } = require("@trophyso/node");

const BASE = process.env.PODIUM_BASE_URL;
const KEY = process.env.PODIUM_API_KEY;
if (!BASE || !KEY) {
  console.error("set PODIUM_BASE_URL (…/v1) and PODIUM_API_KEY");
  process.exit(2);
}
const client = new TrophyApiClient({
  apiKey: KEY,
  environment: { api: BASE, admin: BASE.replace(/\/v1\/?$/, "") + "/admin/v1" },
});
const OPTS = { maxRetries: 0, timeoutInSeconds: 30 };
const UNSERVED = new Set(["admin.streaks.restore", "admin.streaks.freezes.create"]);
const WAIT_MS = 20000;

const answers = {};
const failures = [];
const called = new Set();
// Each user's figures as the writes' answers left them (the last answer with the figure):
// `words` (the event's total) and `xp` (the points total it carries). The reads wait until
// the views show these: an answer leaves before the views are written.
const last = {};

function note(user, answer) {
  const figures = (last[user] = last[user] || {});
  if (answer && answer.total != null) figures.words = answer.total;
  const xp = answer && answer.points && answer.points.xp;
  if (xp && xp.total != null) figures.xp = xp.total;
}

// A board's answer that lists each of its users with the figure the answers left them, and
// at least `n` users.
function shows(figure, n) {
  return (a) =>
    Array.isArray(a.rankings) &&
    a.rankings.length >= n &&
    a.rankings.every((r) => last[r.userId] && Number(r.value) === last[r.userId][figure]);
}

function describe(err) {
  if (err instanceof TrophyApiError) {
    return `HTTP ${err.statusCode}: ${JSON.stringify(err.body)}`;
  }
  return `${err && err.constructor ? err.constructor.name : "Error"}: ${err && err.message}`;
}

// Call `fn` once; a failure of any kind (a parse failure above all) is recorded by `name`.
async function call(name, fn, label = name) {
  called.add(name);
  try {
    const answer = await fn();
    answers[label] = answer;
    console.log(`ok    ${label}`);
    return answer;
  } catch (err) {
    failures.push(`${label}: ${describe(err)}`);
    console.log(`FAIL  ${label}: ${describe(err)}`);
    return undefined;
  }
}

// Call `fn` until `ready(answer)` holds (the views catch up with the writes), at most
// WAIT_MS; a 404 or 503 meanwhile is waited out, a parse failure fails at once.
async function until(name, fn, ready, label = name) {
  called.add(name);
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    let answer;
    let problem;
    try {
      answer = await fn();
      if (ready(answer)) {
        answers[label] = answer;
        console.log(`ok    ${label}`);
        return answer;
      }
      problem = `not caught up: ${JSON.stringify(answer).slice(0, 300)}`;
    } catch (err) {
      const waitable =
        err instanceof TrophyApiError && (err.statusCode === 404 || err.statusCode === 503);
      if (!waitable) {
        failures.push(`${label}: ${describe(err)}`);
        console.log(`FAIL  ${label}: ${describe(err)}`);
        return undefined;
      }
      problem = describe(err);
    }
    if (Date.now() > deadline) {
      failures.push(`${label}: ${problem}`);
      console.log(`FAIL  ${label}: ${problem}`);
      answers[label] = answer;
      return answer;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// An operation Podium does not serve: its answer must be a 404 that says so.
async function unserved(name, fn) {
  called.add(name);
  try {
    await fn();
    failures.push(`${name}: answered 2xx, expected Podium's 404 (not served)`);
  } catch (err) {
    if (err instanceof TrophyApiError && err.statusCode === 404) {
      console.log(`404   ${name} (not served by Podium)`);
      return;
    }
    failures.push(`${name}: ${describe(err)}; expected Podium's 404 (not served)`);
  }
}

// Every operation the SDK has: each method of each resource client, through the getters
// (admin.streaks.freezes), so an operation this script does not call is a failure too.
function operations(obj, prefix, seen = new Set()) {
  const out = [];
  for (let proto = Object.getPrototypeOf(obj); proto && proto !== Object.prototype; ) {
    for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (name === "constructor" || name.startsWith("_") || seen.has(prefix + name)) continue;
      seen.add(prefix + name);
      if (d.get) out.push(...operations(obj[name], `${prefix}${name}.`, seen));
      else if (typeof d.value === "function") out.push(prefix + name);
    }
    proto = Object.getPrototypeOf(proto);
  }
  return out;
}

function today() {
  return new Date().toISOString().slice(0, 10);
}

async function writes() {
  const ann = {
    id: "ann",
    name: "Ann",
    email: "ann@example.com",
    tz: "UTC",
    deviceTokens: ["token-1"],
    subscribeToEmails: true,
    attributes: { plan: "pro" },
  };
  await call("users.create", () => client.users.create(ann, OPTS));
  await call("users.identify", () =>
    client.users.identify("bob", { name: "Bob", attributes: { plan: "free" } }, OPTS),
  );
  await call("users.update", () => client.users.update("bob", { tz: "UTC" }, OPTS));
  const event = async (user, value, label, extra = {}) => {
    const body = { user: { id: user }, value, ...extra };
    note(user, await call("metrics.event", () => client.metrics.event("words-written", body, OPTS), label));
  };
  await event("ann", 120, "metrics.event ann 120", { attributes: { genre: "poetry" } });
  await event("bob", 100, "metrics.event bob 100");
  await event("cy", 30, "metrics.event cy 30");
  await event("ann", 5, "metrics.event ann 5", { idempotencyKey: "ann-5" });
  await event("ann", 5, "metrics.event ann 5 again", { idempotencyKey: "ann-5" });
  const completed = await call("achievements.complete", () =>
    client.achievements.complete("published", { user: { id: "bob" } }, OPTS),
  );
  note("bob", completed && { points: completed.points });
  await call("users.updatePreferences", () =>
    client.users.updatePreferences(
      "ann",
      { notifications: { achievement_completed: ["email"], recap: [] } },
      OPTS,
    ),
  );
}

async function reads() {
  const day = today();
  await call("achievements.all", () => client.achievements.all({}, OPTS));
  await call("leaderboards.all", () => client.leaderboards.all(OPTS));
  const ranked = (n) => (a) => Array.isArray(a.rankings) && a.rankings.length >= n;
  await until("leaderboards.get", () => client.leaderboards.get("top-writers", {}, OPTS), shows("words", 3), "leaderboards.get top-writers");
  await until("leaderboards.get", () => client.leaderboards.get("weekly-top-two", {}, OPTS), shows("words", 2), "leaderboards.get weekly-top-two");
  await until("leaderboards.get", () => client.leaderboards.get("top-xp", {}, OPTS), shows("xp", 3), "leaderboards.get top-xp");
  await until("leaderboards.get", () => client.leaderboards.get("longest-streak", {}, OPTS), ranked(3), "leaderboards.get longest-streak");
  await until("points.summary", () => client.points.summary("xp", {}, OPTS), (a) => a.some((r) => r.users > 0));
  await call("points.system", () => client.points.system("xp", OPTS));
  await call("streaks.list", () => client.streaks.list({ userIds: ["ann", "bob", "nobody"] }, OPTS));
  await until("streaks.rankings", () => client.streaks.rankings({ limit: 10, type: "active" }, OPTS), (a) => a.length >= 3, "streaks.rankings active");
  await until("streaks.rankings", () => client.streaks.rankings({ limit: 2, type: "longest" }, OPTS), (a) => a.length >= 2, "streaks.rankings longest 2");
  await until("users.get", () => client.users.get("ann", OPTS), (a) => a.id === "ann");
  await until("users.getPreferences", () => client.users.getPreferences("ann", OPTS), (a) => !!a.notifications);
  await until("users.allMetrics", () => client.users.allMetrics("ann", OPTS), (a) => a.length > 0 && a[0].current >= 125);
  await until("users.singleMetric", () => client.users.singleMetric("bob", "words-written", OPTS), (a) => a.current === last.bob.words);
  await call("users.metricEventSummary", () =>
    client.users.metricEventSummary("ann", "words-written", { aggregation: "daily", startDate: day, endDate: day }, OPTS),
  );
  await call("users.achievements", () => client.users.achievements("ann", { includeIncomplete: "true" }, OPTS));
  await call("users.streak", () => client.users.streak("ann", { historyPeriods: 7 }, OPTS));
  await until("users.points", () => client.users.points("bob", "xp", { awards: 10 }, OPTS), (a) => a.total === last.bob.xp);
  await call("users.pointsEventSummary", () =>
    client.users.pointsEventSummary("bob", "xp", { aggregation: "daily", startDate: day, endDate: day }, OPTS),
  );
  await until("users.leaderboard", () => client.users.leaderboard("ann", "top-writers", { numEvents: 5 }, OPTS), (a) => a.rank != null && a.history.length > 0);
  await call("users.wrapped", () => client.users.wrapped("ann", {}, OPTS));
  await unserved("admin.streaks.restore", () => client.admin.streaks.restore({ users: [{ id: "ann" }] }, OPTS));
  await unserved("admin.streaks.freezes.create", () =>
    client.admin.streaks.freezes.create({ freezes: [{ userId: "ann" }] }, OPTS),
  );
}

async function main() {
  const every = operations(client, "");
  await writes();
  await reads();
  const missed = every.filter((op) => !called.has(op));
  for (const op of missed) failures.push(`${op}: the SDK has it, this script does not call it`);
  console.log(`operations: ${every.length} in the SDK, ${called.size} called, ${UNSERVED.size} not served`);
  console.log(JSON.stringify({ operations: every, failures, answers }));
  if (failures.length) {
    console.error(`${failures.length} failure(s):\n  ${failures.join("\n  ")}`);
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(`crashed: ${describe(err)}\n${err && err.stack}`);
  process.exit(1);
});
