import fc from "fast-check";
import { assertEquals } from "./assert.ts";
import { Turnstile } from "../core/turnstile.ts";

Deno.test("Turnstile lets tickets through in order, whatever order they finish the first part in", async (t) => {
  await t.step("later tickets wait for earlier ones", async () => {
    const gate = new Turnstile();
    const order: number[] = [];
    const tickets = [gate.ticket(), gate.ticket(), gate.ticket()];
    const runs = [2, 0, 1].map(async (i) => {
      const ticket = tickets[i]!;
      await gate.enter(ticket);
      order.push(ticket);
      gate.leave(ticket);
    });
    await Promise.all(runs);
    assertEquals(order, [0, 1, 2]);
    assertEquals(gate.pending, 0);
  });

  await t.step("a ticket that leaves without entering does not block", async () => {
    const gate = new Turnstile();
    const a = gate.ticket(), b = gate.ticket(), c = gate.ticket();
    const seen: number[] = [];
    const pc = gate.enter(c).then(() => seen.push(c));
    gate.leave(b);
    await gate.enter(a);
    seen.push(a);
    gate.leave(a);
    await pc;
    gate.leave(c);
    assertEquals(seen, [a, c]);
  });

  await t.step("isTurn says whether a ticket may go on without waiting", () => {
    const gate = new Turnstile();
    const a = gate.ticket(), b = gate.ticket();
    assertEquals([gate.isTurn(a), gate.isTurn(b)], [true, false]);
    gate.leave(a);
    assertEquals(gate.isTurn(b), true);
  });

  await t.step("in any order of leaving, the turn is the earliest ticket not yet left (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }).chain((n) =>
          fc.tuple(fc.constant(n), fc.array(fc.integer({ min: 0, max: n - 1 }), { maxLength: 30 }))
        ),
        ([n, leaves]) => {
          const gate = new Turnstile();
          const tickets = Array.from({ length: n }, () => gate.ticket());
          const left = new Set<number>();
          for (const ticket of leaves) {
            gate.leave(ticket); // leaving twice is allowed and changes nothing
            left.add(ticket);
            const turn = tickets.find((k) => !left.has(k)) ?? n;
            assertEquals(tickets.map((k) => gate.isTurn(k)), tickets.map((k) => k === turn));
            assertEquals(gate.pending, n - turn);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
