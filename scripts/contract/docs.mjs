// The docs page as a person sees it: opens RECOUP_API_URL/docs/ in headless Chromium
// (playwright-core, pinned in scripts/contract/node/package.json), waits for Swagger UI to
// render, and fails unless
//   - every operation of RECOUP_SPEC (openapi/openapi.json) is shown once per tag, with its
//     method, path and operationId, and nothing else is;
//   - the browser logged no console error and the page threw nothing;
//   - no request went to any host but the server's own (each one is recorded, and one to
//     another host is stopped before it leaves).
// A full-page screenshot goes to RECOUP_ARTIFACTS_DIR/docs.png (var/artifacts by default).
//
//   RECOUP_API_URL=http://127.0.0.1:8080 node scripts/contract/docs.mjs

import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "node", "package.json"));
const { chromium } = require("playwright-core");

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const TIMEOUT_MS = 60_000;

const base = (process.env.RECOUP_API_URL ?? "").replace(/\/+$/, "");
if (!base) {
    console.error("error: set RECOUP_API_URL to the server's base URL, e.g. http://127.0.0.1:8080");
    process.exit(2);
}
const specPath = process.env.RECOUP_SPEC ?? join(here, "..", "..", "openapi", "openapi.json");
const artifacts = process.env.RECOUP_ARTIFACTS_DIR ?? join(here, "..", "..", "var", "artifacts");
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const origin = new URL(base);

// What the spec says the page must show: one block per operation and tag (Swagger UI
// lists an operation under each of its tags, untagged ones under "default").
const spec = JSON.parse(readFileSync(specPath, "utf8"));
const expected = [];
for (const [path, item] of Object.entries(spec.paths ?? {})) {
    for (const method of METHODS) {
        const operation = item[method];
        if (!operation) continue;
        const tags = operation.tags?.length ? operation.tags : ["default"];
        for (const tag of tags) {
            expected.push({ method, path, operationId: operation.operationId ?? null, tag });
        }
    }
}
const operationCount = Object.values(spec.paths ?? {}).reduce(
    (n, item) => n + METHODS.filter((m) => item[m]).length,
    0,
);

const failures = [];
const requests = [];
const consoleErrors = [];

const profile = mkdtempSync(join(tmpdir(), "recoup-docs-chromium-"));
let context;
try {
    context = await chromium.launchPersistentContext(profile, {
        executablePath,
        headless: true,
        args: [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
        viewport: { width: 1400, height: 1000 },
    });

    // Every request, from every page and worker of the context: recorded, and stopped
    // unless it goes to the server itself (data: and blob: URLs never leave the browser).
    await context.route("**/*", (route) => {
        const url = route.request().url();
        if (isLocal(url)) return route.continue();
        return route.abort("blockedbyclient");
    });
    context.on("request", (request) => {
        const url = request.url();
        requests.push(`${request.method()} ${url}`);
        if (!isLocal(url)) failures.push(`request to another host: ${request.method()} ${url}`);
    });
    context.on("requestfailed", (request) => {
        if (isLocal(request.url())) {
            failures.push(`request failed: ${request.method()} ${request.url()} (${request.failure()?.errorText})`);
        }
    });
    context.on("response", (response) => {
        if (response.status() >= 400) {
            failures.push(`HTTP ${response.status()} for ${response.request().method()} ${response.url()}`);
        }
    });

    const page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (message) => {
        if (message.type() === "error") {
            const where = message.location();
            consoleErrors.push(`${message.text()}${where?.url ? ` (${where.url}:${where.lineNumber})` : ""}`);
        }
    });
    page.on("pageerror", (error) => consoleErrors.push(`uncaught: ${error.message}`));

    const docs = `${base}/docs/`;
    const response = await page.goto(docs, { waitUntil: "load", timeout: TIMEOUT_MS });
    if (!response || response.status() !== 200) {
        failures.push(`GET ${docs} answered ${response?.status()}`);
    }

    // Swagger UI fetches the spec and renders it: wait for the title and the blocks, then
    // until the count stops changing.
    await page.waitForSelector(".swagger-ui .information-container .title", { timeout: TIMEOUT_MS });
    await page.waitForSelector(".swagger-ui .opblock", { timeout: TIMEOUT_MS });
    let count = -1;
    for (let i = 0; i < 50; i++) {
        const now = await page.locator(".swagger-ui .opblock").count();
        if (now === count && now >= expected.length) break;
        count = now;
        await page.waitForTimeout(200);
    }
    await page.waitForLoadState("networkidle", { timeout: TIMEOUT_MS });

    const errorsShown = await page.locator(".swagger-ui .errors-wrapper .error-wrapper").allInnerTexts();
    for (const text of errorsShown) failures.push(`Swagger UI shows an error: ${text.trim()}`);
    const loadFailed = await page.getByText("Failed to load API definition").count();
    if (loadFailed) failures.push("Swagger UI: Failed to load API definition");

    // The title block also carries the version badges ("0.1.0", "OAS 3.1") on lines of their own.
    const title = (await page.locator(".swagger-ui .information-container .title").innerText()).trim().split("\n")[0].trim();
    if (!title.startsWith(spec.info?.title ?? "")) {
        failures.push(`the page's title is ${JSON.stringify(title)}, the spec's ${JSON.stringify(spec.info?.title)}`);
    }

    // What the page shows: each block's method (its opblock-<method> class), path
    // (data-path of the summary) and operationId (the block's id is operations-<tag>-<operationId>).
    const shown = await page.$$eval(".swagger-ui .opblock", (blocks) =>
        blocks.map((block) => {
            const method = [...block.classList]
                .find((c) => /^opblock-(get|put|post|delete|options|head|patch|trace)$/.test(c))
                ?.slice("opblock-".length);
            const pathNode = block.querySelector(".opblock-summary-path");
            const path = pathNode?.getAttribute("data-path") ?? pathNode?.textContent?.trim() ?? null;
            return { method: method ?? null, path, id: block.id ?? "" };
        }),
    );

    const key = (o) => `${o.method?.toUpperCase()} ${o.path}`;
    const blockId = (o) => `operations-${o.tag}-${o.operationId}`.replace(/\s/g, "_");
    const wanted = new Map(expected.map((o) => [`${key(o)} #${blockId(o)}`, o]));
    const got = new Map();
    for (const s of shown) {
        const k = `${key(s)} #${s.id}`;
        got.set(k, (got.get(k) ?? 0) + 1);
    }
    for (const [k] of wanted) {
        if (!got.has(k)) failures.push(`not shown: ${k}`);
    }
    for (const [k, n] of got) {
        if (!wanted.has(k)) failures.push(`shown but not in the spec: ${k}`);
        if (n > 1) failures.push(`shown ${n} times: ${k}`);
    }
    if (shown.length !== expected.length) {
        failures.push(`${shown.length} operation blocks shown, the spec has ${expected.length} (operations × tags)`);
    }
    const distinct = new Set(shown.map((s) => key(s))).size;
    if (distinct !== operationCount) {
        failures.push(`${distinct} distinct operations shown, the spec has ${operationCount}`);
    }

    mkdirSync(artifacts, { recursive: true });
    const screenshot = join(artifacts, "docs.png");
    await page.screenshot({ path: screenshot, fullPage: true });
    await page.screenshot({ path: join(artifacts, "docs-top.png") });
    writeFileSync(join(artifacts, "docs-requests.txt"), `${requests.join("\n")}\n`);

    for (const e of consoleErrors) failures.push(`console error: ${e}`);
    console.log(
        `    ${title}: ${shown.length} operation blocks (${distinct} operations; the spec has ${operationCount}), ` +
            `${requests.length} requests, all to ${origin.host}: ${failures.every((f) => !f.startsWith("request to another host"))}, ` +
            `${consoleErrors.length} console errors; screenshot ${screenshot}`,
    );
} catch (error) {
    failures.push(`the check could not run: ${error?.stack ?? error}`);
} finally {
    await context?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
}

if (failures.length) {
    console.error(`error: the docs check failed (${failures.length}):`);
    for (const f of failures) console.error(`  - ${f}`);
    process.exit(1);
}
console.log("    docs check passed");

function isLocal(url) {
    if (url.startsWith("data:") || url.startsWith("blob:") || url === "about:blank") return true;
    try {
        const u = new URL(url);
        return (u.protocol === "http:" || u.protocol === "https:" || u.protocol === "ws:") && u.host === origin.host;
    } catch {
        return false;
    }
}
