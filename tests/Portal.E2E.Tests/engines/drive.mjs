// Runs the customer's battery in another browser engine than Chromium, as a customer would: open the link, press
// Run test, wait until the page says it is done. Prints one JSON line {engine, userAgent, state, steps} and exits 0;
// exits 1 with the reason otherwise.
//
//   node drive.mjs firefox <url> [timeoutSeconds] [proxyHost:port]   Firefox ESR over WebDriver BiDi (puppeteer-core)
//   node drive.mjs webkit <url> [timeoutSeconds]                     WebKitGTK's MiniBrowser through WebKitWebDriver on a private Xvfb
//
// A proxy (Firefox only) takes every request, loopback included, as a customer's forward proxy does.
//
// Both accept the test's self-signed certificate (acceptInsecureCerts), as Playwright's Chromium is told to.
// DRIVE_SCREENSHOT=file.png (WebKit) saves what the page looks like when the run is done.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [engine, url, timeoutText, proxy] = process.argv.slice(2);
const timeoutMs = Number(timeoutText ?? "120") * 1000;
if (!engine || !url) {
  console.error("usage: node drive.mjs firefox|webkit <url> [timeoutSeconds]");
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function firefox() {
  const { default: puppeteer } = await import("puppeteer-core");
  const profile = mkdtempSync(join(tmpdir(), "portal-firefox-"));
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: "/usr/bin/firefox-esr",
    headless: true,
    acceptInsecureCerts: true,
    userDataDir: profile,
    extraPrefsFirefox: {
      "app.update.enabled": false,
      "browser.shell.checkDefaultBrowser": false,
      ...(proxy
        ? {
          "network.proxy.type": 1,
          "network.proxy.http": proxy.split(":")[0],
          "network.proxy.http_port": Number(proxy.split(":")[1]),
          "network.proxy.ssl": proxy.split(":")[0],
          "network.proxy.ssl_port": Number(proxy.split(":")[1]),
          "network.proxy.no_proxies_on": "",
          "network.proxy.allow_hijacking_localhost": true,
        }
        : { "network.proxy.type": 0 }),
    },
  });
  try {
    const page = await browser.newPage();
    await page.goto(url, { waitUntil: "load", timeout: 30_000 });
    await page.waitForSelector("#run:not([disabled])", { timeout: 30_000 });
    await page.click("#run");
    await page.waitForSelector("body[data-state=done]", { timeout: timeoutMs });
    return await page.evaluate(() => ({
      userAgent: navigator.userAgent,
      state: document.body.dataset.state,
      steps: document.querySelector("#steps")?.innerText ?? "",
    }));
  } finally {
    await browser.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
  }
}

async function webkit() {
  const display = 90 + Math.floor(Math.random() * 400);
  const xvfb = spawn("Xvfb", [`:${display}`, "-screen", "0", "1280x1024x24", "-nolisten", "tcp"], { stdio: "ignore" });
  const port = await freePort();
  const driver = spawn("WebKitWebDriver", [`--port=${port}`, "--host=127.0.0.1"], { stdio: "ignore", env: { ...process.env, DISPLAY: `:${display}` } });
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, path, body) => {
    const response = await fetch(base + path, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = await response.json();
    if (!response.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json.value ?? json)}`);
    return json.value;
  };
  let session = null;
  try {
    for (let i = 0; ; i++) {
      try { await call("GET", "/status"); break; } catch (e) { if (i > 100) throw e; await sleep(100); }
    }
    const created = await call("POST", "/session", {
      capabilities: {
        alwaysMatch: {
          browserName: "MiniBrowser",
          acceptInsecureCerts: true,
          "webkitgtk:browserOptions": { binary: "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser", args: ["--automation"] },
        },
      },
    });
    session = created.sessionId;
    const s = `/session/${session}`;
    await call("POST", `${s}/timeouts`, { pageLoad: 30_000, script: 30_000, implicit: 0 });
    await call("POST", `${s}/url`, { url });
    const script = (code) => call("POST", `${s}/execute/sync`, { script: code, args: [] });
    const deadline = Date.now() + timeoutMs;
    while (!(await script("const b = document.querySelector('#run'); return !!b && !b.disabled;"))) {
      if (Date.now() > deadline) throw new Error("the Run test button never became enabled");
      await sleep(100);
    }
    const button = await call("POST", `${s}/element`, { using: "css selector", value: "#run" });
    await call("POST", `${s}/element/${Object.values(button)[0]}/click`, {});
    while ((await script("return document.body.dataset.state || '';")) !== "done") {
      if (Date.now() > deadline) throw new Error("the run did not finish in time: " + (await script("return document.querySelector('#steps')?.innerText ?? '';")));
      await sleep(250);
    }
    if (process.env.DRIVE_SCREENSHOT) {
      const png = await call("GET", `${s}/screenshot`);
      (await import("node:fs")).writeFileSync(process.env.DRIVE_SCREENSHOT, Buffer.from(png, "base64"));
    }
    return await script("return { userAgent: navigator.userAgent, state: document.body.dataset.state, steps: document.querySelector('#steps')?.innerText ?? '' };");
  } finally {
    if (session) await call("DELETE", `/session/${session}`).catch(() => undefined);
    driver.kill("SIGTERM");
    xvfb.kill("SIGTERM");
  }
}

try {
  const outcome = engine === "firefox" ? await firefox() : engine === "webkit" ? await webkit() : null;
  if (outcome === null) throw new Error(`unknown engine ${engine}`);
  console.log(JSON.stringify({ engine, ...outcome }));
  process.exit(0);
} catch (e) {
  console.error(`${engine}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  process.exit(1);
}
