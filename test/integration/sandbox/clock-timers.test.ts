/**
 * The virtual clock's timers: they fire when a move reaches them (never by real time alone),
 * earliest first, after the clock's listeners, and `advance` waits for what their callbacks return.
 */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../../sandbox/clock.js";

describe("VirtualClock timers", () => {
  it("fire on the move that reaches them, earliest first, each awaited before advance settles", async () => {
    const clock = new VirtualClock(() => 0);
    const fired: string[] = [];
    clock.onAdvance(() => {
      fired.push("listener");
    });
    clock.setTimeout(async () => {
      await new Promise((r) => setImmediate(r));
      fired.push("b");
    }, 200);
    clock.setTimeout(() => fired.push("a"), 100);
    clock.setTimeout(() => fired.push("c"), 300);
    await clock.advance(99);
    expect(fired).toEqual(["listener"]);
    await clock.advance(101);
    expect(fired).toEqual(["listener", "listener", "a", "b"]);
    expect(clock.pendingTimers).toBe(1);
  });

  it("does not fire a cleared timer, and leaves a timer set by a callback to the next move", async () => {
    const clock = new VirtualClock(() => 0);
    let n = 0;
    const rearm = (): void => {
      n += 1;
      clock.setTimeout(rearm, 0);
    };
    clock.setTimeout(rearm, 10);
    const cleared = clock.setTimeout(() => {
      n += 100;
    }, 5);
    clock.clearTimeout(cleared);
    await clock.advance(10);
    expect(n).toBe(1);
    await clock.advance(0);
    expect(n).toBe(2);
  });

  it("propagates a failing callback to the caller of advance", async () => {
    const clock = new VirtualClock(() => 0);
    clock.setTimeout(() => {
      throw new Error("boom");
    }, 1);
    await expect(clock.advance(1)).rejects.toThrow("boom");
    expect(clock.pendingTimers).toBe(0);
  });
});
