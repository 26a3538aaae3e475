import { assertEquals } from "./assert.ts";
import { type ReplyJob, ReplyQueue } from "../core/reply_queue.ts";

function job(n: number, trigger: ReplyJob["trigger"] = "mention"): ReplyJob {
  return {
    trigger,
    channel: "c",
    time: n,
    mention: { id: `m${n}`, user: `u${n}`, displayName: `u${n}`, text: "hi" },
  };
}

Deno.test("ReplyQueue runs one job at a time and bounds waiting mentions", async (t) => {
  await t.step(
    "mentions arriving during a generation wait; the oldest is dropped beyond the limit",
    async () => {
      const ran: number[] = [];
      const dropped: number[] = [];
      let release!: () => void;
      const first = new Promise<void>((r) => (release = r));
      const q = new ReplyQueue(async (j) => {
        ran.push(j.time);
        if (j.time === 1) await first;
      }, (j) => dropped.push(j.time));
      q.pushMention(job(1), 2);
      for (let i = 2; i <= 6; i++) q.pushMention(job(i), 2);
      assertEquals(q.waiting, 2);
      assertEquals(dropped, [2, 3, 4]);
      release();
      await q.idle();
      assertEquals(ran, [1, 5, 6]);
    },
  );

  await t.step("at most one spontaneous job is pending and mentions go first", async () => {
    const ran: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new ReplyQueue(async (j) => {
      ran.push(`${j.trigger}${j.time}`);
      if (j.time === 0) await gate;
    }, () => {});
    q.pushMention(job(0), 3);
    assertEquals(q.pushSpontaneous(job(1, "spontaneous")), true);
    assertEquals(q.pushSpontaneous(job(2, "spontaneous")), false);
    q.pushMention(job(3), 3);
    release();
    await q.idle();
    assertEquals(ran, ["mention0", "mention3", "spontaneous1"]);
    assertEquals(q.hasSpontaneous, false);
  });

  await t.step("discard removes matching waiting mentions", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ran: number[] = [];
    const q = new ReplyQueue(async (j) => {
      ran.push(j.time);
      if (j.time === 0) await gate;
    }, () => {});
    q.pushMention(job(0), 3);
    q.pushMention(job(1), 3);
    q.pushMention(job(2), 3);
    assertEquals(q.discard((j) => j.mention?.user === "u1"), 1);
    release();
    await q.idle();
    assertEquals(ran, [0, 2]);
  });
});
