// Passkeys end to end in Debian's Chromium with the DevTools virtual
// authenticator (a platform authenticator with resident keys and user
// verification): register an account, log in by password, add a passkey
// after re-authentication, log out, log in by passkey, and read /users/me
// by the cookie alone. The page is the server's own origin
// (http://localhost:PORT: an RP ID cannot be an IP address), and the page
// code is what a frontend writes: the Level 3 JSON helpers, no base64.
import { launchChromium } from "./launch.mjs";

const base = process.argv[2];
if (!base || !base.startsWith("http://localhost:")) {
  console.error("usage: passkeys-check.mjs http://localhost:PORT");
  process.exit(2);
}
const email = `passkeys-${Date.now()}@example.com`;
const password = "correct horse battery staple 42";

const browser = await launchChromium();
const failures = [];
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("request", (request) => {
    if (!request.url().startsWith(base)) failures.push(`external request: ${request.url()}`);
  });
  await page.goto(`${base}/health`);
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  const steps = await page.evaluate(async ({ email, password }) => {
    const log = [];
    // The frontend's one helper: JSON in, JSON out, the cookie by the browser.
    async function call(method, path, body) {
      const init = { method, headers: {} };
      if (body !== undefined) {
        init.headers["content-type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      const response = await fetch(path, init);
      const text = await response.text();
      log.push(`${method} ${path} -> ${response.status}`);
      return { status: response.status, body: text ? JSON.parse(text) : null };
    }
    const expect = (what, got, want) => {
      if (got !== want) throw new Error(`${what}: ${got} (wanted ${want}); ${log.join("; ")}`);
    };
    if (!window.isSecureContext) throw new Error("not a secure context");
    if (!PublicKeyCredential.parseCreationOptionsFromJSON) throw new Error("no Level 3 JSON helpers");

    expect("register", (await call("POST", "/api/v1/auth/register", { email, password, full_name: "Passkey Check" })).status, 201);
    expect("password login", (await call("POST", "/api/v1/auth/login", { email, password })).status, 200);

    // Add a passkey: what README's frontend lines do.
    let r = await call("POST", "/api/v1/auth/passkeys/register/start", { current_password: password, name: "Virtual" });
    expect("register/start", r.status, 200);
    let cred = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(r.body.options) });
    r = await call("POST", "/api/v1/auth/passkeys/register/finish", { challenge_id: r.body.challenge_id, credential: cred.toJSON() });
    expect("register/finish", r.status, 201);
    expect("passkey name", r.body.name, "Virtual");

    expect("logout", (await call("POST", "/api/v1/auth/logout")).status, 204);
    expect("/users/me after logout", (await call("GET", "/api/v1/users/me")).status, 401);

    // Log in with it.
    r = await call("POST", "/api/v1/auth/passkeys/login/start", {});
    expect("login/start", r.status, 200);
    cred = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(r.body.options) });
    r = await call("POST", "/api/v1/auth/passkeys/login/finish", { challenge_id: r.body.challenge_id, credential: cred.toJSON() });
    expect("login/finish", r.status, 200);
    expect("token type", r.body.token_type, "bearer");

    // The cookie alone (no bearer header anywhere in this page).
    r = await call("GET", "/api/v1/users/me");
    expect("/users/me by cookie", r.status, 200);
    expect("/users/me email", r.body.email, email);
    r = await call("GET", "/api/v1/users/me/passkeys");
    expect("passkeys listed", r.body.items.length, 1);
    if (!r.body.items[0].last_used_at) throw new Error("last_used_at not set");
    r = await call("GET", "/api/v1/users/me/security-events");
    const types = r.body.items.map((e) => e.type);
    for (const t of ["passkey_added", "logout", "login_succeeded"]) {
      if (!types.includes(t)) throw new Error(`event ${t} missing: ${types}`);
    }
    return log;
  }, { email, password });

  // The authenticator holds one resident credential, used once.
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  if (credentials.length !== 1) failures.push(`${credentials.length} credentials in the authenticator`);
  else {
    if (!credentials[0].isResidentCredential) failures.push("the credential is not resident");
    if (credentials[0].rpId !== "localhost") failures.push(`RP ID ${credentials[0].rpId}`);
    if (credentials[0].signCount < 1) failures.push(`sign count ${credentials[0].signCount}`);
  }
  console.log(steps.join("\n"));
} catch (error) {
  failures.push(String(error && error.stack ? error.stack : error));
} finally {
  await browser.close();
}
if (failures.length) {
  console.error("passkeys browser check FAILED:\n  " + failures.join("\n  "));
  process.exit(1);
}
console.log("passkeys-browser: 1 passed, 0 failed");
