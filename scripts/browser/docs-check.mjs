// Drives Swagger UI at <base>/docs in Debian's Chromium: the page must render
// every route group offline, and Authorize + Try it out on GET
// /api/v1/users/me must return the user with a real token.
import { launchChromium } from "./launch.mjs";

const base = process.argv[2];
const email = `docs-${Date.now()}@example.com`;
const password = "correct horse battery staple 42";

async function api(path, body) {
  const response = await fetch(base + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

await api("/api/v1/auth/register", { email, password, full_name: "Docs Check" });
const { access_token } = await api("/api/v1/auth/login", { email, password });

const browser = await launchChromium();
const failures = [];
try {
  const page = await browser.newPage();
  // Offline: any request that leaves the server under test fails the check.
  page.on("request", (request) => {
    if (!request.url().startsWith(base) && !request.url().startsWith("data:")) {
      failures.push(`external request: ${request.url()}`);
    }
  });
  await page.goto(`${base}/docs`);
  await page.waitForSelector(".opblock", { timeout: 15000 });
  const text = await page.textContent("#swagger-ui");
  for (const route of ["/api/v1/auth/login", "/api/v1/users/me", "/api/v1/trades", "/api/v1/portfolios", "/health"]) {
    if (!text.includes(route)) failures.push(`route not rendered: ${route}`);
  }

  await page.click("button.authorize");
  const bearer = page.locator(".auth-container").filter({ hasText: "bearerAuth" });
  await bearer.locator("input").first().fill(access_token);
  await bearer.locator("button.authorize").click();
  await page.click("button.btn-done");

  const operation = page.locator(".opblock-get").filter({ has: page.locator('[data-path="/api/v1/users/me"]') }).first();
  await operation.locator(".opblock-summary").click();
  await operation.locator("button.try-out__btn").click();
  await operation.locator("button.execute").click();
  const statusCell = operation.locator(".live-responses-table tbody tr.response .response-col_status").first();
  await statusCell.waitFor({ timeout: 15000 });
  const status = (await statusCell.textContent()).trim();
  const body = await operation.locator(".live-responses-table tbody .microlight").first().textContent();
  if (process.env.DOCS_SCREENSHOT) await page.screenshot({ path: process.env.DOCS_SCREENSHOT, fullPage: false });
  if (!status.startsWith("200")) failures.push(`Try it out on /api/v1/users/me answered ${status}`);
  if (!body.includes(email)) failures.push("Try it out did not show the user");
} finally {
  await browser.close();
}
if (failures.length) {
  console.error("docs browser check FAILED:\n  " + failures.join("\n  "));
  process.exit(1);
}
console.log("docs-browser: 1 passed, 0 failed");
