// The operations picture, part 4: the signed log, checked in the browser with WebCrypto.
"use strict";

// -- the signed log: check it here, with WebCrypto ---------------------------------------------
const b64bytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const sha256 = async (...parts) => {
  const n = parts.reduce((k, p) => k + p.length, 0), buf = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { buf.set(p, o); o += p.length; }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
};
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// RFC 9162, 2.1.3.2: recompute the root from a leaf hash and its audit path.
async function verifyInclusion(leaf, index, size, proof, root) {
  if (index >= size) return false;
  let fn = index, sn = size - 1, r = leaf;
  const one = new Uint8Array([1]);
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(one, p, r);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await sha256(one, r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

// The head is signed over canonical JSON {"root","size","time"} (sorted keys, no spaces) with Ed25519.
async function verifyHead(head) {
  const der = b64bytes(head.public_key.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""));
  const key = await crypto.subtle.importKey("spki", der, {name: "Ed25519"}, false, ["verify"]);
  const message = new TextEncoder().encode(JSON.stringify({root: head.root, size: head.size, time: head.time}));
  return crypto.subtle.verify({name: "Ed25519"}, key, b64bytes(head.signature), message);
}

async function loadHead() {
  const head = await api("/v1/log/head");
  $("head-text").textContent = `size ${head.size} · root ${head.root.slice(0, 16)}… · signed ${shortTime(head.time)}`;
  return head;
}

async function verifyLog() {
  const out = $("verify-result");
  out.className = "";
  out.textContent = "Verifying…";
  try {
    const head = await loadHead();
    const signed = await verifyHead(head);
    const root = b64bytes(head.root);
    const entries = [...state.events.values()].filter((e) => e.log_seq && e.log_seq <= head.size)
      .sort((a, b) => b.log_seq - a.log_seq).slice(0, 25);
    let included = 0, problem = "";
    for (const e of entries) {
      try {
        const p = await api(`/v1/log/proof/${e.log_seq}?size=${head.size}`);
        const ok = equal(b64bytes(p.root), root)
          && await verifyInclusion(b64bytes(p.leaf), p.seq - 1, p.size, p.proof.map(b64bytes), root);
        if (ok) included += 1;
        else problem = problem || `entry ${e.log_seq}: its proof does not lead to the head's root`;
      } catch (err) {
        problem = problem || `entry ${e.log_seq}: ${err.message}`;
      }
    }
    const good = signed && included === entries.length;
    out.className = good ? "ok" : "bad";
    out.textContent = `${good ? "Verified" : "NOT verified"}: Ed25519 signature of the head ${signed ? "valid" : "INVALID"}; `
      + `${included} of ${entries.length} of your latest entries included in the tree of ${head.size} (RFC 6962 proofs checked here)`
      + (problem ? `; first problem: ${problem}.` : ".");
  } catch (err) {
    out.className = "bad";
    out.textContent = `Could not verify: ${err.message}`;
  }
}

