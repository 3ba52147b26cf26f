// An off-the-shelf Autotask REST client from npm, given only the stand-in's base URL and
// credentials: zone discovery, a filtered query, get by id, and a ticket note created.
// Usage: node check.js <base url> <username> <secret> <integration code>
'use strict';
const { AutotaskRestApi } = require('@apigrate/autotask-restapi');

const [base, user, secret, code] = process.argv.slice(2);
const api = new AutotaskRestApi(user, secret, code, { base_url: `${base}/ATServicesRest/` });
let passed = 0;
let failed = 0;

async function check(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`compat: ${name} ... ok`);
  } catch (err) {
    failed += 1;
    console.log(`compat: ${name} ... FAILED: ${err && err.message}`);
  }
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

(async () => {
  let ticketId;
  let noteId;
  await check('query with a filter (zone discovered on the way)', async () => {
    const found = await api.Tickets.query({ filter: [{ op: 'eq', field: 'ticketNumber', value: 'T20261124.0042' }] });
    expect(found.items.length === 1, `expected one ticket, got ${JSON.stringify(found)}`);
    ticketId = found.items[0].id;
    expect(api.zoneInfo && api.zoneInfo.url.startsWith(base), `zone not discovered: ${JSON.stringify(api.zoneInfo)}`);
  });
  await check('get by id', async () => {
    const got = await api.Tickets.get(ticketId);
    expect(got.item && got.item.ticketNumber === 'T20261124.0042', JSON.stringify(got));
  });
  await check('create a ticket note', async () => {
    const created = await api.TicketNotes.create(ticketId, {
      title: 'Compat check', description: 'Written by @apigrate/autotask-restapi', noteType: 1, publish: 1,
    });
    expect(Number.isInteger(created.itemId), JSON.stringify(created));
    noteId = created.itemId;
  });
  await check('read the note back', async () => {
    const note = await api.TicketNotes.get(noteId);
    expect(note.item && note.item.ticketID === ticketId, JSON.stringify(note));
  });
  console.log(`compat: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
})();
