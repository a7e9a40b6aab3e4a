/**
 * The Functions app's entry point (package.json `main`, bundled to dist/functions/index.js):
 * registers every function of the definition table with the host.
 */
import { app } from "@azure/functions";
import { functionDefinitions } from "./definitions.js";

for (const d of functionDefinitions()) {
  switch (d.trigger) {
    case "eventGrid":
      app.eventGrid(d.name, { handler: d.handler });
      break;
    case "timer":
      app.timer(d.name, { schedule: d.schedule, handler: d.handler });
      break;
    case "storageQueue":
      app.storageQueue(d.name, { queueName: d.queueName, connection: d.connection, handler: d.handler });
      break;
    case "http":
      app.http(d.name, { route: d.route, methods: d.methods, authLevel: d.authLevel, handler: d.handler });
      break;
  }
}
