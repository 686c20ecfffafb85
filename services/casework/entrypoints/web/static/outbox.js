// The outbox: submissions kept in IndexedDB until the server has them, sent in the order they were made.
// Each carries its idempotency key from the moment it is saved, so a resend after a lost answer is harmless.
const Outbox = {
  db: null,
  open() {
    if (this.db) return Promise.resolve(this.db);
    return new Promise((resolve, reject) => {
      const req = indexedDB.open("baoxue-field", 1);
      req.onupgradeneeded = () => {
        req.result.createObjectStore("outbox", { keyPath: "id", autoIncrement: true });
        req.result.createObjectStore("snapshot");
      };
      req.onsuccess = () => { this.db = req.result; resolve(this.db); };
      req.onerror = () => reject(req.error);
    });
  },
  async run(store, mode, work) {
    const db = await this.open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(store, mode);
      const req = work(tx.objectStore(store));
      tx.oncomplete = () => resolve(req && req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  },
  add(item) { return this.run("outbox", "readwrite", s => s.add({ ...item, state: "pending", created_at: new Date().toISOString() })); },
  put(item) { return this.run("outbox", "readwrite", s => s.put(item)); },
  all() { return this.run("outbox", "readonly", s => s.getAll()); },
  async pending() { return (await this.all()).filter(i => i.state === "pending" || i.state === "sending"); },
  remember(name, value) { return this.run("snapshot", "readwrite", s => s.put(value, name)); },
  recall(name) { return this.run("snapshot", "readonly", s => s.get(name)); },
};
