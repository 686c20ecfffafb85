// The field page's service worker: keeps the page shell so it opens without a network. API calls are never
// cached or answered here; the page sends them itself (from its IndexedDB outbox) when it is back online.
const SHELL = "baoxue-field-shell-v1";
const FILES = ["/ui/field", "/ui/static/field.js", "/ui/static/outbox.js", "/ui/static/field.css",
  "/ui/static/field.webmanifest", "/ui/static/icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith("baoxue-field-") && n !== SHELL).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

// The shell: network first (a new version is picked up at once), the cached copy when the network fails.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !FILES.includes(url.pathname)) return;
  event.respondWith(fetch(event.request)
    .then((r) => { if (r.ok) { const copy = r.clone(); caches.open(SHELL).then((c) => c.put(url.pathname, copy)); } return r; })
    .catch(() => caches.match(url.pathname)));
});
