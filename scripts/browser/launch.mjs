// Debian's Chromium, headless, for the browser checks: playwright-core
// drives /usr/bin/chromium (it never downloads a browser of its own), with
// everything that would reach beyond loopback switched off.
import { chromium } from "playwright-core";

export function launchChromium() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
