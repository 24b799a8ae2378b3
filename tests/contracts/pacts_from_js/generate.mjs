// Writes the pact files in this directory with pact-js, the way a JavaScript consumer team would.
//
// The plugin's interop tests verify these files against the Orders provider of contract_apps.py, so
// they must be real pact-js output, not hand-written look-alikes. Regenerate (needs Node 18+ and the
// npm registry) with:
//
//   cd "$(mktemp -d)" && npm install @pact-foundation/pact@16.5.0 && cp <this dir>/generate.mjs . &&
//   node generate.mjs <this dir>
//
// V2 (PactV2, spec 2), V3 HTTP with matchers, generators and fromProviderState (PactV3), a V3
// message pact (MessageConsumerPact) and V4 with comments, test names and a pending interaction
// (PactV4) are written; each consumer test makes the requests its interactions describe. pact-js
// writes no V4 `key`s: the keyed variant (pact-jvm and pact-rust consumers set them) is derived from
// WebJS4-Orders.json in the interop tests.
import { rmSync } from 'node:fs';
import {
  MatchersV2,
  MatchersV3,
  MessageConsumerPact,
  PactV2,
  PactV3,
  PactV4,
  SpecificationVersion,
} from '@pact-foundation/pact';

const dir = process.argv[2];
if (!dir) throw new Error('usage: node generate.mjs OUTPUT_DIR');
const { like, integer, decimal, string, regex, fromProviderState, eachLike } = MatchersV3;

for (const name of ['WebJS2-Orders.json', 'WebJS3-Orders.json', 'MailerJS-OrderEvents.json', 'WebJS4-Orders.json']) {
  rmSync(`${dir}/${name}`, { force: true });
}

async function expectJson(response, status) {
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}`);
  return response.status === 204 ? null : response.json();
}

// -- V2: one provider state without parameters, V2 matchers ---------------------------------------
const v2 = new PactV2({ consumer: 'WebJS2', provider: 'Orders', dir, spec: 2, logLevel: 'error' });
await v2.setup();
await v2.addInteraction({
  state: 'an order exists',
  uponReceiving: 'a request for order 1',
  withRequest: { method: 'GET', path: '/orders/1' },
  willRespondWith: {
    status: 200,
    body: MatchersV2.somethingLike({ id: 1, item: 'pen', quantity: 2, status: MatchersV2.term({ generate: 'placed', matcher: 'placed|paid' }), total: 19.5 }),
  },
});
await expectJson(await fetch(`${v2.mockService.baseUrl}/orders/1`), 200);
await v2.verify();
await v2.finalize();

// -- V3 HTTP: parametrised states, matchers, generators, fromProviderState -------------------------
const v3 = new PactV3({ consumer: 'WebJS3', provider: 'Orders', dir, spec: SpecificationVersion.SPECIFICATION_VERSION_V3, logLevel: 'error' });
// The provider creates the order and returns its id; the request path and the expected id are
// injected from that value. (pact-js keeps one interaction per description: two interactions told
// apart only by state parameters are derived from this file in the interop tests.)
const examples = { pen: 1, book: 2 };
for (const [item, example] of Object.entries(examples)) {
  v3.given('an order exists', { item })
    .uponReceiving(`a request for the ${item} order`)
    .withRequest({ method: 'GET', path: fromProviderState('/orders/${id}', `/orders/${example}`) })
    .willRespondWith({
      status: 200,
      body: {
        id: fromProviderState('${id}', example),
        item,
        quantity: integer(2),
        status: regex('placed|paid', 'placed'),
        total: decimal(19.5),
        _links: { self: { href: fromProviderState('/orders/${id}', `/orders/${example}`) } },
      },
    });
  await v3.executeTest(async (server) => expectJson(await fetch(`${server.url}/orders/${example}`), 200));
}
v3.uponReceiving('an order is placed')
  .withRequest({
    method: 'POST',
    path: '/orders',
    headers: { 'Content-Type': 'application/json' },
    body: { item: string('pen'), quantity: integer(2) },
  })
  .willRespondWith({
    status: 201,
    body: like({ id: integer(), status: 'placed', total: decimal(19.5) }),
  });
await v3.executeTest(async (server) =>
  expectJson(
    await fetch(`${server.url}/orders`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ item: 'pen', quantity: 2 }),
    }),
    201,
  ),
);
v3.given('no orders exist')
  .uponReceiving('a request for a missing order')
  .withRequest({ method: 'GET', path: '/orders/999' })
  .willRespondWith({ status: 404, body: { error: string('no such order') } });
await v3.executeTest(async (server) => expectJson(await fetch(`${server.url}/orders/999`), 404));

// -- V3 message pact: interactions under "messages" --------------------------------------------------
const events = new MessageConsumerPact({ consumer: 'MailerJS', provider: 'OrderEvents', dir, logLevel: 'error' });
await events
  .given('an order was placed')
  .expectsToReceive('an order placed event')
  .withContent({ order_id: integer(7), status: regex('placed|paid', 'placed') })
  .withMetadata({ routing_key: 'orders.placed' })
  .verify(async (message) => {
    if (message.contents.order_id !== 7) throw new Error('unexpected message');
  });

// -- V4: comments, test names, one pending interaction, an asynchronous message ------------
const v4 = new PactV4({ consumer: 'WebJS4', provider: 'Orders', dir, logLevel: 'error' });
const order = { id: integer(1), item: string('pen'), quantity: integer(2), status: string('placed'), total: decimal(19.5) };
await v4
  .addInteraction()
  .given('an order exists', { id: 1 })
  .uponReceiving('a request for order 1')
  .comment('the order page reads these fields')
  .testName('order page shows an order')
  .withRequest('GET', '/orders/1')
  .willRespondWith(200, (builder) => builder.jsonBody(like(order)))
  .executeTest(async (server) => expectJson(await fetch(`${server.url}/orders/1`), 200));
await v4
  .addInteraction()
  .given('an order exists', { id: 1 })
  .uponReceiving('a request for order 1 with its currency')
  .pending(true)
  .comment('the order page will show the currency once the provider sends it')
  .testName('order page shows the currency')
  .withRequest('GET', '/orders/1')
  .willRespondWith(200, (builder) => builder.jsonBody(like({ ...order, currency: string('EUR') })))
  .executeTest(async (server) => expectJson(await fetch(`${server.url}/orders/1`), 200));
await v4
  .addAsynchronousInteraction()
  .given('an order was placed')
  .expectsToReceive('an order placed event', (builder) =>
    builder.withJSONContent({ order_id: integer(7), lines: eachLike({ sku: string('PEN-1') }) }).withMetadata({ routing_key: 'orders.placed' }),
  )
  .executeTest(async (message) => {
    if (message.contents.content.order_id !== 7) throw new Error('unexpected message');
  });
console.log(`pact files written to ${dir}`);
