/**
 * Sandbox cost through the whole pipeline: bot ingest with one extra filter plugin in-process vs in
 * a Worker (see `benchSandboxedIngest` in ingest.ts, which shares the measurement).
 * @module
 */
import { benchSandboxedIngest } from "./ingest.ts";
import { benchMain } from "./suite.ts";

if (import.meta.main) await benchMain("sandbox_ingest", benchSandboxedIngest);
