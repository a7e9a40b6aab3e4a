import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cached } from "../../shared/cache.js";

describe("cached (values a process keeps per key)", () => {
  it("makes a value once per key and hands the same one out again", () => {
    const map = new Map<string, object>();
    let made = 0;
    const make = () => {
      made += 1;
      return {};
    };
    const a = cached(map, "a", make, 10);
    expect(cached(map, "a", make, 10)).toBe(a);
    expect(made).toBe(1);
  });

  it("keeps at most `max`, the most recently made, whatever the keys asked for", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 8 }),
        (keys, max) => {
          const map = new Map<number, number>();
          const order: number[] = [];
          for (const k of keys)
            cached(
              map,
              k,
              () => {
                order.push(k);
                return k;
              },
              max,
            );
          expect(map.size).toBeLessThanOrEqual(max);
          // What is kept is the last `max` made (or all, when fewer), in the order they were made.
          expect([...map.keys()]).toEqual(order.slice(-max));
        },
      ),
    );
  });

  it("forgets a promise that rejects, so the next use makes it again", async () => {
    const map = new Map<string, Promise<string>>();
    let made = 0;
    const make = () => {
      made += 1;
      return made === 1 ? Promise.reject(new Error("throttled")) : Promise.resolve("ok");
    };
    await expect(cached(map, "k", make, 10)).rejects.toThrow("throttled");
    await expect(cached(map, "k", make, 10)).resolves.toBe("ok");
    await expect(cached(map, "k", make, 10)).resolves.toBe("ok");
    expect(made).toBe(2);
  });

  it("a value that make throws for is not kept", () => {
    const map = new Map<string, number>();
    expect(() =>
      cached(
        map,
        "k",
        () => {
          throw new Error("no cer yet");
        },
        10,
      ),
    ).toThrow("no cer yet");
    expect(map.has("k")).toBe(false);
  });
});
