// A collector's and an accountant's morning through the generated client, against a live
// server at RECOUP_API_URL (e.g. http://127.0.0.1:8080). Every request and response is
// typed from src/schema.d.ts (openapi-typescript over openapi/openapi.json), so a spec
// that stops saying what the server does breaks `tsc` here, and a server that stops
// doing what the spec says makes this program exit non-zero.
//
//   RECOUP_API_URL=http://127.0.0.1:8080 node dist/demo.js

import { randomUUID } from "node:crypto";

import createClient, { type Client } from "openapi-fetch";

import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];
type Problem = Schemas["Problem"];
type ProblemCode = Problem["code"];
type Invoice = Schemas["Invoice"];
type NewPayment = Schemas["NewPayment"];
type Api = Client<paths>;

// The problem `code` is a closed set in the spec, so a typo in a comparison below is a
// compile error, not a branch that never runs. (Fails to compile while the spec types
// `code` as a plain string.)
type IsClosedSet<T> = string extends T ? false : true;
const problemCodeIsAnEnum: IsClosedSet<ProblemCode> = true;
void problemCodeIsAnEnum;

class Unexpected extends Error {}

function fail(what: string, detail?: unknown): never {
    const extra = detail === undefined ? "" : `\n${JSON.stringify(detail, null, 2)}`;
    throw new Unexpected(`${what}${extra}`);
}

function expectStatus(what: string, response: Response, status: number, body?: unknown): void {
    if (response.status !== status) {
        fail(`${what}: expected HTTP ${status}, got ${response.status}`, body);
    }
}

function expectProblemMediaType(what: string, response: Response): void {
    const type = response.headers.get("content-type") ?? "";
    if (!type.startsWith("application/problem+json")) {
        fail(`${what}: expected application/problem+json, got ${JSON.stringify(type)}`);
    }
}

function warn(message: string): void {
    console.warn(`WARNING: ${message}`);
}

// Amounts are decimal strings; compare and add them in cents, never as floats.
function cents(amount: string): bigint {
    const match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(amount);
    if (!match) {
        fail(`not a decimal amount with at most two decimals: ${JSON.stringify(amount)}`);
    }
    const [, sign, whole, fraction = ""] = match;
    const value = BigInt(whole ?? "0") * 100n + BigInt(fraction.padEnd(2, "0"));
    return sign === "-" ? -value : value;
}

function decimal(value: bigint): string {
    const sign = value < 0n ? "-" : "";
    const abs = value < 0n ? -value : value;
    return `${sign}${abs / 100n}.${(abs % 100n).toString().padStart(2, "0")}`;
}

function today(offsetDays = 0): string {
    const day = new Date(Date.now() + offsetDays * 86_400_000);
    return day.toISOString().slice(0, 10);
}

function baseUrl(): string {
    const url = process.env.RECOUP_API_URL;
    if (!url) {
        fail("set RECOUP_API_URL to the server's base URL, e.g. http://127.0.0.1:8080");
    }
    return url.replace(/\/+$/, "");
}

async function login(base: string, email: string, password: string): Promise<Api> {
    const anonymous = createClient<paths>({ baseUrl: base });
    const { data, error, response } = await anonymous.POST("/v1/auth/login", {
        body: { email, password },
    });
    if (error !== undefined || data === undefined) {
        fail(`login as ${email}: HTTP ${response.status}`, error);
    }
    expectStatus(`login as ${email}`, response, 200, data);
    if (data.token_type !== "Bearer" || data.access_token.length === 0) {
        fail(`login as ${email}: unexpected token pair`, data);
    }
    console.log(`logged in as ${email} (token valid ${data.expires_in}s)`);
    return createClient<paths>({
        baseUrl: base,
        headers: { Authorization: `Bearer ${data.access_token}` },
    });
}

/** The collector's worklist, printed; the account to work first. */
async function collectorsMorning(collector: Api): Promise<string> {
    const { data, error, response } = await collector.GET("/v1/worklist", {
        params: { query: { limit: 5 } },
    });
    if (error !== undefined || data === undefined) {
        fail(`GET /v1/worklist: HTTP ${response.status}`, error);
    }
    expectStatus("GET /v1/worklist", response, 200, data);
    console.log(`\nworklist for ${data.as_of} (${data.data.length} shown):`);
    for (const row of data.data) {
        console.log(
            `  #${row.rank} ${row.customer_name}: score ${row.score}, ` +
                `${row.collectible_overdue} ${row.currency} collectible overdue, next: ${row.next_action}`,
        );
        for (const reason of row.reasons) {
            console.log(`      - ${reason}`);
        }
        if (row.reasons.length === 0 || row.components.length === 0) {
            fail("a worklist row without reasons or score components", row);
        }
    }

    const first = data.data[0];
    if (first !== undefined) {
        return first.customer_id;
    }
    // The demo portfolio once had every invoice paid; say so loudly, and go on with one
    // of the collector's accounts so the rest of the walk-through still runs.
    warn("the worklist is empty: the demo data has nothing past due for this collector");
    const customers = await collector.GET("/v1/customers", { params: { query: { limit: 1 } } });
    if (customers.error !== undefined || customers.data === undefined) {
        fail(`GET /v1/customers: HTTP ${customers.response.status}`, customers.error);
    }
    const account = customers.data.data[0];
    if (account === undefined) {
        fail("the demo collector sees no customers at all");
    }
    return account.id;
}

async function logCall(collector: Api, customerId: string): Promise<void> {
    const { data, error, response } = await collector.POST("/v1/activities", {
        body: {
            customer_id: customerId,
            kind: "call",
            direction: "outbound",
            outcome: "reached",
            subject: "Worklist call",
            notes: "Reached AP; they will look at the open invoices today (TypeScript demo)",
        },
    });
    if (error !== undefined || data === undefined) {
        fail(`POST /v1/activities: HTTP ${response.status}`, error);
    }
    expectStatus("POST /v1/activities", response, 201, data);
    if (data.customer_id !== customerId || data.kind !== "call" || data.outcome !== "reached") {
        fail("POST /v1/activities answered another activity than the one sent", data);
    }
    console.log(`\nlogged ${data.kind} ${data.id} (${data.direction}, ${data.outcome}) on ${customerId}`);
}

/** An open invoice of the customer; issues one (with a warning) when none is open. */
async function openInvoice(accountant: Api, customerId: string): Promise<Invoice> {
    const { data, error, response } = await accountant.GET("/v1/invoices", {
        params: { query: { customer_id: customerId, open: true, limit: 50 } },
    });
    if (error !== undefined || data === undefined) {
        fail(`GET /v1/invoices?customer_id=…: HTTP ${response.status}`, error);
    }
    for (const invoice of data.data) {
        if (invoice.customer_id !== customerId) {
            fail("GET /v1/invoices?customer_id=… listed another customer's invoice", invoice);
        }
    }
    const found = data.data.find((invoice) => cents(invoice.open_balance) > 0n);
    if (found !== undefined) {
        return found;
    }
    warn(`customer ${customerId} has no open invoice; issuing one to pay`);
    const issued = await accountant.POST("/v1/invoices", {
        body: {
            number: `TS-DEMO-${randomUUID().slice(0, 8)}`,
            customer_id: customerId,
            issue_date: today(-45),
            amount: "250.00",
        },
    });
    if (issued.error !== undefined || issued.data === undefined) {
        fail(`POST /v1/invoices: HTTP ${issued.response.status}`, issued.error);
    }
    expectStatus("POST /v1/invoices", issued.response, 201, issued.data);
    return issued.data;
}

async function postPaymentTwice(accountant: Api, invoice: Invoice): Promise<bigint> {
    const open = cents(invoice.open_balance);
    const pay = open < 100n ? open : 100n; // 1.00, or what is left
    const body: NewPayment = {
        customer_id: invoice.customer_id,
        received_on: today(),
        amount: decimal(pay),
        method: "ach",
        reference: `ACH-TS-${randomUUID().slice(0, 8)}`,
        applications: [{ invoice_id: invoice.id, amount: decimal(pay) }],
    };
    const key = randomUUID();

    const first = await accountant.POST("/v1/payments", {
        params: { header: { "Idempotency-Key": key } },
        body,
    });
    if (first.error !== undefined || first.data === undefined) {
        fail(`POST /v1/payments: HTTP ${first.response.status}`, first.error);
    }
    expectStatus("POST /v1/payments", first.response, 201, first.data);
    if (first.response.headers.get("Idempotent-Replayed") === "true") {
        fail("the first POST /v1/payments with a fresh key says it is a replay");
    }
    const applied = first.data.applications.find((a) => a.invoice_id === invoice.id);
    if (applied === undefined || cents(applied.amount) !== pay || first.data.method !== "ach") {
        fail("the payment is not applied as requested", first.data);
    }
    console.log(
        `\nposted payment ${first.data.id}: ${first.data.amount} ${first.data.currency} ` +
            `${first.data.method}, ${applied.amount} to invoice ${invoice.number}, ` +
            `${first.data.unapplied} unapplied`,
    );

    const again = await accountant.POST("/v1/payments", {
        params: { header: { "Idempotency-Key": key } },
        body,
    });
    if (again.error !== undefined || again.data === undefined) {
        fail(`POST /v1/payments (replay): HTTP ${again.response.status}`, again.error);
    }
    expectStatus("POST /v1/payments (replay)", again.response, 201, again.data);
    if (again.data.id !== first.data.id) {
        fail(`the replay posted a second payment (${again.data.id}, first ${first.data.id})`);
    }
    if (again.response.headers.get("Idempotent-Replayed") !== "true") {
        fail("the replay has no `Idempotent-Replayed: true` header");
    }
    console.log(`replayed with the same Idempotency-Key: same payment ${again.data.id}`);
    return pay;
}

async function readInvoiceTwice(accountant: Api, invoice: Invoice, paid: bigint): Promise<void> {
    const read = await accountant.GET("/v1/invoices/{id}", {
        params: { path: { id: invoice.id } },
    });
    if (read.error !== undefined || read.data === undefined) {
        fail(`GET /v1/invoices/{id}: HTTP ${read.response.status}`, read.error);
    }
    expectStatus("GET /v1/invoices/{id}", read.response, 200, read.data);
    const expected = cents(invoice.open_balance) - paid;
    if (cents(read.data.open_balance) !== expected) {
        fail(
            `invoice ${invoice.number}: open balance ${read.data.open_balance}, expected ${decimal(expected)}`,
        );
    }
    const etag = read.response.headers.get("ETag");
    if (etag === null) {
        fail("GET /v1/invoices/{id} has no ETag");
    }
    console.log(`\ninvoice ${read.data.number}: ${read.data.status}, open ${read.data.open_balance}, ETag ${etag}`);

    const again = await accountant.GET("/v1/invoices/{id}", {
        params: { path: { id: invoice.id }, header: { "If-None-Match": etag } },
    });
    expectStatus("GET /v1/invoices/{id} with If-None-Match", again.response, 304, again.error);
    if (again.response.headers.get("ETag") !== etag) {
        fail("the 304 does not repeat the ETag");
    }
    console.log("read again with If-None-Match: 304 Not Modified");
}

function explain(problem: Problem): string {
    return `${problem.status} ${problem.code}: ${problem.detail}`;
}

async function provokeProblems(accountant: Api, invoice: Invoice): Promise<void> {
    // 1. More cash to the invoice than it has open: a validation problem on that field.
    const open = cents((await currentInvoice(accountant, invoice.id)).open_balance);
    const tooMuch = decimal(open + 100n);
    const over = await accountant.POST("/v1/payments", {
        params: { header: { "Idempotency-Key": randomUUID() } },
        body: {
            customer_id: invoice.customer_id,
            received_on: today(),
            amount: tooMuch,
            method: "check",
            applications: [{ invoice_id: invoice.id, amount: tooMuch }],
        },
    });
    if (over.error === undefined) {
        fail(`an over-application was accepted: HTTP ${over.response.status}`, over.data);
    }
    expectStatus("over-application", over.response, 422, over.error);
    expectProblemMediaType("over-application", over.response);
    const problem = over.error;
    if (problem.code === "validation_failed") {
        const field = problem.errors?.find((e) => e.field === "applications[0].amount");
        if (field?.code !== "exceeds_open_balance") {
            fail("the over-application problem does not name applications[0].amount", problem);
        }
        console.log(`\nover-application refused as expected: ${explain(problem)} (${field.message})`);
    } else {
        fail(`over-application: unexpected problem code ${problem.code}`, problem);
    }

    // 2. An invoice that does not exist: 404 with the `not_found` code.
    const missing = await accountant.GET("/v1/invoices/{id}", {
        params: { path: { id: randomUUID() } },
    });
    if (missing.error === undefined) {
        fail(`GET of a random invoice id: HTTP ${missing.response.status}`, missing.data);
    }
    expectStatus("GET of a random invoice id", missing.response, 404, missing.error);
    expectProblemMediaType("GET of a random invoice id", missing.response);
    switch (missing.error.code) {
        case "not_found":
            console.log(`random invoice id refused as expected: ${explain(missing.error)}`);
            break;
        case "invalid_path_parameter":
            fail("a well-formed UUID was refused as a bad path parameter", missing.error);
        default:
            fail(`GET of a random invoice id: unexpected problem code ${missing.error.code}`, missing.error);
    }
}

async function currentInvoice(api: Api, id: string): Promise<Invoice> {
    const { data, error, response } = await api.GET("/v1/invoices/{id}", { params: { path: { id } } });
    if (error !== undefined || data === undefined) {
        fail(`GET /v1/invoices/${id}: HTTP ${response.status}`, error);
    }
    return data;
}

async function main(): Promise<void> {
    const base = baseUrl();
    console.log(`Recoup at ${base}`);

    const collector = await login(base, "collector@recoup.example", "demo-collector-pass");
    const customerId = await collectorsMorning(collector);
    await logCall(collector, customerId);

    const accountant = await login(base, "accountant@recoup.example", "demo-accountant-pass");
    const invoice = await openInvoice(accountant, customerId);
    const paid = await postPaymentTwice(accountant, invoice);
    await readInvoiceTwice(accountant, invoice, paid);
    await provokeProblems(accountant, invoice);

    console.log("\nTypeScript client demo: every answer was the expected one");
}

main().catch((error: unknown) => {
    if (error instanceof Unexpected) {
        console.error(`FAILED: ${error.message}`);
    } else {
        console.error("FAILED with an exception:", error);
    }
    process.exit(1);
});
