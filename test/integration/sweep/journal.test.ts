/**
 * The removal journal in Table storage (Azurite): an entry belongs to the run and page that
 * wrote it until its lease runs out; recovery touches only entries whose owner is gone, and two
 * recoverers never both take the same entry.
 */
import { describe, expect, it } from "vitest";
import { tableClient } from "../../../shared/azure/storage.js";
import { JOURNAL_LEASE_MS, type JournalEntry, RemovalJournal } from "../../../shared/azure/sweep-journal.js";
import { useSandbox } from "../../helpers/sandbox.js";

const sb = useSandbox({ seed: "empty", azurite: true });

function entry(keyId: string): JournalEntry {
  return {
    tenantId: "t",
    targetId: "a1300000-0000-4000-8000-000000000001",
    targetType: "application",
    appId: "b1300000-0000-4000-8000-000000000001",
    displayName: "app",
    credential: "secret",
    keyId,
  };
}

describe("removal journal ownership", () => {
  it("leaves a live owner's entries alone, and gives a gone owner's entry to one recoverer", async () => {
    const table = tableClient(
      { connectionString: sb().env.AzureWebJobsStorage },
      `RolloverJournalTest${Date.now()}`,
    );
    const journal = new RemovalJournal(table);
    const t0 = Date.parse("2026-06-01T00:00:00Z");
    await journal.begin(entry("k1"), "run-1/applications-1", t0);
    await journal.begin(entry("k2"), "run-1/applications-2", t0 + 60_000);

    // Another page of the same run, a minute later: both owners are still working.
    expect(await journal.claimStale("run-1/servicePrincipals-1", t0 + 60_000)).toEqual([]);

    // Once k1's lease has run out (its page is gone), one of two concurrent recoverers takes it;
    // k2's owner still holds its lease.
    const later = t0 + JOURNAL_LEASE_MS + 1;
    const [a, b] = await Promise.all([
      journal.claimStale("run-2/applications-1", later),
      journal.claimStale("run-2/servicePrincipals-1", later),
    ]);
    expect([...a, ...b].map((e) => e.keyId)).toEqual(["k1"]);

    // The claim is a new lease: nobody else takes k1 while its recoverer works on it.
    expect((await journal.claimStale("run-3/applications-1", later + 1)).map((e) => e.keyId)).toEqual([]);
    await journal.end(entry("k1"));
    expect(
      (await journal.claimStale("run-4/applications-1", t0 + 60_000 + JOURNAL_LEASE_MS + 1)).map(
        (e) => e.keyId,
      ),
    ).toEqual(["k2"]);
  });
});
