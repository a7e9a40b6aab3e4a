import { request } from "node:https";
import { describe, expect, it } from "vitest";
import { useSandbox } from "../../helpers/sandbox.js";

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = "";
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on("error", reject)
      .end();
  });
}

describe("sandbox server", () => {
  const sb = useSandbox();

  it("serves HTTPS that a process trusting the sandbox CA accepts", async () => {
    const res = await get(`${sb().urls.baseUrl}/v1.0/nothing-here`);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body).error.code).toBe("Request_ResourceNotFound");
  });
});
