import { describe, expect, it } from "vitest";
import { createOnce } from "../../../shared/azure/storage.js";

describe("createOnce (a table, queue or lease container, created once per client)", () => {
  it("runs the creation once for every caller of one client", async () => {
    const client = {};
    let calls = 0;
    const create = async () => {
      calls += 1;
    };
    await Promise.all([createOnce(client, create), createOnce(client, create), createOnce(client, create)]);
    await createOnce(client, create);
    expect(calls).toBe(1);
  });

  it("a failed creation is tried again on the next call, not kept until the process restarts", async () => {
    const client = {};
    let calls = 0;
    const create = async () => {
      calls += 1;
      if (calls === 1) throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    };
    await expect(createOnce(client, create)).rejects.toThrow("socket hang up");
    await expect(createOnce(client, create)).resolves.toBeUndefined();
    await createOnce(client, create);
    expect(calls).toBe(2);
  });

  it("each client has its own creation", async () => {
    let calls = 0;
    const create = async () => {
      calls += 1;
    };
    await createOnce({}, create);
    await createOnce({}, create);
    expect(calls).toBe(2);
  });
});
