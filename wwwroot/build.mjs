// Bundles the customer page's test kit (with the SignalR client) into dist/, which the portal embeds.
import { build } from "esbuild";
import { copyFile, mkdir, readdir } from "node:fs/promises";

if (process.argv.includes("--tests")) {
  // Unit tests: each src/**/*.test.ts bundled on its own for node's test runner (types stripped by esbuild).
  const tests = (await readdir("src", { recursive: true })).filter((f) => f.endsWith(".test.ts")).map((f) => `src/${f}`);
  await build({ entryPoints: tests, outdir: "dist-tests", bundle: true, platform: "node", format: "esm", outExtension: { ".js": ".mjs" }, logLevel: "warning" });
  process.exit(0);
}

await mkdir("dist", { recursive: true });
// Two files, each bundled whole: the page's kit, and the TURN measurement, which the page loads only when its step
// runs (the page's weight budget).
await build({
  entryPoints: { kit: "src/main.ts", turn: "src/turn.ts" },
  outdir: "dist",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020"],
  minify: true,
  legalComments: "none",
  logLevel: "warning",
});
await copyFile("customer.css", "dist/kit.css");
